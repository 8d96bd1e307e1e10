//! The LLM advisor over any OpenAI-compatible Chat Completions endpoint (Ollama, vLLM,
//! llama.cpp's server, OpenAI): build a constrained ask from the twin — the candidates the twin
//! already evaluated to choose from, a schema of the targets that exist — call (streaming, with
//! progress), save the raw exchange for audit, and read the answer into at most `max_actions`
//! candidates, keeping the complete actions of an answer that stopped early and saying why it
//! stopped. Failures become rejected candidates so the operator sees them.

pub(crate) mod audit;
pub mod client;
pub(crate) mod config;
pub mod parse;
pub(crate) mod prompt;
pub(crate) mod replay;
pub(crate) mod schema;
pub mod sse;

use crate::advise::proposal::{Candidate, Proposal};
use crate::advise::validate::Guardrails;
use crate::change::Change;
use crate::twin::Snapshot;
use chrono::{DateTime, Utc};
use client::{ClientConfig, Exchange, Progress};
use prompt::{Ask, PromptOptions};
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub(crate) struct LlmAdvisor {
    pub client: ClientConfig,
    pub prompt: PromptOptions,
    /// Where raw exchanges are saved (None: not saved, e.g. in tests of the prompt only).
    pub exchanges: Option<PathBuf>,
}

/// The candidates and what happened on the wire.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub candidates: Vec<Candidate>,
    pub exchange: Exchange,
    pub exchange_sha256: Option<String>,
    pub exchange_file: Option<PathBuf>,
    /// Why the answer ended before it was complete (token limit, timeout, size cap), if it did.
    pub stopped: Option<String>,
    /// Complete actions read from the answer (at most the cap).
    pub actions: usize,
    /// The candidates the model was offered.
    pub offers: Vec<prompt::Offer>,
}

/// The model asked for when no `--llm-model` is given (llama.cpp's server and vLLM accept any).
pub(crate) const DEFAULT_MODEL: &str = "local";

/// Where the API key is read from by default (`--llm-key-env` names another).
pub(crate) const DEFAULT_KEY_ENV: &str = "OPENAI_API_KEY";
/// Seconds for the whole answer (`--llm-timeout`).
pub(crate) const DEFAULT_TIMEOUT_S: u64 = 120;
/// Seconds for the first byte and between two chunks (`--llm-first-byte-timeout`).
pub(crate) const DEFAULT_FIRST_BYTE_TIMEOUT_S: u64 = 60;
/// Sampling temperature (`--llm-temperature`).
pub(crate) const DEFAULT_TEMPERATURE: f64 = 0.2;
/// Actions per answer (`[llm] max_actions`).
pub(crate) const DEFAULT_MAX_ACTIONS: usize = 3;
/// Bytes of the model's content read at most (`[llm] max_answer_bytes`).
pub(crate) const DEFAULT_MAX_ANSWER_BYTES: usize = 16 * 1024;

impl LlmAdvisor {
    /// The advisor with every other setting at its default (the key from `OPENAI_API_KEY`, the
    /// default time limits, caps and prompt); `SourceArgs::llm_advisor` applies the `--llm-*`
    /// flags and `[llm]` of the config.
    pub(crate) fn new(url: &str, model: Option<&str>, exchanges: Option<PathBuf>) -> LlmAdvisor {
        LlmAdvisor {
            client: ClientConfig {
                url: url.to_string(),
                api_key: std::env::var(DEFAULT_KEY_ENV).ok().filter(|k| !k.is_empty()),
                timeout: std::time::Duration::from_secs(DEFAULT_TIMEOUT_S),
                first_byte_timeout: std::time::Duration::from_secs(DEFAULT_FIRST_BYTE_TIMEOUT_S),
                max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES,
            },
            prompt: PromptOptions {
                model: model.unwrap_or(DEFAULT_MODEL).to_string(),
                ..PromptOptions::default()
            },
            exchanges,
        }
    }

    pub(crate) fn source(&self) -> String {
        format!("llm:{}", self.prompt.model)
    }

