//! A small hand-built twin the advise tests share: four servers, an overloaded `api` behind an
//! HPA-owned `web`, a critical `db` and a `big` workload the cluster has little room for.

use crate::twin::{
    Edge, Hpa, HpaMetric, Location, PodPhase, PodSpec, Resources, Server, Snapshot, TwinEvent, TwinStore,
    Workload,
};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

pub(crate) fn small_twin() -> Arc<Snapshot> {
    small_twin_with(|_| {})
}

/// The small twin, with `edit` applied to its workloads before they enter the store.
pub(crate) fn small_twin_with(edit: impl Fn(&mut Workload)) -> Arc<Snapshot> {
    small_store(edit).snapshot()
}

/// The small twin after 60 more seconds in which `db`'s traffic climbs steadily from 10 to
/// 39.5 requests/s (its CPU with it: 19.4 m per request/s, of 2 × 500 m requested).
pub(crate) fn small_twin_rising() -> Arc<Snapshot> {
    let mut st = small_store(|_| {});
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_030, 0).expect("valid time");
    for tick in 0..60 {
        let rps = 10.0 + tick as f64 / 2.0;
        st.apply(TwinEvent::WorkloadMetrics {
            key: "shop/db".into(),
            rps: Some(rps),
            p50_ms: Some(40.0),
            p99_ms: Some(120.0),
            usage: Some(Resources::new(19.4 * rps, 200.0, 0.0).into()),
        });
        st.apply(TwinEvent::Tick(t0 + Duration::seconds(tick)));
    }
    st.snapshot()
}

/// The small twin with the cluster's DNS in `kube-system` (2 replicas, on s2 and s4).
pub(crate) fn small_twin_with_coredns() -> Arc<Snapshot> {
    let mut st = small_store(|_| {});
    let req = Resources::new(100.0, 70.0, 0.0);
    st.apply(TwinEvent::Workload(Workload::new("coredns", "kube-system", 2, req)));
    for (i, s) in ["s2", "s4"].iter().enumerate() {
        st.apply(TwinEvent::Pod(PodSpec {
            name: format!("coredns-{i}"),
            namespace: "kube-system".into(),
            workload: Some("coredns".into()),
            server: Some(s.to_string()),
            requests: req,
            limits: None,
            phase: PodPhase::Running,
            reason: None,
        }));
    }
    st.snapshot()
}

fn small_store(edit: impl Fn(&mut Workload)) -> TwinStore {
    let mut st = TwinStore::default();
    for i in 1..=4 {
        let mut s = Server::new(
            &format!("s{i}"),
            Location::new("dc", "z", "r1"),
            Resources::new(4000.0, 8192.0, 1000.0),
        );
        s.price_per_hour = 1.0;
        st.apply(TwinEvent::Server(s));
    }
    let mut api = Workload::new("api", "shop", 2, Resources::new(100.0, 128.0, 0.0));
    api.slo_p99_ms = Some(50.0);
    let mut db = Workload::new("db", "shop", 2, Resources::new(500.0, 1024.0, 0.0));
    db.critical = true;
    let mut web = Workload::new("web", "shop", 2, Resources::new(200.0, 256.0, 0.0));
    web.slo_p99_ms = Some(200.0);
    web.hpa = Some(Hpa {
        name: "web".into(),
        min_replicas: 2,
        max_replicas: 6,
        metrics: vec![HpaMetric::CpuUtilization { target_pct: 60.0 }],
    });
    let big = Workload::new("big", "shop", 1, Resources::new(3500.0, 2048.0, 0.0));
    for mut w in [api, db, web, big] {
        edit(&mut w);
        st.apply(TwinEvent::Workload(w));
    }
    let pods = [
        ("api", "s2"),
        ("api", "s3"),
        ("db", "s2"),
        ("db", "s3"),
        ("web", "s2"),
        ("web", "s3"),
        ("big", "s1"),
    ];
    for (i, (w, s)) in pods.iter().enumerate() {
        let req = match *w {
            "api" => Resources::new(100.0, 128.0, 0.0),
            "db" => Resources::new(500.0, 1024.0, 0.0),
            "web" => Resources::new(200.0, 256.0, 0.0),
            _ => Resources::new(3500.0, 2048.0, 0.0),
        };
        st.apply(TwinEvent::Pod(PodSpec {
            name: format!("{w}-{i}"),
            namespace: "shop".into(),
            workload: Some(w.to_string()),
            server: Some(s.to_string()),
            requests: req,
            limits: None,
            phase: PodPhase::Running,
            reason: None,
        }));
    }
    st.apply(TwinEvent::Edges {
        origin: "test".into(),
        edges: vec![Edge {
            from: "shop/web".into(),
            to: "shop/api".into(),
            rps: 100.0,
            origin: String::new(),
        }],
    });
    let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("valid time");
    for tick in 0..30 {
        let wobble = if tick % 2 == 0 { 1.05 } else { 0.95 };
        // api was quiet at first (40 requests/s answered in p99 30 ms), then its traffic rose and
        // its pods queue: the measurements show the overload, not only state it.
        let api = if tick < 20 { (40.0, 30.0, 96.0) } else { (100.0, 90.0, 240.0) };
        for (key, rps, p99, cpu) in [
            ("shop/api", api.0, api.1, api.2),
            ("shop/web", 50.0, 150.0, 240.0),
            ("shop/db", 20.0, 120.0, 300.0),
        ] {
            st.apply(TwinEvent::WorkloadMetrics {
                key: key.into(),
                rps: Some(rps * wobble),
                p50_ms: Some(p99 / 3.0),
                p99_ms: Some(p99),
                usage: Some(Resources::new(cpu * wobble, 200.0, 0.0).into()),
            });
        }
        st.apply(TwinEvent::Tick(t0 + Duration::seconds(tick)));
    }
    st
}
