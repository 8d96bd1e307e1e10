use super::*;
use crate::act::audit::verify_file;
use crate::act::cluster::fakes::{Contended, Recorder};
use crate::demo::{DemoPreset, DemoTwin};
use crate::guardrails::PastAction;
use proptest::prelude::*;

fn snap() -> std::sync::Arc<Snapshot> {
    DemoTwin::starting_at(DemoPreset::Dc, 1, DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap())
        .warm_snapshot(3)
}

fn pending(id: &str, replicas: u32) -> Pending {
    Pending {
        id: id.into(),
        change: Change::Scale { workload: "boutique/checkoutservice".into(), replicas },
        confidence: Some(85.0),
        source: "builtin:reactive".into(),
        llm_exchange_sha256: None,
        reason: "p99 over SLO".into(),
        predicted_p99_ms: None,
    }
}

#[test]
fn approve_confirm_applies_once_and_audits_before_and_after() {
    let s = snap();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open_in(dir.path()).unwrap();
    let cluster = Recorder::default();
    let mut flow = Flow::new(Guardrails::default(), "demo");
    assert_eq!(flow.approve(pending("p1", 4), &s, &[], s.time), Outcome::AwaitingConfirmation);
    let Stage::Confirming { diff, .. } = &flow.stage else { panic!() };
    assert!(diff.starts_with("context: demo\n"), "{diff}");
    assert!(diff.contains("-  replicas: 2\n+  replicas: 4"), "{diff}");
    assert!(cluster.applied().is_empty(), "approval alone applies nothing");
    let out = flow.confirm(&s, &[], s.time, &cluster, &mut audit).unwrap();
    assert!(matches!(out, Outcome::Applied(_)), "{out:?}");
    assert_eq!(cluster.applied().len(), 1);
    assert_eq!(cluster.dry_runs(), 1);
    assert_eq!(
        flow.confirm(&s, &[], s.time, &cluster, &mut audit).unwrap(),
        Outcome::None,
        "y twice applies once"
    );
    drop(audit);
    let v = verify_file(&dir.path().join(crate::act::audit::FILE_NAME)).unwrap();
    let outcomes: Vec<&str> = v.entries.iter().map(|e| e.record.outcome.as_str()).collect();
    assert_eq!(outcomes, ["approved", "applied"]);
    assert_eq!(v.entries[0].record.before, serde_json::json!({"replicas": 2}));
}

#[test]
fn dry_run_failure_applies_nothing() {
    let s = snap();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open_in(dir.path()).unwrap();
    let cluster = Recorder::refusing_dry_runs("admission webhook denied");
    let mut flow = Flow::new(Guardrails::default(), "demo");
    flow.approve(pending("p1", 4), &s, &[], s.time);
    let out = flow.confirm(&s, &[], s.time, &cluster, &mut audit).unwrap();
    assert_eq!(out, Outcome::DryRunFailed("admission webhook denied".into()));
    assert!(cluster.applied().is_empty());
}

#[test]
fn a_conflict_is_audited_as_one_and_not_retried() {
    let s = snap();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open_in(dir.path()).unwrap();
    let cluster = Contended::default();
    let mut flow = Flow::new(Guardrails::default(), "demo");
    flow.approve(pending("p1", 4), &s, &[], s.time);
    flow.pin_version(Some("48213".into()));
    let out = flow.confirm(&s, &[], s.time, &cluster, &mut audit).unwrap();
    assert!(matches!(&out, Outcome::Conflict(m) if m.contains("changed since you approved")), "{out:?}");
    let v48213 = Some("48213".to_string());
    assert_eq!(*cluster.calls.lock().unwrap(), [(true, v48213.clone()), (false, v48213)]);
    drop(audit);
    let v = verify_file(&dir.path().join(crate::act::audit::FILE_NAME)).unwrap();
    let outcomes: Vec<&str> = v.entries.iter().map(|e| e.record.outcome.as_str()).collect();
    assert_eq!(outcomes, ["approved", "conflict"]);
}

#[test]
fn a_rollback_passes_the_cooldown_of_the_change_it_undoes() {
    let s = snap();
    let past = [PastAction { time: s.time, target: "boutique/checkoutservice".into(), replica_delta: 2 }];
    let mut flow = Flow::new(Guardrails::default(), "demo");
    match flow.approve(pending("p1", 4), &s, &past, s.time) {
        Outcome::Blocked(v) => assert_eq!(v[0].rule, crate::guardrails::Rule::Cooldown),
        o => panic!("an ordinary change waits for the cooldown: {o:?}"),
    }
    let rollback = Pending { source: ROLLBACK_SOURCE.into(), ..pending("rb", 2) };
    assert_eq!(flow.approve(rollback, &s, &past, s.time), Outcome::AwaitingConfirmation);
    let readonly = Guardrails { readonly: true, ..Guardrails::default() };
    let mut flow = Flow::new(readonly, "demo");
    let rollback = Pending { source: ROLLBACK_SOURCE.into(), ..pending("rb", 2) };
    assert!(
        matches!(flow.approve(rollback, &s, &past, s.time), Outcome::Blocked(_)),
        "read-only still holds"
    );
}

