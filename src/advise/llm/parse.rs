//! Tolerant reading of a model's answer. Whatever comes back — strict JSON, JSON inside prose
//! or a ```json fence, a bare action, an answer cut off mid-way, wrong types, out-of-range
//! numbers, thousands of actions — ends as at most `max_actions` candidates: well-formed actions
//! become changes, the complete actions of a cut answer are kept, and everything wrong is kept
//! as a `problem` so the proposal is rejected with a reason instead of vanishing. Actions past
//! the cap are not even read.
//!
//! The answer format is the schema's (`schema`): `{"action": "choose", "candidate": "c1"}` or
//! `{"action": "scale", "workload": …, "replicas": …, "motive": …, "reason": …}`; the older
//! `{"name": …, "target_kind": …, "action": …}` form is read too.

use super::prompt::Offer;
use crate::advise::proposal::{Candidate, Motive};
use crate::change::Change;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Why an answer yielded no actions at all.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerError(pub String);

/// A reason longer than this is cut (the schema asks for at most `schema::REASON_MAX`).
pub(crate) const REASON_KEEP: usize = 300;

/// What an answer is read against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading<'a> {
    pub source: &'a str,
    /// Decides whether a stated time is in the past.
    pub now: DateTime<Utc>,
    /// The candidates the model was offered (`choose` names one of them).
    pub offers: &'a [Offer],
    /// At most this many actions are read.
    pub max_actions: usize,
}

/// The actions read from an answer, and what was wrong with the answer as a whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parsed {
    pub candidates: Vec<Candidate>,
    /// The answer ends inside an action (cut by `max_tokens`, a timeout, the size cap): the
    /// complete actions before it are `candidates`.
    pub cut: bool,
    /// The answer holds more than `max_actions` actions; the rest were not read.
    pub beyond_cap: bool,
}

/// Finds the JSON in `content`: the whole text, a ```json fence, or the first `{`/`[` onward
/// (prose after the value is ignored).
pub(crate) fn extract_json(content: &str) -> Result<Value, AnswerError> {
    let text = content.trim();
    if text.is_empty() {
        return Err(AnswerError("the answer was empty".into()));
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(v);
    }
    let fenced = text.find("```").and_then(|start| {
        let body = &text[start + 3..];
        let body = body.strip_prefix("json").unwrap_or(body);
        body.find("```").map(|end| &body[..end])
    });
    if let Some(v) = fenced.and_then(|f| serde_json::from_str::<Value>(f.trim()).ok()) {
        return Ok(v);
    }
    let Some(start) = text.find(['{', '[']) else {
        return Err(AnswerError(format!("the answer holds no JSON: {}", preview(text))));
    };
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) if e.is_eof() => Err(AnswerError(format!(
            "the answer's JSON is truncated (ends at line {} column {}): {}",
            e.line(),
            e.column(),
            preview(&text[start..])
        ))),
        Some(Err(e)) => Err(AnswerError(format!("the answer's JSON is malformed: {e}"))),
        None => Err(AnswerError("the answer holds no JSON".into())),
    }
}

pub(crate) fn preview(s: &str) -> String {
    let p: String = s.chars().take(80).collect();
    let p = crate::text::escape(&p).into_owned();
    if s.chars().count() > 80 { format!("{p}…") } else { p }
}

