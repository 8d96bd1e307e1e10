//! `twintop approve ID`, `twintop reject ID --reason …`, `twintop schedule ID --at …`: the
//! console's decisions without a terminal, through the same operator service (same guardrails,
//! confirmation and audit). The id is one `twintop advise` or the console showed (the proposals
//! ledger keeps them an hour). The decision is made by the process that owns the data dir — a
//! running console or `twintop operator`, reached on its socket — on its twin and its cluster.
//! With no owner running, this command owns the data dir for the moment it decides: on a live
//! cluster it connects and decides itself; the demo's cluster lives only inside a running
//! twintop, so approving on it needs one; manifests accept no changes.

use crate::act::ledger::{self, Shown};
use crate::act::operator::{Cluster, Operator, OperatorOptions};
use crate::act::operator_requests::{Reply, Request};
use crate::act::remote::{self, Client};
use crate::advise::Status;
use crate::source::{self, Plan, SourceArgs};
use crate::text::escape;
use crate::twin::{Snapshot, TwinEvent, TwinStore};
use clap::Args;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

/// Exit codes beyond 0 (done) and 1 (error).
pub(crate) mod exit {
    /// The id is unknown, or the source cannot take the decision here.
    pub(crate) const NOT_HERE: i32 = 2;
    /// A guardrail refused, or the proposal is not valid on the twin now.
    pub(crate) const REFUSED: i32 = 3;
    /// The cluster refused: the dry run failed, a conflict, the apply failed.
    pub(crate) const CLUSTER: i32 = 4;
    /// Declined at the confirmation prompt.
    pub(crate) const DECLINED: i32 = 5;
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The proposal's id, as `twintop advise` or the console shows it.
    pub id: String,
    /// Apply without asking (for scripts): the diff and the context are still printed.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    pub id: String,
    /// Why (recorded in the audit log).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    pub id: String,
    /// When: `+10m`, `+90s`, `+1h`, `HH:MM` (UTC) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub at: String,
    #[arg(long)]
    pub json: bool,
}

/// What a decision ended in, for the table and `--json`.
#[derive(Debug, serde::Serialize)]
struct Decision {
    id: String,
    /// applied, rejected, scheduled, refused, dry-run-failed, conflict, failed, declined, error.
    outcome: String,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rules: Vec<crate::guardrails::Violation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
    /// Who decided: the owner of the data dir.
    by: String,
}

impl Decision {
    fn code(&self) -> i32 {
        match self.outcome.as_str() {
            "applied" | "rejected" | "scheduled" => 0,
            "refused" => exit::REFUSED,
            "dry-run-failed" | "conflict" | "failed" => exit::CLUSTER,
            "declined" => exit::DECLINED,
            _ => 1,
        }
    }

    fn print(&self, json: bool) -> i32 {
        if json {
            println!("{}", serde_json::to_string_pretty(self).unwrap_or_default());
        } else {
            let rules: Vec<String> =
                self.rules.iter().map(|r| format!("rule {}: {}", r.rule, escape(&r.message))).collect();
            let why = if rules.is_empty() { escape(&self.message).into_owned() } else { rules.join("; ") };
            println!("{}: {why}", self.outcome);
        }
        self.code()
    }
}

pub(crate) fn approve(src: &SourceArgs, readonly: bool, a: &ApproveArgs) -> anyhow::Result<i32> {
    let data_dir = crate::paths::data_dir();
    let shown = match shown(&data_dir, &a.id, true) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let req = Request::Prepare { pending: shown.pending.clone(), user: user(), readonly };
    let mut owner = match Owner::reach(src, &data_dir, Need::Cluster)? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let mut d = Decision {
        id: a.id.clone(),
        outcome: String::new(),
        message: String::new(),
        rules: Vec::new(),
        context: None,
        diff: None,
        by: owner.name.clone(),
    };
    let ticket = match owner.call(req)? {
        Reply::Prepared { ticket, context, diff, proposal } => {
            if !a.json {
                print_prepared(&proposal, &diff, &owner.name);
            }
            d.context = Some(context.clone());
            d.diff = Some(diff);
            if !a.yes && !ask(&format!("apply to context {}? [y/N] ", escape(&context))) {
                owner.call(Request::Cancel { ticket })?;
                d.outcome = "declined".into();
                d.message = "nothing applied".into();
                return Ok(d.print(a.json));
            }
            ticket
        }
        other => return Ok(finish(d, other).print(a.json)),
    };
    let reply = owner.call(Request::Confirm { ticket })?;
    let mut d = finish(d, reply);
    if owner.local && d.outcome == "applied" {
        d.message = format!(
            "{}; not watched: no twintop operator owns the data dir to watch its SLO and roll it back (start one to have applied changes watched)",
            d.message
        );
    }
    Ok(d.print(a.json))
}