    /// Applies `[llm]` of the config.
    pub(crate) fn with_config(mut self, c: &config::LlmConfig) -> LlmAdvisor {
        self.prompt.max_actions = c.max_actions;
        self.client.max_answer_bytes = c.max_answer_bytes;
        self
    }

    /// The ask `advise` would send on `snap`, offering the valid ones of `offered`.
    pub(crate) fn ask(&self, snap: &Snapshot, g: &Guardrails, offered: &[Proposal]) -> Ask {
        prompt::ask(snap, g, &self.prompt, prompt::offers(offered))
    }

    pub(crate) async fn advise(
        &self,
        snap: &Snapshot,
        g: &Guardrails,
        now: DateTime<Utc>,
        offered: &[Proposal],
        cancel: watch::Receiver<bool>,
    ) -> Outcome {
        self.advise_with_progress(snap, g, now, offered, cancel, &|_| {}).await
    }

    /// `advise`, reporting how the call goes (bytes and tokens received, elapsed) to `progress`
    /// as the answer streams in. `offered` are proposals the twin already evaluated (the
    /// built-in advisors'); the valid ones are offered to the model to choose from.
    pub(crate) async fn advise_with_progress(
        &self,
        snap: &Snapshot,
        g: &Guardrails,
        now: DateTime<Utc>,
        offered: &[Proposal],
        cancel: watch::Receiver<bool>,
        progress: &(dyn Fn(&Progress) + Send + Sync),
    ) -> Outcome {
        let ask = self.ask(snap, g, offered);
        let source = self.source();
        if ask.targets.is_empty() {
            let why = format!(
                "not asked: the twin shows nothing to act on ({} servers, {} workloads)",
                snap.servers.len(),
                snap.workloads.len()
            );
            let exchange = Exchange {
                url: client::endpoint(&self.client.url),
                request: serde_json::Value::Null,
                attempts: 0,
                status: None,
                response: None,
                error: Some(why.clone()),
                streamed: false,
                content: None,
                finish_reason: None,
            };
            let candidates = vec![failure(&source, why)];
            return Outcome {
                candidates,
                exchange,
                exchange_sha256: None,
                exchange_file: None,
                stopped: None,
                actions: 0,
                offers: ask.offers,
            };
        }
        let exchange = client::chat_with_progress(&self.client, &ask.body, cancel, progress).await;
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
        let mut out = read_exchange(&exchange, &ask, &source, now, self.client.max_answer_bytes);
        locate_evictions(snap, &mut out.candidates);
        for c in &mut out.candidates {
            c.exchange = sha.clone();
        }
        Outcome {
            candidates: out.candidates,
            exchange,
            exchange_sha256: sha,
            exchange_file: file,
            stopped: out.stopped,
            actions: out.actions,
            offers: ask.offers,
        }
    }
}

/// An eviction runs from the pod's server as the twin knows it; a pod the twin does not have
/// keeps no server, and validation says so.
pub(crate) fn locate_evictions(snap: &Snapshot, candidates: &mut [Candidate]) {
    for c in candidates {
        if let Some(Change::Evict { pod, server, .. }) = c.action.as_mut()
            && let Some(p) = snap.pod_index(pod)
            && let Some(s) = snap.pods[p].server
        {
            *server = snap.servers[s].name.clone();
        }
    }
}

/// What an exchange yields: its candidates, why it stopped early, how many actions were read.
pub(crate) struct Read {
    pub candidates: Vec<Candidate>,
    pub stopped: Option<String>,
    pub actions: usize,
}

