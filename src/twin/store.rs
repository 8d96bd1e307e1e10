//! The one owner of the twin's mutable state. Sources send `TwinEvent`s; the store applies them
//! and publishes immutable snapshots. Nothing else mutates twin state.

use super::latency::LatencyModel;
use super::model::{Edge, Measured, Pod, PodSpec, Resources, Server, Workload, workload_key};
use super::ring::{ServerHistory, WorkloadHistory};
use super::snapshot::{Feed, ServerStatus, Snapshot, SourceInfo, WorkloadStatus};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One change to the twin, from any source.
#[derive(Debug, Clone, PartialEq)]
pub enum TwinEvent {
    Source(SourceInfo),
    Server(Server),
    ServerGone(String),
    Workload(Workload),
    /// By key `namespace/name`.
    WorkloadGone(String),
    Pod(PodSpec),
    /// By `namespace/name`.
    PodGone(String),
    /// Replaces every edge learnt from `origin` with `edges`.
    Edges {
        origin: String,
        edges: Vec<Edge>,
    },
    /// Measured usage of a server; resources the source does not measure keep their value.
    ServerUsage {
        server: String,
        usage: Measured,
    },
    /// Measured figures of a workload (by key); `None` leaves a figure unchanged.
    WorkloadMetrics {
        key: String,
        rps: Option<f64>,
        p50_ms: Option<f64>,
        p99_ms: Option<f64>,
        usage: Option<Measured>,
    },
    Feed(Feed),
    Latency(LatencyModel),
    Notice(String),
    /// A round of metrics is complete at this time: history takes one sample. A second Tick
    /// within the same second (two sources finishing a round together) takes none.
    Tick(DateTime<Utc>),
    /// Forget all objects (before a full re-list); history of objects that come back is kept.
    Reset,
}

/// Default history length: 360 samples (6 minutes at 1 s, 30 hours at 5 min).
pub(crate) const DEFAULT_HISTORY: usize = 360;

pub struct TwinStore {
    seq: u64,
    time: DateTime<Utc>,
    /// Whole second of the last history sample.
    sampled_at: Option<i64>,
    source: SourceInfo,
    feeds: Vec<Feed>,
    servers: BTreeMap<String, Server>,
    server_usage: HashMap<String, Resources>,
    server_history: HashMap<String, ServerHistory>,
    workloads: BTreeMap<String, Workload>,
    workload_status: HashMap<String, WorkloadStatus>,
    workload_history: HashMap<String, WorkloadHistory>,
    pods: BTreeMap<String, PodSpec>,
    edges: Vec<Edge>,
    latency: LatencyModel,
    notices: Vec<String>,
    history_len: usize,
}

impl Default for TwinStore {
    fn default() -> Self {
        TwinStore::new(DEFAULT_HISTORY)
    }
}

impl TwinStore {
    pub(crate) fn new(history_len: usize) -> TwinStore {
        TwinStore {
            seq: 0,
            time: DateTime::<Utc>::UNIX_EPOCH,
            sampled_at: None,
            source: SourceInfo::default(),
            feeds: Vec::new(),
            servers: BTreeMap::new(),
            server_usage: HashMap::new(),
            server_history: HashMap::new(),
            workloads: BTreeMap::new(),
            workload_status: HashMap::new(),
            workload_history: HashMap::new(),
            pods: BTreeMap::new(),
            edges: Vec::new(),
            latency: LatencyModel::default(),
            notices: Vec::new(),
            history_len,
        }
    }

    pub fn apply_all(&mut self, events: impl IntoIterator<Item = TwinEvent>) {
        for e in events {
            self.apply(e);
        }
    }