#[test]
fn rejection_is_audited() {
    let s = snap();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open_in(dir.path()).unwrap();
    let mut flow = Flow::new(Guardrails::default(), "demo");
    flow.reject(&pending("p9", 4), "not during the freeze", &mut audit, s.time).unwrap();
    drop(audit);
    let v = verify_file(&dir.path().join(crate::act::audit::FILE_NAME)).unwrap();
    assert_eq!(v.entries[0].record.outcome, "rejected");
    assert_eq!(v.entries[0].record.reason.as_deref(), Some("not during the freeze"));
}

#[derive(Debug, Clone)]
enum Ev {
    Approve(u32),
    Confirm,
    Cancel,
    Reject(u32),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (1u32..8).prop_map(Ev::Approve),
        Just(Ev::Confirm),
        Just(Ev::Cancel),
        (1u32..8).prop_map(Ev::Reject),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    /// No sequence of operator events applies anything in read-only mode, and outside it only
    /// a change that was approved and then confirmed — each confirmation at most once.
    #[test]
    fn only_confirmed_approvals_reach_the_cluster(events in proptest::collection::vec(ev(), 0..30), readonly in any::<bool>()) {
        let s = snap();
        let dir = tempfile::tempdir().unwrap();
        let mut audit = AuditLog::open_in(dir.path()).unwrap();
        let cluster = Recorder::default();
        let g = Guardrails { readonly, cooldown_secs: 0, max_replica_change_per_hour: 10_000, ..Guardrails::default() };
        let mut flow = Flow::new(g, "demo");
        let mut expected = Vec::new();
        let mut armed: Option<Change> = None;
        for e in events {
            match e {
                Ev::Approve(n) => {
                    let p = pending(&format!("p{n}"), n);
                    armed = match flow.approve(p.clone(), &s, &[], s.time) {
                        Outcome::AwaitingConfirmation => Some(p.change),
                        _ => None,
                    };
                }
                Ev::Confirm => {
                    let out = flow.confirm(&s, &[], s.time, &cluster, &mut audit).unwrap();
                    if let Some(c) = armed.take() {
                        prop_assert!(matches!(out, Outcome::Applied(_)), "{out:?}");
                        expected.push(c);
                    } else {
                        prop_assert_eq!(out, Outcome::None);
                    }
                }
                Ev::Cancel => { flow.cancel(); armed = None; }
                Ev::Reject(n) => {
                    let p = pending(&format!("p{n}"), n);
                    flow.reject(&p, "no", &mut audit, s.time).unwrap();
                    if armed.as_ref() == Some(&p.change) { armed = None; }
                }
            }
        }
        let applied = cluster.applied();
        if readonly {
            prop_assert!(applied.is_empty());
        }
        prop_assert_eq!(applied, expected);
    }
}

#[test]
fn an_eviction_is_audited_with_its_workload_says_it_has_no_rollback_and_starts_the_cooldown() {
    let s = snap();
    let w = s.workload_index("cartservice").unwrap();
    let pod = s.pods_of_workload(w).next().unwrap();
    let (key, server) =
        (format!("{}/{}", pod.namespace, pod.name), s.servers[pod.server.unwrap()].name.clone());
    let change = Change::Evict { pod: key.clone(), server: server.clone(), to: None };
    let p = Pending { change: change.clone(), source: "builtin:placement".into(), ..pending("e1", 0) };
    let dir = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open_in(dir.path()).unwrap();
    let cluster = Recorder::default();
    let mut flow = Flow::new(Guardrails::default(), "demo");
    assert_eq!(flow.approve(p, &s, &[], s.time), Outcome::AwaitingConfirmation);
    let Stage::Confirming { diff, .. } = &flow.stage else { panic!() };
    assert!(diff.contains("eviction policy/v1") && diff.contains(&server), "{diff}");
    assert!(diff.contains("no rollback"), "{diff}");
    let Outcome::Applied(msg) = flow.confirm(&s, &[], s.time, &cluster, &mut audit).unwrap() else {
        panic!()
    };
    assert!(msg.contains("no rollback"), "{msg}");
    assert!(
        crate::act::watch::Watch::after(
            &change,
            &serde_json::Value::Null,
            s.time,
            chrono::Duration::seconds(60),
            true
        )
        .is_none()
    );
    drop(audit);
    let v = verify_file(&dir.path().join(crate::act::audit::FILE_NAME)).unwrap();
    let applied = &v.entries.last().unwrap().record;
    assert_eq!(applied.target, key);
    assert_eq!(applied.before["workload"], "boutique/cartservice");
    assert_eq!(applied.before["server"], server.as_str());
    // The next action on cartservice (another eviction, or a scale) waits for the cooldown.
    let past = [PastAction { time: s.time, target: "boutique/cartservice".into(), replica_delta: 0 }];
    let later = s.time + chrono::Duration::seconds(30);
    let v = Guardrails::default().check(&change, &s, "demo", &past, later);
    assert_eq!(v.iter().map(|x| x.rule.name()).collect::<Vec<_>>(), ["cooldown"]);
    let scale = Change::Scale { workload: "boutique/cartservice".into(), replicas: 3 };
    assert!(
        Guardrails::default()
            .check(&scale, &s, "demo", &past, later)
            .iter()
            .any(|x| x.rule == crate::guardrails::Rule::Cooldown)
    );
}
