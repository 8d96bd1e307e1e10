//! A client for the Prometheus HTTP API as VictoriaMetrics serves it: instant and range
//! queries, optional bearer/basic auth, cluster tenant paths; every failure names the URL and
//! the query, and a response is read only up to a cap.

use super::config::VmConfig;
use reqwest::Url;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest response body read; beyond it the query fails (and says so) instead of eating memory.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

pub(crate) type Labels = BTreeMap<String, String>;

/// One sample of an instant vector. `value` may be NaN or ±Inf as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub time: f64,
    pub value: f64,
}

/// One series of a range matrix: `(unix seconds, value)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// Could not connect, or the request timed out: the server is down or too slow.
    #[error("{url}: {query}: {message}")]
    Unreachable { url: String, query: String, message: String },
    /// The server answered, but not with a usable result.
    #[error("{url}: {query}: {message}")]
    BadResponse { url: String, query: String, message: String },
    #[error("VictoriaMetrics configuration: {0}")]
    Config(String),
}

impl VmError {
    pub(crate) fn is_unreachable(&self) -> bool {
        matches!(self, VmError::Unreachable { .. })
    }
}

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

/// The client. Secrets are read from the environment variables the config names and never
/// printed (this type has no Debug).
pub struct VmClient {
    http: reqwest::Client,
    /// Ends with `/`; `api/v1/...` is joined onto it.
    base: Url,
    auth: Auth,
    max_bytes: usize,
}

impl VmClient {
    pub fn new(cfg: &VmConfig) -> Result<VmClient, VmError> {
        crate::source::init_tls();
        let mut base = Url::parse(cfg.url.trim())
            .map_err(|e| VmError::Config(format!("url {:?}: {e}", redact(&cfg.url))))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(VmError::Config(format!("url {:?}: scheme must be http or https", redact(&cfg.url))));
        }
        let mut path = base.path().trim_end_matches('/').to_string();
        if let Some(t) = cfg.tenant.as_deref().filter(|t| !t.is_empty()) {
            if !t.bytes().all(|b| b.is_ascii_digit() || b == b':') {
                return Err(VmError::Config(format!(
                    "tenant {t:?}: expected accountID or accountID:projectID"
                )));
            }
            path.push_str(&format!("/select/{t}/prometheus"));
        }
        base.set_path(&format!("{path}/"));
        let env = |name: &str| {
            std::env::var(name).map_err(|_| {
                VmError::Config(format!("environment variable {name} (named in the config) is not set"))
            })
        };
        // Credentials in the URL become basic auth and leave the URL, which errors print.
        let url_user = (!base.username().is_empty())
            .then(|| (base.username().to_string(), base.password().unwrap_or("").to_string()));
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let auth = match (&cfg.bearer_token_env, &cfg.basic_user_env, url_user) {
            (Some(t), _, _) => Auth::Bearer(env(t)?),
            (None, Some(u), _) => {
                let p = cfg.basic_password_env.as_deref().map(env).transpose()?.unwrap_or_default();
                Auth::Basic(env(u)?, p)
            }
            (None, None, Some((u, p))) => Auth::Basic(u, p),
            (None, None, None) => Auth::None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(cfg.timeout_s.max(0.1)))
            .connect_timeout(Duration::from_secs_f64(cfg.timeout_s.clamp(0.1, 5.0)))
            .build()
            .map_err(|e| VmError::Config(format!("HTTP client: {e}")))?;
        Ok(VmClient { http, base, auth, max_bytes: DEFAULT_MAX_RESPONSE_BYTES })
    }

    /// Lowers the response cap (tests use it to exercise the limit).
    pub fn with_max_response_bytes(mut self, n: usize) -> VmClient {
        self.max_bytes = n;
        self
    }

    /// The API base this client queries (no credentials in it).
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Instant query at `time` (unix seconds; `None` = the server's now).
    pub async fn query(&self, query: &str, time: Option<f64>) -> Result<Vec<Sample>, VmError> {
        let mut form = vec![("query", query.to_string())];
        if let Some(t) = time {
            form.push(("time", format!("{t:.3}")));
        }
        match self.call("api/v1/query", query, &form).await? {
            Data::Vector(v) => Ok(v
                .into_iter()
                .map(|s| Sample { labels: s.metric, time: s.value.0, value: s.value.1.0 })
                .collect()),
            Data::Scalar((t, v)) => Ok(vec![Sample { labels: Labels::new(), time: t, value: v.0 }]),
            other => Err(self.bad(query, format!("expected a vector, got a {}", other.kind()))),
        }
    }

    /// Range query over `[start, end]` (unix seconds) at `step` seconds.
    pub(crate) async fn query_range(
        &self,
        query: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<Vec<Series>, VmError> {
        let form = vec![
            ("query", query.to_string()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{}s", step.max(1.0).round())),
        ];
        match self.call("api/v1/query_range", query, &form).await? {
            Data::Matrix(m) => Ok(m
                .into_iter()
                .map(|s| Series {
                    labels: s.metric,
                    points: s.values.into_iter().map(|(t, v)| (t, v.0)).collect(),
                })
                .collect()),
            other => Err(self.bad(query, format!("expected a matrix, got a {}", other.kind()))),
        }
    }

    fn bad(&self, query: &str, message: String) -> VmError {
        VmError::BadResponse { url: self.base.to_string(), query: query.to_string(), message }
    }

    async fn call(&self, path: &str, query: &str, form: &[(&str, String)]) -> Result<Data, VmError> {
        let url = self.base.join(path).map_err(|e| VmError::Config(e.to_string()))?;
        let mut body = Url::parse("http://form/").expect("static URL");
        body.query_pairs_mut().extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())));
        let mut req = self
            .http
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body.query().unwrap_or("").to_string());
        req = match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        };
        let unreachable = |e: reqwest::Error| VmError::Unreachable {
            url: url.to_string(),
            query: query.to_string(),
            message: if e.is_timeout() {
                "timed out".into()
            } else {
                format!("unreachable: {}", error_chain(&e))
            },
        };
        let mut resp = req.send().await.map_err(unreachable)?;
        let status = resp.status();
        let ctype =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        if let Some(n) = resp.content_length().filter(|&n| n > self.max_bytes as u64) {
            return Err(self
                .bad(query, format!("response of {n} bytes exceeds the {} MiB cap", self.max_bytes >> 20)));
        }
        let mut bytes = Vec::new();
        let cut = |e: reqwest::Error| self.bad(query, format!("response cut short: {}", error_chain(&e)));
        while let Some(chunk) = resp.chunk().await.map_err(cut)? {
            if bytes.len() + chunk.len() > self.max_bytes {
                return Err(self.bad(
                    query,
                    format!("response exceeds the {} cap; read stopped", human_bytes(self.max_bytes)),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !ctype.starts_with("application/json") {
            return Err(self.bad(
                query,
                format!(
                    "HTTP {status}: expected application/json, got {:?}: {}",
                    ctype,
                    crate::text::escape(&snippet(&bytes))
                ),
            ));
        }
        let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| {
            self.bad(
                query,
                format!("HTTP {status}: malformed JSON ({e}): {}", crate::text::escape(&snippet(&bytes))),
            )
        })?;
        if env.status != "success" {
            return Err(self.bad(
                query,
                format!(
                    "HTTP {status}: {} error: {}",
                    env.error_type.as_deref().unwrap_or("unknown"),
                    env.error.as_deref().unwrap_or("(no message)")
                ),
            ));
        }
        env.data.ok_or_else(|| self.bad(query, "status success without data".into()))
    }
}

/// A URL as it may be printed: without `user:password@`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(i), Some(j)) if j > i => format!("{}{}", &url[..i + 3], &url[j + 1..]),
        _ => url.to_string(),
    }
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
    if bytes.len() > 200 { format!("{s}…") } else { s }
}

fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 { format!("{} MiB", n >> 20) } else { format!("{n} bytes") }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A sample value: Prometheus sends numbers as strings ("1.5", "NaN", "+Inf").
#[derive(Debug, Clone, Copy)]
struct Value(f64);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(f64),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Value(n)),
            Raw::S(s) => parse_value(&s)
                .map(Value)
                .ok_or_else(|| serde::de::Error::custom(format!("bad sample value {s:?}"))),
        }
    }
}

/// Parses a Prometheus sample value, including `NaN`, `+Inf`, `-Inf`.
pub fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<RawSample>),
    Matrix(Vec<RawSeries>),
    Scalar((f64, Value)),
    String(serde::de::IgnoredAny),
}

impl Data {
    fn kind(&self) -> &'static str {
        match self {
            Data::Vector(_) => "vector",
            Data::Matrix(_) => "matrix",
            Data::Scalar(_) => "scalar",
            Data::String(_) => "string",
        }
    }
}

#[derive(Deserialize)]
struct RawSample {
    #[serde(default)]
    metric: Labels,
    value: (f64, Value),
}

#[derive(Deserialize)]
struct RawSeries {
    #[serde(default)]
    metric: Labels,
    values: Vec<(f64, Value)>,
}

/// Parses a bare instant-query `result` array (as some tools save it) into samples.
pub fn parse_vector_result(json: &str) -> Result<Vec<Sample>, serde_json::Error> {
    let raw: Vec<RawSample> = serde_json::from_str(json)?;
    Ok(raw.into_iter().map(|s| Sample { labels: s.metric, time: s.value.0, value: s.value.1.0 }).collect())
}

/// Parses a full `query_range` response body into series (errors for error envelopes).
pub fn parse_range_response(json: &str) -> Result<Vec<Series>, String> {
    let env: Envelope = serde_json::from_str(json).map_err(|e| e.to_string())?;
    match env.data {
        Some(Data::Matrix(m)) if env.status == "success" => Ok(m
            .into_iter()
            .map(|s| Series {
                labels: s.metric,
                points: s.values.into_iter().map(|(t, v)| (t, v.0)).collect(),
            })
            .collect()),
        _ => Err(format!("status {}: {}", env.status, env.error.unwrap_or_default())),
    }
}
