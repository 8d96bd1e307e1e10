//! The console's advisors, off the UI thread. Built-in rounds run on a worker at most every
//! `ADVISE_EVERY` as snapshots arrive, never two at once; the LLM advisor (with `--llm-url`)
//! runs beside them at most every `LLM_EVERY`, and only on a real snapshot (one with servers:
//! the initial twin is empty). While its call is in flight the built-in rounds go on. Its
//! answer's candidates are kept — re-validated and re-predicted with every built-in round on
//! the twin of that round — until they are decided (the view drops decided ids) or `LLM_KEEP`
//! old, so an LLM proposal stays in the queue instead of vanishing at the next round.

use super::views::recs::LlmRun;
use crate::advise::llm::LlmAdvisor;
use crate::advise::llm::client::Progress;
use crate::advise::{Candidate, Context, EvaluatorKind, Proposal, TrackRecord, assess, builtin};
use crate::guardrails::Guardrails;
use crate::twin::Snapshot;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The built-in advisors run at most this often.
pub(crate) const ADVISE_EVERY: Duration = Duration::from_secs(5);
/// The LLM advisor (with `--llm-url`) runs at most this often.
pub(crate) const LLM_EVERY: Duration = Duration::from_secs(120);
/// An LLM proposal nobody decided on leaves the queue after this long.
pub(crate) const LLM_KEEP: Duration = Duration::from_secs(600);
/// At most this many LLM candidates are kept (the oldest go first).
const LLM_KEEP_MAX: usize = 12;
/// Simulated seconds per prediction in the console (the advisors run off the UI thread).
pub(crate) const CONSOLE_HORIZON_S: u32 = 60;
/// The twin's fit to the present (`twintop fidelity`) is recomputed with a round at most this
/// often, off the UI thread like the round.
pub(crate) const FIT_EVERY: Duration = Duration::from_secs(30);

/// What the workers send the event loop.
#[derive(Debug)]
pub(crate) enum Advice {
    /// A round: the built-in advisors' proposals with the kept LLM ones, assessed together on
    /// one twin.
    Round(Vec<Proposal>),
    /// The LLM answered (or failed, timed out, was cancelled): its candidates.
    Llm(Vec<Candidate>),
    /// The twin's simulated present beside what it measures, for the header.
    Fit(Box<crate::sim::fidelity::Fidelity>),
}

/// When the advisors last ran, what runs now, and the LLM candidates kept.
pub(crate) struct Advising {
    busy: bool,
    last: Option<Instant>,
    llm_busy: bool,
    last_llm: Option<Instant>,
    /// Cancels the LLM call in flight.
    cancel_llm: Option<watch::Sender<bool>>,
    /// How the LLM call goes, for the recs view.
    progress: watch::Sender<Option<LlmRun>>,
    /// The user's guardrails, which validation applies as approval does.
    guardrails: Guardrails,
    kept: Vec<(Candidate, Instant)>,
    /// A round is due as soon as the one in flight ends (an LLM answer came meanwhile).
    again: bool,
    /// When the twin's fit was last computed.
    last_fit: Option<Instant>,
    /// The last round's built-in proposals, offered to the model to choose from.
    offered: Arc<std::sync::Mutex<Option<Vec<Proposal>>>>,
    pub(super) every: Duration,
    pub(super) llm_every: Duration,
    pub(super) keep: Duration,
}

impl Advising {
    pub(crate) fn new(guardrails: Guardrails, progress: watch::Sender<Option<LlmRun>>) -> Advising {
        Advising {
            busy: false,
            last: None,
            llm_busy: false,
            last_llm: None,
            cancel_llm: None,
            progress,
            guardrails,
            kept: Vec::new(),
            again: false,
            last_fit: None,
            offered: Default::default(),
            every: ADVISE_EVERY,
            llm_every: LLM_EVERY,
            keep: LLM_KEEP,
        }
    }

    /// A new snapshot: a built-in round when one is due, and an LLM call when one is due and
    /// the snapshot is real.
    pub(crate) fn on_snapshot(
        &mut self,
        snap: &Arc<Snapshot>,
        llm: Option<&Arc<LlmAdvisor>>,
        tx: &mpsc::Sender<Advice>,
    ) {
        if let Some(llm) = llm
            && !self.llm_busy
            && is_real(snap)
            && self.last_llm.is_none_or(|t| t.elapsed() >= self.llm_every)
        {
            self.start_llm(snap, llm, tx);
        }
        if !self.busy && self.last.is_none_or(|t| t.elapsed() >= self.every) {
            self.start_round(snap, tx);
        }
    }

    /// The LLM's answer: its candidates are kept and assessed with the built-ins right away
    /// (or as soon as the round in flight ends).
    pub(crate) fn on_llm(
        &mut self,
        candidates: Vec<Candidate>,
        snap: &Arc<Snapshot>,
        tx: &mpsc::Sender<Advice>,
    ) {
        self.llm_busy = false;
        self.cancel_llm = None;
        let now = Instant::now();
        for c in candidates {
            // The same action again replaces the older one (its reason and exchange are newer).
            self.kept.retain(|(k, _)| !(k.source == c.source && k.action.is_some() && k.action == c.action));
            self.kept.push((c, now));
        }
        let excess = self.kept.len().saturating_sub(LLM_KEEP_MAX);
        self.kept.drain(..excess);
        if self.busy {
            self.again = true;
        } else {
            self.start_round(snap, tx);
        }
    }

