//! The LLM answer parser and the validator on the fixtures in tests/data/llm: answers recorded
//! from a real local model (kind "real"), variants cut or garbled from them ("derived"), and
//! hand-written cases ("hand-written"). See tests/data/llm/README.md.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::PathBuf;
use twintop::advise::llm::parse::candidates;
use twintop::advise::validate::validate;
use twintop::advise::{AnalyticEvaluator, Context, Guardrails, Status, TrackRecord, assess, default_seeds};
use twintop::demo::{DemoPreset, DemoTwin};

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
