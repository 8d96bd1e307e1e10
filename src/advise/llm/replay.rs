//! LLM answers recorded for `twintop eval advisor`: one per demo incident, with the sha256 of
//! the prompt it answered, so an evaluation can be rerun without the model (and in tests)
//! exactly as the model answered. A recorded answer is read against the ask built now; when
//! the prompt has changed since, the answer is still used and the mismatch is counted.

use super::client::Exchange;
use super::parse::message_content;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recording {
    /// The model as named to the server, and how it was served.
    pub model: String,
    #[serde(default)]
    pub served_by: String,
    /// When it was recorded (RFC 3339), and how busy the machine was.
    #[serde(default)]
    pub recorded: String,
    #[serde(default)]
    pub note: String,
    pub answers: Vec<RecordedAnswer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordedAnswer {
    /// The demo preset (`dc`, `mec`), seed and tick of the incident.
    pub preset: String,
    pub seed: u64,
    pub tick: u32,
    /// sha256 of the request's `messages` (JSON).
    pub prompt_sha256: String,
    pub status: Option<u16>,
    /// The model's content (streamed pieces joined, or `choices[0].message.content`).
    pub content: Option<String>,
    pub finish_reason: Option<String>,
    /// A transport failure, timeout or cut.
    pub error: Option<String>,
    /// Seconds from the request to the end of the answer.
    pub elapsed_s: f64,
    /// The candidates the model was offered, by id (`choose` names one).
    #[serde(default)]
    pub offers: Vec<RecordedOffer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordedOffer {
    pub id: String,
    pub action: crate::change::Change,
    /// The offering advisor's motive (a hot server's cordon is offered with `hot_server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motive: Option<crate::advise::Motive>,
}

/// sha256 of a request's `messages`, as recorded beside its answer.
pub(crate) fn prompt_sha256(request: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(request["messages"].to_string().as_bytes()))
}

impl RecordedAnswer {
    pub(crate) fn from_exchange(
        preset: &str,
        seed: u64,
        tick: u32,
        ex: &Exchange,
        elapsed_s: f64,
        offers: &[super::prompt::Offer],
    ) -> RecordedAnswer {
        let (content, finish) = match (&ex.content, &ex.response) {
            (Some(c), _) => (Some(c.clone()), ex.finish_reason.clone()),
            (None, Some(body)) if ex.error.is_none() => match message_content(body) {
                Ok((c, f)) => (Some(c), f),
                Err(_) => (None, None),
            },
            _ => (None, None),
        };
        RecordedAnswer {
            preset: preset.to_string(),
            seed,
            tick,
            prompt_sha256: prompt_sha256(&ex.request),
            status: ex.status,
            content,
            finish_reason: finish,
            error: ex.error.clone(),
            elapsed_s: (elapsed_s * 10.0).round() / 10.0,
            offers: offers
                .iter()
                .filter_map(|o| {
                    Some(RecordedOffer {
                        id: o.id.clone(),
                        action: o.proposal.action.clone()?,
                        motive: o.proposal.motive,
                    })
                })
                .collect(),
        }
    }

    /// The exchange as `read_exchange` reads it.
    pub(crate) fn to_exchange(&self, url: &str) -> Exchange {
        Exchange {
            url: url.to_string(),
            request: serde_json::Value::Null,
            attempts: 1,
            status: self.status,
            response: None,
            error: self.error.clone(),
            streamed: true,
            content: self.content.clone(),
            finish_reason: self.finish_reason.clone(),
        }
    }
}

impl Recording {
    pub(crate) fn find(&self, preset: &str, seed: u64, tick: u32) -> Option<&RecordedAnswer> {
        self.answers.iter().find(|a| a.preset == preset && a.seed == seed && a.tick == tick)
    }

    pub(crate) fn load(path: &Path) -> anyhow::Result<Recording> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a recording of LLM answers", path.display()))
    }

    pub(crate) fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}
