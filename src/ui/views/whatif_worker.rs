//! A What-if run off the console thread: a long scenario first runs a short pass (one seed,
//! the first minute) so results show within seconds, then the full run; progress and the
//! results go back to the console as `WorkerMsg`s, and the view's cancel flag stops either.

use crate::twin::Snapshot;
use crate::whatif::run::{self, Progress, RunOptions, WhatIfReport};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::mpsc::UnboundedSender;

/// The first pass of a long run, for results within seconds (simulated seconds).
pub(crate) const PARTIAL_S: f64 = 60.0;

/// What the worker thread tells the console.
#[derive(Debug)]
pub enum WorkerMsg {
    Progress {
        id: u64,
        fraction: f64,
    },
    /// Results of the short first pass; the full run goes on.
    Partial {
        id: u64,
        report: Box<WhatIfReport>,
    },
    Done {
        id: u64,
        report: Box<WhatIfReport>,
    },
    Failed {
        id: u64,
        error: String,
    },
}

pub(super) fn worker(
    id: u64,
    snap: Arc<Snapshot>,
    lines: Vec<crate::whatif::lang::Line>,
    cancel: Arc<AtomicBool>,
    tx: UnboundedSender<WorkerMsg>,
) {
    let full = RunOptions::default();
    let horizon = run::plan(&snap, &lines, &full).ok().and_then(|p| p.scenario.duration_s).unwrap_or(0.0);
    let two_pass = horizon > PARTIAL_S * 2.0;
    // The short pass counts for a fifth of the bar.
    let (share_a, share_b) = if two_pass { (0.2, 0.8) } else { (0.0, 1.0) };
    let last = std::sync::Mutex::new(-1.0f64);
    let send_progress = |f: f64| {
        let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
        if f - *l >= 0.01 {
            *l = f;
            let _ = tx.send(WorkerMsg::Progress { id, fraction: f });
        }
    };
    if two_pass {
        let opt = RunOptions { seeds: 1, horizon_override_s: Some(PARTIAL_S), ..full.clone() };
        let p = Progress { cancel: &cancel, on_progress: &|f| send_progress(f * share_a) };
        match run::run(&snap, &lines, &opt, &p) {
            Ok(r) => {
                let _ = tx.send(WorkerMsg::Partial { id, report: Box::new(r) });
            }
            Err(run::RunError::Cancelled) => return,
            Err(e) => {
                let _ = tx.send(WorkerMsg::Failed { id, error: e.to_string() });
                return;
            }
        }
    }
    let p = Progress { cancel: &cancel, on_progress: &|f| send_progress(share_a + f * share_b) };
    let msg = match run::run(&snap, &lines, &full, &p) {
        Ok(r) => WorkerMsg::Done { id, report: Box::new(r) },
        Err(run::RunError::Cancelled) => return,
        Err(e) => WorkerMsg::Failed { id, error: e.to_string() },
    };
    let _ = tx.send(msg);
}
