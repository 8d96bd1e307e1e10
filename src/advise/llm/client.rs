//! The HTTP side of the LLM advisor: one Chat Completions call, streamed (server-sent events)
//! when the server streams and read whole when it answers plain JSON (told apart by
//! Content-Type). Two time limits per attempt: `first_byte_timeout` for the connection and the
//! first byte, and as long at most between two chunks; `timeout` for the whole answer. One
//! retry when nothing of the answer arrived (timeout, connection failure, 429, 5xx).
//! Cancellation stops reading at once. Progress (bytes, content pieces, elapsed) goes to a
//! callback at most every `PROGRESS_EVERY` while chunks arrive, and every `TICK` while waiting.
//! The answer is read up to `max_answer_bytes` of content (and a proportionate raw body):
//! beyond that reading stops and the answer is cut there, its complete actions still usable.
//! The API key goes only into the Authorization header; it is never part of the recorded
//! exchange.

use super::sse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Progress reports while chunks arrive come at most this often (the console redraws on each).
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// While nothing arrives, a report this often keeps the elapsed time shown honest.
pub(crate) const TICK: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub(crate) struct ClientConfig {
    /// Base URL ending in `/v1` (…/chat/completions is appended).
    pub url: String,
    pub api_key: Option<String>,
    /// The whole answer, per attempt.
    pub timeout: Duration,
    /// The connection and the first byte, and the longest pause between two chunks.
    pub first_byte_timeout: Duration,
    /// Reading stops after this many bytes of the model's content (`[llm] max_answer_bytes`).
    pub max_answer_bytes: usize,
}

impl ClientConfig {
    /// The most raw body read: an event stream carries ~150 bytes of framing per content piece.
    pub(crate) fn max_body_bytes(&self) -> usize {
        self.max_answer_bytes.saturating_mul(64).max(1 << 20)
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .field("timeout", &self.timeout)
            .field("first_byte_timeout", &self.first_byte_timeout)
            .field("max_answer_bytes", &self.max_answer_bytes)
            .finish()
    }
}

/// What was sent and what came back, as saved for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Exchange {
    pub url: String,
    pub request: Value,
    pub attempts: u32,
    pub status: Option<u16>,
    /// The raw body: the event stream as received when streamed.
    pub response: Option<String>,
    /// Transport failure, timeout, cancellation or a malformed stream.
    pub error: Option<String>,
    /// The answer came as server-sent events.
    #[serde(default)]
    pub streamed: bool,
    /// The streamed pieces of `choices[0].delta.content` joined (streamed answers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Why the model stopped, as the server said (`stop`, `length` at `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
}

/// How a call is going, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub attempt: u32,
    /// Body bytes received in this attempt.
    pub bytes: u64,
    /// Content pieces received in this attempt: streaming servers send about one token each.
    pub tokens: u64,
    /// Since the call started (all attempts).
    pub elapsed: Duration,
    /// The answer is being streamed (an event-stream body has started).
    pub streaming: bool,
    /// The call is over (answered, failed or cancelled).
    pub done: bool,
}

impl Progress {
    /// `412 tokens · 9.8 kB · 3.1 s`, with the attempt when it is a retry.
    pub(crate) fn describe(&self) -> String {
        let retry = if self.attempt > 1 { format!("attempt {} · ", self.attempt) } else { String::new() };
        let got = if self.bytes == 0 {
            "waiting for the first byte".to_string()
        } else if self.streaming {
            format!("{} tokens · {:.1} kB", self.tokens, self.bytes as f64 / 1000.0)
        } else {
            format!("{:.1} kB, not streamed", self.bytes as f64 / 1000.0)
        };
        format!("{retry}{got} · {:.1} s", self.elapsed.as_secs_f64())
    }
}

pub(crate) fn endpoint(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
}

