//! Answers without limits, and answers that stop early, against fake servers: an answer cut at
//! its token limit or by a timeout keeps its complete actions and says why it stopped; 5,000
//! actions are not all read, let alone simulated; a 50 MB answer is not read past the cap and
//! cannot become a proposal with a 50 MB reason; the model choosing an offered candidate gets
//! that candidate's change.

use super::stream_tests::{SSE_HEAD, ask_recording, fake_stream, in_writes, sse_events, streaming_advisor};
use super::tests::{Reply, advisor, assess_all, fake_llm, now};
use crate::advise::testkit::small_twin_with;
use crate::advise::{Guardrails, Status, assess_reusing, builtin};
use crate::change::Change;
use std::time::{Duration, Instant};
use tokio::sync::watch;

fn scale(w: &str, n: u32, reason: &str) -> serde_json::Value {
    serde_json::json!({"action": "scale", "workload": w, "replicas": n, "motive": "slo", "reason": reason})
}

#[tokio::test]
async fn an_answer_cut_at_its_token_limit_keeps_its_complete_actions_and_says_so() {
    let two = format!(
        "{{\"actions\":[{},{},{{\"action\":\"scale\",\"workload\":\"shop/w",
        scale("shop/api", 4, "api is over its SLO"),
        scale("shop/db", 3, "db is busy")
    );
    let (body, _) = sse_events(&two, 7);
    let body = body.replace("\"finish_reason\":\"stop\"", "\"finish_reason\":\"length\"");
    let server = fake_stream(in_writes(SSE_HEAD, &body, 64, Duration::ZERO)).await;
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 2_000, 20_000), None).await;
    assert_eq!(out.exchange.finish_reason.as_deref(), Some("length"));
    assert_eq!(out.actions, 2);
    let stopped = out.stopped.clone().expect("the stop is reported");
    assert!(stopped.contains("finish_reason \"length\"") && stopped.contains("max_tokens"), "{stopped}");
    let actions: Vec<&Change> = out.candidates.iter().filter_map(|c| c.action.as_ref()).collect();
    assert_eq!(
        actions,
        [
            &Change::Scale { workload: "shop/api".into(), replicas: 4 },
            &Change::Scale { workload: "shop/db".into(), replicas: 3 }
        ]
    );
    let note = out.candidates.iter().find_map(|c| c.problem.clone()).expect("a note on the answer");
    assert!(note.contains("stopped early") && note.contains("2 complete action(s) kept"), "{note}");
    let snap = small_twin_with(|_| {});
    let p = assess_all(&snap, out.candidates);
    assert!(p.iter().any(|p| p.status == Status::Valid && p.target == "shop/api"), "{p:#?}");
}

#[tokio::test]
async fn an_answer_cut_by_a_timeout_keeps_what_arrived() {
    let text = format!("{{\"actions\":[{},{{\"action\":\"sca", scale("shop/api", 4, "api is over its SLO"));
    let (body, _) = sse_events(&text, 5);
    // Everything but the finish event, then nothing.
    let cut = body.rfind("data: {\"choices\"").unwrap();
    let mut writes = in_writes(SSE_HEAD, &body[..cut], 50, Duration::ZERO);
    writes.push((Duration::ZERO, None));
    let server = fake_stream(writes).await;
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 300, 10_000), None).await;
    assert!(out.exchange.error.as_deref().unwrap().contains("timed out"));
    assert_eq!(out.actions, 1);
    assert_eq!(out.candidates[0].action, Some(Change::Scale { workload: "shop/api".into(), replicas: 4 }));
    assert!(out.stopped.as_deref().unwrap().contains("timed out"));
}

