//! The immutable picture of the deployment that every reader (UI, simulator, advisors,
//! headless commands) works from. Produced only by `TwinStore::snapshot`, shared by `Arc`.

use super::latency::LatencyModel;
use super::model::{Edge, Pod, Resources, Server, Workload};
use super::ring::{ServerHistory, WorkloadHistory};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Demo,
    Live,
    Manifests,
}

impl SourceKind {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Demo => "demo",
            SourceKind::Live => "live",
            SourceKind::Manifests => "manifests",
        }
    }
}

/// What the twin is a twin of: shown in the header so an operator always knows which
/// cluster they are looking at (and about to change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// Cluster or preset name.
    pub name: String,
    /// kubeconfig context (or "demo").
    pub context: String,
}

impl Default for SourceInfo {
    fn default() -> Self {
        SourceInfo { kind: SourceKind::Demo, name: "empty".into(), context: "none".into() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedState {
    /// Fresh data.
    Ok,
    /// Reachable but behind, or last poll failed and we are backing off.
    Stale,
    /// Not reachable.
    Down,
    /// Not configured.
    Off,
}

/// Health of one data feed (kube, vm, llm, demo...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    pub name: String,
    pub state: FeedState,
    pub detail: String,
    pub updated: Option<DateTime<Utc>>,
}

/// Live figures of one server.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ServerStatus {
    /// Measured usage, when a metrics feed provides it.
    pub usage: Option<Resources>,
    /// Sum of the requests of the pods that hold resources on this server.
    pub requested: Resources,
    pub pods: u32,
}

impl ServerStatus {
    /// Measured usage if known, else what is requested (the manifests-only view).
    pub fn effective_usage(&self) -> Resources {
        self.usage.unwrap_or(self.requested)
    }
}

/// Live figures of one workload.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct WorkloadStatus {
    /// Pods that are Running.
    pub ready: u32,
    /// Incoming requests per second.
    pub rps: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Measured usage of all its pods together.
    pub usage: Option<Resources>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Increases with every snapshot the store publishes.
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub source: SourceInfo,
    pub feeds: Vec<Feed>,
    /// Sorted by name.
    pub servers: Vec<Server>,
    pub server_status: Vec<ServerStatus>,
    #[serde(skip)]
    pub server_history: Vec<ServerHistory>,
    /// Sorted by key (`namespace/name`).
    pub workloads: Vec<Workload>,
    pub workload_status: Vec<WorkloadStatus>,
    #[serde(skip)]
    pub workload_history: Vec<WorkloadHistory>,
    pub pods: Vec<Pod>,
    pub edges: Vec<Edge>,
    pub latency: LatencyModel,
    /// Messages for the operator (e.g. "no kubeconfig found: showing the demo").
    pub notices: Vec<String>,
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        Snapshot {
            seq: 0,
            time: DateTime::<Utc>::UNIX_EPOCH,
            source: SourceInfo::default(),
            feeds: Vec::new(),
            servers: Vec::new(),
            server_status: Vec::new(),
            server_history: Vec::new(),
            workloads: Vec::new(),
            workload_status: Vec::new(),
            workload_history: Vec::new(),
            pods: Vec::new(),
            edges: Vec::new(),
            latency: LatencyModel::default(),
            notices: Vec::new(),
        }
    }

    pub fn server_index(&self, name: &str) -> Option<usize> {
        self.servers.binary_search_by(|s| s.name.as_str().cmp(name)).ok()
    }

    /// Finds a workload by `namespace/name`, or by bare name when that is unambiguous.
    pub fn workload_index(&self, key_or_name: &str) -> Option<usize> {
        if key_or_name.contains('/') {
            // `w.key() == key_or_name` without building a string per workload (a twin of
            // 1,000 workloads looked keys up millions of times while building a scenario).
            let k = key_or_name.as_bytes();
            return self.workloads.iter().position(|w| {
                let (ns, n) = (w.namespace.as_bytes(), w.name.as_bytes());
                k.len() == ns.len() + 1 + n.len()
                    && k.starts_with(ns)
                    && k[ns.len()] == b'/'
                    && k.ends_with(n)
            });
        }
        let mut found = self.workloads.iter().enumerate().filter(|(_, w)| w.name == key_or_name);
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    /// Finds a pod by `namespace/name`.
    pub(crate) fn pod_index(&self, key: &str) -> Option<usize> {
        let (ns, name) = key.split_once('/')?;
        self.pods.iter().position(|p| p.namespace == ns && p.name == name)
    }

    /// The workload (index) that owns the pod `namespace/name`, if the twin has both.
    pub(crate) fn workload_of_pod(&self, key: &str) -> Option<usize> {
        self.pod_index(key).and_then(|i| self.pods[i].workload)
    }

    pub(crate) fn pods_of_workload(&self, w: usize) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(move |p| p.workload == Some(w))
    }

    pub(crate) fn pods_on_server(&self, s: usize) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(move |p| p.server == Some(s))
    }

    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.iter().find(|f| f.name == name)
    }
}
