//! The console's event loop. It sleeps until a key or mouse event, a resize, a new snapshot,
//! the advisors' proposals or a headless request arrive, and redraws only then: no frame timer,
//! so an idle console costs nothing. The advisors run on workers (`advising.rs`) and send their
//! proposals back through a channel that wakes the loop; an LLM call's progress wakes it too,
//! throttled by the client, and `C` in the recs view cancels the call. When this console owns
//! the data dir (no `twintop operator` or other console does), it fires the calendar and answers
//! `twintop approve`, `reject` and `schedule` on the data dir's socket; otherwise it shows the
//! owner's calendar and decides nothing.

use super::advising::{Advice, Advising};
use super::app::{Action, App, AppOptions};
use super::config::{Config, config_dir, load_config};
use super::terminal::TerminalGuard;
use super::theme::Theme;
use super::views::recs::LlmRun;
use crate::act::operator::{Cluster, OperatorOptions};
use crate::act::remote;
use crate::advise::llm::LlmAdvisor;
use crate::source::feeder::TwinHandle;
use crossterm::event::EventStream;
use futures::StreamExt;
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

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
    let mut guardrails = match dir.as_deref().map_or(Ok(Default::default()), crate::guardrails::load) {
        Ok(g) => g,
        Err(e) => {
            // A broken rule set must not loosen anything: read-only until it is fixed.
            notices.push(format!("{e}; read-only until [guardrails] is fixed"));
            crate::guardrails::Guardrails { readonly: true, ..Default::default() }
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
        owned_by: None,
    };
    (AppOptions { theme, notices, config_dir: dir, metric, data_dir: None, operator }, config)
}

/// Runs the console until the operator quits. The terminal is restored however this ends.
pub async fn run(handle: TwinHandle, opts: Options) -> anyhow::Result<()> {
    let (mut app_opts, config) = app_options(&opts);
    app_opts.operator.cluster = Some(Cluster(handle.cluster.clone()));
    let data_dir = app_opts.operator.data_dir.clone().unwrap_or_else(crate::paths::data_dir);
    let name = format!("the console (pid {})", std::process::id());
    // The first console or operator on a data dir owns it; another shows and decides nothing,
    // and takes over when the owner goes.
    let (mut ownership, mut requests, holder) = own(&data_dir, &name, &mut app_opts.notices);
    let mut rx = handle.snapshots.clone();
    let first = rx.borrow_and_update().clone();
    tracing::info!(
        source = %crate::text::escape(&first.source.name),
        context = %crate::text::escape(&first.source.context),
        theme = %app_opts.theme.name,
        owner = ownership.is_some(),
        "console started"
    );
    let (progress_tx, mut progress_rx) = tokio::sync::watch::channel::<Option<LlmRun>>(None);
    let mut advisor = Advising::new(app_opts.operator.guardrails.clone(), progress_tx);
    let mut app = App::new(first.clone(), app_opts);
    app.set_owned_by(holder, &data_dir);
    let mut last_claim = std::time::Instant::now();
    let llm = llm_advisor(&opts).map(Arc::new);
    let (proposals_tx, mut proposals_rx) = tokio::sync::mpsc::channel::<Advice>(4);
    advisor.on_snapshot(&first, llm.as_ref(), &proposals_tx);
    let mut guard = TerminalGuard::enter(config.mouse.unwrap_or(true))?;
    let mut events = EventStream::new();
    let mut feed_open = true;
    let mut worker = app.take_worker_rx().expect("a new app has its worker channel");
    // `kill`, a closed terminal or tmux kill-session end the console like `q` does, so the
    // guard below restores the terminal instead of leaving it raw on the alternate screen.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    // Debug builds only: a fault the end-to-end tests ask for (`faults::inject`).
    // It fires `DELAY` after the first real twin is shown, so the screen it breaks has content.
    let mut fault = super::faults::inject::from_env();
    let mut fault_armed = false;
    let fault_at = tokio::time::sleep(super::faults::inject::DELAY);
    tokio::pin!(fault_at);
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
            _ = interrupt.recv() => {
                tracing::info!("SIGINT: quitting");
                break;
            }
            // A worker panicked (the hook logged it): show it, keep running.
            () = super::faults::FAILED.notified() => {
                for n in super::faults::take_failures() {
                    app.push_notice(n);
                }
                true
            }
            () = &mut fault_at, if fault.is_some() && fault_armed => {
                if let Some(f) = fault.take() {
                    super::faults::inject::trigger(f);
                }
                false
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
                    advisor.on_snapshot(&snap, llm.as_ref(), &proposals_tx);
                    if ownership.is_none() && last_claim.elapsed() >= RECLAIM_EVERY {
                        last_claim = std::time::Instant::now();
                        let mut notices = Vec::new();
                        let (o, r, holder) = own(&data_dir, &name, &mut notices);
                        if o.is_some() {
                            tracing::info!("the data dir's owner went: this console owns it now");
                            (ownership, requests) = (o, r);
                            app.set_owned_by(None, &data_dir);
                            notices.into_iter().for_each(|n| app.push_notice(n));
                        } else {
                            app.set_owned_by(holder, &data_dir);
                        }
                    }
                    if fault.is_some() && !fault_armed && crate::ui::advising::is_real(&snap) {
                        fault_armed = true;
                        fault_at.as_mut().reset(tokio::time::Instant::now() + super::faults::inject::DELAY);
                    }
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
                let snap = app.snapshot().clone();
                match advice {
                    Advice::Round(proposals) => {
                        app.set_proposals(proposals);
                        advisor.on_round(&snap, &proposals_tx);
                        true
                    }
                    Advice::Llm(candidates) => {
                        advisor.on_llm(candidates, &snap, &proposals_tx);
                        false
                    }
                    Advice::Fit(fit) => {
                        app.set_fit(*fit);
                        true
                    }
                }
            }
            // A headless command asks this console, which owns the data dir, to decide.
            Some((req, reply)) = async { requests.as_mut()?.recv().await } => {
                let _ = reply.send(app.handle_request(req, &name));
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
    drop(ownership);
    tracing::info!("console stopped");
    Ok(())
}

/// How often a console that does not own the data dir tries to take it over.
const RECLAIM_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Takes the data dir and serves its socket, or says who holds it.
fn own(
    data_dir: &std::path::Path,
    name: &str,
    notices: &mut Vec<String>,
) -> (Option<remote::Ownership>, Option<tokio::sync::mpsc::Receiver<remote::Call>>, Option<String>) {
    match remote::claim(data_dir, name) {
        Ok(o) => match remote::serve(data_dir, &o) {
            Ok(rx) => (Some(o), Some(rx), None),
            Err(e) => {
                notices.push(format!(
                    "{}: {e}; twintop approve/reject/schedule cannot reach this console",
                    remote::socket_path(data_dir).display()
                ));
                (Some(o), None, None)
            }
        },
        Err(holder) => (None, None, Some(holder)),
    }
}

/// The console's LLM advisor, with `--llm-url` (and the other `--llm-*` flags, as `advise`
/// takes them); its exchanges are saved in the data dir as `advise` saves them.
pub(crate) fn llm_advisor(opts: &Options) -> Option<LlmAdvisor> {
    let dir = crate::advise::llm::audit::exchanges_dir(&crate::paths::data_dir());
    opts.source.as_ref()?.llm_advisor(Some(dir))
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
