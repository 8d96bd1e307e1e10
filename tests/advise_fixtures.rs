//! The LLM answer parser and the validator on the fixtures in tests/data/llm: hand-written cases
//! ("hand-written", the parser's tolerance), and the answers of a real local model to twintop's
//! current ask, recorded at demo incidents (`eval/`). See tests/data/llm/README.md.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::PathBuf;
use twintop::advise::llm::parse::{candidates, candidates_offered};
use twintop::advise::validate::validate;
use twintop::advise::{
    AnalyticEvaluator, Context, Guardrails, Motive, Status, TrackRecord, assess, default_seeds,
};
use twintop::change::Change;
use twintop::demo::{DemoPreset, DemoTwin};
use twintop::twin::TwinStore;

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/llm");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

#[test]
fn every_fixture_parses_or_fails_clearly_and_validation_holds() {
    let all = fixtures();
    assert!(all.len() >= 9, "fixtures missing: {}", all.len());
    let record = TrackRecord::default();
    let evaluator = AnalyticEvaluator::default();
    for (name, f) in &all {
        let content = f["content"].as_str().unwrap_or_else(|| panic!("{name}: no content"));
        let expect = &f["expect"];
        let preset = match f["demo"]["preset"].as_str().unwrap_or("dc") {
            "mec" => DemoPreset::Mec,
            _ => DemoPreset::Dc,
        };
        let seed = f["demo"]["seed"].as_u64().unwrap_or(1);
        let snap = DemoTwin::starting_at(preset, seed, now()).warm_snapshot(90);
        let parsed = candidates(content, "llm:fixture", now());
        let Some(want) = expect["parse"].as_str() else {
            // No stated expectation (derived cuts of answers that were already cut off): a
            // clear error or candidates that pass the same checks, never a panic.
            if let Err(e) = &parsed {
                let clear = ["truncated", "malformed", "no JSON", "empty", "should be", "no `actions`"];
                assert!(clear.iter().any(|c| e.0.contains(c)), "{name}: unclear error {}", e.0);
                continue;
            }
            check(name, &snap, parsed.unwrap().clone(), expect, &evaluator, &record);
            continue;
        };
        if want != "ok" {
            let err = parsed.expect_err(&format!("{name}: should not parse")).0;
            assert!(err.contains(want), "{name}: {err} should mention {want}");
            continue;
        }
        let c = parsed.unwrap_or_else(|e| panic!("{name}: {}", e.0));
        check(name, &snap, c, expect, &evaluator, &record);
    }
}

/// Assesses the candidates on the fixture's demo twin: nothing dropped, valid ones re-validate,
/// rejected ones say why, and the stated expectations hold.
fn check(
    name: &str,
    snap: &twintop::twin::Snapshot,
    c: Vec<twintop::advise::Candidate>,
    expect: &Value,
    evaluator: &AnalyticEvaluator,
    record: &TrackRecord,
) {
    let ctx = Context {
        guardrails: Guardrails::default(),
        evaluator,
        seeds: default_seeds(),
        record,
        pending: &[],
    };
    let proposals = assess(snap, c.clone(), &ctx);
    assert_eq!(proposals.len(), c.len(), "{name}: nothing is dropped");
    for p in &proposals {
        match p.status {
            Status::Valid => {
                let action = p.action.as_ref().unwrap_or_else(|| panic!("{name}: valid without action"));
                assert!(validate(snap, action, &Guardrails::default()).is_ok(), "{name}: {p:?}");
                assert!(p.predicted.is_some() && p.confidence.score <= 100);
            }
            Status::Rejected => {
                assert!(p.rejection.as_deref().is_some_and(|r| !r.is_empty()), "{name}: no reason: {p:?}");
            }
        }
    }
    if let Some(n) = expect["candidates"].as_u64() {
        assert_eq!(proposals.len() as u64, n, "{name}: {proposals:#?}");
    }
    if let Some(n) = expect["valid"].as_u64() {
        let valid = proposals.iter().filter(|p| p.status == Status::Valid).count() as u64;
        assert_eq!(valid, n, "{name}: {proposals:#?}");
    }
    let reasons: Vec<String> = proposals.iter().filter_map(|p| p.rejection.clone()).collect();
    for want in expect["rejections_contain"].as_array().into_iter().flatten() {
        let want = want.as_str().unwrap();
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{name}: no rejection mentions {want}: {reasons:?}"
        );
    }
}

