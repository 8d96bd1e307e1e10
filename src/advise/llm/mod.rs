//! The LLM advisor over any OpenAI-compatible Chat Completions endpoint (Ollama, vLLM,
//! llama.cpp's server, OpenAI): build the prompt from the twin, call (streaming, with progress),
//! save the raw exchange for audit, and parse the answer into candidates. Failures become
//! rejected candidates so the operator sees them.

pub mod audit;
pub mod client;
pub mod parse;
pub mod prompt;
pub mod schema;
pub mod sse;

use crate::advise::proposal::Candidate;
use crate::advise::validate::Guardrails;
use crate::change::Change;
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};
use client::{ClientConfig, Exchange, Progress};
use prompt::PromptOptions;
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct LlmAdvisor {
    pub client: ClientConfig,
    pub prompt: PromptOptions,
    /// Where raw exchanges are saved (None: not saved, e.g. in tests of the prompt only).
    pub exchanges: Option<PathBuf>,
}

/// The candidates and what happened on the wire.
#[derive(Debug)]
pub struct Outcome {
    pub candidates: Vec<Candidate>,
    pub exchange: Exchange,
    pub exchange_sha256: Option<String>,
    pub exchange_file: Option<PathBuf>,
}

/// The model asked for when no `--llm-model` is given (llama.cpp's server and vLLM accept any).
pub const DEFAULT_MODEL: &str = "local";

/// Where the API key is read from by default (`--llm-key-env` names another).
pub const DEFAULT_KEY_ENV: &str = "OPENAI_API_KEY";
/// Seconds for the whole answer (`--llm-timeout`).
pub const DEFAULT_TIMEOUT_S: u64 = 120;
/// Seconds for the first byte and between two chunks (`--llm-first-byte-timeout`).
pub const DEFAULT_FIRST_BYTE_TIMEOUT_S: u64 = 60;
/// Sampling temperature (`--llm-temperature`).
pub const DEFAULT_TEMPERATURE: f64 = 0.2;

impl LlmAdvisor {
    /// The advisor with every other setting at its default (the key from `OPENAI_API_KEY`, the
    /// default time limits and prompt); `SourceArgs::llm_advisor` applies the `--llm-*` flags.
    pub fn new(url: &str, model: Option<&str>, exchanges: Option<PathBuf>) -> LlmAdvisor {
        LlmAdvisor {
            client: ClientConfig {
                url: url.to_string(),
                api_key: std::env::var(DEFAULT_KEY_ENV).ok().filter(|k| !k.is_empty()),
                timeout: std::time::Duration::from_secs(DEFAULT_TIMEOUT_S),
                first_byte_timeout: std::time::Duration::from_secs(DEFAULT_FIRST_BYTE_TIMEOUT_S),
            },
            prompt: PromptOptions {
                model: model.unwrap_or(DEFAULT_MODEL).to_string(),
                ..PromptOptions::default()
            },
            exchanges,
        }
    }

    pub fn source(&self) -> String {
        format!("llm:{}", self.prompt.model)
    }

    pub async fn advise(
        &self,
        snap: &Snapshot,
        g: &Guardrails,
        now: DateTime<Utc>,
        cancel: watch::Receiver<bool>,
    ) -> Outcome {
        self.advise_with_progress(snap, g, now, cancel, &|_| {}).await
    }

    /// `advise`, reporting how the call goes (bytes and tokens received, elapsed) to `progress`
    /// as the answer streams in.
    pub async fn advise_with_progress(
        &self,
        snap: &Snapshot,
        g: &Guardrails,
        now: DateTime<Utc>,
        cancel: watch::Receiver<bool>,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Outcome {
        let body = prompt::request_body(snap, g, &self.prompt);
        let exchange = client::chat_with_progress(&self.client, &body, cancel, progress).await;
        let (sha, file) = match &self.exchanges {
            Some(dir) => match audit::save(dir, &exchange, now) {
                Ok((s, f)) => (Some(s), Some(f)),
                Err(e) => {
                    tracing::warn!("could not save the LLM exchange: {e:#}");
                    (None, None)
                }
            },
            None => (None, None),
        };
        let source = self.source();
        let mut candidates = match answer(&exchange) {
            Ok(content) => match parse::candidates(&content, &source, now) {
                Ok(c) => c,
                Err(e) => vec![failure(&source, e.0)],
            },
            Err(why) => vec![failure(&source, why)],
        };
        for c in &mut candidates {
            c.exchange = sha.clone();
            // An eviction runs from the pod's server as the twin knows it; a pod the twin does
            // not have keeps no server, and validation says so.
            if let Some(Change::Evict { pod, server, .. }) = c.action.as_mut()
                && let Some(p) = snap.pod_index(pod)
                && let Some(s) = snap.pods[p].server
            {
                *server = snap.servers[s].name.clone();
            }
        }
        Outcome { candidates, exchange, exchange_sha256: sha, exchange_file: file }
    }
}

/// The model's message content, or why there is none.
fn answer(ex: &Exchange) -> Result<String, String> {
    if let Some(e) = &ex.error {
        return Err(format!("no answer from the LLM: {e}"));
    }
    let body = ex.response.as_deref().unwrap_or_default();
    match ex.status {
        Some(s) if !(200..300).contains(&s) => {
            let snippet: String = body.chars().take(160).collect();
            Err(format!("the LLM at {} answered HTTP {s}: {}", ex.url, crate::text::escape(&snippet)))
        }
        _ => match &ex.content {
            Some(streamed) => Ok(streamed.clone()),
            None => parse::message_content(body).map_err(|e| e.0),
        },
    }
}

/// A candidate standing for an answer that yielded no usable action.
fn failure(source: &str, why: String) -> Candidate {
    Candidate {
        source: source.to_string(),
        target: "-".into(),
        action: None,
        when: None,
        reason: "the model's answer could not be used".into(),
        problem: Some(why),
        stated_confidence: None,
        forecast_uncertainty: None,
        exchange: None,
    }
}

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
pub(crate) mod tests;
