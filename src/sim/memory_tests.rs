//! Memory is bounded by what the caller asks, not by the horizon: a run ten times longer holds
//! no more (series at their point budget, histograms, request slots, pods, links, autoscaler
//! state), counted as the values the world retains — not timed, so it holds on any machine.

use super::engine::World;
use super::scenario::Scenario;

impl World<'_> {
    /// Values held beyond the world's fixed part: what its memory grows with.
    fn retained(&self) -> usize {
        let hists: usize = self.ttr.buckets_held()
            + self.ttr_win.buckets_held()
            + self.services.iter().map(|s| s.ttp.buckets_held()).sum::<usize>();
        let pods: usize = self.pods.iter().map(|p| 1 + p.queue.len() + p.dq.len()).sum();
        let hpa: usize = self.services.iter().filter_map(|s| s.hpa.as_ref()).map(|h| h.state.held()).sum();
        let slots = self.reqs.len() * (5 + self.stride);
        self.series.values_held()
            + hists
            + pods
            + hpa
            + slots
            + self.links.len()
            + self.heap.len()
            + self.pending.len()
    }
}

/// 120 servers in two zones, a front calling a back half the time, an autoscaler on the front,
/// Poisson users for `horizon` seconds, a point a second asked, at most 64 kept.
fn long(horizon: u32) -> Scenario {
    let yaml = format!(
        r#"name: long
duration_s: {horizon}
sample_s: 1
series: {{ max_points: 64 }}
servers:
  - {{ name: a, count: 60, region: r, zone: z1, cpu_m: 4000, mem_mib: 4000 }}
  - {{ name: b, count: 60, region: r, zone: z2, cpu_m: 4000, mem_mib: 4000 }}
services:
  - name: front
    replicas: 2
    balancer: least_outstanding
    pod: {{ cpu_m: 500, service_time: {{ type: exponential, mean: 4 }} }}
    autoscaler: {{ metric: {{ utilization_pct: 50 }}, min: 1, max: 10 }}
  - name: back
    replicas: 2
    pod: {{ cpu_m: 500, parallelism: 2, service_time: {{ type: log_normal, mu: 2.0, sigma: 0.5 }} }}
workflows:
  - name: page
    root: {{ service: front, calls: [{{ service: back, probability: 0.5 }}] }}
load: [{{ name: users, workflow: page, rate: 100 }}]
"#
    );
    Scenario::from_yaml(&yaml, "long.yaml").unwrap()
}

#[test]
fn a_ten_times_longer_run_holds_no_more() {
    let held = |h: u32| {
        let sc = long(h);
        let mut w = World::new(&sc, 3).unwrap();
        w.run_loop().unwrap();
        let r = w.retained();
        (r, w.outputs())
    };
    let (short, a) = held(200);
    let (long, b) = held(2000);
    assert!(b.requests > 9 * a.requests, "{} vs {} requests", b.requests, a.requests);
    assert!(long as f64 <= 1.5 * short as f64, "retained {long} values after 2000 s, {short} after 200 s");
    for o in [&a, &b] {
        // At most the budget, and at least half of it once merging started.
        let n = o.series.t_s.len();
        assert!((32..=64).contains(&n), "{n} points");
        assert!(o.series.replicas.values().chain([&o.series.in_flight]).all(|v| v.len() == n));
        // 120 servers: utilisation per zone, no per-server history, every server's last values.
        assert_eq!(o.groups.len(), 2);
        assert!(o.groups.iter().all(|g| g.servers == 60 && g.cpu.len() == n));
        assert!(o.servers.iter().all(|s| s.cpu.is_empty() && s.mem.is_empty()));
        assert!(o.servers.iter().any(|s| s.last.cpu > 0.0));
    }
    // Merged points still cover the run: the last is its end.
    assert_eq!(b.series.t_s.last(), Some(&2000.0));
}

#[test]
fn per_server_history_only_when_asked() {
    let mut sc = long(100);
    sc.series.detail = super::scenario::SeriesDetail::Servers;
    let o = super::run(&sc, 1).unwrap();
    assert!(o.groups.is_empty());
    assert!(o.servers.iter().all(|s| s.cpu.len() == o.series.t_s.len()));
    sc.series.detail = super::scenario::SeriesDetail::None;
    let o = super::run(&sc, 1).unwrap();
    assert!(o.groups.is_empty() && o.servers.iter().all(|s| s.cpu.is_empty()));
    sc.series.max_points = 1;
    assert!(super::run(&sc, 1).unwrap_err().to_string().contains("series.max_points"));
}