/// The action objects of an answer: `{"actions":[…]}`, a bare list, or one action object;
/// `null` or an empty list is "no action".
pub(crate) fn action_objects(v: &Value) -> Result<Vec<Value>, AnswerError> {
    match v {
        Value::Null => Ok(vec![]),
        Value::Array(a) => Ok(a.clone()),
        Value::Object(o) => match o.get("actions") {
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(Value::Null) => Ok(vec![]),
            Some(other) => Err(AnswerError(format!("`actions` should be a list, got {}", kind(other)))),
            None if o.contains_key("name") || o.contains_key("action") => Ok(vec![v.clone()]),
            None => Err(AnswerError("the answer has no `actions` list".into())),
        },
        other => {
            Err(AnswerError(format!("the answer should be an object with `actions`, got {}", kind(other))))
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Turns a model's answer into candidates from `source` (no offers, no cap): the whole answer
/// must be JSON.
pub fn candidates(content: &str, source: &str, now: DateTime<Utc>) -> Result<Vec<Candidate>, AnswerError> {
    let v = extract_json(content)?;
    let r = Reading { source, now, offers: &[], max_actions: usize::MAX };
    Ok(action_objects(&v)?.iter().map(|a| candidate(a, &r)).collect())
}

/// `candidates` for an answer to an ask that offered the twin's evaluated changes by id
/// (`choose` names one), as recorded beside the answer (`RecordedOffer`).
pub fn candidates_offered(
    content: &str,
    source: &str,
    now: DateTime<Utc>,
    offered: &[(String, Change, Option<Motive>)],
) -> Result<Vec<Candidate>, AnswerError> {
    use crate::advise::proposal::{Confidence, Proposal, Status};
    let offers: Vec<Offer> = offered
        .iter()
        .map(|(id, change, motive)| Offer {
            id: id.clone(),
            proposal: Proposal {
                id: id.clone(),
                source: "offered".into(),
                target: change.target().to_string(),
                action: Some(change.clone()),
                when: None,
                status: Status::Valid,
                rejection: None,
                reason: String::new(),
                predicted: None,
                confidence: Confidence { score: 0, parts: Default::default() },
                exchange: None,
                motive: *motive,
                endorsements: vec![],
            },
        })
        .collect();
    let v = extract_json(content)?;
    let r = Reading { source, now, offers: &offers, max_actions: usize::MAX };
    Ok(action_objects(&v)?.iter().map(|a| candidate(a, &r)).collect())
}

/// Reads an answer: the whole JSON when it is complete, else the complete actions of a cut one.
pub(crate) fn read_answer(content: &str, r: &Reading) -> Result<Parsed, AnswerError> {
    let cap = r.max_actions;
    match extract_json(content) {
        Ok(v) => {
            let all = action_objects(&v)?;
            let beyond_cap = all.len() > cap;
            let candidates = once_each(all.iter().take(cap).map(|a| candidate(a, r)).collect());
            Ok(Parsed { candidates, cut: false, beyond_cap })
        }
        Err(e) if e.0.contains("truncated") => {
            let (objects, beyond_cap) = complete_actions(content, cap);
            if objects.is_empty() {
                return Err(AnswerError(format!("{}; no action in it is complete", e.0)));
            }
            let candidates = once_each(objects.iter().map(|a| candidate(a, r)).collect());
            Ok(Parsed { candidates, cut: true, beyond_cap })
        }
        Err(e) => Err(e),
    }
}

/// The candidates with a repeated action dropped: a small model writes the same action two or
/// three times in one answer (Gemma 3 270M does), which is one proposal, not three — and not
/// three against the set's one-change-per-target rule. The same change at the same time with
/// the same motive is a repeat, whatever the reason says; the first is kept.
fn once_each(candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::with_capacity(candidates.len());
    for c in candidates {
        let repeat = c.action.is_some()
            && c.problem.is_none()
            && out.iter().any(|o| {
                o.problem.is_none() && o.action == c.action && o.when == c.when && o.motive == c.motive
            });
        if !repeat {
            out.push(c);
        }
    }
    out
}

/// The complete action objects at the start of a cut answer's action list (at most `cap`),
/// and whether more follow.
fn complete_actions(content: &str, cap: usize) -> (Vec<Value>, bool) {
    let text = content.trim();
    // The list: after `"actions"` and its `[`, or a bare list.
    let start = match text.find("\"actions\"") {
        Some(k) => text[k..].find('[').map(|b| k + b + 1),
        None => text.find('[').map(|b| b + 1),
    };
    let Some(mut pos) = start else { return (vec![], false) };
    let mut out = Vec::new();
    loop {
        let rest = text[pos..].trim_start();
        pos = text.len() - rest.len();
        if rest.starts_with(']') || rest.is_empty() {
            return (out, false);
        }
        if out.len() == cap {
            return (out, true);
        }
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) => {
                pos += stream.byte_offset();
                out.push(v);
            }
            _ => return (out, false),
        }
        let rest = text[pos..].trim_start();
        pos = text.len() - rest.len();
        match rest.chars().next() {
            Some(',') => pos += 1,
            _ => return (out, false),
        }
    }
}

/// One action object → one candidate; every problem found is listed in `problem`.
pub(crate) fn candidate(a: &Value, r: &Reading) -> Candidate {
    let mut problems = Vec::new();
    let empty = Map::new();
    let o = a.as_object().unwrap_or_else(|| {
        problems.push(format!("an action should be an object, got {}", kind(a)));
        &empty
    });
    let text = |k: &str, problems: &mut Vec<String>| -> Option<String> {
        match o.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            None | Some(Value::Null) => None,
            Some(other) => {
                problems.push(format!("`{k}` should be a string, got {}", kind(other)));
                None
            }
        }
    };
    let count = |k: &str, problems: &mut Vec<String>| -> Option<u32> {
        match o.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u32::MAX as f64 => Some(f as u32),
                _ => {
                    problems.push(format!("`{k}` should be a whole number ≥ 0, got {n}"));
                    None
                }
            },
            Some(other) => {
                problems.push(format!("`{k}` should be a number, got {}", kind(other)));
                None
            }
        }
    };
    // The target under the key of its kind, or the older `name`.
    let name = ["workload", "server", "pod", "candidate", "name"]
        .iter()
        .find_map(|k| text(k, &mut problems))
        .unwrap_or_default();
    let mut reason = text("reason", &mut problems).unwrap_or_default();
    if reason.chars().count() > REASON_KEEP {
        reason = format!("{}…", reason.chars().take(REASON_KEEP).collect::<String>());
    }
    let action = text("action", &mut problems);
    let replicas = count("replicas", &mut problems);
    let min = count("min_replicas", &mut problems);
    let max = count("max_replicas", &mut problems);
    let motive = match text("motive", &mut problems).as_deref() {
        None | Some("slo") => None,
        Some("cost") => Some(Motive::Cost),
        Some("free_server") => Some(Motive::FreeServer),
        Some("hot_server") => Some(Motive::HotServer),
        Some(other) => {
            problems.push(format!("unknown motive {}", preview(other)));
            None
        }
    };
    // Fixing a hot server is what an eviction is for anyway; as a motive it is a cordon's only.
    let mut motive = motive.filter(|m| *m != Motive::HotServer || action.as_deref() == Some("cordon"));
    // The older format's stated confidence: never used, but a value out of range says the
    // answer is not to be trusted.
    match o.get("confidence") {
        Some(Value::Number(n)) if !n.as_f64().is_some_and(|c| (0.0..=100.0).contains(&c)) => {
            problems.push(format!("stated confidence {n} is outside 0–100"));
        }
        None | Some(Value::Null) | Some(Value::Number(_)) => {}
        Some(other) => problems.push(format!("`confidence` should be a number, got {}", kind(other))),
    }
    let stated = o.get("confidence").and_then(Value::as_f64).filter(|c| (0.0..=100.0).contains(c));
    let when = match text("time", &mut problems) {
        None => None,
        Some(t) if t.is_empty() || t.eq_ignore_ascii_case("now") => None,
        Some(t) => match DateTime::parse_from_rfc3339(&t) {
            Ok(d) if d.with_timezone(&Utc) < r.now => {
                problems.push(format!("time {} is in the past", preview(&t)));
                None
            }
            Ok(d) => Some(d.with_timezone(&Utc)),
            Err(_) => {
                problems.push(format!("time {} is not RFC 3339", preview(&t)));
                None
            }
        },
    };
    if name.is_empty() {
        problems.push("the action names no target".into());
    }
    let mut informed = false;
    let change = match action.as_deref() {
        Some("choose") => match r.offers.iter().find(|o| o.id == name) {
            Some(offer) => {
                informed = true;
                // The offered change as the twin judged it: with its advisor's motive (a hot
                // server's cordon is valid only with `hot_server`).
                motive = offer.proposal.motive;
                offer.proposal.action.clone()
            }
            None => {
                if !name.is_empty() {
                    problems.push(format!("no candidate {} was offered", preview(&name)));
                }
                None
            }
        },
        Some("scale") => match replicas {
            Some(n) => Some(Change::Scale { workload: name.clone(), replicas: n }),
            None => {
                problems.push("`scale` needs `replicas`".into());
                None
            }
        },
        Some("hpa_bounds") => match (min, max) {
            (Some(min), Some(max)) => Some(Change::HpaBounds { workload: name.clone(), min, max }),
            _ => {
                problems.push("`hpa_bounds` needs `min_replicas` and `max_replicas`".into());
                None
            }
        },
        Some("cordon") => Some(Change::Cordon { server: name.clone(), cordon: true }),
        Some("uncordon") => Some(Change::Cordon { server: name.clone(), cordon: false }),
        // The model names the pod only; the advisor fills in the server the twin has it on.
        Some("evict") => Some(Change::Evict { pod: name.clone(), server: String::new(), to: None }),
        Some(other) => {
            problems.push(format!("unknown action {}", preview(other)));
            None
        }
        None => {
            problems.push("the action has no `action`".into());
            None
        }
    };
    if let (Some(Value::String(k)), Some(c)) = (o.get("target_kind"), &change) {
        let expected = match c {
            Change::Cordon { .. } => "server",
            Change::Evict { .. } => "pod",
            _ => "workload",
        };
        if k != expected {
            problems.push(format!("target_kind {} does not fit the action (needs {expected})", preview(k)));
        }
    }
    let target = change.as_ref().map(|c| c.target().to_string()).unwrap_or(name);
    Candidate {
        source: r.source.to_string(),
        target,
        action: change,
        when,
        reason: if reason.is_empty() { "(no reason given)".into() } else { reason },
        problem: if problems.is_empty() { None } else { Some(problems.join("; ")) },
        stated_confidence: stated,
        forecast_uncertainty: None,
        forecast_load: None,
        exchange: None,
        motive,
        informed,
    }
}

