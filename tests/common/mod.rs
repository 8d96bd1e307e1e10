//! What the integration tests share: the `twintop` binary as a user runs it (with none of this
//! machine's cluster or API key leaking in), the console drawn into ratatui's TestBackend and
//! driven by keys, demo twins at a fixed time so what they draw does not depend on the clock,
//! and clusters for the approval flow to change (one that records each call, the demo's).
//!
//! Each test binary uses a part of it (`mod common;`), hence `dead_code` is allowed here.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::process::Command;
use std::sync::{Arc, Mutex};
use twintop::act::cluster::ClusterControl;
use twintop::advise::{AnalyticEvaluator, Candidate, Context, Proposal, TrackRecord, assess};
use twintop::change::Change;
use twintop::demo::{DemoPreset, DemoTwin};
use twintop::twin::Snapshot;
use twintop::ui::{Action, App};

/// The binary, without the machine's in-cluster address or OpenAI key in its environment.
pub fn twintop() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_twintop"));
    cmd.env_remove("KUBERNETES_SERVICE_HOST").env_remove("OPENAI_API_KEY");
    cmd
}

/// Runs `cmd`: (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run twintop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A cluster that accepts every change and records each call: (change, dry run).
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(Change, bool)>>);

impl ClusterControl for Recorder {
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String> {
        self.0.lock().unwrap().push((change.clone(), dry_run));
        Ok(format!("{change}{}", if dry_run { " (dry run)" } else { "" }))
    }
}

impl Recorder {
    /// The changes applied for real, in order.
    pub fn applied(&self) -> Vec<Change> {
        self.0.lock().unwrap().iter().filter(|(_, dry)| !dry).map(|(c, _)| c.clone()).collect()
    }

    /// Calls made, dry runs included.
    pub fn calls(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// The demo twin as the cluster: changes apply to it as they would to the console's demo.
pub struct DemoCluster(pub Arc<Mutex<DemoTwin>>);

impl ClusterControl for DemoCluster {
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String> {
        self.0.lock().unwrap().apply_change(change, dry_run)
    }
}

/// 2023-11-14T22:13:20Z: the clock of every fixed-time twin.
pub fn fixed_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("a valid time")
}

/// The `dc` demo (seed 1) warmed up `ticks` seconds, its snapshot taken at `fixed_time`.
pub fn demo_at_fixed_time(ticks: u32) -> Arc<Snapshot> {
    DemoTwin::starting_at(DemoPreset::Dc, 1, fixed_time()).warm_snapshot(ticks)
}

/// The demo 20 s into the checkoutservice surge, at `fixed_time`: the advisors have work.
pub fn surge() -> Arc<Snapshot> {
    let mut d = DemoTwin::starting_at(DemoPreset::Dc, 1, fixed_time());
    d.skip_to(60);
    d.warm_snapshot(20)
}

/// `candidates` as proposals: validated under default guardrails, predicted by the analytic
/// (deterministic) model over the default seeds, scored with no track record.
pub fn assessed(snap: &Snapshot, candidates: Vec<Candidate>) -> Vec<Proposal> {
    let record = TrackRecord::default();
    let evaluator = AnalyticEvaluator::default();
    let ctx = Context {
        guardrails: Default::default(),
        evaluator: &evaluator,
        seeds: twintop::advise::default_seeds(),
        record: &record,
        pending: &[],
    };
    assess(snap, candidates, &ctx)
}

/// The console drawn into a `w`×`h` off-screen terminal.
pub fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| app.draw(f)).expect("draw");
    term.backend().buffer().clone()
}

/// The text of each row of a buffer.
pub fn lines(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

/// What the operator reads on a `w`×`h` terminal, one line per row.
pub fn screen(app: &mut App, w: u16, h: u16) -> String {
    lines(&draw(app, w, h)).join("\n")
}

pub fn key(app: &mut App, code: KeyCode) -> Action {
    app.handle_event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ctrl(app: &mut App, c: char) -> Action {
    app.handle_event(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

/// Each character of `s` as a key press.
pub fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// `:s` then Enter.
pub fn command(app: &mut App, s: &str) -> Action {
    typed(app, ":");
    typed(app, s);
    key(app, KeyCode::Enter)
}
