//! `twintop operator`: the operator service without a terminal. It owns the data dir (as a
//! console would), runs the source, fires scheduled actions at their time, watches applied
//! changes and rolls them back (proposed, or applied for `auto_rollback` workloads), records
//! outcomes in the advisors' track record, and answers `twintop approve`, `reject` and
//! `schedule`. One line per event on stdout; it runs until SIGTERM, SIGINT or SIGHUP.

use crate::act::operator::{Cluster, Event, Operator, OperatorOptions};
use crate::act::remote;
use crate::source::{self, SourceArgs};
use crate::text::escape;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// One JSON object per event instead of a line of text: `{"time", "kind": "note", "text"}`,
    /// `{"time", "kind": "needs_operator", "proposal"}` (the proposal as `advise --json` prints
    /// it), `{"time", "kind": "decided", "id"}`.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(src: &SourceArgs, readonly: bool, a: &OperatorArgs) -> anyhow::Result<i32> {
    let json = a.json;
    let data_dir = crate::paths::data_dir();
    let name = format!("twintop operator (pid {})", std::process::id());
    let ownership = match remote::claim(&data_dir, &name) {
        Ok(o) => o,
        Err(holder) => {
            eprintln!(
                "twintop operator: {} owns {} (its audit log and calendar): stop it first",
                escape(&holder),
                data_dir.display()
            );
            return Ok(1);
        }
    };
    let config = crate::paths::config_dir();
    let mut guardrails = crate::guardrails::load(&config).unwrap_or_else(|e| {
        // A broken rule set must not loosen anything.
        say(json, &format!("{e}; read-only until [guardrails] is fixed"));
        crate::guardrails::Guardrails { readonly: true, ..Default::default() }
    });
    guardrails.readonly |= readonly;
    let auto_rollback = crate::config_file::auto_rollback(&config).unwrap_or_else(|e| {
        say(json, &format!("{e}; no automatic rollback"));
        Vec::new()
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let r = rt.block_on(async move {
        let (handle, source_ticks) = source::spawn(src)?;
        let vm = source::spawn_vm(src, &handle, source_ticks)?;
        let mut requests = remote::serve(&data_dir, &ownership)?;
        let mut rx = handle.snapshots.clone();
        let first = rx.borrow_and_update().clone();
        let opts = OperatorOptions {
            cluster: Some(Cluster(handle.cluster.clone())),
            guardrails,
            data_dir: Some(data_dir.clone()),
            auto_rollback,
            owned_by: None,
        };
        let mut op = Operator::new(opts, &first.source.context);
        op.shown_by = "operator";
        let waiting = op.calendar.actions.iter().filter(|a| a.status == crate::act::schedule::Status::Waiting).count();
        say(json, &format!(
            "{name} owns {}: fires scheduled actions ({waiting} waiting), watches applied changes, answers twintop approve/reject/schedule{}",
            data_dir.display(),
            if op.guardrails().readonly { "; READ-ONLY: nothing is applied" } else { "" }
        ));
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let mut announced = false;
        loop {
            tokio::select! {
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                _ = hangup.recv() => break,
                changed = rx.changed() => {
                    if changed.is_err() {
                        say(json, "the source stopped");
                        break;
                    }
                    let snap = rx.borrow_and_update().clone();
                    if !announced && !snap.servers.is_empty() {
                        announced = true;
                        say(json, &format!(
                            "source {} ({}), context {}: {} servers, {} workloads",
                            snap.source.kind.as_str(),
                            escape(&snap.source.name),
                            escape(&snap.source.context),
                            snap.servers.len(),
                            snap.workloads.len()
                        ));
                    }
                    op.set_context(&snap.source.context);
                    print_events(json, op.observe(&snap));
                }
                Some((req, reply)) = requests.recv() => {
                    let snap = rx.borrow().clone();
                    let answer = op.handle(req, &snap, &name);
                    let _ = reply.send(answer);
                    print_events(json, op.take_events());
                }
            }
        }
        say(json, "stopped");
        if let Some(vm) = vm {
            vm.abort();
        }
        anyhow::Ok(())
    });
    // The demo's stepping task and the pollers never end by themselves; don't wait for them.
    rt.shutdown_background();
    r.map(|_| 0)
}

fn print_events(json: bool, events: Vec<Event>) {
    for e in events {
        if json {
            let time = chrono::Utc::now().to_rfc3339();
            let doc = match &e {
                Event::Note(n) => serde_json::json!({"time": time, "kind": "note", "text": n}),
                Event::Propose(p) => {
                    serde_json::json!({"time": time, "kind": "needs_operator", "proposal": p})
                }
                Event::Decided(id) => serde_json::json!({"time": time, "kind": "decided", "id": id}),
            };
            println!("{doc}");
            continue;
        }
        match e {
            Event::Note(n) => say(false, &n),
            Event::Propose(p) => say(
                false,
                &format!(
                    "needs an operator: proposal {} — {} ({}); twintop approve {} / twintop reject {} --reason …",
                    p.id,
                    p.action.as_ref().map(|c| c.to_string()).unwrap_or_default(),
                    p.reason,
                    p.id,
                    p.id
                ),
            ),
            Event::Decided(_) => {}
        }
    }
}

/// One line of the operator's log on stdout, timestamped, escaped (or a JSON note).
fn say(json: bool, text: &str) {
    if json {
        println!(
            "{}",
            serde_json::json!({"time": chrono::Utc::now().to_rfc3339(), "kind": "note", "text": text})
        );
    } else {
        println!("{} {}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"), escape(text));
    }
}
