//! The recommendations and audit views: cards drawn into ratatui's TestBackend, and the keys
//! of the approval flow against a cluster that records every call.

mod common;

use common::{Contended, Recorder, console_options, key, screen as screen_at, surge, typed};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;
use std::sync::Arc;
use twintop::act::audit;
use twintop::advise::Candidate;
use twintop::change::Change;
use twintop::guardrails::Guardrails;
use twintop::twin::Snapshot;
use twintop::ui::{App, View};

fn scale(replicas: u32) -> Candidate {
    Candidate::new(
        "builtin:reactive",
        Change::Scale { workload: "boutique/checkoutservice".into(), replicas },
        "p99 breaches its SLO".into(),
    )
}

struct Setup {
    app: App,
    cluster: Arc<Recorder>,
    data: tempfile::TempDir,
    snap: Arc<Snapshot>,
}

fn setup(guardrails: Guardrails, candidates: Vec<Candidate>) -> Setup {
    let snap = surge();
    let cluster = Arc::new(Recorder::default());
    let data = tempfile::tempdir().unwrap();
    let opts = console_options(cluster.clone(), guardrails, data.path());
    let mut app = App::new(snap.clone(), opts);
    app.set_proposals(common::assessed(&snap, candidates));
    app.switch(View::Recs);
    Setup { app, cluster, data, snap }
}

fn screen(app: &mut App) -> String {
    screen_at(app, 160, 48)
}

fn outcomes(dir: &Path) -> Vec<(String, Option<String>)> {
    common::audit_entries(dir).into_iter().map(|r| (r.outcome, r.reason)).collect()
}

/// The same picture `i` seconds after a change had time to settle (breaches count from then).
fn settled(snap: &Snapshot, i: i64) -> Arc<Snapshot> {
    let mut later = snap.clone();
    later.time += chrono::Duration::seconds(twintop::act::watch::SETTLE_SECS + i);
    Arc::new(later)
}

/// The recs view with the checkoutservice scale put on the calendar for 10 minutes from now.
fn scheduled_in_10m() -> Setup {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('s'));
    typed(&mut s.app, "+10m");
    key(&mut s.app, KeyCode::Enter);
    s
}

/// The same picture 10 minutes later, when a `+10m` action is due.
fn ten_minutes_on(snap: &Snapshot) -> Arc<Snapshot> {
    let mut later = snap.clone();
    later.time += chrono::Duration::seconds(600);
    Arc::new(later)
}

fn replicas_of(snap: &Snapshot, w: &str) -> u32 {
    snap.workloads[snap.workload_index(w).unwrap()].replicas
}

#[test]
fn card_shows_target_context_before_after_and_confidence_parts() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    let cur = replicas_of(&s.snap, "checkoutservice");
    let out = screen(&mut s.app);
    let p = &s.app.recs().queue()[0];
    assert!(out.contains("boutique/checkoutservice on ctx demo"), "{out}");
    assert!(out.contains(&format!("scale replicas {cur} → 4")), "{out}");
    assert!(out.contains("source built-in reactive"), "{out}");
    assert!(out.contains(&format!("confidence {} = ", p.confidence.score)), "{out}");
    for part in p.confidence.parts.keys() {
        assert!(out.contains(part.as_str()), "part {part} missing:\n{out}");
    }
    assert!(out.contains("p99 ") && out.contains("SLO violations ") && out.contains("RUB "), "{out}");
    assert!(out.contains("why: p99 breaches its SLO"), "{out}");
    // The twin's prediction sits beside what is measured now.
    let w = s.snap.workload_index("boutique/checkoutservice").unwrap();
    let now = s.snap.workload_status[w].p99_ms.expect("the surge twin measures checkout's p99");
    assert!(out.contains(&format!("(measured now {now:.0} ms)")), "{out}");
}

