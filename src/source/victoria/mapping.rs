//! Query results → the twin: series land on servers by their `node`/`instance` label (port
//! stripped; node name, an alias such as the InternalIP, or the host's first DNS label) and on
//! workloads by namespace/pod or by a workload label. Figures become `TwinEvent`s.

use super::client::Labels;
use crate::twin::{Measured, Resources, Snapshot, TwinEvent, Workload};
use std::collections::HashMap;

pub(crate) const NAMESPACE_LABELS: &[&str] =
    &["namespace", "destination_workload_namespace", "k8s_namespace_name", "exported_namespace"];
pub(crate) const WORKLOAD_LABELS: &[&str] = &[
    "workload",
    "destination_workload",
    "deployment",
    "k8s_deployment_name",
    "statefulset",
    "k8s_statefulset_name",
];
const SERVER_LABELS: &[&str] = &["node", "instance", "kubernetes_io_hostname"];

/// Origin of call edges learnt from service-mesh metrics.
pub(crate) const MESH: &str = "mesh";

/// What a query measures, and so where its figure goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    NodeCpu,
    NodeMem,
    NodeNet,
    PodCpu,
    PodMem,
    PodNet,
    Rps,
    P50,
    P99,
    Replicas,
    /// Calls per second between two workloads (mesh metrics with source and destination).
    Calls,
}

const SOURCE_NS: &[&str] = &["source_workload_namespace", "namespace"];
const SOURCE_WL: &[&str] = &["source_workload", "deployment"];
const DEST_NS: &[&str] = &["destination_workload_namespace", "dst_namespace"];
const DEST_WL: &[&str] = &["destination_workload", "dst_deployment"];

fn first<'a>(labels: &'a Labels, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| labels.get(*k)).map(String::as_str).filter(|v| !v.is_empty() && *v != "unknown")
}

/// The twin's servers and workloads indexed for matching series.
#[derive(Debug, Default)]
pub struct Targets {
    server_names: Vec<String>,
    server_capacity: Vec<Resources>,
    aliases: HashMap<String, usize>,
    workloads: Vec<Workload>,
    workload_idx: HashMap<String, usize>,
    pods: HashMap<String, usize>,
    /// Per namespace, (workload name, index) longest name first: pods the twin does not list
    /// (a manifests twin names its pods itself) match by `<workload>-` prefix.
    by_namespace: HashMap<String, Vec<(String, usize)>>,
}

impl Targets {
    pub fn from_snapshot(s: &Snapshot) -> Targets {
        let mut t = Targets {
            server_names: s.servers.iter().map(|x| x.name.clone()).collect(),
            server_capacity: s.servers.iter().map(|x| x.capacity).collect(),
            workloads: s.workloads.clone(),
            ..Targets::default()
        };
        for (i, srv) in s.servers.iter().enumerate() {
            t.aliases.insert(srv.name.clone(), i);
            if let Some(h) = srv.labels.get("kubernetes.io/hostname") {
                t.aliases.entry(h.clone()).or_insert(i);
            }
        }
        for (i, w) in s.workloads.iter().enumerate() {
            t.workload_idx.insert(w.key(), i);
            t.by_namespace.entry(w.namespace.clone()).or_default().push((w.name.clone(), i));
        }
        for v in t.by_namespace.values_mut() {
            v.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        }
        for p in &s.pods {
            if let Some(w) = p.workload {
                t.pods.insert(format!("{}/{}", p.namespace, p.name), w);
            }
        }
        t
    }

    /// Another name a server is known by in metrics (its InternalIP, say).
    pub fn alias(&mut self, alias: &str, server: &str) {
        if let Some(i) = self.server_names.iter().position(|n| n == server) {
            self.aliases.insert(alias.to_string(), i);
        }
    }

    pub(crate) fn servers(&self) -> usize {
        self.server_names.len()
    }

    pub(crate) fn server_of(&self, labels: &Labels) -> Option<usize> {
        SERVER_LABELS.iter().filter_map(|k| labels.get(*k)).find_map(|v| self.server_named(v))
    }