    pub fn apply(&mut self, event: TwinEvent) {
        match event {
            TwinEvent::Source(s) => self.source = s,
            TwinEvent::Server(s) => {
                self.servers.insert(s.name.clone(), s);
            }
            TwinEvent::ServerGone(name) => {
                self.servers.remove(&name);
                self.server_usage.remove(&name);
                self.server_history.remove(&name);
            }
            TwinEvent::Workload(w) => {
                self.workloads.insert(w.key(), w);
            }
            TwinEvent::WorkloadGone(key) => {
                self.workloads.remove(&key);
                self.workload_status.remove(&key);
                self.workload_history.remove(&key);
            }
            TwinEvent::Pod(p) => {
                self.pods.insert(workload_key(&p.namespace, &p.name), p);
            }
            TwinEvent::PodGone(key) => {
                self.pods.remove(&key);
            }
            TwinEvent::Edges { origin, edges } => {
                self.edges.retain(|e| e.origin != origin);
                self.edges.extend(edges.into_iter().map(|mut e| {
                    e.origin = origin.clone();
                    e
                }));
            }
            TwinEvent::ServerUsage { server, usage } => {
                let merged = usage.over(self.server_usage.get(&server).copied());
                self.server_usage.insert(server, merged);
            }
            TwinEvent::WorkloadMetrics { key, rps, p50_ms, p99_ms, usage } => {
                let st = self.workload_status.entry(key).or_default();
                st.rps = rps.or(st.rps);
                st.p50_ms = p50_ms.or(st.p50_ms);
                st.p99_ms = p99_ms.or(st.p99_ms);
                st.usage = usage.map(|u| u.over(st.usage)).or(st.usage);
            }
            TwinEvent::Feed(f) => match self.feeds.iter_mut().find(|x| x.name == f.name) {
                Some(x) => *x = f,
                None => self.feeds.push(f),
            },
            TwinEvent::Latency(l) => self.latency = l,
            TwinEvent::Notice(n) => {
                if !self.notices.contains(&n) {
                    self.notices.push(n);
                }
            }
            TwinEvent::Tick(t) => {
                self.time = t;
                if self.sampled_at != Some(t.timestamp()) {
                    self.sampled_at = Some(t.timestamp());
                    self.sample_history();
                }
            }
            TwinEvent::Reset => {
                self.servers.clear();
                self.workloads.clear();
                self.pods.clear();
                self.edges.clear();
            }
        }
    }

    fn sample_history(&mut self) {
        let cap = self.history_len;
        let requested = self.requested_by_server();
        for (name, s) in &self.servers {
            let used = self
                .server_usage
                .get(name)
                .copied()
                .unwrap_or_else(|| requested.get(name).copied().unwrap_or_default());
            let h = self.server_history.entry(name.clone()).or_insert_with(|| ServerHistory::new(cap));
            h.cpu.push(ratio(used.cpu_m, s.allocatable.cpu_m));
            h.mem.push(ratio(used.mem_mib, s.allocatable.mem_mib));
            h.bw_mbps.push(used.bw_mbps);
        }
        for (key, w) in &self.workloads {
            let st = self.workload_status.get(key).copied().unwrap_or_default();
            let h = self.workload_history.entry(key.clone()).or_insert_with(|| WorkloadHistory::new(cap));
            let nan = f64::NAN;
            h.cpu_m.push(st.usage.map_or(nan, |u| u.cpu_m));
            h.mem_mib.push(st.usage.map_or(nan, |u| u.mem_mib));
            h.rps.push(st.rps.unwrap_or(nan));
            h.p50_ms.push(st.p50_ms.unwrap_or(nan));
            h.p99_ms.push(st.p99_ms.unwrap_or(nan));
            h.replicas.push(w.replicas as f64);
        }
    }

    fn requested_by_server(&self) -> HashMap<String, Resources> {
        let mut m: HashMap<String, Resources> = HashMap::new();
        for p in self.pods.values() {
            if let (Some(s), true) = (&p.server, p.phase.holds_resources()) {
                let e = m.entry(s.clone()).or_default();
                *e = e.add(&p.requests);
            }
        }
        m
    }

    /// Builds the next immutable snapshot.
    pub fn snapshot(&mut self) -> Arc<Snapshot> {
        self.seq += 1;
        let servers: Vec<Server> = self.servers.values().cloned().collect();
        let server_idx: HashMap<&str, usize> =
            servers.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        let workloads: Vec<Workload> = self.workloads.values().cloned().collect();
        let workload_idx: HashMap<String, usize> =
            workloads.iter().enumerate().map(|(i, w)| (w.key(), i)).collect();

        let mut server_status: Vec<ServerStatus> = servers
            .iter()
            .map(|s| ServerStatus { usage: self.server_usage.get(&s.name).copied(), ..Default::default() })
            .collect();
        let mut workload_status: Vec<WorkloadStatus> = workloads
            .iter()
            .map(|w| WorkloadStatus {
                ready: 0,
                ..self.workload_status.get(&w.key()).copied().unwrap_or_default()
            })
            .collect();

        let mut pods = Vec::with_capacity(self.pods.len());
        for p in self.pods.values() {
            let server = p.server.as_deref().and_then(|s| server_idx.get(s).copied());
            let workload =
                p.workload.as_deref().and_then(|w| workload_idx.get(&workload_key(&p.namespace, w)).copied());
            if let (Some(s), true) = (server, p.phase.holds_resources()) {
                let st = &mut server_status[s];
                st.requested = st.requested.add(&p.requests);
                st.pods += 1;
            }
            if let (Some(w), super::model::PodPhase::Running) = (workload, p.phase) {
                workload_status[w].ready += 1;
            }
            pods.push(Pod {
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                workload,
                server,
                requests: p.requests,
                limits: p.limits,
                phase: p.phase,
                reason: p.reason.clone(),
            });
        }

        let cap = self.history_len;
        let server_history = servers
            .iter()
            .map(|s| self.server_history.get(&s.name).cloned().unwrap_or_else(|| ServerHistory::new(cap)))
            .collect();
        let workload_history = workloads
            .iter()
            .map(|w| {
                self.workload_history.get(&w.key()).cloned().unwrap_or_else(|| WorkloadHistory::new(cap))
            })
            .collect();

        Arc::new(Snapshot {
            seq: self.seq,
            time: self.time,
            source: self.source.clone(),
            feeds: self.feeds.clone(),
            servers,
            server_status,
            server_history,
            workloads,
            workload_status,
            workload_history,
            pods,
            edges: merged_edges(&self.edges),
            latency: self.latency.clone(),
            notices: self.notices.clone(),
        })
    }
}

