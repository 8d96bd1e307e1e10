//! The console's event loop. It sleeps until a key or mouse event, a resize, a new snapshot
//! or the advisors' proposals arrive, and redraws only then: no frame timer, so an idle
//! console costs nothing. The advisors run on a worker, at most every `ADVISE_EVERY`, and
//! send their proposals back through a channel that wakes the loop; an LLM call's progress
//! wakes it too, throttled by the client, and `C` in the recs view cancels the call.

use super::app::{Action, App, AppOptions};
use super::config::{Config, config_dir, load_config, load_guardrails};
use super::operator::{Cluster, OperatorOptions};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use super::views::recs::LlmRun;
use crate::advise::llm::LlmAdvisor;
use crate::advise::llm::client::Progress;
use crate::advise::{Context, EvaluatorKind, Proposal, TrackRecord, assess, builtin};
use crate::source::feeder::TwinHandle;
use crate::twin::Snapshot;
use crossterm::event::EventStream;
use futures::StreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

/// The built-in advisors run at most this often.
pub const ADVISE_EVERY: Duration = Duration::from_secs(5);
/// The LLM advisor (with `--llm-url`) runs at most this often.
pub const LLM_EVERY: Duration = Duration::from_secs(120);
/// Simulated seconds per prediction in the console (the advisors run off the UI thread).
pub const CONSOLE_HORIZON_S: u32 = 60;

/// How the console was asked to start.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--theme NAME`; overrides the config file.
    pub theme: Option<String>,
    /// `--readonly`: nothing can be applied, whatever the config says.
    pub readonly: bool,
    /// `--llm-url` and the other `--llm-*` flags: the LLM advisor joins the built-in ones.
    pub source: Option<crate::source::SourceArgs>,
}

impl Options {
    /// The console's options as the command line gives them.
    pub fn from_cli(cli: &crate::cli::Cli) -> Options {
        Options { theme: cli.theme.clone(), readonly: cli.readonly, source: Some(cli.source.clone()) }
    }
}

/// Builds the app's options from the config dir: config.toml, the theme, and any errors in
/// them as notices.
pub fn app_options(opts: &Options) -> (AppOptions, Config) {
    let dir = config_dir();
    let (config, mut notices) = match load_config(dir.as_deref()) {
        (c, Some(e)) => (c, vec![e]),
        (c, None) => (c, Vec::new()),
    };
    let name = opts.theme.clone().or_else(|| config.theme.clone()).unwrap_or_else(|| "dark".into());
    let (theme, err) = Theme::load(&name, dir.as_deref());
    notices.extend(err);
    let metric = config.metric;
    let mut guardrails = match load_guardrails(dir.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            // A broken rule set must not loosen anything: read-only until it is fixed.
            notices.push(format!("{e}; read-only until [guardrails] is fixed"));
            crate::act::guardrails::Guardrails { readonly: true, ..Default::default() }
        }
    };
    guardrails.readonly |= opts.readonly;
    for n in &notices {
        tracing::warn!("{n}");
    }
    let operator = OperatorOptions {
        cluster: None,
        guardrails,
        data_dir: Some(crate::paths::data_dir()),
        auto_rollback: config.auto_rollback.clone().unwrap_or_default(),
    };
    (AppOptions { theme, notices, config_dir: dir, metric, data_dir: None, operator }, config)
}

/// Runs the console until the operator quits. The terminal is restored however this ends.
pub async fn run(handle: TwinHandle, opts: Options) -> anyhow::Result<()> {
    let (mut app_opts, config) = app_options(&opts);
    app_opts.operator.cluster = Some(Cluster(handle.cluster.clone()));
    let mut rx = handle.snapshots.clone();
    let first = rx.borrow_and_update().clone();
    tracing::info!(
        source = %crate::text::escape(&first.source.name),
        context = %crate::text::escape(&first.source.context),
        theme = %app_opts.theme.name,
        "console started"
    );
    let mut app = App::new(first.clone(), app_opts);
    let llm = llm_advisor(&opts).map(Arc::new);
    let (proposals_tx, mut proposals_rx) = tokio::sync::mpsc::channel::<Advice>(2);
    let (progress_tx, mut progress_rx) = tokio::sync::watch::channel::<Option<LlmRun>>(None);
    let mut advisor =
        Advising { busy: false, last: None, last_llm: None, cancel_llm: None, progress: progress_tx };
    advisor.maybe_start(&first, llm.as_ref(), &proposals_tx);
    let mut guard = TerminalGuard::enter(config.mouse.unwrap_or(true))?;
    let mut events = EventStream::new();
    let mut feed_open = true;
    let mut worker = app.take_worker_rx().expect("a new app has its worker channel");
    // `kill`, a closed terminal or tmux kill-session end the console like `q` does, so the
    // guard below restores the terminal instead of leaving it raw on the alternate screen.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    guard.draw(|f| app.draw(f))?;
    loop {
        let redraw = tokio::select! {
            _ = terminate.recv() => {
                tracing::info!("SIGTERM: quitting");
                break;
            }
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: quitting");
                break;
            }
            ev = events.next() => match ev {
                Some(Ok(ev)) => match app.handle_event(ev) {
                    Action::Quit => break,
                    Action::Noop => false,
                    Action::CancelLlm => {
                        advisor.cancel_llm();
                        true
                    }
                    _ => true,
                },
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            Some(msg) = worker.recv() => app.on_worker(msg) != Action::Noop,
            changed = rx.changed(), if feed_open => match changed {
                Ok(()) => {
                    let snap = rx.borrow_and_update().clone();
                    advisor.maybe_start(&snap, llm.as_ref(), &proposals_tx);
                    app.set_snapshot(snap);
                    true
                }
                Err(_) => {
                    // The source ended: keep showing its last picture.
                    tracing::info!("snapshot feed closed");
                    feed_open = false;
                    false
                }
            },
            Some(advice) = proposals_rx.recv() => {
                if advice.last {
                    advisor.busy = false;
                }
                app.set_proposals(advice.proposals);
                true
            }
            // The worker reports at most every 100 ms while the answer streams in (and every
            // second while waiting), so this redraws at ≤ 10 Hz. `advisor` holds the sender:
            // the channel never closes under the loop.
            Ok(()) = progress_rx.changed() => {
                app.set_llm_progress(progress_rx.borrow_and_update().clone());
                true
            }
        };
        if redraw {
            guard.draw(|f| app.draw(f))?;
        }
    }
    drop(guard);
    tracing::info!("console stopped");
    Ok(())
}