/// `choices[0].message.content` of a Chat Completions response body, and its finish reason.
pub fn message_content(body: &str) -> Result<(String, Option<String>), AnswerError> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| AnswerError(format!("the server's response is not JSON ({e}): {}", preview(body))))?;
    if let Some(err) = v.get("error") {
        return Err(AnswerError(format!("the server answered with an error: {}", preview(&err.to_string()))));
    }
    let finish = v.pointer("/choices/0/finish_reason").and_then(Value::as_str).map(String::from);
    match v.pointer("/choices/0/message/content") {
        Some(Value::String(s)) => Ok((s.clone(), finish)),
        _ => Err(AnswerError(format!("the response has no choices[0].message.content: {}", preview(body)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    const ONE: &str = r#"{"actions":[{"name":"boutique/checkoutservice","target_kind":"workload","action":"scale","replicas":4,"min_replicas":null,"max_replicas":null,"time":null,"reason":"p99 over SLO","confidence":70}]}"#;

    #[test]
    fn hand_written_strict_fenced_and_prose_answers_parse_alike() {
        let strict = candidates(ONE, "llm:m", now()).unwrap();
        assert_eq!(strict.len(), 1);
        assert_eq!(
            strict[0].action,
            Some(Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 })
        );
        assert_eq!(strict[0].stated_confidence, Some(70.0));
        assert_eq!(strict[0].problem, None);
        let fenced = format!("Here is my plan:\n```json\n{ONE}\n```\nHope it helps.");
        assert_eq!(candidates(&fenced, "llm:m", now()).unwrap(), strict);
        let prose = format!("Sure! {ONE} Let me know.");
        assert_eq!(candidates(&prose, "llm:m", now()).unwrap(), strict);
    }

    #[test]
    fn hand_written_truncated_answer_is_a_clear_error() {
        let cut = &ONE[..ONE.len() / 2];
        let err = candidates(cut, "llm:m", now()).unwrap_err();
        assert!(err.0.contains("truncated"), "{}", err.0);
        assert!(
            candidates("I think you should scale up.", "llm:m", now()).unwrap_err().0.contains("no JSON")
        );
        assert!(candidates("", "llm:m", now()).unwrap_err().0.contains("empty"));
    }

    #[test]
    fn hand_written_wrong_types_and_ranges_become_problems() {
        let bad = r#"{"actions":[
            {"name":"a/b","target_kind":"workload","action":"scale","replicas":"five","reason":"x","confidence":50},
            {"name":"a/b","target_kind":"workload","action":"scale","replicas":3,"reason":"x","confidence":180},
            {"name":"a/b","target_kind":"workload","action":"scale","replicas":-2,"reason":"x","confidence":50},
            {"name":"a/b","target_kind":"workload","action":"delete","reason":"x","confidence":50},
            {"name":"n1","target_kind":"workload","action":"cordon","reason":"x","confidence":50},
            {"name":"a/b","target_kind":"workload","action":"scale","replicas":3,"time":"tomorrow","reason":"x","confidence":50},
            {"name":"a/b","target_kind":"workload","action":"scale","replicas":3,"time":"2020-01-01T00:00:00Z","reason":"x","confidence":50},
            "scale everything"
        ]}"#;
        let c = candidates(bad, "llm:m", now()).unwrap();
        let wants = [
            "should be a number",
            "outside 0–100",
            "whole number",
            "unknown action",
            "target_kind",
            "not RFC 3339",
            "in the past",
            "should be an object",
        ];
        assert_eq!(c.len(), wants.len());
        for (c, want) in c.iter().zip(wants) {
            let p = c.problem.as_deref().unwrap_or_else(|| panic!("no problem found for {c:?}"));
            assert!(p.contains(want), "{p} should mention {want}");
        }
    }

    #[test]
    fn response_body_content_and_errors() {
        let body =
            serde_json::json!({"choices":[{"message":{"role":"assistant","content":"{}"}}]}).to_string();
        assert_eq!(message_content(&body).unwrap(), ("{}".to_string(), None));
        assert!(
            message_content(r#"{"error":{"message":"model not found"}}"#)
                .unwrap_err()
                .0
                .contains("model not found")
        );
        assert!(message_content("<html>").unwrap_err().0.contains("not JSON"));
        assert_eq!(candidates(r#"{"actions":[]}"#, "llm:m", now()).unwrap(), vec![]);
        assert_eq!(candidates("null", "llm:m", now()).unwrap(), vec![]);
    }

    #[test]
    fn a_cut_answer_yields_its_complete_actions_whatever_they_hold() {
        let r = Reading { source: "llm:m", now: now(), offers: &[], max_actions: 3 };
        // Braces and brackets inside strings do not fool the reader; the cut falls in action 3.
        let text = r#"{"actions": [ {"action":"scale","workload":"a/b","replicas":3,"reason":"x } ] {"},
            {"action":"cordon","server":"n1","motive":"free_server","reason":"[drain]"} , {"action":"evi"#;
        let p = read_answer(text, &r).unwrap();
        assert!(p.cut && !p.beyond_cap);
        assert_eq!(p.candidates.len(), 2);
        assert_eq!(p.candidates[0].reason, "x } ] {");
        assert_eq!(p.candidates[1].motive, Some(Motive::FreeServer));
        // A bare list, cut.
        let p = read_answer(r#"[{"action":"scale","workload":"a/b","replicas":3,"reason":"r"},{"act"#, &r)
            .unwrap();
        assert_eq!((p.candidates.len(), p.cut), (1, true));
        // Cut before any action completes: a clear error.
        let e = read_answer(r#"{"actions":[{"action":"sca"#, &r).unwrap_err();
        assert!(e.0.contains("truncated") && e.0.contains("no action in it is complete"), "{}", e.0);
        // More than the cap, cut or whole: only the cap is read.
        let four = r#"{"actions":[{"action":"cordon","server":"a","reason":"r"},{"action":"cordon","server":"b","reason":"r"},{"action":"cordon","server":"c","reason":"r"},{"action":"cordon","server":"d","reason":"r"}"#;
        let p = read_answer(four, &r).unwrap();
        assert_eq!((p.candidates.len(), p.beyond_cap), (3, true));
        let p = read_answer(&format!("{four}]}}"), &r).unwrap();
        assert_eq!((p.candidates.len(), p.beyond_cap, p.cut), (3, true, false));
    }

    /// Gemma 3 270M's answer at seed 2, tick 190 of the demo: one cordon written three times.
    #[test]
    fn a_repeated_action_counts_once() {
        let r = Reading { source: "llm:m", now: now(), offers: &[], max_actions: 3 };
        let thrice = r#"{"actions":[
{"action":"cordon","server":"r4-09","motive":"hot_server","reason":"no"},
{"action":"cordon","server":"r4-09","motive":"hot_server","reason":"no"},
{"action":"cordon","server":"r4-09","motive":"hot_server","reason":"again"}
]}"#;
        let p = read_answer(thrice, &r).unwrap();
        assert_eq!(p.candidates.len(), 1, "{:?}", p.candidates);
        assert_eq!(p.candidates[0].action, Some(Change::Cordon { server: "r4-09".into(), cordon: true }));
        assert_eq!(p.candidates[0].motive, Some(Motive::HotServer));
        assert!(!p.beyond_cap && !p.cut);
        // A different change on the same target is not a repeat: the set's rules judge it.
        let two = r#"{"actions":[{"action":"scale","workload":"a/b","replicas":3,"motive":"slo","reason":"r"},
            {"action":"scale","workload":"a/b","replicas":4,"motive":"slo","reason":"r"},
            {"action":"scale","workload":"a/b","replicas":3,"motive":"slo","reason":"r"}]}"#;
        let p = read_answer(two, &r).unwrap();
        let n: Vec<_> = p.candidates.iter().map(|c| c.action.clone()).collect();
        assert_eq!(n.len(), 2, "{n:?}");
        // Repeats in a cut answer count once too.
        let cut = r#"{"actions":[{"action":"cordon","server":"n1","motive":"hot_server","reason":"r"},
            {"action":"cordon","server":"n1","motive":"hot_server","reason":"r"},{"action":"cor"#;
        let p = read_answer(cut, &r).unwrap();
        assert_eq!((p.candidates.len(), p.cut), (1, true));
        // hot_server is a cordon's motive; on an eviction it says nothing beyond the eviction.
        let evict = serde_json::json!({"action":"evict","pod":"a/b-1","motive":"hot_server","reason":"r"});
        assert_eq!(candidate(&evict, &r).motive, None);
    }

    /// Choosing an offered change takes it as the twin judged it, motive included: the model
    /// choosing the twin's cordon of a pegged server proposes that cordon with `hot_server`
    /// (without it the cordon "moves no pod" and is rejected).
    #[test]
    fn choosing_an_offer_takes_its_motive() {
        let cordon = Change::Cordon { server: "r4-09".into(), cordon: true };
        let offered = [("c1".to_string(), cordon.clone(), Some(Motive::HotServer))];
        let answer = r#"{"actions":[{"action":"choose","candidate":"c1","reason":"cordon r4-09"}]}"#;
        let c = candidates_offered(answer, "llm:m", now(), &offered).unwrap();
        assert_eq!(
            (c[0].action.as_ref(), c[0].motive, c[0].problem.as_ref()),
            (Some(&cordon), Some(Motive::HotServer), None)
        );
        let scale = Change::Scale { workload: "a/b".into(), replicas: 3 };
        let offered = [("c1".to_string(), scale, None)];
        let c = candidates_offered(answer, "llm:m", now(), &offered).unwrap();
        assert_eq!(c[0].motive, None);
    }

    #[test]
    fn a_long_reason_is_cut_and_an_unknown_motive_is_a_problem() {
        let r = Reading { source: "llm:m", now: now(), offers: &[], max_actions: 3 };
        let long = format!(
            r#"{{"action":"scale","workload":"a/b","replicas":3,"motive":"vibes","reason":"{}"}}"#,
            "y".repeat(5000)
        );
        let c = candidate(&serde_json::from_str(&long).unwrap(), &r);
        assert_eq!(c.reason.chars().count(), REASON_KEEP + 1);
        assert!(c.problem.as_deref().unwrap().contains("unknown motive vibes"));
    }
}