#[tokio::test]
async fn five_thousand_actions_are_not_all_read() {
    let many: Vec<serde_json::Value> = (0..5000).map(|i| scale("shop/api", 3 + i % 3, "more")).collect();
    let answer = serde_json::json!({ "actions": many }).to_string();
    let llm = fake_llm(vec![Reply::Content(answer)]).await;
    let mut adv = advisor(&llm.url, None, 10_000);
    adv.client.max_answer_bytes = 1 << 20;
    let snap = small_twin_with(|_| {});
    let started = Instant::now();
    let (_tx, rx) = watch::channel(false);
    let out = adv.advise(&snap, &Guardrails::default(), now(), &[], rx).await;
    let read = out.candidates.iter().filter(|c| c.action.is_some()).count();
    assert_eq!(read, 3, "the default cap");
    let note = out.candidates.iter().find_map(|c| c.problem.clone()).unwrap();
    assert!(note.contains("more than 3 actions") && note.contains("max_actions"), "{note}");
    // Judged as a set: one change per target, the rest say why.
    let p = assess_all(&snap, out.candidates);
    assert_eq!(p.iter().filter(|p| p.status == Status::Valid).count(), 1, "{p:#?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_fifty_megabyte_answer_is_not_read_past_the_cap() {
    let huge = "x".repeat(50 << 20);
    let text = format!("{{\"actions\":[{}]}}", scale("shop/api", 4, &huge));
    let (body, _) = sse_events(&text, 1 << 20);
    let server = fake_stream(in_writes(SSE_HEAD, &body, 1 << 20, Duration::ZERO)).await;
    let started = Instant::now();
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 2_000, 30_000), None).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let err = out.exchange.error.clone().unwrap();
    assert!(err.contains("passed the limit of 16384 bytes"), "{err}");
    assert!(out.exchange.content.as_ref().unwrap().len() <= 16384);
    assert!(out.exchange.response.as_ref().unwrap().len() <= (1 << 20) + (1 << 20));
    assert!(out.candidates.iter().all(|c| c.action.is_none()), "the one action was never complete");
    assert!(out.candidates.iter().all(|c| c.reason.len() < 1000));

    // Not streamed: the body is not read past its cap either.
    drop(server);
    let llm = fake_llm(vec![Reply::Content(text)]).await;
    let adv = advisor(&llm.url, None, 30_000);
    let snap = small_twin_with(|_| {});
    let (_tx, rx) = watch::channel(false);
    let out = adv.advise(&snap, &Guardrails::default(), now(), &[], rx).await;
    assert!(out.exchange.error.as_deref().unwrap().contains("passed the limit"), "{:?}", out.exchange.error);
    assert!(out.exchange.response.as_ref().unwrap().len() <= 2 << 20);
    let p = assess_all(&snap, out.candidates);
    assert!(p.iter().all(|p| p.status == Status::Rejected && p.reason.len() < 1000), "{p:#?}");
}

#[tokio::test]
async fn choosing_an_offered_candidate_takes_its_change_and_endorses_it() {
    let snap = small_twin_with(|_| {});
    let g = Guardrails::default();
    let builtin_c = builtin::reactive(&snap, &g);
    let offered = assess_all(&snap, builtin_c.clone());
    let api =
        offered.iter().find(|p| p.target == "shop/api" && p.status == Status::Valid).expect("api scale");
    let answer = serde_json::json!({"actions": [
        {"action": "choose", "candidate": "c1", "reason": "the twin predicts api's p99 under its SLO"},
        {"action": "choose", "candidate": "c9", "reason": "made up"},
    ]});
    let llm = fake_llm(vec![Reply::Content(answer.to_string())]).await;
    let adv = advisor(&llm.url, None, 5_000);
    let (_tx, rx) = watch::channel(false);
    let out = adv.advise(&snap, &g, now(), &offered, rx).await;
    assert_eq!(out.candidates[0].action, api.action);
    assert!(out.candidates[0].informed);
    assert!(out.candidates[1].problem.as_deref().unwrap().contains("no candidate c9 was offered"));
    // The request offered it with the twin's figures.
    let sent = llm.seen.lock().unwrap()[0].1.clone();
    assert!(sent.contains("\\\"id\\\":\\\"c1\\\"") && sent.contains("twin_predicts"), "{sent}");
    assert!(sent.contains("\"enum\":[\"c1\"]"), "the schema lists the offered ids");
    // Assessed with the built-in proposals: one proposal, endorsed by the model, its
    // confidence unchanged (the model only chose what it was shown).
    let ctx_record = crate::advise::TrackRecord::default();
    let ctx = crate::advise::Context {
        guardrails: g,
        evaluator: &crate::advise::AnalyticEvaluator::default(),
        seeds: crate::advise::default_seeds(),
        record: &ctx_record,
        pending: &[],
    };
    let mut all = builtin_c;
    all.extend(out.candidates);
    let merged = assess_reusing(&snap, all, &ctx, &offered);
    let kept: Vec<_> = merged.iter().filter(|p| p.target == "shop/api").collect();
    assert_eq!(kept.len(), 1, "{merged:#?}");
    assert_eq!(kept[0].source, "builtin:reactive");
    assert_eq!(kept[0].confidence.score, api.confidence.score);
    assert_eq!(kept[0].endorsements[0].source, "llm:fake");
    assert!(kept[0].endorsements[0].reason.contains("under its SLO"));
}
