//! `twintop advise` as a user runs it: on the demo, with and without an LLM endpoint (a small
//! OpenAI-compatible fake on a loopback port answering in the real response format).

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// `twintop ARGS` in `dirs` (and the fake LLM's key in `TEST_LLM_KEY`).
fn run_in(dirs: &common::Dirs, args: &[&str], key: Option<&str>) -> (i32, String, String) {
    let mut cmd = dirs.twintop(args);
    if let Some(k) = key {
        cmd.env("TEST_LLM_KEY", k);
    }
    common::output(&mut cmd)
}

/// Answers every request with `content` as the assistant message; returns the base URL and
/// a channel of the request heads and bodies.
fn fake_llm(content: String) -> (String, std::sync::mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let _ = tx.send((head, String::from_utf8_lossy(&body).into_owned()));
            let payload = serde_json::json!({
                "id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
            })
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn advise_on_the_demo_proposes_scaling_the_surging_checkout() {
    let dirs = common::Dirs::new();
    let (code, out, err) = run_in(&dirs, &["advise", "--demo", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let proposals = doc["proposals"].as_array().unwrap();
    let top = &proposals[0];
    assert_eq!(top["target"], "boutique/checkoutservice", "{out}");
    assert_eq!(top["status"], "valid");
    assert_eq!(top["source"], "builtin:reactive");
    assert_eq!(top["action"]["kind"], "scale");
    let p = &top["predicted"];
    // The simulator checks proposals by default, over the default 8 seeds.
    assert_eq!(p["model"], "sim");
    assert_eq!(p["seeds"], 8);
    assert!(p["p99_ms"]["after"]["mean"].as_f64().unwrap() < p["p99_ms"]["before"]["mean"].as_f64().unwrap());
    // Beside the prediction, what the twin measures now: the surge breaches the 800 ms SLO.
    assert!(p["measured_p99_ms"].as_f64().expect("measured_p99_ms") > 800.0, "{p}");
    let parts = top["confidence"]["parts"].as_object().unwrap();
    let sum: f64 = parts.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - top["confidence"]["score"].as_f64().unwrap()).abs() <= 1.0);

    let (code, table, _) = run_in(&dirs, &["advise", "--demo", "--evaluator", "analytic"], None);
    assert_eq!(code, 0);
    assert!(table.contains("boutique/checkoutservice") && table.contains("confidence of"), "{table}");
    assert!(table.contains("P99 NOW"), "{table}");
    let (code, out, _) = run_in(&dirs, &["advise", "--demo", "--evaluator", "analytic", "--json"], None);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["proposals"][0]["predicted"]["model"], "analytic");
}

#[test]
fn advise_with_an_llm_keeps_its_rejections_and_saves_the_exchange_without_the_key() {
    let dirs = common::Dirs::new();
    let answer = r#"Sure:
```json
{"actions":[
 {"name":"boutique/checkoutservice","target_kind":"workload","action":"scale","replicas":4,"min_replicas":null,"max_replicas":null,"time":null,"reason":"checkout over its SLO","confidence":75},
 {"name":"boutique/checkout","target_kind":"workload","action":"scale","replicas":5,"min_replicas":null,"max_replicas":null,"time":null,"reason":"x","confidence":180}
]}
```"#;
    let (url, seen) = fake_llm(answer.into());
    let args = [
        "advise",
        "--demo",
        "--llm-url",
        &url,
        "--llm-model",
        "fake-1",
        "--llm-key-env",
        "TEST_LLM_KEY",
        "--json",
    ];
    let (code, out, err) = run_in(&dirs, &args, Some("sk-cli-SECRET-42"));
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let llm: Vec<&Value> =
        doc["proposals"].as_array().unwrap().iter().filter(|p| p["source"] == "llm:fake-1").collect();
    assert_eq!(llm.len(), 1, "{out}");
    // The LLM proposed what the reactive advisor did (after being offered it): one proposal,
    // the model's reason kept with it as an endorsement pointing at the saved exchange.
    let same: Vec<&Value> = doc["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["target"] == "boutique/checkoutservice" && p["action"]["replicas"] == 4)
        .collect();
    assert_eq!(same.len(), 1, "{out}");
    assert_eq!(same[0]["status"], "valid");
    assert_eq!(same[0]["source"], "builtin:reactive");
    let e = &same[0]["endorsements"][0];
    assert_eq!(e["source"], "llm:fake-1", "{out}");
    assert_eq!(e["reason"], "checkout over its SLO");
    assert!(e["exchange"].as_str().is_some_and(|h| h.len() == 64));
    // Offered, not independent: no agreement points.
    assert_eq!(same[0]["confidence"]["parts"]["agreement"], 0.0);
    let bad = llm.iter().find(|p| p["target"] == "boutique/checkout").unwrap();
    assert_eq!(bad["status"], "rejected");
    let why = bad["rejection"].as_str().unwrap();
    assert!(why.contains("outside 0–100"), "{why}");

    let (head, _) = seen.recv().unwrap();
    assert!(head.contains("Bearer sk-cli-SECRET-42"), "the key is sent in the header");
    let exchanges: Vec<_> = std::fs::read_dir(dirs.data().join("llm-exchanges")).unwrap().flatten().collect();
    assert_eq!(exchanges.len(), 1);
    let saved = std::fs::read_to_string(exchanges[0].path()).unwrap();
    assert!(!saved.contains("sk-cli-SECRET-42"), "the key is never saved");
    assert!(!err.contains("sk-cli-SECRET-42") && !out.contains("sk-cli-SECRET-42"), "nor printed");
    // stderr is a pipe here, not a terminal: no progress line, no cursor codes in a log.
    assert!(err.contains("LLM exchange saved to"), "{err}");
    assert!(!err.contains("LLM fake-1:") && !err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");

    let (code, out, _) =
        run_in(&dirs, &["advise", "--demo", "--llm-url", &url, "--llm-offline", "--json"], None);
    assert_eq!(code, 0);
    assert!(!out.contains("llm:"), "--llm-offline never asks");
    assert!(seen.try_recv().is_err());
}