    fn server_named(&self, v: &str) -> Option<usize> {
        if let Some(&i) = self.aliases.get(v) {
            return Some(i);
        }
        let host = strip_port(v);
        if let Some(&i) = self.aliases.get(host) {
            return Some(i);
        }
        if host.parse::<std::net::IpAddr>().is_err() {
            let first = host.split('.').next().unwrap_or(host);
            return self.aliases.get(first).copied();
        }
        None
    }

    pub(crate) fn workload_of_pod(&self, namespace: &str, pod: &str) -> Option<usize> {
        if let Some(&w) = self.pods.get(&format!("{namespace}/{pod}")) {
            return Some(w);
        }
        self.by_namespace
            .get(namespace)?
            .iter()
            .find(|(name, _)| {
                pod.len() > name.len() + 1
                    && pod.starts_with(name.as_str())
                    && pod.as_bytes()[name.len()] == b'-'
            })
            .map(|(_, i)| *i)
    }

    pub(crate) fn workload_of_labels(&self, labels: &Labels) -> Option<usize> {
        let ns = NAMESPACE_LABELS.iter().find_map(|k| labels.get(*k))?;
        if let Some(pod) = labels.get("pod") {
            return self.workload_of_pod(ns, pod);
        }
        let name = WORKLOAD_LABELS.iter().find_map(|k| labels.get(*k))?;
        self.workload_idx.get(&format!("{ns}/{name}")).copied()
    }
}

/// `host:port`, `[v6]:port` → host.
pub(crate) fn strip_port(v: &str) -> &str {
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => v,
    }
}

/// The figures of one round (one evaluation time), before they become events.
#[derive(Debug, Default)]
pub(crate) struct Round {
    node_cpu: HashMap<usize, f64>,
    node_mem: HashMap<usize, f64>,
    node_net: HashMap<usize, f64>,
    wl_cpu: HashMap<usize, f64>,
    wl_mem: HashMap<usize, f64>,
    wl_net: HashMap<usize, f64>,
    rps: HashMap<usize, f64>,
    p50: HashMap<usize, f64>,
    p99: HashMap<usize, f64>,
    replicas: HashMap<usize, f64>,
    /// `(from key, to key)` → calls/s; `None` until an edges query answered.
    calls: Option<std::collections::BTreeMap<(String, String), f64>>,
    pub stats: RoundStats,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct RoundStats {
    pub samples: usize,
    /// Series whose labels name no server or workload of the twin.
    pub unmatched: usize,
    /// NaN or ±Inf values (no data in a histogram, division by zero) left out.
    pub not_finite: usize,
}

impl Round {
    pub(crate) fn add(&mut self, t: &Targets, metric: Metric, labels: &Labels, value: f64) {
        self.stats.samples += 1;
        if !value.is_finite() {
            self.stats.not_finite += 1;
            return;
        }
        if metric == Metric::Calls {
            let calls = self.calls.get_or_insert_with(Default::default);
            match (
                first(labels, SOURCE_NS),
                first(labels, SOURCE_WL),
                first(labels, DEST_NS),
                first(labels, DEST_WL),
            ) {
                (Some(sn), Some(sw), Some(dn), Some(dw)) => {
                    *calls.entry((format!("{sn}/{sw}"), format!("{dn}/{dw}"))).or_default() += value;
                }
                _ => self.stats.unmatched += 1,
            }
            return;
        }
        let node = matches!(metric, Metric::NodeCpu | Metric::NodeMem | Metric::NodeNet);
        let idx = if node { t.server_of(labels) } else { t.workload_of_labels(labels) };
        let Some(i) = idx else {
            self.stats.unmatched += 1;
            return;
        };
        let (map, sum) = match metric {
            Metric::NodeCpu => (&mut self.node_cpu, false),
            Metric::NodeMem => (&mut self.node_mem, false),
            Metric::NodeNet => (&mut self.node_net, false),
            Metric::PodCpu => (&mut self.wl_cpu, true),
            Metric::PodMem => (&mut self.wl_mem, true),
            Metric::PodNet => (&mut self.wl_net, true),
            Metric::Rps => (&mut self.rps, false),
            Metric::P50 => (&mut self.p50, false),
            Metric::P99 => (&mut self.p99, false),
            Metric::Replicas => (&mut self.replicas, false),
            Metric::Calls => unreachable!("handled above"),
        };
        if sum {
            *map.entry(i).or_default() += value;
        } else {
            // Mesh flavours are queried in order: the first that knows a workload wins.
            map.entry(i).or_insert(value);
        }
    }

