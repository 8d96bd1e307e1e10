//! What runs on the demo datacenter: Online Boutique (requests and limits as in its release
//! manifests, call graph from its `*_ADDR` variables) and background workloads that make the
//! servers differ.

use crate::twin::{Hpa, HpaMetric, Resources, Workload, WorkloadKind};

/// How one shop service behaves under load.
#[derive(Debug, Clone)]
pub(crate) struct ServiceModel {
    /// Wall time to serve one request on an idle pod, ms (log-normal-ish tail around it).
    pub service_ms: f64,
    /// CPU time per request, ms (→ millicores per request/s).
    pub cpu_ms: f64,
    /// Requests one pod serves at once.
    pub parallelism: f64,
    /// Response size, KB (→ bandwidth).
    pub kb_per_req: f64,
    /// Idle CPU, millicores.
    pub idle_cpu_m: f64,
}

/// How a background workload's pods load their servers: usage = requests × level, where level
/// follows `base + swing × daily + noise`.
#[derive(Debug, Clone)]
pub(crate) struct BackgroundModel {
    pub base: f64,
    pub swing: f64,
    pub bw_mbps: f64,
    /// Phase of its daily cycle (0..1), so jobs do not all peak together.
    pub phase: f64,
}

#[derive(Debug, Clone)]
pub(crate) enum Behaviour {
    Service(ServiceModel),
    Background(BackgroundModel),
}

#[derive(Debug, Clone)]
pub(crate) struct CatalogEntry {
    pub workload: Workload,
    pub behaviour: Behaviour,
}

pub(crate) const SHOP_NS: &str = "boutique";

/// Calls per incoming request, caller → callee (Online Boutique's graph).
pub(crate) const CALLS: &[(&str, &str, f64)] = &[
    ("loadgenerator", "frontend", 1.0),
    ("frontend", "productcatalogservice", 2.0),
    ("frontend", "currencyservice", 1.0),
    ("frontend", "cartservice", 1.0),
    ("frontend", "recommendationservice", 0.5),
    ("frontend", "adservice", 0.5),
    ("frontend", "shippingservice", 0.2),
    ("frontend", "checkoutservice", 0.2),
    ("checkoutservice", "productcatalogservice", 1.0),
    ("checkoutservice", "shippingservice", 1.0),
    ("checkoutservice", "paymentservice", 1.0),
    ("checkoutservice", "emailservice", 1.0),
    ("checkoutservice", "currencyservice", 1.0),
    ("checkoutservice", "cartservice", 1.0),
    ("recommendationservice", "productcatalogservice", 1.0),
    ("cartservice", "redis-cart", 1.0),
];

fn res(cpu_m: f64, mem_mib: f64) -> Resources {
    Resources::new(cpu_m, mem_mib, 0.0)
}

fn service(
    name: &str,
    replicas: u32,
    req: (f64, f64),
    lim: (f64, f64),
    slo_ms: f64,
    model: ServiceModel,
) -> CatalogEntry {
    let mut w = Workload::new(name, SHOP_NS, replicas, res(req.0, req.1));
    w.limits = Some(res(lim.0, lim.1));
    w.slo_p99_ms = Some(slo_ms);
    w.labels.insert("app".into(), name.into());
    CatalogEntry { workload: w, behaviour: Behaviour::Service(model) }
}

fn sm(service_ms: f64, cpu_ms: f64, parallelism: f64, kb: f64) -> ServiceModel {
    ServiceModel { service_ms, cpu_ms, parallelism, kb_per_req: kb, idle_cpu_m: 5.0 }
}

