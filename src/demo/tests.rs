use super::*;
use crate::twin::kpi;

fn at(ticks: u32, seed: u64) -> Arc<Snapshot> {
    let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    DemoTwin::starting_at(DemoPreset::Dc, seed, start).warm_snapshot(ticks)
}

#[test]
fn same_seed_same_demo_other_seed_differs() {
    let a = at(40, 7);
    let b = at(40, 7);
    let c = at(40, 8);
    assert_eq!(a.server_status, b.server_status);
    assert_ne!(a.server_status, c.server_status);
}

#[test]
fn demo_runs_online_boutique_with_its_call_graph() {
    let s = at(20, 1);
    for name in ["frontend", "cartservice", "checkoutservice", "paymentservice", "redis-cart", "adservice"] {
        assert!(s.workload_index(name).is_some(), "{name} missing");
    }
    assert!(s.edges.iter().any(|e| e.from == "boutique/frontend" && e.to == "boutique/checkoutservice"));
    assert!(
        s.edges.iter().any(|e| e.from == "boutique/checkoutservice" && e.to == "boutique/paymentservice")
    );
    let cart = s.workload_index("cartservice").unwrap();
    assert_eq!(s.workloads[cart].requests.cpu_m, 200.0, "requests as in the manifests");
    assert_eq!(s.servers.len(), 50);
    assert!(s.pods.iter().all(|p| p.server.is_some()), "everything fits on the dc preset");
}

#[test]
fn servers_differ_and_rub_is_meaningful() {
    let s = at(30, 1);
    let k = kpi::kpis(&s);
    assert!(k.cpu_util > 0.1 && k.cpu_util < 0.9, "{k:?}");
    assert!(k.rub > 0.2 && k.rub < 0.99, "{k:?}");
}

#[test]
fn surge_breaches_checkout_slo_and_it_recovers_after() {
    let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 3, start);
    let mut store = TwinStore::default();
    let mut p99_during = 0.0f64;
    let mut p99_before = 0.0f64;
    for t in 1..=290u64 {
        store.apply_all(demo.step());
        let s = store.snapshot();
        let w = s.workload_index("checkoutservice").unwrap();
        let p99 = s.workload_status[w].p99_ms.unwrap();
        if t == 50 {
            p99_before = p99;
        }
        if SURGE.contains(&t) {
            p99_during = p99_during.max(p99);
        }
    }
    let s = store.snapshot();
    let w = s.workload_index("checkoutservice").unwrap();
    let target = s.workloads[w].slo_p99_ms.unwrap();
    assert!(p99_before < target, "before the surge checkout meets its SLO: {p99_before}");
    assert!(p99_during > target, "the surge breaches it: {p99_during}");
    assert!(s.workload_status[w].p99_ms.unwrap() < target, "and it recovers after");
}

#[test]
fn scaling_relieves_the_surge() {
    let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 3, start);
    let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 6 };
    assert!(demo.apply_change(&change, true).is_ok());
    demo.apply_change(&change, false).unwrap();
    let mut store = TwinStore::default();
    for _ in 0..120 {
        store.apply_all(demo.step());
    }
    let s = store.snapshot();
    let w = s.workload_index("checkoutservice").unwrap();
    assert_eq!(s.workloads[w].replicas, 6);
    assert_eq!(s.workload_status[w].ready, 6);
    assert!(s.workload_status[w].p99_ms.unwrap() < s.workloads[w].slo_p99_ms.unwrap());
}

#[test]
fn hot_server_runs_hot_during_the_incident() {
    let s = at(HOT_SERVER.start as u32 + 5, 1);
    let demo = DemoTwin::starting_at(DemoPreset::Dc, 1, Utc::now());
    let i = s.server_index(demo.hot_server_name()).unwrap();
    let u = kpi::server_utilization(&s)[i];
    assert!(u.cpu > 0.95, "{u:?}");
}

#[test]
fn cordon_and_bad_changes() {
    let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 1, Utc::now());
    demo.apply_change(&Change::Cordon { server: "r1-01".into(), cordon: true }, false).unwrap();
    assert!(
        demo.apply_change(&Change::Scale { workload: "nope".into(), replicas: 2 }, false)
            .unwrap_err()
            .contains("nope")
    );
    assert!(
        demo.apply_change(&Change::HpaBounds { workload: "cartservice".into(), min: 2, max: 4 }, false)
            .is_err()
    );
    let mut store = TwinStore::default();
    store.apply_all(demo.step());
    let s = store.snapshot();
    assert!(!s.servers[s.server_index("r1-01").unwrap()].schedulable);
}

#[test]
fn hpa_scales_frontend_with_the_daily_cycle() {
    let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 2, start);
    let mut store = TwinStore::default();
    let mut seen = HashSet::new();
    for _ in 0..DAY_TICKS {
        store.apply_all(demo.step());
        let s = store.snapshot();
        seen.insert(s.workloads[s.workload_index("frontend").unwrap()].replicas);
    }
    assert!(seen.len() >= 2, "frontend replicas never changed: {seen:?}");
}

#[test]
fn mec_preset_places_everything() {
    let s = DemoTwin::starting_at(DemoPreset::Mec, 1, Utc::now()).warm_snapshot(5);
    assert_eq!(s.servers.len(), 475);
    assert!(s.pods.iter().all(|p| p.server.is_some()));
    assert!(s.workloads.len() >= 20);
}

#[test]
fn evicting_a_pod_moves_it_off_its_server_where_the_twin_expects() {
    let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 1, start);
    let s = demo.warm_snapshot(10);
    let w = s.workload_index("cartservice").unwrap();
    let replicas = s.workloads[w].replicas;
    assert!(replicas > 1);
    let pod = s.pods_of_workload(w).next().unwrap();
    let (key, from) = (format!("{}/{}", pod.namespace, pod.name), pod.server.unwrap());
    // A server with none of its pods and room to spare.
    let to = (0..s.servers.len())
        .find(|&i| i != from && s.pods_of_workload(w).all(|p| p.server != Some(i)))
        .unwrap();
    let change = Change::Evict {
        pod: key.clone(),
        server: s.servers[from].name.clone(),
        to: Some(s.servers[to].name.clone()),
    };
    assert!(demo.apply_change(&change, true).unwrap().contains("would be evicted"));
    let msg = demo.apply_change(&change, false).unwrap();
    assert!(msg.contains(&s.servers[to].name), "{msg}");
    let mut store = TwinStore::default();
    for _ in 0..10 {
        store.apply_all(demo.step());
    }
    let after = store.snapshot();
    assert!(after.pod_index(&key).is_none(), "the evicted pod is gone");
    let w = after.workload_index("cartservice").unwrap();
    assert_eq!(after.pods_of_workload(w).count() as u32, replicas, "its controller replaced it");
    let to_i = after.server_index(&s.servers[to].name).unwrap();
    assert_eq!(after.pods_of_workload(w).filter(|p| p.server == Some(to_i)).count(), 1);
    assert_eq!(after.workload_status[w].ready, replicas, "and the replacement became ready");
    assert!(demo.apply_change(&change, false).unwrap_err().contains("no pod"));
}
