//! The operator service without a console: headless approvals, the calendar and its recovery
//! after a crash, read-only mode, automatic rollbacks.

use super::*;
use crate::act::audit::{AuditLog, verify_file};
use crate::act::cluster::fakes::Recorder;
use crate::act::operator_requests::{Reply, Request};
use crate::act::schedule::{self, Status};
use crate::demo::{DemoPreset, DemoTwin};
use crate::guardrails::Rule;

/// The demo 20 s into the checkoutservice surge, at a fixed time.
fn surge() -> Arc<Snapshot> {
    let mut d =
        DemoTwin::starting_at(DemoPreset::Dc, 1, DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap());
    d.skip_to(60);
    d.warm_snapshot(20)
}

fn later(snap: &Snapshot, secs: i64) -> Arc<Snapshot> {
    let mut s = snap.clone();
    s.time += chrono::Duration::seconds(secs);
    Arc::new(s)
}

fn scale(id: &str, replicas: u32) -> Pending {
    Pending {
        id: id.into(),
        change: Change::Scale { workload: "boutique/checkoutservice".into(), replicas },
        confidence: Some(80.0),
        source: "builtin:reactive".into(),
        llm_exchange_sha256: None,
        reason: "p99 over SLO".into(),
        predicted_p99_ms: None,
    }
}

fn service(g: Guardrails, dir: &std::path::Path) -> (Operator, Arc<Recorder>) {
    let cluster = Arc::new(Recorder::default());
    let opts = OperatorOptions {
        cluster: Some(Cluster(cluster.clone())),
        guardrails: g,
        data_dir: Some(dir.to_path_buf()),
        auto_rollback: Vec::new(),
        owned_by: None,
    };
    (Operator::new(opts, "demo"), cluster)
}

fn outcomes(dir: &std::path::Path) -> Vec<(String, String)> {
    let v = verify_file(&dir.join(audit::FILE_NAME)).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    v.entries.into_iter().map(|e| (e.record.outcome, e.record.user)).collect()
}

fn prepare(op: &mut Operator, snap: &Snapshot, p: Pending, readonly: bool) -> Reply {
    op.handle(Request::Prepare { pending: p, user: "alice".into(), readonly }, snap, "test")
}

#[test]
fn a_headless_approval_shows_the_diff_then_applies_once_audited_under_the_requester() {
    let dir = tempfile::tempdir().unwrap();
    let snap = surge();
    let (mut op, cluster) = service(Guardrails::default(), dir.path());
    let Reply::Prepared { ticket, context, diff, proposal } = prepare(&mut op, &snap, scale("p1", 4), false)
    else {
        panic!("not prepared")
    };
    assert_eq!(context, "demo");
    assert!(diff.contains("+  replicas: 4"), "{diff}");
    assert_eq!(proposal.id, "p1", "the id the requester saw");
    assert!(proposal.predicted.is_some(), "re-predicted on the twin as it is now");
    assert!(cluster.applied().is_empty(), "nothing before the confirmation");
    assert!(op.confirming().is_none(), "the console's confirmation is untouched");
    let reply = op.handle(Request::Confirm { ticket: ticket.clone() }, &snap, "test");
    assert!(matches!(&reply, Reply::Done { outcome, .. } if outcome == "applied"), "{reply:?}");
    assert_eq!(cluster.applied().len(), 1);
    let again = op.handle(Request::Confirm { ticket }, &snap, "test");
    assert!(matches!(again, Reply::Error { .. }), "a ticket confirms once");
    assert_eq!(cluster.applied().len(), 1);
    let o = outcomes(dir.path());
    assert_eq!(o, [("approved".into(), "alice".into()), ("applied".into(), "alice".into())]);
    let events = op.take_events();
    assert!(events.contains(&Event::Decided("p1".into())), "the console drops the card: {events:?}");
}

#[test]
fn readonly_and_a_guardrail_refuse_a_headless_approval_by_the_rules_name() {
    let dir = tempfile::tempdir().unwrap();
    let snap = surge();
    let (mut op, cluster) = service(Guardrails::default(), dir.path());
    let Reply::Refused { rules, .. } = prepare(&mut op, &snap, scale("p1", 4), true) else { panic!() };
    assert_eq!(rules.iter().map(|r| r.rule).collect::<Vec<_>>(), [Rule::Readonly]);
    let deny = Guardrails { deny_namespaces: vec!["boutique".into()], ..Guardrails::default() };
    let (mut op2, _) = service(deny, dir.path());
    let Reply::Refused { rules, message } = prepare(&mut op2, &snap, scale("p1", 4), false) else { panic!() };
    assert_eq!(rules.iter().map(|r| r.rule).collect::<Vec<_>>(), [Rule::Namespace], "{message}");
    assert!(message.contains("guardrail namespace"), "{message}");
    assert!(cluster.log().is_empty(), "nothing reached the cluster");
    assert!(!dir.path().join(audit::FILE_NAME).exists(), "nothing decided, nothing audited");
}