/// The twin at a recorded incident, as `twintop eval advisor` builds it (the demo from its fixed
/// start, stepped `tick` seconds).
fn incident(preset: DemoPreset, seed: u64, tick: u64) -> std::sync::Arc<twintop::twin::Snapshot> {
    let start = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap();
    let mut demo = DemoTwin::starting_at(preset, seed, start);
    let mut store = TwinStore::default();
    for _ in 0..tick {
        store.apply_all(demo.step());
    }
    store.snapshot()
}

/// Every answer the real model gave to the current ask (the per-ask schema, the offered
/// candidates) is in the schema's shape, every `choose` names a change that was offered, and
/// the answers are judged on the twin at their incident: valid ones re-validate, the rest say
/// why — and half of them hold a valid action.
#[test]
fn the_real_models_answers_to_the_current_ask_are_read_and_judged() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/llm/eval");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    assert!(!files.is_empty(), "no recordings in {}", dir.display());
    let record = TrackRecord::default();
    let evaluator = AnalyticEvaluator::default();
    let (mut answers, mut with_valid, mut chosen) = (0, 0, 0);
    for f in files {
        let rec: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        for a in rec["answers"].as_array().unwrap() {
            let at = format!("{} seed {} tick {}", f.display(), a["seed"], a["tick"]);
            let content = a["content"].as_str().unwrap_or_else(|| panic!("{at}: no content"));
            let offers: Vec<(String, Change, Option<Motive>)> = a["offers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    (
                        o["id"].as_str().unwrap().to_string(),
                        serde_json::from_value(o["action"].clone()).unwrap(),
                        serde_json::from_value(o["motive"].clone()).unwrap(),
                    )
                })
                .collect();
            // The schema's shape: the action first, then its target by kind; no `target_kind`.
            let v: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("{at}: {e}"));
            for act in v["actions"].as_array().unwrap() {
                let kind = act["action"].as_str().unwrap();
                assert!(
                    ["choose", "scale", "hpa_bounds", "cordon", "uncordon", "evict"].contains(&kind),
                    "{at}: {act}"
                );
                assert!(
                    act.get("target_kind").is_none() && act.get("confidence").is_none(),
                    "{at}: old shape {act}"
                );
            }
            let preset = if a["preset"] == "mec" { DemoPreset::Mec } else { DemoPreset::Dc };
            let snap = incident(preset, a["seed"].as_u64().unwrap(), a["tick"].as_u64().unwrap());
            let c = candidates_offered(content, "llm:gemma3-270m", now(), &offers)
                .unwrap_or_else(|e| panic!("{at}: {}", e.0));
            for (act, cand) in v["actions"].as_array().unwrap().iter().zip(&c) {
                if act["action"] == "choose" {
                    chosen += 1;
                    let id = act["candidate"].as_str().unwrap();
                    let offered = &offers.iter().find(|(i, ..)| i == id).expect("an offered id").1;
                    assert_eq!(cand.action.as_ref(), Some(offered), "{at}");
                    assert_eq!(cand.problem, None, "{at}");
                }
            }
            let ctx = Context {
                guardrails: Guardrails::default(),
                evaluator: &evaluator,
                seeds: default_seeds(),
                record: &record,
                pending: &[],
            };
            let proposals = assess(&snap, c.clone(), &ctx);
            assert_eq!(proposals.len(), c.len(), "{at}: nothing is dropped");
            for p in &proposals {
                match p.status {
                    Status::Valid => {
                        let action = p.action.as_ref().unwrap();
                        assert!(validate(&snap, action, &Guardrails::default()).is_ok(), "{at}: {p:?}");
                    }
                    Status::Rejected => {
                        assert!(p.rejection.as_deref().is_some_and(|r| !r.is_empty()), "{at}")
                    }
                }
            }
            answers += 1;
            with_valid += usize::from(proposals.iter().any(|p| p.status == Status::Valid));
        }
    }
    eprintln!(
        "{answers} recorded answers, {with_valid} with a valid action, {chosen} choices of an offered change"
    );
    assert!(answers >= 16 && chosen >= 8, "{answers} answers, {chosen} choices");
    // Judged here by the analytic evaluator, quiet moments included (`eval advisor`, by the
    // simulator: all 60 answers at incidents hold a valid action, none of the 20 quiet ones).
    assert!(with_valid * 2 >= answers, "{with_valid} of {answers} answers hold a valid action");
}