#[test]
fn on_an_80_by_24_terminal_a_card_keeps_its_whole_reason() {
    let long = Candidate::new(
        "builtin:reactive",
        Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 },
        "p99 964 ms breaches its 800 ms SLO with CPU at 106 % of requests (target 70 %); HPA-like desired replicas 2 → 4.".into(),
    );
    let mut s = setup(Guardrails::default(), vec![long, scale(3)]);
    let out = screen_at(&mut s.app, 80, 24);
    let text: String = out.lines().map(|l| l.trim_matches(['│', ' '])).collect::<Vec<_>>().join(" ");
    assert!(text.contains("HPA-like desired replicas 2 → 4."), "the reason wraps, not cut:\n{out}");
    assert!(text.contains("(measured now"), "{out}");
    assert_eq!(out.matches("boutique/checkoutservice on ctx demo").count(), 2, "both cards show:\n{out}");
}

#[test]
fn header_counts_the_proposals_waiting() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    let header = screen(&mut s.app).lines().next().unwrap().to_string();
    assert!(header.contains("1 proposal waiting"), "{header}");
}

#[test]
fn approve_then_y_applies_once_after_a_dry_run() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('a'));
    let out = screen(&mut s.app);
    assert!(out.contains("confirm on demo") && out.contains("apply to context demo?"), "{out}");
    assert!(out.contains("+  replicas: 4"), "the exact diff:\n{out}");
    assert_eq!(s.cluster.calls(), 0, "nothing reaches the cluster before y");
    key(&mut s.app, KeyCode::Char('y'));
    key(&mut s.app, KeyCode::Char('y'));
    let calls = s.cluster.log();
    let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 };
    assert_eq!(calls, vec![(change.clone(), true), (change, false)], "one dry run, one apply");
    let o: Vec<String> = outcomes(s.data.path()).into_iter().map(|x| x.0).collect();
    assert_eq!(o, ["approved", "applied"]);
    assert!(screen(&mut s.app).contains("applied: scale boutique/checkoutservice to 4 replicas"));
    // The audit view reads the file and verifies it.
    s.app.switch(View::Audit);
    let out = screen(&mut s.app);
    assert!(out.contains("chain verified ✓ 2 entries") && out.contains("applied"), "{out}");
}

#[test]
fn the_footer_shows_the_keys_that_work_now() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    let footer = |app: &mut App| screen(app).lines().last().unwrap().to_string();
    let normal = footer(&mut s.app);
    assert!(normal.contains("<a>approve") && !normal.contains("<y>confirm"), "{normal}");
    key(&mut s.app, KeyCode::Char('a'));
    let confirming = footer(&mut s.app);
    assert!(
        confirming.contains("<y>confirm <n/esc>cancel") && !confirming.contains("approve"),
        "{confirming}"
    );
    key(&mut s.app, KeyCode::Esc);
    key(&mut s.app, KeyCode::Char('r'));
    let typing = footer(&mut s.app);
    assert!(typing.contains("<enter>done <esc>cancel") && !typing.contains("approve"), "{typing}");
    // Every prompt shows what is typed and what it asks for.
    key(&mut s.app, KeyCode::Esc);
    key(&mut s.app, KeyCode::Char('s'));
    typed(&mut s.app, "+1");
    let out = screen(&mut s.app);
    assert!(out.contains("schedule — when (+10m, +90s, +1h or HH:MM UTC): +1▏"), "{out}");
    // Help still lists every key of the view.
    key(&mut s.app, KeyCode::Esc);
    key(&mut s.app, KeyCode::Char('?'));
    let help = screen(&mut s.app);
    assert!(help.contains("confirm") && help.contains("cancel the LLM call"), "{help}");
}

#[test]
fn approve_then_escape_or_n_applies_nothing() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('a'));
    key(&mut s.app, KeyCode::Esc);
    assert_eq!(s.app.view(), View::Recs, "Esc closes the dialog, not the view");
    key(&mut s.app, KeyCode::Char('y'));
    key(&mut s.app, KeyCode::Char('a'));
    key(&mut s.app, KeyCode::Char('n'));
    key(&mut s.app, KeyCode::Char('y'));
    assert_eq!(s.cluster.calls(), 0);
    assert!(!s.data.path().join(audit::FILE_NAME).exists(), "nothing to audit");
}