    /// A round ended.
    pub(crate) fn on_round(&mut self, snap: &Arc<Snapshot>, tx: &mpsc::Sender<Advice>) {
        self.busy = false;
        if std::mem::take(&mut self.again) {
            self.start_round(snap, tx);
        }
    }

    fn start_round(&mut self, snap: &Arc<Snapshot>, tx: &mpsc::Sender<Advice>) {
        self.busy = true;
        self.last = Some(Instant::now());
        self.kept.retain(|(_, at)| at.elapsed() < self.keep);
        let extra: Vec<Candidate> = self.kept.iter().map(|(c, _)| c.clone()).collect();
        let fit_due = is_real(snap) && self.last_fit.is_none_or(|t| t.elapsed() >= FIT_EVERY);
        if fit_due {
            self.last_fit = Some(Instant::now());
        }
        let (snap, tx, g, offered) =
            (snap.clone(), tx.clone(), self.guardrails.clone(), self.offered.clone());
        tokio::spawn(async move {
            let (proposals, fit) = tokio::task::spawn_blocking(move || {
                let fit = fit_due.then(|| Box::new(twin_fit(&snap)));
                (advise_builtin(&snap, &g, extra), fit)
            })
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("advisors failed: {e}");
                (Vec::new(), None)
            });
            if let Some(f) = fit {
                let _ = tx.send(Advice::Fit(f)).await;
            }
            let builtin = proposals.iter().filter(|p| p.source.starts_with("builtin:")).cloned().collect();
            *offered.lock().unwrap_or_else(|e| e.into_inner()) = Some(builtin);
            let _ = tx.send(Advice::Round(proposals)).await;
        });
    }

    fn start_llm(&mut self, snap: &Arc<Snapshot>, llm: &Arc<LlmAdvisor>, tx: &mpsc::Sender<Advice>) {
        self.llm_busy = true;
        self.last_llm = Some(Instant::now());
        let (cancel_tx, cancel) = watch::channel(false);
        self.cancel_llm = Some(cancel_tx);
        let (snap, tx, progress, g, llm) =
            (snap.clone(), tx.clone(), self.progress.clone(), self.guardrails.clone(), llm.clone());
        let last_round = self.offered.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tokio::spawn(async move {
            let model = llm.prompt.model.clone();
            let report = move |p: &Progress| {
                let run = (!p.done).then(|| LlmRun { model: model.clone(), progress: *p });
                progress.send_replace(run);
            };
            // The model is offered the built-in proposals with their predictions to choose from:
            // the last round's, or (before the first round) computed on this twin.
            let offered = match last_round {
                Some(o) => o,
                None => {
                    let (s2, g2) = (snap.clone(), g.clone());
                    tokio::task::spawn_blocking(move || advise_builtin(&s2, &g2, Vec::new()))
                        .await
                        .unwrap_or_default()
                }
            };
            let out = llm.advise_with_progress(&snap, &g, snap.time, &offered, cancel, &report).await;
            let _ = tx.send(Advice::Llm(out.candidates)).await;
        });
    }

    /// Stops the LLM call in flight; its proposal then says it was cancelled.
    pub(crate) fn cancel_llm(&mut self) {
        if let Some(tx) = self.cancel_llm.take() {
            let _ = tx.send(true);
        }
    }
}

/// A snapshot the model may be asked about: the source has delivered a twin (servers, and a
/// time). The initial twin is empty and dated 1970.
pub(crate) fn is_real(snap: &Snapshot) -> bool {
    !snap.servers.is_empty() && snap.time.timestamp() > 0
}

/// The twin's fit to the present, as `twintop fidelity` computes it (shorter, for the console).
pub(crate) fn twin_fit(snap: &Snapshot) -> crate::sim::fidelity::Fidelity {
    let opt = crate::sim::fidelity::FidelityOptions { horizon_s: 30.0, seeds: 2 };
    crate::sim::fidelity::fidelity(snap, &opt)
}

/// The built-in advisors' candidates with `extra` (the LLM's), assessed on the twin.
pub(crate) fn advise_builtin(snap: &Snapshot, g: &Guardrails, extra: Vec<Candidate>) -> Vec<Proposal> {
    let mut candidates = builtin::roster(snap, g);
    candidates.extend(extra);
    // The file the console's operator appends outcomes to; unreadable reads as no record.
    let record =
        TrackRecord::load(&crate::advise::record::record_path(&crate::paths::data_dir())).unwrap_or_default();
    let evaluator = EvaluatorKind::default().build(CONSOLE_HORIZON_S);
    let ctx = Context {
        guardrails: g.clone(),
        evaluator: evaluator.as_ref(),
        seeds: crate::advise::default_seeds(),
        record: &record,
        pending: &[],
    };
    assess(snap, candidates, &ctx)
}

#[cfg(test)]
#[path = "advising_tests.rs"]
mod tests;