/// Proposals from the worker: the built-in ones first when an LLM call follows, then all.
struct Advice {
    proposals: Vec<Proposal>,
    /// The run is over.
    last: bool,
}

/// When the advisors last ran, and whether a run is in flight.
struct Advising {
    busy: bool,
    last: Option<Instant>,
    last_llm: Option<Instant>,
    /// Cancels the LLM call of the run in flight.
    cancel_llm: Option<tokio::sync::watch::Sender<bool>>,
    /// How the LLM call goes, for the recs view.
    progress: tokio::sync::watch::Sender<Option<LlmRun>>,
}

impl Advising {
    /// Starts a run on `snap` unless one is in flight or the last started too recently.
    fn maybe_start(
        &mut self,
        snap: &Arc<Snapshot>,
        llm: Option<&Arc<LlmAdvisor>>,
        tx: &tokio::sync::mpsc::Sender<Advice>,
    ) {
        if self.busy || self.last.is_some_and(|t| t.elapsed() < ADVISE_EVERY) {
            return;
        }
        self.busy = true;
        self.last = Some(Instant::now());
        let llm = llm.filter(|_| self.last_llm.is_none_or(|t| t.elapsed() >= LLM_EVERY)).cloned();
        if llm.is_some() {
            self.last_llm = Some(Instant::now());
        }
        let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
        self.cancel_llm = llm.as_ref().map(|_| cancel_tx);
        let (snap, tx, progress) = (snap.clone(), tx.clone(), self.progress.clone());
        tokio::spawn(async move {
            let assess_on_worker = |snap: Arc<Snapshot>, extra| async move {
                tokio::task::spawn_blocking(move || advise_builtin(&snap, extra)).await.unwrap_or_else(|e| {
                    tracing::warn!("advisors failed: {e}");
                    Vec::new()
                })
            };
            let mut candidates = Vec::new();
            if let Some(llm) = llm {
                // The built-in proposals need not wait for the model.
                let first = assess_on_worker(snap.clone(), Vec::new()).await;
                let _ = tx.send(Advice { proposals: first.clone(), last: false }).await;
                let model = llm.prompt.model.clone();
                let report = move |p: &Progress| {
                    let run = (!p.done).then(|| LlmRun { model: model.clone(), progress: *p });
                    progress.send_replace(run);
                };
                let g = crate::advise::Guardrails::default();
                let out = llm.advise_with_progress(&snap, &g, snap.time, &first, cancel, &report).await;
                candidates.extend(out.candidates);
            }
            let all = assess_on_worker(snap, candidates).await;
            let _ = tx.send(Advice { proposals: all, last: true }).await;
        });
    }

    /// Stops the LLM call in flight; its proposals then say it was cancelled.
    fn cancel_llm(&mut self) {
        if let Some(tx) = self.cancel_llm.take() {
            let _ = tx.send(true);
        }
    }
}

/// The built-in advisors' candidates with `extra` (the LLM's), assessed on the twin.
pub fn advise_builtin(snap: &Snapshot, extra: Vec<crate::advise::Candidate>) -> Vec<Proposal> {
    let g = crate::advise::Guardrails::default();
    let mut candidates = builtin::reactive(snap, &g);
    candidates.extend(builtin::placement(snap));
    if snap.source.kind == crate::twin::SourceKind::Demo {
        candidates.extend(builtin::predictive(snap, &g, chrono::Duration::seconds(1), 120));
    }
    candidates.extend(extra);
    // The file the console's operator appends outcomes to; unreadable reads as no record.
    let record =
        TrackRecord::load(&crate::advise::record::record_path(&crate::paths::data_dir())).unwrap_or_default();
    let evaluator = EvaluatorKind::default().build(CONSOLE_HORIZON_S);
    let ctx = Context {
        guardrails: g,
        evaluator: evaluator.as_ref(),
        seeds: crate::advise::default_seeds(),
        record: &record,
        pending: &[],
    };
    assess(snap, candidates, &ctx)
}

/// The console's LLM advisor, with `--llm-url` (and the other `--llm-*` flags, as `advise`
/// takes them); its exchanges are saved in the data dir as `advise` saves them.
pub fn llm_advisor(opts: &Options) -> Option<LlmAdvisor> {
    let dir = crate::advise::llm::audit::exchanges_dir(&crate::paths::data_dir());
    opts.source.as_ref()?.llm_advisor(Some(dir))
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