#[test]
fn reject_records_the_reason_and_removes_the_card() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('r'));
    // `q` and `:` are part of the reason while typing it.
    typed(&mut s.app, "quiet hours: wait");
    key(&mut s.app, KeyCode::Enter);
    assert_eq!(s.app.view(), View::Recs);
    assert_eq!(outcomes(s.data.path()), [("rejected".to_string(), Some("quiet hours: wait".to_string()))]);
    assert!(s.app.recs().queue().is_empty());
    assert_eq!(s.cluster.calls(), 0);
}

#[test]
fn readonly_applies_nothing_and_names_the_rule() {
    let mut s = setup(Guardrails { readonly: true, ..Guardrails::default() }, vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('a'));
    key(&mut s.app, KeyCode::Char('y'));
    let out = screen(&mut s.app);
    assert!(out.contains("READ-ONLY") && out.contains("rule readonly"), "{out}");
    assert!(!out.contains("confirm on demo"), "{out}");
    assert_eq!(s.cluster.calls(), 0);
}

#[test]
fn guardrail_violation_names_its_rule_on_the_card() {
    let g = Guardrails { deny_namespaces: vec!["boutique".into()], ..Guardrails::default() };
    let mut s = setup(g, vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('a'));
    let out = screen(&mut s.app);
    assert!(
        out.contains("BLOCKED") && out.contains("rule namespace: namespace boutique is on the deny list"),
        "{out}"
    );
    key(&mut s.app, KeyCode::Char('y'));
    assert_eq!(s.cluster.calls(), 0);
}

#[test]
fn edit_re_evaluates_before_approval() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('e'));
    typed(&mut s.app, "5");
    key(&mut s.app, KeyCode::Enter);
    let p = &s.app.recs().queue()[0];
    assert_eq!(p.action, Some(Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 5 }));
    assert!(p.predicted.is_some(), "predicted again on the twin");
    let out = screen(&mut s.app);
    assert!(out.contains("→ 5") && out.contains("edited; re-evaluated"), "{out}");
    key(&mut s.app, KeyCode::Char('a'));
    key(&mut s.app, KeyCode::Char('y'));
    assert_eq!(
        s.cluster.applied(),
        [Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 5 }]
    );
}

#[test]
fn rejected_proposals_show_why_and_cannot_be_approved() {
    let ghost = Candidate::new(
        "llm:tiny",
        Change::Scale { workload: "boutique/ghost".into(), replicas: 3 },
        "made up".into(),
    );
    let mut s = setup(Guardrails::default(), vec![ghost]);
    let out = screen(&mut s.app);
    assert!(
        out.contains("REJECTED") && out.contains("cannot be approved") && out.contains("source LLM tiny"),
        "{out}"
    );
    key(&mut s.app, KeyCode::Char('a'));
    key(&mut s.app, KeyCode::Char('y'));
    assert_eq!(s.cluster.calls(), 0);
}

#[test]
fn hostile_strings_on_a_card_are_escaped() {
    let mut c = scale(4);
    c.reason = "fine\x1b[2J\x1b]0;pwned\x07 really".into();
    c.source = "llm:\u{202e}evil".into();
    let mut s = setup(Guardrails::default(), vec![c]);
    let out = screen(&mut s.app);
    assert!(!out.contains('\x1b') && !out.contains('\x07') && !out.contains('\u{202e}'), "{out}");
    assert!(out.contains("fine\\u{1b}[2J"), "escaped visibly:\n{out}");
}

#[test]
fn scheduled_action_counts_down_then_fires_through_the_flow() {
    let mut s = scheduled_in_10m();
    let out = screen(&mut s.app);
    assert!(out.contains("calendar: scale boutique/checkoutservice to 4 replicas in 10m 00s"), "{out}");
    let saved = std::fs::read_to_string(s.data.path().join("schedule.json")).unwrap();
    assert!(saved.contains("\"waiting\""), "{saved}");
    assert_eq!(s.cluster.calls(), 0, "nothing before its time");
    s.app.set_snapshot(ten_minutes_on(&s.snap));
    assert_eq!(
        s.cluster.applied(),
        [Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 }],
        "fired once at its time"
    );
    s.app.set_snapshot(Arc::new((*s.snap).clone()));
    assert_eq!(s.cluster.applied().len(), 1);
    let o: Vec<String> = outcomes(s.data.path()).into_iter().map(|x| x.0).collect();
    assert_eq!(o, ["scheduled", "approved", "applied"]);
}