pub(crate) fn reject(src: &SourceArgs, a: &RejectArgs) -> anyhow::Result<i32> {
    let data_dir = crate::paths::data_dir();
    if a.reason.trim().is_empty() {
        eprintln!("twintop reject: a rejection needs a reason (--reason TEXT)");
        return Ok(exit::NOT_HERE);
    }
    let shown = match shown(&data_dir, &a.id, false) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let mut owner = match Owner::reach(src, &data_dir, Need::Nothing)? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let reply = owner.call(Request::Reject {
        pending: shown.pending,
        user: user(),
        reason: a.reason.trim().into(),
    })?;
    Ok(finish(decision(&a.id, &owner.name), reply).print(a.json))
}

pub(crate) fn schedule(src: &SourceArgs, readonly: bool, a: &ScheduleArgs) -> anyhow::Result<i32> {
    let data_dir = crate::paths::data_dir();
    let shown = match shown(&data_dir, &a.id, true) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let now = chrono::Utc::now();
    let Some(at) = crate::act::schedule::parse_when(&a.at, now) else {
        eprintln!(
            "twintop schedule: not a time: {} (use +10m, +90s, +1h, HH:MM UTC or an RFC 3339 time, at most {} days ahead)",
            escape(&a.at),
            crate::act::schedule::MAX_AHEAD_DAYS
        );
        return Ok(exit::NOT_HERE);
    };
    let mut owner = match Owner::reach(src, &data_dir, Need::Twin)? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let reply = owner.call(Request::Schedule { pending: shown.pending, user: user(), at, readonly })?;
    let mut d = finish(decision(&a.id, &owner.name), reply);
    if d.outcome == "scheduled" && !a.json {
        let fires = if owner.local {
            "no twintop owns the data dir now: it fires when a console or `twintop operator` runs (one more than 60 s late waits for an operator's approval instead)".to_string()
        } else {
            format!("{} fires it", owner.name)
        };
        d.message = format!("{}; {fires}", d.message);
    }
    Ok(d.print(a.json))
}

fn decision(id: &str, by: &str) -> Decision {
    Decision {
        id: id.into(),
        outcome: String::new(),
        message: String::new(),
        rules: Vec::new(),
        context: None,
        diff: None,
        by: by.into(),
    }
}

/// The decision as the owner's reply says.
fn finish(mut d: Decision, reply: Reply) -> Decision {
    match reply {
        Reply::Done { outcome, message } => {
            d.outcome = outcome;
            d.message = message;
        }
        Reply::Refused { rules, message } => {
            d.outcome = "refused".into();
            d.message = format!("{message}; nothing applied");
            d.rules = rules;
        }
        Reply::Error { message } => {
            d.outcome = "error".into();
            d.message = message;
        }
        other => {
            d.outcome = "error".into();
            d.message = format!("unexpected answer from the owner: {other:?}");
        }
    }
    d
}

/// The proposal as it was shown, or the exit code after saying why not.
fn shown(data_dir: &Path, id: &str, to_apply: bool) -> Result<Shown, i32> {
    match ledger::find(data_dir, id, chrono::Utc::now()) {
        Ok(s) if to_apply && s.status == Status::Rejected => {
            eprintln!(
                "proposal {} was rejected when it was proposed: {}; it cannot be approved or scheduled",
                escape(id),
                escape(s.rejection.as_deref().unwrap_or("invalid"))
            );
            Err(exit::REFUSED)
        }
        Ok(s) => Ok(s),
        Err(e) => {
            eprintln!("{}", escape(&e));
            Err(exit::NOT_HERE)
        }
    }
}

fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "operator".into())
}

/// Asks on stderr, reads the answer from stdin (EOF is no).
fn ask(question: &str) -> bool {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes")
}

/// The proposal as the owner re-assessed it, then the diff headed by its context.
fn print_prepared(p: &crate::advise::Proposal, diff: &str, by: &str) {
    let action = p.action.as_ref().map(|c| c.to_string()).unwrap_or_default();
    println!(
        "proposal {} from {} (confidence {} on the twin now), decided by {}",
        p.id,
        escape(&p.source),
        p.confidence.score,
        escape(by)
    );
    println!("  {}", escape(&action));
    println!("  why: {}", escape(&p.reason));
    if let Some(x) = &p.predicted {
        let now = x.measured_p99_ms.map(|m| format!(" (measured now {m:.0} ms)")).unwrap_or_default();
        println!(
            "  predicted on the twin: p99 {:.0} → {:.0} ±{:.0} ms{now}; SLO violations {:.1} → {:.1}",
            x.p99_ms.before.mean,
            x.p99_ms.after.mean,
            (x.p99_ms.after.max - x.p99_ms.after.min) / 2.0,
            x.slo_violations.before.mean,
            x.slo_violations.after.mean
        );
    }
    // The diff is escaped where it is built (`act::flow::diff`).
    print!("{diff}");
    let _ = std::io::stdout().flush();
}

/// What a decision needs of the owner this command starts when none runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    /// A cluster to apply to (approve).
    Cluster,
    /// A twin to re-validate on (schedule).
    Twin,
    /// Only the audit log (reject).
    Nothing,
}

/// The process that decides: the data dir's owner on its socket, or this command.
struct Owner {
    name: String,
    local: bool,
    remote: Option<Client>,
    /// This command as the owner: its service, its twin, its runtime (for a live cluster).
    service: Option<(Operator, Arc<Snapshot>, Option<tokio::runtime::Runtime>, remote::Ownership)>,
}

