//! Direct pods against classic ones: the same model, so the same requests get the same times.

use super::super::engine::World;
use crate::sim::{Outputs, Scenario};

fn run(sc: &Scenario, seed: u64, direct: bool) -> Outputs {
    let mut w = World::with_direct(sc, seed, direct).unwrap();
    w.run_loop().unwrap();
    w.outputs()
}

fn mmc(par: u32, max_queue: u32, service: &str, extra: &str) -> Scenario {
    let yaml = format!(
        r#"
name: mmc
servers:
  - {{ name: node, region: r, cpu_m: 1000, mem_mib: 1000 }}
services:
  - name: queue
    pod:
      cpu_m: 100
      mem_mib: 100
      parallelism: {par}
      max_queue: {max_queue}
      service_time: {service}
workflows:
  - {{ name: w, steps: [queue] }}
load:
  - {{ name: l, workflow: w, rate: 90, requests: 20000 }}
{extra}"#
    );
    Scenario::from_yaml(&yaml, "mmc.yaml").unwrap()
}

#[test]
fn a_fifo_queue_gives_each_request_the_same_times_either_way() {
    // With no network, a request's service time is the pod's n-th draw either way (FIFO), so
    // every time to resolution is the same number; sums may differ in their last bits only.
    for (par, max_queue) in [(1, 1_000_000), (3, 1_000_000), (1, 3)] {
        let sc = mmc(par, max_queue, "{ type: exponential, mean: 10 }", "");
        let (c, d) = (run(&sc, 4, false), run(&sc, 4, true));
        assert_eq!(c.ttr_ms, d.ttr_ms, "par {par}, max_queue {max_queue}");
        assert_eq!((c.completed, c.drops), (d.completed, d.drops));
        let (a, b) = (&c.services["queue"], &d.services["queue"]);
        assert_eq!(
            (a.ttp_ms.p50, a.ttp_ms.p99, a.ttp_ms.max, a.served),
            (b.ttp_ms.p50, b.ttp_ms.p99, b.ttp_ms.max, b.served)
        );
        assert!(
            (a.ttp_ms.mean - b.ttp_ms.mean).abs() <= 1e-9 * a.ttp_ms.mean,
            "{} vs {}",
            a.ttp_ms.mean,
            b.ttp_ms.mean
        );
        assert!((a.wait_ms - b.wait_ms).abs() <= 1e-9 * a.wait_ms.max(1.0), "{} vs {}", a.wait_ms, b.wait_ms);
        for (x, y) in c.servers[0].cpu.iter().zip(&d.servers[0].cpu) {
            assert!((x - y).abs() < 1e-9, "cpu {x} vs {y}");
        }
        assert!(d.events < c.events, "direct pods need fewer events: {} vs {}", d.events, c.events);
    }
}

#[test]
fn a_run_cut_short_counts_only_what_was_served() {
    // Overloaded (90 rps of 20 ms each): at the stop requests are queued and being served,
    // and they are not counted as served.
    let sc = mmc(1, 1_000_000, "{ type: constant, value: 20 }", "duration_s: 100\n");
    let (c, d) = (run(&sc, 2, false), run(&sc, 2, true));
    assert_eq!(c.services["queue"].served, d.services["queue"].served);
    assert_eq!(c.ttr_ms, d.ttr_ms);
    assert!(c.services["queue"].served < c.requests);
}

#[test]
fn crashes_drains_and_autoscaling_behave_the_same() {
    // Least-outstanding balancing, a utilisation HPA, a crash and a drain: statistically the
    // same either way (balancer draws and ties may differ, so compare loosely).
    let yaml = r#"name: busy
duration_s: 300
servers: [{ name: n, count: 4, region: r, zone: z, rack: k, cpu_m: 4000, mem_mib: 4000 }]
services:
  - name: s
    replicas: 2
    balancer: least_outstanding
    pod: { cpu_m: 500, startup_s: 1, service_time: { type: exponential, mean: 20 } }
    autoscaler: { metric: { utilization_pct: 50 }, min: 1, max: 20 }
workflows: [{ name: w, steps: [s] }]
load: [{ name: u, workflow: w, rate: 100 }]
events:
  - { at_s: 100, pod_crash: { service: s, count: 1 } }
  - { at_s: 150, drain: n-001 }
"#;
    let sc = Scenario::from_yaml(yaml, "busy.yaml").unwrap();
    let (c, d) = (run(&sc, 1, false), run(&sc, 1, true));
    assert_eq!(c.requests, d.requests);
    assert_eq!(d.completed + d.drops.total() + *d.series.in_flight.last().unwrap() as u64, d.requests);
    let rel = |a: f64, b: f64| (a - b).abs() / a.max(b);
    assert!(rel(c.ttr_ms.mean, d.ttr_ms.mean) < 0.1, "{:?} vs {:?}", c.ttr_ms, d.ttr_ms);
    for o in [&c, &d] {
        // 100 rps × 20 ms = 2 busy workers: 4 or 5 pods at 50 %.
        assert!((4..=5).contains(&o.replicas["s"].last), "{:?}", o.replicas);
        assert!(o.drops.failed <= 10, "only what the crashed pod held: {:?}", o.drops);
    }
    assert!(d.events < c.events);
}