#[test]
fn a_scheduled_action_that_cannot_fire_is_audited_not_fired_with_why() {
    let mut s = scheduled_in_10m();
    // When it comes due the metrics feed has gone stale: nothing may act on stale data.
    let mut later = (*ten_minutes_on(&s.snap)).clone();
    later.feeds.push(twintop::twin::Feed {
        name: "vm".into(),
        state: twintop::twin::FeedState::Stale,
        detail: String::new(),
        updated: None,
    });
    s.app.set_snapshot(Arc::new(later));
    assert_eq!(s.cluster.calls(), 0, "nothing reaches the cluster");
    assert!(
        screen(&mut s.app).contains("scheduled scale boutique/checkoutservice to 4 replicas not applied")
    );
    let o = outcomes(s.data.path());
    assert_eq!(o.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(), ["scheduled", "not_fired"]);
    assert!(o[1].1.as_deref().unwrap_or_default().contains("stale"), "{o:?}");
}

#[test]
fn c_cancels_a_scheduled_action_which_then_never_fires() {
    let mut s = scheduled_in_10m();
    key(&mut s.app, KeyCode::Char('c'));
    assert!(screen(&mut s.app).contains("cancelled scheduled: scale boutique/checkoutservice"));
    let saved = std::fs::read_to_string(s.data.path().join("schedule.json")).unwrap();
    assert!(saved.contains("\"cancelled\""), "{saved}");
    s.app.set_snapshot(ten_minutes_on(&s.snap));
    assert_eq!(s.cluster.calls(), 0, "a cancelled action never reaches the cluster");
    let o: Vec<String> = outcomes(s.data.path()).into_iter().map(|x| x.0).collect();
    assert_eq!(o, ["scheduled", "cancelled"]);
    key(&mut s.app, KeyCode::Char('c'));
    assert!(screen(&mut s.app).contains("nothing scheduled to cancel"));
}

#[test]
fn a_missed_action_waits_for_the_operator() {
    let snap = surge();
    let data = tempfile::tempdir().unwrap();
    let mut cal = twintop::act::schedule::Calendar::default();
    let pending = twintop::act::flow::Pending {
        id: "feedfacefeedface".into(),
        change: Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 },
        confidence: Some(60.0),
        source: "builtin:predictive".into(),
        llm_exchange_sha256: None,
        reason: "peak ahead".into(),
        predicted_p99_ms: None,
    };
    let hour = chrono::Duration::seconds(3600);
    cal.add(pending, snap.time - hour, snap.time - hour * 2);
    cal.save(&data.path().join("schedule.json")).unwrap();
    let cluster = Arc::new(Recorder::default());
    let opts = console_options(cluster.clone(), Guardrails::default(), data.path());
    let mut app = App::new(snap.clone(), opts);
    app.set_snapshot(snap.clone());
    app.switch(View::Recs);
    let out = screen(&mut app);
    assert!(out.contains("MISSED at") && out.contains("missed: was scheduled for"), "{out}");
    assert_eq!(cluster.calls(), 0, "a missed action never fires by itself");
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(cluster.applied().len(), 1);
    assert!(!screen(&mut app).contains("MISSED"));
}

#[test]
fn times_parse_relative_and_clock() {
    use twintop::act::schedule::parse_when;
    let now = common::fixed_time(); // 22:13:20Z
    assert_eq!(parse_when("+10m", now), Some(now + chrono::Duration::seconds(600)));
    assert_eq!(parse_when("+90s", now), Some(now + chrono::Duration::seconds(90)));
    assert_eq!(parse_when("23:00", now).unwrap().format("%d %H:%M").to_string(), "14 23:00");
    assert_eq!(parse_when("08:00", now).unwrap().format("%d %H:%M").to_string(), "15 08:00");
    assert_eq!(parse_when("soon", now), None);
    assert_eq!(parse_when("+5d", now), None);
}