impl Owner {
    /// Reaches the owner of `data_dir`, or becomes it. Err: the exit code, after saying why.
    fn reach(src: &SourceArgs, data_dir: &Path, need: Need) -> anyhow::Result<Result<Owner, i32>> {
        if let Some(mut c) = Client::connect(data_dir) {
            let Reply::Hello { owner, source, context, .. } =
                c.call(&Request::Hello).map_err(|e| anyhow::anyhow!("{}: {e}", data_dir.display()))?
            else {
                anyhow::bail!("the owner of {} did not say who it is", data_dir.display());
            };
            if let Some(mismatch) = mismatch(src, &source, &context) {
                eprintln!(
                    "{} owns {} and runs on the {} source (context {}); {mismatch}",
                    escape(&owner),
                    data_dir.display(),
                    escape(&source),
                    escape(&context)
                );
                return Ok(Err(exit::NOT_HERE));
            }
            return Ok(Ok(Owner { name: owner, local: false, remote: Some(c), service: None }));
        }
        let name = format!("twintop (this command, pid {})", std::process::id());
        let ownership = match remote::claim(data_dir, &name) {
            Ok(o) => o,
            Err(holder) => {
                eprintln!(
                    "{} owns {} but does not answer on {}: try again in a moment",
                    escape(&holder),
                    data_dir.display(),
                    remote::socket_path(data_dir).display()
                );
                return Ok(Err(1));
            }
        };
        let guardrails = match crate::guardrails::load(&crate::paths::config_dir()) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{}; nothing is decided until [guardrails] is fixed", escape(&e));
                return Ok(Err(exit::REFUSED));
            }
        };
        let plan = source::resolve(src);
        let (snap, cluster, rt) = match (need, &plan) {
            (Need::Cluster, Plan::Demo { .. }) => {
                eprintln!(
                    "the demo's cluster lives inside a running twintop, and none owns {}: start `twintop operator --demo` (or the console) and approve again — an approval here would change a demo that ends with this command",
                    data_dir.display()
                );
                return Ok(Err(exit::NOT_HERE));
            }
            (Need::Cluster, Plan::Manifests { .. }) => {
                eprintln!(
                    "manifests are a still picture and accept no changes: approve against the cluster (--context) instead"
                );
                return Ok(Err(exit::NOT_HERE));
            }
            (Need::Cluster, Plan::Live { .. }) => {
                let rt =
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                let handle = rt.block_on(async { crate::source::kube::spawn_live(src) })?;
                let snap = rt.block_on(first_real(handle.snapshots.clone()))?;
                (snap, Some(Cluster(handle.cluster.clone())), Some(rt))
            }
            (Need::Twin, _) => (source::load_snapshot(src)?, None, None),
            (Need::Nothing, _) => (now_snapshot(), None, None),
        };
        let opts = OperatorOptions {
            cluster,
            guardrails,
            data_dir: Some(data_dir.to_path_buf()),
            auto_rollback: Vec::new(),
            owned_by: None,
        };
        let mut op = Operator::new(opts, &snap.source.context);
        op.shown_by = "operator";
        Ok(Ok(Owner { name, local: true, remote: None, service: Some((op, snap, rt, ownership)) }))
    }

    fn call(&mut self, req: Request) -> anyhow::Result<Reply> {
        if let Some(c) = &mut self.remote {
            return c.call(&req).map_err(|e| anyhow::anyhow!(e));
        }
        let (op, snap, rt, _) = self.service.as_mut().expect("an owner is remote or local");
        // A live cluster's calls block on its runtime's workers.
        let _guard = rt.as_ref().map(|r| r.enter());
        Ok(op.handle(req, snap, &self.name))
    }
}

/// Why the source flags name another source than the owner's, if they name one at all.
fn mismatch(src: &SourceArgs, source: &str, context: &str) -> Option<String> {
    match source::resolve(src) {
        Plan::Demo { notice: None, .. } if source != "demo" => Some("this command names --demo".into()),
        Plan::Manifests { .. } if source != "manifests" => Some("this command names --manifests".into()),
        Plan::Live { context: Some(c) } if c != context => {
            Some(format!("this command names --context {}", escape(&c)))
        }
        _ => None,
    }
}

/// The live source's first snapshot with servers in it (the initial lists have arrived).
async fn first_real(mut rx: tokio::sync::watch::Receiver<Arc<Snapshot>>) -> anyhow::Result<Arc<Snapshot>> {
    let wait = async {
        loop {
            let s = rx.borrow_and_update().clone();
            if !s.servers.is_empty() {
                return Ok(s);
            }
            if rx.changed().await.is_err() {
                anyhow::bail!("the cluster source stopped before the twin was loaded");
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .map_err(|_| anyhow::anyhow!("the cluster's twin did not load within 30 s"))?
}

/// An empty twin at the current time (a rejection needs no twin, only a clock).
fn now_snapshot() -> Arc<Snapshot> {
    let mut st = TwinStore::default();
    st.apply(TwinEvent::Tick(chrono::Utc::now()));
    st.snapshot()
}