fn client(connect_timeout: Duration) -> Result<reqwest::Client, String> {
    // Repeated installs fail harmlessly: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

/// Sends `body` (a Chat Completions request, as JSON text), reporting progress to `progress`;
/// see the module comment for time limits and retries. Returns early with the error
/// `cancelled` when `cancel` turns true.
pub(crate) async fn chat_with_progress(
    cfg: &ClientConfig,
    body: &str,
    mut cancel: watch::Receiver<bool>,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Exchange {
    let url = endpoint(&cfg.url);
    let mut ex = Exchange {
        url: url.clone(),
        request: serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string())),
        attempts: 0,
        status: None,
        response: None,
        error: None,
        streamed: false,
        content: None,
        finish_reason: None,
    };
    let mut rep = Reporter::new(progress);
    let http = match client(cfg.first_byte_timeout) {
        Ok(c) => c,
        Err(e) => {
            ex.error = Some(e);
            return ex;
        }
    };
    for attempt in 1..=2 {
        ex.attempts = attempt;
        ex.status = None;
        ex.response = None;
        ex.content = None;
        ex.streamed = false;
        ex.error = None;
        ex.finish_reason = None;
        rep.state = Progress { attempt, ..Progress::default() };
        rep.emit();
        let mut req =
            http.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        if let Some(k) = &cfg.api_key {
            req = req.bearer_auth(k);
        }
        let next = attempt_once(cfg, req, &mut ex, &mut cancel, &mut rep).await;
        if next == Next::Stop || attempt == 2 {
            break;
        }
    }
    rep.state.done = true;
    rep.emit();
    ex
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Next {
    Stop,
    Retry,
}

/// One attempt; fills in `ex`. Retry only when nothing of the answer arrived.
async fn attempt_once(
    cfg: &ClientConfig,
    req: reqwest::RequestBuilder,
    ex: &mut Exchange,
    cancel: &mut watch::Receiver<bool>,
    rep: &mut Reporter<'_>,
) -> Next {
    let url = ex.url.clone();
    let start = Instant::now();
    let overall = start + cfg.timeout;
    let idle = |now: Instant| (now + cfg.first_byte_timeout).min(overall);
    let timed_out = |at: Instant, what: &str, p: &Progress| {
        if at >= overall {
            format!("POST {url}: timed out after {:?} (the limit for the whole answer) {what}", cfg.timeout)
        } else if p.bytes == 0 {
            format!("POST {url}: timed out after {:?} waiting for the first byte", cfg.first_byte_timeout)
        } else {
            format!("POST {url}: timed out after {:?} without a byte {what}", cfg.first_byte_timeout)
        }
    };
    let until = idle(start);
    let resp = match race(req.send(), until, cancel, rep).await {
        Err(Stop::Cancelled) => return cancelled(ex),
        Err(Stop::TimedOut) => {
            ex.error = Some(timed_out(until, "before the headers", &rep.state));
            return Next::Retry;
        }
        Ok(Err(e)) => {
            ex.error = Some(format!("POST {url}: {e}"));
            return if e.is_timeout() || e.is_connect() || e.is_request() { Next::Retry } else { Next::Stop };
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    ex.status = Some(status);
    let streamed = (200..300).contains(&status)
        && resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"));
    ex.streamed = streamed;
    rep.state.streaming = streamed;
    let mut resp = resp;
    let mut raw = Vec::new();
    let mut dec = sse::Decoder::default();
    let outcome: Result<(), (String, bool)> = loop {
        let until = idle(Instant::now());
        match race(resp.chunk(), until, cancel, rep).await {
            Err(Stop::Cancelled) => {
                ex.response = Some(String::from_utf8_lossy(&raw).into_owned());
                return cancelled(ex);
            }
            Err(Stop::TimedOut) => {
                let what = format!("after {} bytes, {} content pieces", rep.state.bytes, rep.state.tokens);
                break Err((timed_out(until, &what, &rep.state), raw.is_empty()));
            }
            Ok(Err(e)) => break Err((format!("POST {url}: reading the answer: {e}"), raw.is_empty())),
            Ok(Ok(None)) => {
                break if streamed {
                    dec.finish().map_err(|e| (format!("the stream from {url}: {e}"), false))
                } else {
                    Ok(())
                };
            }
            Ok(Ok(Some(bytes))) => {
                raw.extend_from_slice(&bytes);
                rep.state.bytes += bytes.len() as u64;
                if streamed {
                    if let Err(e) = dec.feed(&bytes) {
                        break Err((
                            format!("the stream from {url} is not a Chat Completions event stream: {e}"),
                            false,
                        ));
                    }
                    rep.state.tokens = dec.pieces;
                    if dec.done {
                        break Ok(());
                    }
                }
                let over = if streamed { dec.content.len() > cfg.max_answer_bytes } else { false };
                if over || raw.len() > cfg.max_body_bytes() {
                    break Err((
                        format!(
                            "the answer passed the limit of {} bytes ([llm] max_answer_bytes): reading stopped",
                            cfg.max_answer_bytes
                        ),
                        false,
                    ));
                }
                rep.chunk();
            }
        }
    };
    ex.response = Some(String::from_utf8_lossy(&raw).into_owned());
    if streamed {
        let mut content = dec.content;
        truncate_at_char(&mut content, cfg.max_answer_bytes);
        ex.content = Some(content);
        ex.finish_reason = dec.finish_reason;
    }
    match outcome {
        Ok(()) if status == 429 || status >= 500 => Next::Retry,
        Ok(()) => Next::Stop,
        Err((e, nothing_arrived)) => {
            ex.error = Some(e);
            if nothing_arrived { Next::Retry } else { Next::Stop }
        }
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

fn cancelled(ex: &mut Exchange) -> Next {
    ex.error = Some("cancelled".into());
    Next::Stop
}

/// Progress to the caller: throttled while chunks arrive, ticking while nothing does.
struct Reporter<'a> {
    f: &'a (dyn Fn(&Progress) + Send + Sync),
    started: Instant,
    last: Option<Instant>,
    state: Progress,
}

impl<'a> Reporter<'a> {
    fn new(f: &'a (dyn Fn(&Progress) + Send + Sync)) -> Reporter<'a> {
        Reporter { f, started: Instant::now(), last: None, state: Progress::default() }
    }

    fn emit(&mut self) {
        self.state.elapsed = self.started.elapsed();
        self.last = Some(Instant::now());
        (self.f)(&self.state);
    }

    /// A chunk arrived: report unless the last report was under `PROGRESS_EVERY` ago.
    fn chunk(&mut self) {
        if self.last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            self.emit();
        }
    }
}

enum Stop {
    Cancelled,
    TimedOut,
}

/// Waits for `fut` until `until`, unless `cancel` turns true first; reports a tick every `TICK`.
async fn race<F: Future>(
    fut: F,
    until: Instant,
    cancel: &mut watch::Receiver<bool>,
    rep: &mut Reporter<'_>,
) -> Result<F::Output, Stop> {
    tokio::pin!(fut);
    let mut ticks = tokio::time::interval_at(Instant::now() + TICK, TICK);
    loop {
        tokio::select! {
            biased;
            _ = wait_cancel(cancel) => return Err(Stop::Cancelled),
            out = &mut fut => return Ok(out),
            _ = tokio::time::sleep_until(until) => return Err(Stop::TimedOut),
            _ = ticks.tick() => rep.emit(),
        }
    }
}

async fn wait_cancel(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow() {
            return;
        }
        if rx.changed().await.is_err() {
            // The sender is gone: nobody can cancel any more.
            std::future::pending::<()>().await;
        }
    }
}