#[test]
fn a_sustained_breach_after_a_change_proposes_the_rollback_first() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    let before = replicas_of(&s.snap, "checkoutservice");
    key(&mut s.app, KeyCode::Char('a'));
    key(&mut s.app, KeyCode::Char('y'));
    assert_eq!(s.cluster.applied().len(), 1);
    // The recorder changes nothing, so the surge keeps checkoutservice in breach.
    for i in 0..3 {
        s.app.set_snapshot(settled(&s.snap, i));
    }
    let top = &s.app.recs().queue()[0];
    assert_eq!(top.source, "twintop:rollback");
    assert_eq!(
        top.action,
        Some(Change::Scale { workload: "boutique/checkoutservice".into(), replicas: before })
    );
    assert_eq!(s.cluster.applied().len(), 1, "proposed, not applied");
}

#[test]
fn auto_rollback_applies_through_the_flow() {
    let snap = surge();
    let before = replicas_of(&snap, "checkoutservice");
    let cluster = Arc::new(Recorder::default());
    let data = tempfile::tempdir().unwrap();
    // The rollback follows the change within the default cooldown.
    let mut opts = console_options(
        cluster.clone(),
        Guardrails { cooldown_secs: 0, ..Guardrails::default() },
        data.path(),
    );
    opts.operator.auto_rollback = vec!["checkoutservice".into()];
    let mut app = App::new(snap.clone(), opts);
    app.set_proposals(common::assessed(&snap, vec![scale(4)]));
    app.switch(View::Recs);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('y'));
    for i in 0..3 {
        app.set_snapshot(settled(&snap, i));
    }
    assert_eq!(
        cluster.applied(),
        [
            Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 },
            Change::Scale { workload: "boutique/checkoutservice".into(), replicas: before },
        ]
    );
    let o: Vec<String> = outcomes(data.path()).into_iter().map(|x| x.0).collect();
    assert_eq!(o, ["approved", "applied", "approved", "applied"]);
}

#[test]
fn card_and_confirmation_fit_80_by_24() {
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    let out = screen_at(&mut s.app, 80, 24);
    assert!(out.contains("boutique/checkoutservice on ctx demo") && out.contains("confidence "), "{out}");
    key(&mut s.app, KeyCode::Char('a'));
    let out = screen_at(&mut s.app, 80, 24);
    assert!(out.contains("confirm on demo") && out.contains("+  replicas: 4"), "{out}");
}

mod key_sequences {
    use super::*;
    use proptest::prelude::*;

    /// Keys an operator might press in the recs view. `s` (schedule) is left out: a scheduled
    /// action is approved when it is scheduled and fires by the clock, which
    /// `scheduled_action_counts_down_then_fires_through_the_flow` covers.
    fn keys() -> impl Strategy<Value = KeyCode> {
        prop_oneof![
            Just(KeyCode::Char('a')),
            Just(KeyCode::Char('y')),
            Just(KeyCode::Char('n')),
            Just(KeyCode::Char('r')),
            Just(KeyCode::Char('e')),
            Just(KeyCode::Char('x')),
            Just(KeyCode::Char('j')),
            Just(KeyCode::Char('k')),
            Just(KeyCode::Char('6')),
            Just(KeyCode::Char('3')),
            Just(KeyCode::Enter),
            Just(KeyCode::Esc),
            Just(KeyCode::Backspace),
            Just(KeyCode::Tab),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        /// Whatever the operator types: nothing reaches the cluster in read-only mode, and
        /// otherwise a change is applied only on the `y` that confirms it.
        #[test]
        fn nothing_applies_without_a_confirming_y(
            seq in proptest::collection::vec(keys(), 0..40),
            readonly in any::<bool>(),
        ) {
            let g = Guardrails { readonly, cooldown_secs: 0, max_replica_change_per_hour: 10_000, ..Guardrails::default() };
            let mut s = setup(g, vec![scale(4)]);
            let mut applied = 0;
            for k in seq {
                key(&mut s.app, k);
                let now = s.cluster.applied().len();
                if now > applied {
                    prop_assert!(!readonly, "applied in read-only mode after {k:?}");
                    prop_assert_eq!(k, KeyCode::Char('y'), "applied on a key other than y");
                    applied = now;
                }
            }
        }
    }
}

#[test]
fn a_conflict_is_shown_audited_and_not_retried() {
    let snap = surge();
    let cluster = Arc::new(Contended::default());
    let data = tempfile::tempdir().unwrap();
    let opts = console_options(cluster.clone(), Guardrails::default(), data.path());
    let mut app = App::new(snap.clone(), opts);
    app.set_proposals(common::assessed(&snap, vec![scale(4)]));
    app.switch(View::Recs);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('y'));
    let v = Some("48213".to_string());
    assert_eq!(*cluster.calls.lock().unwrap(), [(true, v.clone()), (false, v)], "one try, pinned");
    let out = screen(&mut app);
    assert!(out.contains("changed since you approved: re-check"), "{out}");
    let o: Vec<String> = outcomes(data.path()).into_iter().map(|x| x.0).collect();
    assert_eq!(o, ["approved", "conflict"]);
    assert_eq!(app.recs().queue().len(), 1, "the proposal stays, to be re-checked and approved again");
}

