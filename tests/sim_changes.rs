//! Failures and changes at a time, schedulers, call trees and load shapes.

use twintop::sim::validate::parse_rate_csv;
use twintop::sim::{Scenario, run};

fn base(extra_services: &str, events: &str, policy: &str) -> Scenario {
    let yaml = format!(
        r#"name: changes
scheduler: {{ policy: {policy}, tiers: [edge, core] }}
latency: {{ preset: racks, intra_rack_ms: 1, inter_rack_ms: 5 }}
servers:
  - {{ name: edge, count: 2, region: dc, zone: z, rack: r1, tier: edge, cpu_m: 1000, mem_mib: 1000, price_per_hour: 3 }}
  - {{ name: core, count: 4, region: dc, zone: z, rack: r2, tier: core, cpu_m: 1000, mem_mib: 1000, price_per_hour: 1 }}
services:
  - name: api
    replicas: 4
    balancer: least_outstanding
    pod: {{ cpu_m: 400, mem_mib: 100, parallelism: 2, startup_s: 1, service_time: {{ type: exponential, mean: 5 }} }}
{extra_services}workflows:
  - {{ name: w, steps: [api] }}
load:
  - {{ name: users, workflow: w, origin: {{ region: dc, zone: z, rack: r1 }}, rate: 200, stop_s: 60 }}
events:
{}"#,
        if events.is_empty() { "  []\n" } else { events }
    );
    Scenario::from_yaml(&yaml, "changes.yaml").unwrap()
}

#[test]
fn node_loss_fails_its_requests_and_pods_are_replaced() {
    let sc = base("", "  - { at_s: 20, node_loss: edge-001 }\n", "mec_first");
    let o = run(&sc, 1).unwrap();
    assert!(o.drops.failed < 50, "only what edge-001 held: {:?}", o.drops);
    assert_eq!(o.replicas["api"].last, 4, "replacements scheduled");
    assert!(o.servers.iter().any(|s| s.tier == "core"), "the lost pods moved to core");
    assert_eq!(o.completed + o.drops.total(), o.requests);
}

#[test]
fn mec_first_fills_the_edge_before_the_core_and_bin_pack_packs() {
    let o = run(&base("", "", "mec_first"), 1).unwrap();
    // Two pods of 400 m per 1000 m edge node: 4 pods fill both edge nodes.
    assert_eq!(o.peak_placement.pods_by_tier.get("edge"), Some(&4), "{:?}", o.peak_placement);
    let o = run(&base("", "", "spread"), 1).unwrap();
    assert_eq!(o.servers.len(), 4, "spread uses four servers");
    let o = run(&base("", "", "bin_pack"), 1).unwrap();
    assert_eq!(o.servers.len(), 2, "bin-pack uses two servers");
    let o = run(&base("", "", "cheapest"), 1).unwrap();
    assert!(o.servers.iter().all(|s| s.tier == "core"), "cheapest uses the core");
    assert!(o.cost.total > 0.0);
}

#[test]
fn unschedulable_pods_stay_pending_until_capacity_arrives() {
    let sc = base(
        "",
        "  - { at_s: 10, replicas: { service: api, count: 20 } }\n  - { at_s: 30, capacity: { server: core-001, cpu_m: 10000 } }\n",
        "spread",
    );
    let o = run(&sc, 1).unwrap();
    // 6 nodes × 2 pods = 12 fit; 8 wait until core-001 grows to 10 cores (25 pods' worth).
    assert_eq!(o.pending_pods.max, 8);
    assert_eq!(o.pending_pods.last, 0);
    assert_eq!(o.replicas["api"].last, 20);
}

#[test]
fn drain_moves_pods_without_losing_requests_and_crash_loses_some() {
    let o = run(&base("", "  - { at_s: 20, drain: core-001 }\n", "spread"), 1).unwrap();
    assert_eq!(o.drops.failed, 0, "a drain lets pods finish");
    assert!(o.servers.iter().find(|s| s.name == "core-001").unwrap().cpu.last() == Some(&0.0));
    let o = run(&base("", "  - { at_s: 20, pod_crash: { service: api, count: 2 } }\n", "spread"), 1).unwrap();
    assert_eq!(o.replicas["api"].last, 4);
    assert_eq!(o.completed + o.drops.total(), o.requests);
}

#[test]
fn added_link_latency_shows_in_time_to_resolution() {
    let plain = run(&base("", "", "spread"), 1).unwrap();
    let slow =
        run(&base("", "  - { at_s: 0, link_latency: { a: dc, b: dc, add_ms: 10 } }\n", "spread"), 1).unwrap();
    // Two hops (there and back) each 10 ms slower.
    let d = slow.ttr_ms.mean - plain.ttr_ms.mean;
    assert!((d - 20.0).abs() < 1.0, "{d}");
}

