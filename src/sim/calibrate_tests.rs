use super::*;
use crate::demo::{DemoPreset, DemoTwin, SURGE};
use chrono::{TimeZone, Utc};

fn demo_at(tick: u64) -> std::sync::Arc<Snapshot> {
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 1, start);
    demo.warm_snapshot(tick as u32)
}

fn model(snap: &Snapshot, name: &str) -> WorkloadModel {
    let w = snap.workload_index(name).unwrap();
    calibrate(snap, 10.0)[w].clone()
}

#[test]
fn own_time_excludes_the_calls_a_service_waits_on() {
    // checkoutservice takes 60 ms per request on average (exponential: median 42 ms) on an
    // idle pod in the demo's catalog and waits on six callees; its measured p50 includes them
    // and the network.
    let snap = demo_at(SURGE.start + 30);
    let m = model(&snap, "checkoutservice");
    assert!((30.0..60.0).contains(&m.service_median_ms), "{m:?}");
    let m = model(&snap, "productcatalogservice");
    assert!(m.service_median_ms < 5.0, "{m:?}");
}

#[test]
fn the_surging_service_is_fitted_to_its_queueing() {
    // In the surge checkoutservice's two pods (two requests at a time each) run near or
    // over capacity; the fit must not give it room it does not have.
    let snap = demo_at(SURGE.start + 30);
    let m = model(&snap, "checkoutservice");
    assert!(matches!(m.fit, Fit::Queueing | Fit::Saturated), "{m:?}");
    assert!((1..=3).contains(&m.parallelism), "{m:?}");
    assert!(m.in_system > 1.0, "requests are waiting at its pods now: {m:?}");
    // A quiet service has visible headroom.
    let m = model(&snap, "currencyservice");
    let w = snap.workload_index("currencyservice").unwrap();
    let st = snap.workload_status[w];
    let rho = st.rps.unwrap() / st.ready as f64 * m.service_median_ms / 1000.0 / m.parallelism as f64;
    assert!(rho < 0.9, "{m:?} rho {rho}");
}

#[test]
fn erlang_c_wait_matches_mm1() {
    // M/M/1 at ρ = 0.9, mean 10 ms: waits with probability 0.9, 100 ms on average when it does.
    let (p, mean) = wait(1, 0.9, 0.010, 1.0);
    assert!((p - 0.9).abs() < 1e-12 && (mean - 100.0).abs() < 1e-9, "{p} {mean}");
    // Deterministic service waits half as long (Allen–Cunneen).
    assert!((wait(1, 0.9, 0.010, 0.0).1 - 50.0).abs() < 1e-9);
    assert_eq!(wait(2, 2.5, 0.010, 1.0), (1.0, f64::INFINITY), "over capacity");
}

#[test]
fn callees_come_before_their_callers_even_in_a_cycle() {
    // 0 → 1 → 2, 2 → 0 (a cycle), 3 → 1.
    let callees = vec![vec![(1, 1.0)], vec![(2, 1.0)], vec![(0, 1.0)], vec![(1, 1.0)]];
    let order = callees_first(&callees);
    let pos = |w: usize| order.iter().position(|&x| x == w).unwrap();
    assert_eq!(order.len(), 4);
    assert!(pos(2) < pos(1) && pos(1) < pos(0) && pos(1) < pos(3), "{order:?}");
}

#[test]
fn a_twin_without_latency_gets_defaults() {
    let snap = crate::twin::Snapshot::empty();
    assert!(calibrate(&snap, 10.0).is_empty());
}
