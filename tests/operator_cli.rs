//! Every decision without a terminal, as a user or a script makes it: `twintop advise` shows
//! ids, `twintop approve ID --yes` applies through a running `twintop operator` (the demo's
//! cluster lives in it), refusals name the rule, `twintop schedule` puts an action on the
//! calendar that the operator fires with no console open, and `kill -9` of the operator loses
//! no scheduled action.

mod common;
mod kube_fake;

use common::Running;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use twintop::act::audit;
use twintop::act::schedule::{self, Calendar, Status};

/// Dirs of its own (`common::Dirs`), the demo started in its checkout surge, the requester
/// `alice`.
struct Dirs(common::Dirs);

impl Dirs {
    fn new() -> Dirs {
        Dirs(common::Dirs::new())
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.0.twintop(args);
        c.env("TWINTOP_DEMO_START_TICK", "70").env("USER", "alice");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run twintop")
    }

    fn data(&self) -> PathBuf {
        self.0.data()
    }

    /// (proposal id, outcome) of each audit entry.
    fn audit(&self) -> Vec<(String, String)> {
        self.0.audit().into_iter().map(|r| (r.proposal_id.unwrap_or_default(), r.outcome)).collect()
    }

    fn calendar(&self) -> Calendar {
        Calendar::load(&self.data().join(schedule::FILE_NAME)).unwrap()
    }
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A valid scale proposal of an Online Boutique workload from `twintop advise --demo --json`
/// (its id is now in the ledger).
fn advised_scale(d: &Dirs) -> Value {
    let out = d.run(&["advise", "--demo", "--json", "--evaluator", "analytic"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    doc["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["status"] == "valid"
                && p["action"]["kind"] == "scale"
                && p["target"].as_str().is_some_and(|t| t.starts_with("boutique/"))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no valid scale proposal: {stdout}"))
}

/// `twintop operator --demo` in `d`, just started.
fn started(d: &Dirs, extra: &[&str]) -> Running {
    let mut args = vec!["operator", "--demo"];
    args.extend(extra);
    Running::spawn(d.cmd(&args))
}

/// `twintop operator --demo` in `d`, running, its twin loaded.
fn operator(d: &Dirs, extra: &[&str]) -> Running {
    ready(started(d, extra))
}

/// `op` (a `twintop operator`) once its twin is loaded.
fn ready(mut op: Running) -> Running {
    op.wait_for("servers,", 60);
    op
}

#[test]
fn approve_with_yes_applies_once_through_the_operator_and_audits_once() {
    let d = Dirs::new();
    let mut op = operator(&d, &[]);
    let p = advised_scale(&d);
    let id = p["id"].as_str().unwrap();
    let replicas = p["action"]["replicas"].as_u64().unwrap();

    let out = d.run(&["approve", id, "--yes"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("context: demo"), "the context:\n{stdout}");
    assert!(stdout.contains(&format!("+  replicas: {replicas}")), "the diff:\n{stdout}");
    assert!(stdout.contains("decided by twintop operator (pid"), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("applied: "), "{stdout}");
    op.wait_for("alice (headless): applied", 10);

    // Once: the same id again is refused (the change is made; its cooldown runs), with the rule.
    let again = d.run(&["approve", id, "--yes", "--json"]);
    let (stdout, _) = text(&again);
    assert_eq!(again.status.code(), Some(3), "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["outcome"], "refused", "{doc}");
    let ours: Vec<String> = d.audit().into_iter().filter(|(p, _)| p == id).map(|(_, o)| o).collect();
    assert_eq!(ours, ["approved", "applied"], "approved and applied once");
    let verify = d.run(&["audit", "--verify"]);
    assert!(verify.status.success(), "{:?}", text(&verify));

    // Without --yes it asks; anything but y applies nothing.
    let decline = d.cmd(&["approve", id]).stdin(Stdio::null()).output().unwrap();
    assert_ne!(decline.status.code(), Some(0));
    assert_eq!(d.audit().iter().filter(|(_, o)| o == "applied").count(), 1);
    op.stop();
}

#[test]
fn readonly_and_a_guardrail_refuse_by_the_rules_name_and_the_demo_needs_an_operator() {
    let d = Dirs::new();
    let p = advised_scale(&d);
    let id = p["id"].as_str().unwrap();

    // No owner runs: the demo's cluster would die with the command, so it says what to do.
    let out = d.run(&["approve", id, "--yes", "--demo"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("start `twintop operator --demo`"), "{stderr}");

    // The operator's guardrails deny the namespace (its config dir, not the advise's).
    let strict = tempfile::tempdir().unwrap();
    std::fs::write(strict.path().join("config.toml"), "[guardrails]\ndeny_namespaces = [\"boutique\"]\n")
        .unwrap();
    let mut cmd = d.cmd(&["operator", "--demo"]);
    cmd.env("TWINTOP_CONFIG_DIR", strict.path());
    let op = ready(Running::spawn(cmd));
    let out = d.run(&["approve", id, "--yes"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("rule namespace: namespace boutique is on the deny list"), "{stdout}");

    let out = d.run(&["approve", id, "--yes", "--readonly"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("rule readonly"), "{stdout}");

    // Nothing is scheduled in read-only mode either.
    let out = d.run(&["schedule", id, "--at", "+10m", "--readonly"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("rule readonly"), "{stdout}");
    op.stop();
    assert!(!d.data().join(schedule::FILE_NAME).exists(), "no calendar entry");
    assert!(!d.data().join(audit::FILE_NAME).exists(), "nothing was decided");
}

#[test]
fn reject_records_the_reason_under_the_requesters_name() {
    let d = Dirs::new();
    let p = advised_scale(&d);
    let id = p["id"].as_str().unwrap();
    // No owner runs, no cluster is needed: this command owns the data dir for the moment.
    let out = d.run(&["reject", id, "--reason", "quiet hours"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "rejected: quiet hours");
    let v = audit::verify_file(&d.data().join(audit::FILE_NAME)).unwrap();
    let r = &v.entries[0].record;
    assert_eq!(
        (r.outcome.as_str(), r.user.as_str(), r.reason.as_deref()),
        ("rejected", "alice", Some("quiet hours"))
    );
    let unknown = d.run(&["reject", "0000000000000000", "--reason", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown).1.contains("no proposal 0000000000000000"), "{:?}", text(&unknown));
}

#[test]
fn a_scheduled_action_fires_from_the_operator_with_no_console_open() {
    let d = Dirs::new();
    let p = advised_scale(&d);
    let id = p["id"].as_str().unwrap();
    // Scheduled while nothing runs: re-validated on this command's twin, waiting in the file.
    let out = d.run(&["schedule", id, "--at", "+6s"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("no twintop owns the data dir now"), "{stdout}");
    assert_eq!(d.calendar().actions[0].status, Status::Waiting);

    // `--json`: one event per line, as a log shipper reads it.
    let mut op = started(&d, &["--json"]);
    let fired: Value = serde_json::from_str(&op.wait_for("scheduled scale", 60)).unwrap();
    assert_eq!(fired["kind"], "note");
    assert!(fired["text"].as_str().unwrap().contains(": applied: "), "{fired}");
    let log = op.stop();
    let cal = d.calendar();
    assert_eq!(cal.actions[0].status, Status::Applied, "{:?}", cal.actions[0]);
    assert!(cal.actions[0].note.as_deref().unwrap_or_default().starts_with("applied: "));
    let ours: Vec<String> = d.audit().into_iter().filter(|(p, _)| p == id).map(|(_, o)| o).collect();
    assert_eq!(ours, ["scheduled", "approved", "applied"], "{log:?}");
}

/// The demo's workloads a test may scale by one: no HPA, not critical (key, replicas now).
fn scalable(d: &Dirs) -> Vec<(String, u64)> {
    let out = d.run(&["twin", "--demo", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["namespace"] == "boutique" && w["hpa"].is_null() && w["critical"] != true)
        .map(|w| (format!("boutique/{}", w["name"].as_str().unwrap()), w["replicas"].as_u64().unwrap()))
        .collect()
}

#[test]
fn kill_9_of_the_operator_loses_no_scheduled_action() {
    let d = Dirs::new();
    // Six actions on the calendar, 3 s apart, written as the console writes them.
    let targets = scalable(&d);
    assert!(targets.len() >= 6, "{targets:?}");
    let start = chrono::Utc::now();
    {
        use twintop::act::flow::Pending;
        use twintop::act::operator::{Operator as Service, OperatorOptions};
        let opts = OperatorOptions { data_dir: Some(d.data()), ..OperatorOptions::default() };
        let mut svc = Service::new(opts, "demo");
        for (i, (w, r)) in targets.iter().take(6).enumerate() {
            let p = Pending {
                id: format!("kill9-{i}"),
                change: twintop::change::Change::Scale { workload: w.clone(), replicas: *r as u32 + 1 },
                confidence: Some(50.0),
                source: "builtin:reactive".into(),
                llm_exchange_sha256: None,
                reason: "kill -9 test".into(),
                predicted_p99_ms: None,
            };
            svc.schedule(p, start + chrono::Duration::seconds(4 + 3 * i as i64), start).unwrap();
        }
    }
    // Killed at varying moments, restarted at once, until past the last action's time.
    let end = start + chrono::Duration::seconds(4 + 3 * 5 + 3);
    let mut kills = 0;
    while chrono::Utc::now() < end {
        let op = started(&d, &[]);
        std::thread::sleep(Duration::from_millis(300 + (kills * 677) % 2200));
        drop(op); // SIGKILL
        kills += 1;
    }
    // One more, left to settle what came due while the last ones died.
    let op = operator(&d, &[]);
    let settle = Instant::now() + Duration::from_secs(20);
    while Instant::now() < settle && d.calendar().actions.iter().any(|a| a.status == Status::Waiting) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = op.stop();

    let cal = d.calendar();
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    for (id, outcome) in d.audit() {
        if outcome == "applied" {
            *applied.entry(id).or_default() += 1;
        }
    }
    for a in &cal.actions {
        let id = &a.pending.id;
        let n = applied.get(id).copied().unwrap_or(0);
        assert!(n <= 1, "{id} applied {n} times");
        match a.status {
            Status::Applied => assert_eq!(n, 1, "{id} says applied: the audit log must too"),
            // Cut short between approval and apply, or its time passed while none ran: it waits
            // for an operator, visibly.
            Status::Missed | Status::NotFired => assert_eq!(n, 0, "{id}: {:?}", a.note),
            other => panic!("{id} left {other:?} after {kills} kills: {:?}\n{}", a.note, log.join("\n")),
        }
    }
    let done = cal.actions.iter().filter(|a| a.status == Status::Applied).count();
    println!("{kills} kills: {done} of 6 applied, the rest waiting for an operator");
    assert!(kills >= 5, "the kills happened while actions came due");
}

/// A live cluster (the fake API server) and no owner running: `approve` connects, re-validates
/// on the twin it loads, reads the version, dry-runs and patches, audits, and says the change is
/// not watched.
#[test]
fn approve_on_a_live_cluster_with_no_owner_decides_itself() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let api = rt.block_on(kube_fake::FakeApi::start());
    let load = |rel: &str| -> Value {
        let path = common::data(&format!("api/{rel}"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    for (file, name) in [("k9s/no.json", "node-a"), ("k9s/n1.json", "node-b")] {
        let mut n = load(file);
        n["metadata"]["name"] = json!(name);
        api.apply("/api/v1/nodes", n);
    }
    let mut dp = load("k9s/dp.json");
    dp["spec"]["replicas"] = json!(2);
    api.apply("/apis/apps/v1/deployments", dp);
    api.allow_changes();
    let d = Dirs::new();
    let kc = kube_fake::write_kubeconfig(&d.0.config(), &api.url(), "fake-cluster", "fake-ctx");
    // The proposal as `twintop advise` would have recorded it.
    let change = twintop::change::Change::Scale { workload: "icx/icx-db".into(), replicas: 3 };
    let p = twintop::advise::Proposal {
        id: "feedc0defeedc0de".into(),
        source: "builtin:reactive".into(),
        target: "icx/icx-db".into(),
        action: Some(change),
        when: None,
        status: twintop::advise::Status::Valid,
        rejection: None,
        reason: "test".into(),
        predicted: None,
        confidence: twintop::advise::Confidence { score: 50, parts: Default::default() },
        exchange: None,
        motive: None,
        endorsements: Vec::new(),
    };
    twintop::act::ledger::record(&d.data(), &[p], "advise", chrono::Utc::now()).unwrap();

    let out = d
        .cmd(&["approve", "feedc0defeedc0de", "--yes", "--context", "fake-ctx"])
        .env("KUBECONFIG", &kc)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("context: fake-ctx") && stdout.contains("+  replicas: 3"), "{stdout}");
    assert!(stdout.contains("applied: icx/icx-db scaled to 3 replicas"), "{stdout}");
    assert!(stdout.contains("not watched"), "{stdout}");
    assert_eq!(api.get("/apis/apps/v1/deployments", "icx/icx-db")["spec"]["replicas"], 3);
    let patches: Vec<String> = api.requests().into_iter().filter(|r| r.starts_with("PATCH")).collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(patches[0].contains("dryRun=All") && !patches[1].contains("dryRun"), "{patches:?}");
    let ours: Vec<String> = d.audit().into_iter().map(|(_, o)| o).collect();
    assert_eq!(ours, ["approved", "applied"]);
    drop(rt);
}