#[test]
fn nothing_is_scheduled_in_readonly_mode() {
    let dir = tempfile::tempdir().unwrap();
    let snap = surge();
    let g = Guardrails { readonly: true, ..Guardrails::default() };
    let (mut op, _) = service(g, dir.path());
    let e = op.schedule(scale("p1", 4), snap.time + chrono::Duration::minutes(10), snap.time).unwrap_err();
    assert!(e.contains("rule readonly"), "{e}");
    let at = snap.time + chrono::Duration::minutes(10);
    let req = Request::Schedule { pending: scale("p1", 4), user: "bob".into(), at, readonly: false };
    assert!(matches!(op.handle(req, &snap, "test"), Reply::Refused { .. }));
    let (mut rw, _) = service(Guardrails::default(), dir.path());
    let req = Request::Schedule { pending: scale("p1", 4), user: "bob".into(), at, readonly: true };
    assert!(matches!(rw.handle(req, &snap, "test"), Reply::Refused { .. }), "--readonly of the requester");
    assert!(!dir.path().join(schedule::FILE_NAME).exists());
    assert!(!dir.path().join(audit::FILE_NAME).exists());
}

#[test]
fn the_calendar_file_says_what_became_of_each_action() {
    let dir = tempfile::tempdir().unwrap();
    let snap = surge();
    let (mut op, cluster) = service(Guardrails::default(), dir.path());
    op.schedule(scale("fires", 4), snap.time + chrono::Duration::seconds(60), snap.time).unwrap();
    op.observe(&later(&snap, 61));
    assert_eq!(cluster.applied().len(), 1);
    // Read-only comes into force after the second was scheduled: it does not fire, and says so.
    op.schedule(scale("blocked", 5), snap.time + chrono::Duration::seconds(120), snap.time).unwrap();
    op.flow.guardrails.readonly = true;
    let events = op.observe(&later(&snap, 121));
    assert_eq!(cluster.applied().len(), 1, "read-only: not applied");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Note(n) if n.contains("not applied") && n.contains("rule readonly")))
    );
    let cal = schedule::Calendar::load(&dir.path().join(schedule::FILE_NAME)).unwrap();
    let status: Vec<(String, Status)> =
        cal.actions.iter().map(|a| (a.pending.id.clone(), a.status)).collect();
    assert_eq!(status, [("fires".into(), Status::Applied), ("blocked".into(), Status::NotFired)]);
    assert!(cal.actions[1].note.as_deref().unwrap().contains("rule readonly"), "{:?}", cal.actions[1]);
    let o: Vec<String> = outcomes(dir.path()).into_iter().map(|x| x.0).collect();
    assert_eq!(o, ["scheduled", "approved", "applied", "scheduled", "not_fired"]);
}

#[test]
fn after_a_crash_the_audit_log_settles_what_was_fired_and_nothing_fires_twice() {
    let dir = tempfile::tempdir().unwrap();
    let snap = surge();
    let at = snap.time + chrono::Duration::seconds(30);
    {
        let (mut op, _) = service(Guardrails::default(), dir.path());
        op.schedule(scale("done", 4), at, snap.time).unwrap();
        op.schedule(scale("cut", 5), at, snap.time).unwrap();
        op.schedule(scale("todo", 3), at, snap.time).unwrap();
    }
    // What a process killed mid-fire leaves: `done` applied and `cut` approved in the audit
    // log, the calendar still saying `waiting` for all three.
    {
        let mut log = AuditLog::open_in(dir.path()).unwrap();
        let flow = Flow::new(Guardrails::default(), "demo");
        for (id, n, outcome) in [("done", 4, "approved"), ("done", 4, "applied"), ("cut", 5, "approved")] {
            let r = flow.record(
                &scale(id, n),
                outcome,
                None,
                serde_json::Value::Null,
                serde_json::Value::Null,
                at,
            );
            log.append(r).unwrap();
        }
    }
    let (mut op, cluster) = service(Guardrails { cooldown_secs: 0, ..Guardrails::default() }, dir.path());
    let events = op.observe(&later(&snap, 31));
    let cal = schedule::Calendar::load(&dir.path().join(schedule::FILE_NAME)).unwrap();
    let status: Vec<Status> = cal.actions.iter().map(|a| a.status).collect();
    assert_eq!(status, [Status::Applied, Status::Missed, Status::Applied], "{:?}", cal.actions);
    assert_eq!(
        cluster.applied(),
        [Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 3 }],
        "only the one never started is applied now"
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::Propose(p) if p.id == "cut")),
        "the interrupted one waits for the operator: {events:?}"
    );
}

#[test]
fn a_process_that_does_not_own_the_data_dir_fires_nothing_and_decides_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let snap = surge();
    {
        let (mut owner, _) = service(Guardrails::default(), dir.path());
        owner.schedule(scale("s", 4), snap.time + chrono::Duration::seconds(10), snap.time).unwrap();
    }
    let cluster = Arc::new(Recorder::default());
    let opts = OperatorOptions {
        cluster: Some(Cluster(cluster.clone())),
        data_dir: Some(dir.path().to_path_buf()),
        owned_by: Some("twintop operator (pid 1)".into()),
        ..OperatorOptions::default()
    };
    let mut viewer = Operator::new(opts, "demo");
    viewer.observe(&later(&snap, 11));
    assert!(cluster.log().is_empty());
    assert_eq!(viewer.calendar.actions[0].status, Status::Waiting, "shown, left to the owner");
    let Outcome::Failed(why) = viewer.approve(scale("p", 4), &snap, snap.time) else { panic!() };
    assert!(why.contains("twintop operator (pid 1) owns the data dir"), "{why}");
}
