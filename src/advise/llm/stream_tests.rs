//! Streamed answers against a fake server that writes server-sent events in pieces, as a real
//! one does: split across TCP writes and mid-line, plain JSON when `stream` is ignored, a stall,
//! garbage, a cut-off stream, and cancellation mid-stream; progress goes up as chunks arrive.

use super::client::Progress;
use super::tests::{advisor, assess_all, now, read_request};
use super::{LlmAdvisor, Outcome};
use crate::advise::testkit::small_twin_with;
use crate::advise::{Guardrails, Status};
use crate::change::Change;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// One write of the response: wait, then send these bytes (`None`: then stall for good).
pub(super) type Write = (Duration, Option<Vec<u8>>);

pub(super) struct FakeStream {
    pub(super) url: String,
    bodies: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server that answers every request with `writes`, then closes the connection.
pub(super) async fn fake_stream(writes: Vec<Write>) -> FakeStream {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let log = bodies.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (writes, log) = (writes.clone(), log.clone());
            tokio::spawn(async move {
                let Some((_, body)) = read_request(&mut sock).await else { return };
                log.lock().unwrap().push(body);
                for (wait, bytes) in writes {
                    tokio::time::sleep(wait).await;
                    match bytes {
                        Some(b) => {
                            if sock.write_all(&b).await.is_err() || sock.flush().await.is_err() {
                                return;
                            }
                        }
                        None => std::future::pending::<()>().await,
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    FakeStream { url, bodies, task }
}

pub(super) const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";

/// A valid answer: scale shop/api to 4.
const ANSWER: &str = r#"{"actions":[{"name":"shop/api","target_kind":"workload","action":"scale","replicas":4,"min_replicas":null,"max_replicas":null,"time":null,"reason":"api is over its SLO","confidence":60}]}"#;

/// `content` as llama.cpp streams it: a role delta, one event per piece of `piece_len` chars,
/// a finish reason, `[DONE]`.
pub(super) fn sse_events(content: &str, piece_len: usize) -> (String, usize) {
    let chars: Vec<char> = content.chars().collect();
    let pieces: Vec<String> = chars.chunks(piece_len).map(|c| c.iter().collect()).collect();
    let ev = |v: serde_json::Value| format!("data: {v}\n\n");
    let mut s = ev(serde_json::json!({"object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]}));
    for p in &pieces {
        s.push_str(&ev(serde_json::json!({"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})));
    }
    s.push_str(&ev(serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})));
    s.push_str("data: [DONE]\n\n");
    (s, pieces.len())
}

/// The bytes cut into writes of `size` (so cuts fall mid-line and mid-JSON), `gap` apart.
pub(super) fn in_writes(head: &str, body: &str, size: usize, gap: Duration) -> Vec<Write> {
    let mut w: Vec<Write> = vec![(Duration::ZERO, Some(head.as_bytes().to_vec()))];
    w.extend(body.as_bytes().chunks(size).map(|c| (gap, Some(c.to_vec()))));
    w
}

pub(super) fn streaming_advisor(url: &str, first_byte_ms: u64, overall_ms: u64) -> LlmAdvisor {
    let mut a = advisor(url, None, overall_ms);
    a.client.first_byte_timeout = Duration::from_millis(first_byte_ms);
    a
}

/// Asks with a progress recorder; `cancel_after` cancels the call then.
pub(super) async fn ask_recording(
    adv: &LlmAdvisor,
    cancel_after: Option<Duration>,
) -> (Outcome, Vec<Progress>) {
    let snap = small_twin_with(|_| {});
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    let record = move |p: &Progress| rec.lock().unwrap().push(*p);
    let (tx, rx) = watch::channel(false);
    if let Some(after) = cancel_after {
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = tx.send(true);
            // Keep the sender alive until the call has seen it.
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
    }
    let out = adv.advise_with_progress(&snap, &Guardrails::default(), now(), &[], rx, &record).await;
    let seen = seen.lock().unwrap().clone();
    (out, seen)
}

#[tokio::test]
async fn a_streamed_answer_split_mid_line_is_assembled_and_progress_rises() {
    let (body, pieces) = sse_events(ANSWER, 6);
    // 37-byte writes 15 ms apart: cuts land inside `data:`, inside JSON strings, anywhere.
    let server = fake_stream(in_writes(SSE_HEAD, &body, 37, Duration::from_millis(15))).await;
    let (out, progress) = ask_recording(&streaming_advisor(&server.url, 2_000, 20_000), None).await;

    assert_eq!(out.exchange.error, None);
    assert!(out.exchange.streamed);
    assert_eq!(out.exchange.content.as_deref(), Some(ANSWER));
    assert_eq!(out.exchange.response.as_deref(), Some(body.as_str()), "the raw stream is kept for audit");
    let snap = small_twin_with(|_| {});
    let proposals = assess_all(&snap, out.candidates);
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].status, Status::Valid, "{:?}", proposals[0].rejection);
    assert_eq!(proposals[0].action, Some(Change::Scale { workload: "shop/api".into(), replicas: 4 }));

    // The request asked for a stream and kept the schema-constrained output.
    let sent: serde_json::Value = serde_json::from_str(&server.bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["response_format"]["type"], "json_schema");

    // Progress: counts never go down, several reports while streaming, the last one is done
    // with every piece counted; throttled (far fewer reports than writes).
    let last = progress.last().expect("progress reported");
    assert!(last.done && last.streaming);
    assert_eq!(last.tokens, pieces as u64);
    assert_eq!(last.bytes, body.len() as u64);
    for w in progress.windows(2) {
        assert!(w[1].tokens >= w[0].tokens && w[1].bytes >= w[0].bytes && w[1].elapsed >= w[0].elapsed);
    }
    let mid: Vec<u64> = progress.iter().filter(|p| !p.done && p.tokens > 0).map(|p| p.tokens).collect();
    assert!(mid.len() >= 2 && mid.first() < mid.last(), "progress while streaming: {mid:?}");
    let writes = body.len().div_ceil(37);
    assert!(progress.len() < writes / 2, "{} reports for {writes} writes: not throttled", progress.len());
}

#[tokio::test]
async fn a_server_that_ignores_stream_answers_plain_json() {
    let payload = serde_json::json!({"choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": ANSWER}}]})
    .to_string();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        payload.len()
    );
    // The JSON body in two writes, the cut mid-string.
    let server =
        fake_stream(in_writes(&head, &payload, payload.len() / 2 + 1, Duration::from_millis(20))).await;
    let (out, progress) = ask_recording(&streaming_advisor(&server.url, 2_000, 20_000), None).await;
    assert_eq!(out.exchange.error, None);
    assert!(!out.exchange.streamed);
    assert_eq!(out.exchange.content, None);
    assert_eq!(out.candidates.len(), 1);
    assert_eq!(out.candidates[0].problem, None);
    assert_eq!(out.candidates[0].action, Some(Change::Scale { workload: "shop/api".into(), replicas: 4 }));
    let last = progress.last().unwrap();
    assert!(last.done && !last.streaming);
    assert_eq!(last.bytes, payload.len() as u64);
}

#[tokio::test]
async fn a_stream_that_stalls_times_out_without_waiting_for_the_overall_limit() {
    let (body, _) = sse_events(ANSWER, 6);
    let mut writes = in_writes(SSE_HEAD, &body[..400], 50, Duration::ZERO);
    writes.push((Duration::ZERO, None));
    let server = fake_stream(writes).await;
    let started = Instant::now();
    let (out, progress) = ask_recording(&streaming_advisor(&server.url, 300, 30_000), None).await;
    let err = out.exchange.error.clone().unwrap();
    assert!(err.contains("timed out") && err.contains("without a byte"), "{err}");
    assert!(err.contains(&server.url), "names the endpoint: {err}");
    assert_eq!(out.exchange.attempts, 1, "part of the answer came: no retry");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(progress.iter().any(|p| p.tokens > 0));
    let why = out.candidates[0].problem.clone().unwrap();
    assert!(why.contains("timed out"), "{why}");

    // Trickling forever: the overall limit ends it.
    let (body, _) = sse_events(&ANSWER.repeat(50), 4);
    let server = fake_stream(in_writes(SSE_HEAD, &body, 40, Duration::from_millis(20))).await;
    let started = Instant::now();
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 300, 600), None).await;
    let err = out.exchange.error.clone().unwrap();
    assert!(err.contains("the limit for the whole answer"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // No header at all: the first-byte limit, then one retry.
    let server = fake_stream(vec![(Duration::ZERO, None)]).await;
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 200, 30_000), None).await;
    let err = out.exchange.error.clone().unwrap();
    assert!(err.contains("waiting for the first byte"), "{err}");
    assert_eq!(out.exchange.attempts, 2);
}

#[tokio::test]
async fn garbage_or_a_cut_stream_is_a_clear_error_naming_the_endpoint() {
    let (good, _) = sse_events(ANSWER, 6);
    let first_event = good.find("\n\n").unwrap() + 2;
    let garbage = format!("{}<html><body>502 Bad Gateway</body></html>\n", &good[..first_event]);
    let server = fake_stream(in_writes(SSE_HEAD, &garbage, 64, Duration::ZERO)).await;
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 2_000, 20_000), None).await;
    let snap = small_twin_with(|_| {});
    let p = assess_all(&snap, out.candidates);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].status, Status::Rejected);
    let why = p[0].rejection.clone().unwrap();
    assert!(why.contains(&server.url) && why.contains("not a server-sent event"), "{why}");
    assert!(why.contains("502 Bad Gateway"), "shows what came: {why}");

    let bad_json = format!("{SSE_HEAD}data: {{\"choices\": [{{\"delta\": \n\n");
    let server = fake_stream(vec![(Duration::ZERO, Some(bad_json.into_bytes()))]).await;
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 2_000, 20_000), None).await;
    let why = out.candidates[0].problem.clone().unwrap();
    assert!(why.contains(&server.url) && why.contains("not JSON"), "{why}");

    // The connection closes half way: not silently taken as the answer.
    let server = fake_stream(in_writes(SSE_HEAD, &good[..good.len() / 2], 64, Duration::ZERO)).await;
    let (out, _) = ask_recording(&streaming_advisor(&server.url, 2_000, 20_000), None).await;
    let why = out.candidates[0].problem.clone().unwrap();
    assert!(why.contains(&server.url) && why.contains("before [DONE]"), "{why}");
    assert_eq!(out.exchange.attempts, 1);
}

#[tokio::test]
async fn cancel_stops_reading_the_stream_promptly() {
    let (body, _) = sse_events(&ANSWER.repeat(100), 4);
    let server = fake_stream(in_writes(SSE_HEAD, &body, 40, Duration::from_millis(20))).await;
    let started = Instant::now();
    let (out, progress) =
        ask_recording(&streaming_advisor(&server.url, 5_000, 60_000), Some(Duration::from_millis(400))).await;
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(out.exchange.error.as_deref(), Some("cancelled"));
    assert_eq!(out.exchange.attempts, 1);
    assert!(out.candidates[0].problem.as_deref().unwrap().contains("cancelled"));
    let last = progress.last().unwrap();
    assert!(last.done && last.tokens > 0, "{last:?}");
}