#[test]
fn llm_progress_shows_while_the_call_runs_and_capital_c_cancels_it() {
    use std::time::Duration;
    use twintop::advise::llm::client::Progress;
    use twintop::ui::Action;
    use twintop::ui::views::recs::LlmRun;
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    // No call running: no progress line, and C is not a cancel.
    assert!(!screen(&mut s.app).contains("C cancels"));
    let c =
        |app: &mut App| app.handle_event(Event::Key(KeyEvent::new(KeyCode::Char('C'), KeyModifiers::SHIFT)));
    assert_eq!(c(&mut s.app), Action::Noop);

    let run = |tokens, elapsed_ms| LlmRun {
        model: "gemma\u{1b}[31m".into(),
        progress: Progress {
            attempt: 1,
            bytes: tokens * 230,
            tokens,
            elapsed: Duration::from_millis(elapsed_ms),
            streaming: true,
            done: false,
        },
    };
    s.app.set_llm_progress(Some(run(412, 3100)));
    let out = screen(&mut s.app);
    assert!(out.contains("LLM gemma\\u{1b}[31m: 412 tokens · 94.8 kB · 3.1 s · C cancels"), "{out}");
    // The queue is still there and usable while the model thinks.
    assert!(out.contains("boutique/checkoutservice on ctx demo"), "{out}");
    s.app.set_llm_progress(Some(run(530, 4200)));
    assert!(screen(&mut s.app).contains("530 tokens"));

    assert_eq!(c(&mut s.app), Action::CancelLlm);
    assert!(screen(&mut s.app).contains("cancelling the LLM call"));
    s.app.set_llm_progress(None);
    assert!(!screen(&mut s.app).contains("C cancels"));
}