/// Online Boutique with the release manifests' requests/limits.
pub(crate) fn shop() -> Vec<CatalogEntry> {
    let mut v = vec![
        service("frontend", 6, (100.0, 64.0), (200.0, 128.0), 1000.0, sm(6.0, 6.0, 4.0, 40.0)),
        service("cartservice", 3, (200.0, 64.0), (300.0, 128.0), 150.0, sm(3.0, 2.0, 4.0, 2.0)),
        service("productcatalogservice", 4, (100.0, 64.0), (200.0, 128.0), 40.0, sm(2.0, 0.8, 4.0, 8.0)),
        service("currencyservice", 3, (100.0, 64.0), (200.0, 128.0), 40.0, sm(2.0, 1.0, 4.0, 1.0)),
        service("paymentservice", 2, (100.0, 64.0), (200.0, 128.0), 80.0, sm(8.0, 2.0, 4.0, 1.0)),
        service("shippingservice", 2, (100.0, 64.0), (200.0, 128.0), 60.0, sm(4.0, 1.5, 4.0, 1.0)),
        service("emailservice", 2, (100.0, 64.0), (200.0, 128.0), 120.0, sm(10.0, 3.0, 4.0, 1.0)),
        service("checkoutservice", 2, (100.0, 64.0), (200.0, 128.0), 800.0, sm(60.0, 4.0, 2.0, 4.0)),
        service("recommendationservice", 2, (100.0, 220.0), (200.0, 450.0), 150.0, sm(12.0, 5.0, 4.0, 6.0)),
        service("adservice", 2, (200.0, 180.0), (300.0, 300.0), 80.0, sm(5.0, 2.0, 4.0, 3.0)),
        service("redis-cart", 1, (70.0, 200.0), (125.0, 256.0), 20.0, sm(0.5, 0.3, 8.0, 1.0)),
        service("loadgenerator", 1, (300.0, 256.0), (500.0, 512.0), 1000.0, sm(1.0, 1.0, 64.0, 0.5)),
    ];
    for e in &mut v {
        match e.workload.name.as_str() {
            "frontend" => {
                e.workload.critical = true;
                e.workload.hpa = Some(Hpa {
                    name: "frontend".into(),
                    min_replicas: 4,
                    max_replicas: 20,
                    metrics: vec![HpaMetric::CpuUtilization { target_pct: 60.0 }],
                });
            }
            "redis-cart" => e.workload.kind = WorkloadKind::StatefulSet,
            "loadgenerator" => e.workload.slo_p99_ms = None,
            _ => {}
        }
    }
    v
}

/// Background workloads: (namespace, name, kind, replicas at 3,200 cores, cores, GiB, base, swing, Mbps).
type BackgroundRow = (&'static str, &'static str, WorkloadKind, u32, f64, f64, f64, f64, f64);
const BACKGROUND: &[BackgroundRow] = &[
    ("data", "kafka", WorkloadKind::StatefulSet, 6, 8.0, 32.0, 0.55, 0.25, 180.0),
    ("data", "postgres", WorkloadKind::StatefulSet, 3, 16.0, 64.0, 0.45, 0.2, 60.0),
    ("data", "elasticsearch", WorkloadKind::StatefulSet, 9, 8.0, 32.0, 0.5, 0.2, 90.0),
    ("batch", "spark-worker", WorkloadKind::Deployment, 80, 6.0, 24.0, 0.6, 0.35, 50.0),
    ("batch", "ml-training", WorkloadKind::Deployment, 12, 24.0, 96.0, 0.85, 0.1, 30.0),
    ("batch", "video-transcode", WorkloadKind::Deployment, 60, 4.0, 8.0, 0.5, 0.45, 35.0),
    ("ops", "prometheus", WorkloadKind::StatefulSet, 2, 4.0, 16.0, 0.5, 0.1, 40.0),
    ("ops", "log-shipper", WorkloadKind::Deployment, 50, 0.5, 1.0, 0.4, 0.3, 8.0),
];

/// Background workloads sized for a cluster of `total_cores`.
pub(crate) fn background(total_cores: f64) -> Vec<CatalogEntry> {
    let factor = (total_cores / 3200.0).max(0.1);
    BACKGROUND
        .iter()
        .enumerate()
        .map(|(i, &(ns, name, kind, replicas, cores, gib, base, swing, mbps))| {
            let n = ((replicas as f64 * factor).round() as u32).max(1);
            let mut w = Workload::new(name, ns, n, Resources::new(cores * 1000.0, gib * 1024.0, mbps));
            w.kind = kind;
            w.labels.insert("app".into(), name.into());
            CatalogEntry {
                workload: w,
                behaviour: Behaviour::Background(BackgroundModel {
                    base,
                    swing,
                    bw_mbps: mbps,
                    phase: i as f64 / 8.0,
                }),
            }
        })
        .collect()
}