/// Call-graph origins, most trusted first: calls measured by a service mesh (they carry the
/// rates), then `*_ADDR`/`*_HOST`/`*_URL` env vars, then `twintop.io/calls` annotations.
pub(crate) const EDGE_PRECEDENCE: [&str; 3] = ["mesh", "env", "annotation"];

/// The edges of every origin, one per (from, to) pair: the most trusted origin's copy. A
/// declared edge the mesh has not seen stays (an idle dependency is still one), at rate 0.
fn merged_edges(edges: &[Edge]) -> Vec<Edge> {
    let rank =
        |e: &Edge| EDGE_PRECEDENCE.iter().position(|o| *o == e.origin).unwrap_or(EDGE_PRECEDENCE.len());
    let mut sorted: Vec<&Edge> = edges.iter().collect();
    sorted.sort_by_key(|e| rank(e));
    let mut seen = std::collections::HashSet::new();
    sorted.into_iter().filter(|e| seen.insert((e.from.as_str(), e.to.as_str()))).cloned().collect()
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::model::{Location, PodPhase};

    fn pod(name: &str, wl: &str, server: Option<&str>, cpu: f64, phase: PodPhase) -> TwinEvent {
        TwinEvent::Pod(PodSpec {
            name: name.into(),
            namespace: "shop".into(),
            workload: Some(wl.into()),
            server: server.map(Into::into),
            requests: Resources::new(cpu, 100.0, 0.0),
            limits: None,
            phase,
            reason: None,
        })
    }

    #[test]
    fn snapshot_resolves_references_and_sums_requests() {
        let mut st = TwinStore::default();
        st.apply_all([
            TwinEvent::Server(Server::new(
                "b",
                Location::new("r", "z", "1"),
                Resources::new(4000.0, 8192.0, 1000.0),
            )),
            TwinEvent::Server(Server::new(
                "a",
                Location::new("r", "z", "1"),
                Resources::new(4000.0, 8192.0, 1000.0),
            )),
            TwinEvent::Workload(Workload::new("cart", "shop", 2, Resources::new(200.0, 100.0, 0.0))),
            pod("cart-1", "cart", Some("a"), 200.0, PodPhase::Running),
            pod("cart-2", "cart", Some("a"), 200.0, PodPhase::Running),
            pod("cart-3", "cart", None, 200.0, PodPhase::Pending),
            pod("old", "cart", Some("b"), 200.0, PodPhase::Succeeded),
        ]);
        let s = st.snapshot();
        assert_eq!(s.servers.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.server_status[0].requested.cpu_m, 400.0);
        assert_eq!(s.server_status[0].pods, 2);
        assert_eq!(s.server_status[1].requested.cpu_m, 0.0, "finished pods hold nothing");
        assert_eq!(s.workload_status[0].ready, 2);
        assert_eq!(s.server_index("b"), Some(1));
        assert_eq!(s.workload_index("cart"), Some(0));
        assert_eq!(s.workload_index("shop/cart"), Some(0));
        assert_eq!(s.pods_of_workload(0).count(), 4);
    }

    /// A store of `history` samples with server "a" (1000 m, 1000 MiB, 100 Mbit/s).
    fn one_server(history: usize) -> TwinStore {
        let mut st = TwinStore::new(history);
        let server = Server::new("a", Location::default(), Resources::new(1000.0, 1000.0, 100.0));
        st.apply(TwinEvent::Server(server));
        st
    }

    #[test]
    fn ticks_fill_history_and_seq_increases() {
        let mut st = one_server(4);
        for i in 0..6 {
            st.apply(TwinEvent::ServerUsage {
                server: "a".into(),
                usage: Resources::new(100.0 * i as f64, 0.0, 0.0).into(),
            });
            st.apply(TwinEvent::Tick(DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(i)));
        }
        let s1 = st.snapshot();
        let s2 = st.snapshot();
        assert!(s2.seq > s1.seq);
        let cpu = s1.server_history[0].cpu.to_vec();
        assert_eq!(cpu.len(), 4);
        assert!((cpu[3] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn edges_are_replaced_per_origin() {
        let mut st = TwinStore::default();
        let e = |f: &str, t: &str| Edge { from: f.into(), to: t.into(), rps: 0.0, origin: String::new() };
        st.apply(TwinEvent::Edges { origin: "env".into(), edges: vec![e("a", "b"), e("a", "c")] });
        st.apply(TwinEvent::Edges { origin: "mesh".into(), edges: vec![e("x", "y")] });
        st.apply(TwinEvent::Edges { origin: "env".into(), edges: vec![e("a", "d")] });
        let s = st.snapshot();
        assert_eq!(s.edges.len(), 2);
        assert!(s.edges.iter().any(|e| e.to == "d" && e.origin == "env"));
    }

    #[test]
    fn two_ticks_in_one_second_take_one_history_sample() {
        // The demo (or kube) and VictoriaMetrics may both end a round at the same moment.
        let mut st = one_server(10);
        let t0 = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::milliseconds(100);
        st.apply(TwinEvent::Tick(t0));
        st.apply(TwinEvent::Tick(t0 + chrono::Duration::milliseconds(500)));
        assert_eq!(st.snapshot().server_history[0].cpu.to_vec().len(), 1);
        st.apply(TwinEvent::Tick(t0 + chrono::Duration::seconds(1)));
        let s = st.snapshot();
        assert_eq!(s.server_history[0].cpu.to_vec().len(), 2);
        assert_eq!(s.time, t0 + chrono::Duration::seconds(1));
    }

    #[test]
    fn cpu_memory_only_usage_keeps_the_measured_bandwidth() {
        let mut st = one_server(DEFAULT_HISTORY);
        // VictoriaMetrics: node_exporter has network figures.
        st.apply(TwinEvent::ServerUsage {
            server: "a".into(),
            usage: Resources::new(300.0, 400.0, 42.0).into(),
        });
        // metrics-server: CPU and memory only.
        st.apply(TwinEvent::ServerUsage { server: "a".into(), usage: Measured::cpu_mem(500.0, 600.0) });
        let pod_usage = |u: Measured| TwinEvent::WorkloadMetrics {
            key: "shop/cart".into(),
            rps: None,
            p50_ms: None,
            p99_ms: None,
            usage: Some(u),
        };
        st.apply(pod_usage(Resources::new(10.0, 20.0, 7.0).into()));
        st.apply(pod_usage(Measured::cpu_mem(30.0, 40.0)));
        st.apply(TwinEvent::Workload(Workload::new("cart", "shop", 1, Resources::ZERO)));
        let s = st.snapshot();
        assert_eq!(s.server_status[0].usage, Some(Resources::new(500.0, 600.0, 42.0)));
        assert_eq!(s.workload_status[0].usage, Some(Resources::new(30.0, 40.0, 7.0)));
        // A fresh server measured by metrics-server alone reads 0 Mbit/s, not garbage.
        st.apply(TwinEvent::ServerUsage { server: "b".into(), usage: Measured::cpu_mem(1.0, 2.0) });
        assert_eq!(st.server_usage["b"], Resources::new(1.0, 2.0, 0.0));
    }

    #[test]
    fn mesh_edges_win_over_env_and_annotations() {
        let mut st = TwinStore::default();
        let e =
            |f: &str, t: &str, rps: f64| Edge { from: f.into(), to: t.into(), rps, origin: String::new() };
        st.apply(TwinEvent::Edges {
            origin: "annotation".into(),
            edges: vec![e("a", "b", 0.0), e("a", "d", 0.0)],
        });
        st.apply(TwinEvent::Edges { origin: "env".into(), edges: vec![e("a", "b", 0.0), e("a", "c", 0.0)] });
        st.apply(TwinEvent::Edges { origin: "mesh".into(), edges: vec![e("a", "b", 12.5)] });
        let s = st.snapshot();
        let mut got: Vec<(&str, &str, f64)> =
            s.edges.iter().map(|e| (e.to.as_str(), e.origin.as_str(), e.rps)).collect();
        got.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(got, [("b", "mesh", 12.5), ("c", "env", 0.0), ("d", "annotation", 0.0)]);
    }
}