#[test]
fn call_trees_visit_children_with_their_probability() {
    let yaml = r#"name: tree
servers: [{ name: n, region: r, cpu_m: 100000, mem_mib: 100000 }]
services:
  - { name: front, replicas: 2, pod: { parallelism: 50, service_time: { type: constant, value: 1 } } }
  - { name: cart, replicas: 2, pod: { parallelism: 50, service_time: { type: constant, value: 1 } } }
  - { name: ads, replicas: 2, pod: { parallelism: 50, service_time: { type: constant, value: 1 } } }
workflows:
  - name: page
    root: { service: front, calls: [{ service: cart, probability: 0.25 }, { service: ads }] }
load: [{ name: u, workflow: page, rate: 500, requests: 20000 }]
"#;
    let o = run(&Scenario::from_yaml(yaml, "tree.yaml").unwrap(), 2).unwrap();
    assert_eq!(o.services["front"].served, 20_000);
    assert_eq!(o.services["ads"].served, 20_000);
    let cart = o.services["cart"].served as f64 / 20_000.0;
    assert!((cart - 0.25).abs() < 0.02, "{cart}");
    // Constant times, no network: a request takes 2 or 3 ms.
    assert!(o.ttr_ms.mean > 2.2 && o.ttr_ms.mean < 2.3, "{}", o.ttr_ms.mean);
}

#[test]
fn replayed_rates_shape_the_load() {
    let rates = parse_rate_csv("timestamp,value\n0,100\n1,0\n2,300\n", Some("value")).unwrap();
    assert_eq!(rates, vec![100.0, 0.0, 300.0]);
    assert!(parse_rate_csv("t,v\n0,-1\n", None).unwrap_err().contains("≥ 0"));
    let yaml = format!(
        r#"name: replay
servers: [{{ name: n, region: r, cpu_m: 1000, mem_mib: 1000 }}]
services: [{{ name: s, replicas: 1, pod: {{ parallelism: 100, service_time: {{ type: constant, value: 1 }} }} }}]
workflows: [{{ name: w, steps: [s] }}]
load: [{{ name: u, workflow: w, arrivals: replay, rates: {rates:?}, step_s: 10, scale: 2 }}]
"#
    );
    let o = run(&Scenario::from_yaml(&yaml, "replay.yaml").unwrap(), 1).unwrap();
    // (100 + 0 + 300) × 2 per s over 10 s steps: 8000 expected.
    assert!((o.requests as f64 - 8000.0).abs() < 300.0, "{}", o.requests);
    assert!(o.sim_time_s <= 30.1);
}

#[test]
fn constant_arrivals_are_evenly_spaced() {
    let yaml = r#"name: c
servers: [{ name: n, region: r, cpu_m: 1000, mem_mib: 1000 }]
services: [{ name: s, pod: { service_time: { type: constant, value: 5 } } }]
workflows: [{ name: w, steps: [s] }]
load: [{ name: u, workflow: w, arrivals: constant, rate: 100, requests: 1000 }]
"#;
    let o = run(&Scenario::from_yaml(yaml, "c.yaml").unwrap(), 1).unwrap();
    // 10 ms apart, 5 ms of service: nobody ever waits.
    assert!((o.ttr_ms.max - 5.0).abs() < 1e-9, "{:?}", o.ttr_ms);
    assert_eq!(o.in_flight.max, 1);
}

#[test]
fn utilisation_autoscaler_sizes_a_service_for_its_target() {
    let yaml = r#"name: hpa
duration_s: 700
servers: [{ name: n, count: 4, region: r, cpu_m: 4000, mem_mib: 4000 }]
services:
  - name: s
    replicas: 1
    balancer: least_outstanding
    pod:
      cpu_m: 500
      service_time: { type: exponential, mean: 20 }
    autoscaler: { metric: { utilization_pct: 50 }, min: 1, max: 20 }
workflows: [{ name: w, steps: [s] }]
load: [{ name: u, workflow: w, rate: 100 }]
"#;
    let o = run(&Scenario::from_yaml(yaml, "hpa.yaml").unwrap(), 1).unwrap();
    // 100 rps × 20 ms = 2 busy workers; at 50 % that is 4 pods (the band allows 4 or 5).
    let last = o.replicas["s"].last;
    assert!((4..=5).contains(&last), "{last}");
    // From 1 pod: +4 pods or +100 % per 15 s, so the first step is to at most 5.
    assert!(o.series.replicas["s"][1] <= 5, "{:?}", &o.series.replicas["s"][..4]);
}

#[test]
fn locality_balancing_keeps_requests_in_the_users_rack() {
    use twintop::sim::scenario::Balancer;
    let mut sc = base("", "", "spread");
    let least = run(&sc, 1).unwrap();
    sc.services[0].balancer = Balancer::Locality;
    let local = run(&sc, 1).unwrap();
    // Spread puts two pods in the users' rack (1 ms away) and two in the other (5 ms).
    let core_cpu: f64 = local.servers.iter().filter(|s| s.tier == "core").flat_map(|s| s.cpu.iter()).sum();
    assert_eq!(core_cpu, 0.0, "no request left the users' rack");
    assert!(local.ttr_ms.mean + 3.0 < least.ttr_ms.mean, "{} vs {}", local.ttr_ms.mean, least.ttr_ms.mean);
}