    /// Marks that an edges query answered (with no series, the mesh graph is empty).
    pub(crate) fn saw_calls(&mut self) {
        self.calls.get_or_insert_with(Default::default);
    }

    /// Servers with both CPU and memory figures.
    pub(crate) fn servers_measured(&self) -> usize {
        self.node_cpu.keys().filter(|i| self.node_mem.contains_key(i)).count()
    }

    pub(crate) fn workloads_measured(&self) -> usize {
        let mut v: Vec<&usize> = self
            .wl_cpu
            .keys()
            .chain(self.wl_mem.keys())
            .chain(self.rps.keys())
            .chain(self.p99.keys())
            .collect();
        v.sort();
        v.dedup();
        v.len()
    }

    /// The round as events. A server's usage needs both CPU and memory (a half-measured
    /// server would read as idle in the missing one); network, when unmeasured, keeps what another source measured.
    pub(crate) fn into_events(self, t: &Targets, set_replicas: bool) -> Vec<TwinEvent> {
        let mut ev = Vec::new();
        let mut servers: Vec<usize> =
            self.node_cpu.keys().filter(|i| self.node_mem.contains_key(i)).copied().collect();
        servers.sort_unstable();
        for i in servers {
            let cap = t.server_capacity[i];
            ev.push(TwinEvent::ServerUsage {
                server: t.server_names[i].clone(),
                usage: Measured {
                    cpu_m: Some(self.node_cpu[&i].clamp(0.0, 1.0) * cap.cpu_m),
                    mem_mib: Some(self.node_mem[&i].clamp(0.0, 1.0) * cap.mem_mib),
                    bw_mbps: self.node_net.get(&i).map(|b| b * 8.0 / 1e6),
                },
            });
        }
        let mut wls: Vec<usize> = self
            .wl_cpu
            .keys()
            .chain(self.wl_mem.keys())
            .chain(self.wl_net.keys())
            .chain(self.rps.keys())
            .chain(self.p50.keys())
            .chain(self.p99.keys())
            .copied()
            .collect();
        wls.sort_unstable();
        wls.dedup();
        for i in wls {
            let pod_usage =
                (self.wl_cpu.contains_key(&i) || self.wl_mem.contains_key(&i)).then(|| Measured {
                    cpu_m: Some(self.wl_cpu.get(&i).copied().unwrap_or(0.0) * 1000.0),
                    mem_mib: Some(self.wl_mem.get(&i).copied().unwrap_or(0.0) / (1024.0 * 1024.0)),
                    bw_mbps: self.wl_net.get(&i).map(|b| b * 8.0 / 1e6),
                });
            ev.push(TwinEvent::WorkloadMetrics {
                key: t.workloads[i].key(),
                rps: self.rps.get(&i).copied(),
                p50_ms: self.p50.get(&i).copied(),
                p99_ms: self.p99.get(&i).copied(),
                usage: pod_usage,
            });
        }
        if let Some(calls) = self.calls {
            let edges = calls
                .into_iter()
                .filter(|((from, to), _)| from != to)
                .map(|((from, to), rps)| crate::twin::Edge { from, to, rps, origin: MESH.into() })
                .collect();
            ev.push(TwinEvent::Edges { origin: MESH.into(), edges });
        }
        if set_replicas {
            let mut reps: Vec<(&usize, &f64)> = self.replicas.iter().collect();
            reps.sort_by_key(|(i, _)| **i);
            for (&i, &n) in reps {
                let n = n.round().max(0.0) as u32;
                if t.workloads[i].replicas != n {
                    let mut w = t.workloads[i].clone();
                    w.replicas = n;
                    ev.push(TwinEvent::Workload(w));
                }
            }
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::{Location, PodPhase, PodSpec, Server, TwinStore};

    fn targets() -> Targets {
        let mut st = TwinStore::default();
        let mut s =
            Server::new("ip-10-0-0-1.ec2.internal", Location::default(), Resources::new(4000.0, 8192.0, 0.0));
        s.labels.insert("kubernetes.io/hostname".into(), "ip-10-0-0-1".into());
        st.apply(TwinEvent::Server(s));
        st.apply(TwinEvent::Server(Server::new(
            "node-b",
            Location::default(),
            Resources::new(2000.0, 4096.0, 0.0),
        )));
        st.apply(TwinEvent::Workload(Workload::new("cart", "shop", 1, Resources::ZERO)));
        st.apply(TwinEvent::Workload(Workload::new("cart-db", "shop", 1, Resources::ZERO)));
        st.apply(TwinEvent::Pod(PodSpec {
            name: "xyz".into(),
            namespace: "shop".into(),
            workload: Some("cart".into()),
            server: None,
            requests: Resources::ZERO,
            limits: None,
            phase: PodPhase::Running,
            reason: None,
        }));
        let mut t = Targets::from_snapshot(&st.snapshot());
        t.alias("10.0.0.1", "ip-10-0-0-1.ec2.internal");
        t
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn servers_by_instance_node_ip_and_short_name() {
        let t = targets();
        assert_eq!(t.server_of(&l(&[("instance", "10.0.0.1:9100")])), Some(0));
        assert_eq!(t.server_of(&l(&[("instance", "ip-10-0-0-1:9100")])), Some(0));
        assert_eq!(t.server_of(&l(&[("node", "node-b")])), Some(1));
        assert_eq!(t.server_of(&l(&[("instance", "node-b.lan:9100")])), Some(1));
        assert_eq!(t.server_of(&l(&[("instance", "10.9.9.9:9100")])), None);
        assert_eq!(strip_port("[fe80::1]:9100"), "fe80::1");
        assert_eq!(strip_port("fe80::1"), "fe80::1");
    }

    #[test]
    fn pods_by_name_then_longest_prefix() {
        let t = targets();
        let w = |ns: &str, p: &str| t.workload_of_pod(ns, p).map(|i| t.workloads[i].name.clone());
        assert_eq!(w("shop", "xyz").as_deref(), Some("cart"));
        assert_eq!(w("shop", "cart-db-0").as_deref(), Some("cart-db"));
        assert_eq!(w("shop", "cart-7d4b578979-x2k9p").as_deref(), Some("cart"));
        assert_eq!(w("other", "cart-1"), None);
        assert_eq!(
            t.workload_of_labels(&l(&[
                ("destination_workload_namespace", "shop"),
                ("destination_workload", "cart-db")
            ])),
            Some(1)
        );
    }

    #[test]
    fn round_converts_units_and_skips_non_finite() {
        let t = targets();
        let mut r = Round::default();
        r.add(&t, Metric::NodeCpu, &l(&[("instance", "node-b:9100")]), 0.25);
        r.add(&t, Metric::NodeMem, &l(&[("instance", "node-b:9100")]), 0.5);
        r.add(&t, Metric::NodeNet, &l(&[("instance", "node-b:9100")]), 125_000.0);
        r.add(&t, Metric::NodeCpu, &l(&[("instance", "10.0.0.1:9100")]), 0.9);
        r.add(&t, Metric::PodCpu, &l(&[("namespace", "shop"), ("pod", "cart-a")]), 0.1);
        r.add(&t, Metric::PodCpu, &l(&[("namespace", "shop"), ("pod", "cart-b")]), 0.2);
        r.add(&t, Metric::P99, &l(&[("namespace", "shop"), ("deployment", "cart")]), f64::NAN);
        r.add(&t, Metric::P99, &l(&[("namespace", "x"), ("deployment", "y")]), 3.0);
        assert_eq!(r.stats, RoundStats { samples: 8, unmatched: 1, not_finite: 1 });
        let ev = r.into_events(&t, false);
        assert_eq!(ev.len(), 2, "the half-measured server 10.0.0.1 gets no usage: {ev:?}");
        assert_eq!(
            ev[0],
            TwinEvent::ServerUsage {
                server: "node-b".into(),
                usage: Resources::new(500.0, 2048.0, 1.0).into()
            }
        );
        let TwinEvent::WorkloadMetrics { usage: Some(u), p99_ms: None, .. } = &ev[1] else {
            panic!("{ev:?}")
        };
        assert!((u.cpu_m.unwrap() - 300.0).abs() < 1e-9);
        assert_eq!(u.bw_mbps, None, "no pod network series: leave another source's figure");
    }
}
