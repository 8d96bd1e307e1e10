//! The HTTP side of the LLM advisor: one Chat Completions call with a timeout, one retry on a
//! transient failure, and cancellation. The API key goes only into the Authorization header;
//! it is never part of the recorded exchange.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Clone)]
pub struct ClientConfig {
    /// Base URL ending in `/v1` (…/chat/completions is appended).
    pub url: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What was sent and what came back, as saved for audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub url: String,
    pub request: Value,
    pub attempts: u32,
    pub status: Option<u16>,
    pub response: Option<String>,
    /// Transport failure, timeout or cancellation.
    pub error: Option<String>,
}

pub fn endpoint(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
}

fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // Repeated installs fail harmlessly: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().map_err(|e| format!("building the HTTP client: {e}"))
}

/// Sends `request`; retries once after a timeout, a connection failure, 429 or 5xx. Returns
/// early with an error when `cancel` turns true.
pub async fn chat(cfg: &ClientConfig, request: &Value, mut cancel: watch::Receiver<bool>) -> Exchange {
    let url = endpoint(&cfg.url);
    let mut ex = Exchange {
        url: url.clone(),
        request: request.clone(),
        attempts: 0,
        status: None,
        response: None,
        error: None,
    };
    let http = match client(cfg.timeout) {
        Ok(c) => c,
        Err(e) => {
            ex.error = Some(e);
            return ex;
        }
    };
    for attempt in 1..=2 {
        ex.attempts = attempt;
        let mut req = http.post(&url).json(request);
        if let Some(k) = &cfg.api_key {
            req = req.bearer_auth(k);
        }
        let call = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let body = resp.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        };
        let result = tokio::select! {
            r = call => r,
            _ = wait_cancel(&mut cancel) => {
                ex.error = Some("cancelled".into());
                return ex;
            }
        };
        match result {
            Ok((status, body)) => {
                ex.status = Some(status);
                ex.response = Some(body);
                ex.error = None;
                let transient = status == 429 || status >= 500;
                if !transient || attempt == 2 {
                    return ex;
                }
            }
            Err(e) => {
                let what =
                    if e.is_timeout() { format!("timed out after {:?}", cfg.timeout) } else { e.to_string() };
                ex.error = Some(format!("POST {url}: {what}"));
                if !(e.is_timeout() || e.is_connect() || e.is_request()) {
                    return ex;
                }
            }
        }
    }
    ex
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