#[test]
fn x_opens_the_raw_exchange_at_the_models_answer_and_scrolls() {
    use sha2::{Digest, Sha256};
    // An exchange as the LLM advisor saves it: a long request first, the answer at the end.
    let messages: Vec<serde_json::Value> = (0..200)
        .map(|i| serde_json::json!({"role": "user", "content": format!("twin data line {i}")}))
        .collect();
    // Fields in the order the advisor writes them (`advise::llm::client::Exchange`).
    #[derive(serde::Serialize)]
    struct Exchange {
        url: &'static str,
        request: serde_json::Value,
        attempts: u32,
        status: u16,
        response: &'static str,
        error: Option<String>,
        streamed: bool,
        content: &'static str,
    }
    let exchange = Exchange {
        url: "http://127.0.0.1:8080/v1/chat/completions",
        request: serde_json::json!({"model": "tiny", "messages": messages}),
        attempts: 1,
        status: 200,
        response: "data: {\"choices\": []}",
        error: None,
        streamed: true,
        content: "{\"actions\": [], \"note\": \"THE-MODELS-ANSWER\"}",
    };
    let bytes = serde_json::to_vec_pretty(&exchange).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut c = scale(4);
    c.source = "llm:tiny".into();
    c.exchange = Some(sha.clone());
    let mut s = setup(Guardrails::default(), vec![c]);
    let dir = s.data.path().join("llm-exchanges");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("20260101T000000.000Z-{}.json", &sha[..12])), &bytes).unwrap();

    key(&mut s.app, KeyCode::Char('x'));
    let out = screen(&mut s.app);
    assert!(out.contains("THE-MODELS-ANSWER"), "opens at the answer:\n{out}");
    assert!(!out.contains("\"url\""), "not at the top of the request:\n{out}");
    key(&mut s.app, KeyCode::Char('g'));
    let top = screen(&mut s.app);
    assert!(top.contains("\"url\"") && !top.contains("THE-MODELS-ANSWER"), "g: the top:\n{top}");
    for _ in 0..3 {
        key(&mut s.app, KeyCode::PageDown);
    }
    assert!(screen(&mut s.app).contains("twin data line"), "pages through the request");
    key(&mut s.app, KeyCode::Char('a'));
    assert!(screen(&mut s.app).contains("THE-MODELS-ANSWER"), "a: back to the answer");
    key(&mut s.app, KeyCode::Esc);
    assert!(!screen(&mut s.app).contains("raw LLM exchange ·"), "esc closes");
}

#[test]
fn a_headless_approval_is_decided_by_the_consoles_service_and_shown() {
    use twintop::act::flow::Pending;
    use twintop::act::operator_requests::{Reply, Request};
    let mut s = setup(Guardrails::default(), vec![scale(4)]);
    let p = s.app.recs().queue()[0].clone();
    let req = Request::Prepare { pending: Pending::of(&p).unwrap(), user: "bob".into(), readonly: false };
    let Reply::Prepared { ticket, diff, .. } = s.app.handle_request(req, "the console (pid 1)") else {
        panic!("prepared")
    };
    assert!(diff.contains("+  replicas: 4"), "{diff}");
    assert_eq!(s.cluster.calls(), 0, "nothing before the confirmation");
    let reply = s.app.handle_request(Request::Confirm { ticket }, "the console (pid 1)");
    assert!(matches!(&reply, Reply::Done { outcome, .. } if outcome == "applied"), "{reply:?}");
    assert_eq!(s.cluster.applied().len(), 1);
    let out = screen(&mut s.app);
    assert!(out.contains("bob (headless): applied"), "the console says who did what:\n{out}");
    assert!(s.app.recs().queue().is_empty(), "the decided card leaves the queue");
}

#[test]
fn a_console_that_does_not_own_the_data_dir_decides_nothing_and_says_who_does() {
    let snap = surge();
    let cluster = Arc::new(Recorder::default());
    let data = tempfile::tempdir().unwrap();
    let mut opts = console_options(cluster.clone(), Guardrails::default(), data.path());
    opts.operator.owned_by = Some("twintop operator (pid 4242)".into());
    let mut app = App::new(snap.clone(), opts);
    app.set_proposals(common::assessed(&snap, vec![scale(4)]));
    app.switch(View::Recs);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('y'));
    let out = screen(&mut app);
    assert!(out.contains("twintop operator (pid 4242) owns the data dir"), "{out}");
    assert_eq!(cluster.calls(), 0);
}

#[test]
fn nothing_is_scheduled_in_readonly_mode_and_the_rule_is_named() {
    let mut s = setup(Guardrails { readonly: true, ..Guardrails::default() }, vec![scale(4)]);
    key(&mut s.app, KeyCode::Char('s'));
    typed(&mut s.app, "+10m");
    key(&mut s.app, KeyCode::Enter);
    let out = screen(&mut s.app);
    assert!(out.contains("not scheduled: rule readonly"), "{out}");
    assert!(!out.contains("calendar:"), "{out}");
    assert!(!s.data.path().join("schedule.json").exists());
    assert!(!s.data.path().join(audit::FILE_NAME).exists());
}