/// Reads an exchange against the ask it answered: the answer's actions (the complete ones of an
/// answer that stopped early), and one rejected candidate saying why it stopped or why there
/// is nothing to use.
pub(crate) fn read_exchange(
    ex: &Exchange,
    ask: &Ask,
    source: &str,
    now: DateTime<Utc>,
    max_bytes: usize,
) -> Read {
    let (content, finish) = match answer(ex) {
        Ok(x) => x,
        Err(why) => return Read { candidates: vec![failure(source, why)], stopped: None, actions: 0 },
    };
    let mut content = content;
    let oversize = content.len() > max_bytes;
    client::truncate_at_char(&mut content, max_bytes);
    let stopped = match (&ex.error, finish.as_deref()) {
        (Some(e), _) => Some(e.clone()),
        (None, Some("length")) => Some(format!(
            "the model stopped at its token limit (finish_reason \"length\", max_tokens {})",
            ask.max_tokens
        )),
        _ if oversize => {
            Some(format!("the answer passed the limit of {max_bytes} bytes ([llm] max_answer_bytes)"))
        }
        _ => None,
    };
    let reading = parse::Reading { source, now, offers: &ask.offers, max_actions: ask.max_actions };
    match parse::read_answer(&content, &reading) {
        Ok(parsed) => {
            let actions = parsed.candidates.len();
            let mut candidates = parsed.candidates;
            if parsed.cut || stopped.is_some() {
                let why = stopped.clone().unwrap_or_else(|| "the answer ends inside an action".into());
                let kept = if parsed.cut {
                    format!("{actions} complete action(s) kept, the one being written dropped")
                } else {
                    format!("{actions} action(s) kept")
                };
                candidates.push(note(source, format!("the answer stopped early: {why}; {kept}")));
            }
            if parsed.beyond_cap {
                candidates.push(note(
                    source,
                    format!(
                        "the answer holds more than {} actions; only the first {} were read ([llm] max_actions)",
                        ask.max_actions, ask.max_actions
                    ),
                ));
            }
            if !ask.offers.is_empty() {
                // The model saw the twin's candidates: proposing one of them is no independent
                // agreement, whether it says `choose` or writes the change out.
                candidates.iter_mut().for_each(|c| c.informed = true);
            }
            let stopped =
                stopped.or_else(|| parsed.cut.then(|| "the answer ends inside an action".to_string()));
            Read { candidates, stopped, actions }
        }
        Err(e) => {
            let why = match &stopped {
                Some(s) => format!("{}; the answer stopped early: {s}", e.0),
                None => e.0,
            };
            Read { candidates: vec![failure(source, why)], stopped, actions: 0 }
        }
    }
}

/// The model's message content and finish reason, or why there is none. An answer cut by a
/// timeout or the size cap still has content: what arrived.
fn answer(ex: &Exchange) -> Result<(String, Option<String>), String> {
    let body = ex.response.as_deref().unwrap_or_default();
    if let Some(s) = ex.status.filter(|s| !(200..300).contains(s)) {
        let snippet: String = body.chars().take(160).collect();
        return Err(format!("the LLM at {} answered HTTP {s}: {}", ex.url, crate::text::escape(&snippet)));
    }
    match (&ex.content, &ex.error) {
        (Some(streamed), _) if !streamed.trim().is_empty() => {
            Ok((streamed.clone(), ex.finish_reason.clone()))
        }
        (_, Some(e)) => Err(format!("no answer from the LLM: {e}")),
        (Some(streamed), None) => Ok((streamed.clone(), ex.finish_reason.clone())),
        (None, None) => parse::message_content(body).map_err(|e| e.0),
    }
}

/// A candidate standing for an answer that yielded no usable action.
fn failure(source: &str, why: String) -> Candidate {
    Candidate { reason: "the model's answer could not be used".into(), ..note(source, why) }
}

/// A candidate saying what was wrong with an answer as a whole (it stopped early, it held too
/// many actions), beside the actions read from it.
fn note(source: &str, why: String) -> Candidate {
    Candidate {
        source: source.to_string(),
        target: "-".into(),
        action: None,
        when: None,
        reason: "about the model's answer as a whole".into(),
        problem: Some(why),
        stated_confidence: None,
        forecast_uncertainty: None,
        forecast_load: None,
        exchange: None,
        motive: None,
        informed: false,
    }
}

#[cfg(test)]
mod answer_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
pub(crate) mod tests;
