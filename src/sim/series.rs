//! What a run keeps over time, at the resolution its caller asked for: at most
//! `series.max_points` points per series. When a run outgrows that, neighbouring points merge
//! pairwise and the sampling interval doubles, so memory does not grow with the horizon.
//! Per-server utilisation is kept only when asked (`detail: servers`); above 100 servers the
//! default keeps it per location group (region/zone), and every server's last values always.
//!
//! Merging two points: instants (replicas, pending, in flight, memory) keep the later one;
//! interval means (CPU, bandwidth, RUB) are weighted by the intervals' lengths — exact for CPU
//! and bandwidth, the mean of the two RUBs for RUB; the p99 of a merged interval is the larger
//! of the two (an upper bound: the exact value would need the requests themselves).

use super::engine::{NONE, PodState, World};
use super::scenario::SeriesDetail;
use crate::twin::kpi::rub;

/// Servers up to which `auto` keeps per-server series.
pub(crate) const AUTO_SERVERS: usize = 100;

/// CPU, memory and bandwidth utilisation (0..1) over time.
#[derive(Debug, Clone, Default)]
pub(super) struct UtilSeries {
    pub cpu: Vec<f64>,
    pub mem: Vec<f64>,
    pub bw: Vec<f64>,
}

pub(super) struct SeriesStore {
    max_points: usize,
    pub detail: SeriesDetail,
    /// Seconds at each point, and the length (s) of the interval each point covers.
    pub t: Vec<f64>,
    dt: Vec<f64>,
    pub pending: Vec<u32>,
    pub in_flight: Vec<u32>,
    pub rub: Vec<f64>,
    pub p99: Vec<f64>,
    /// Live pods per service.
    pub replicas: Vec<Vec<u32>>,
    /// Per server with `detail: servers`, per location group with `groups`, else empty.
    pub util: Vec<UtilSeries>,
}

impl SeriesStore {
    pub(crate) fn new(
        max_points: u32,
        detail: SeriesDetail,
        services: usize,
        servers: usize,
        groups: usize,
    ) -> Self {
        let detail = match detail {
            SeriesDetail::Auto if servers <= AUTO_SERVERS => SeriesDetail::Servers,
            SeriesDetail::Auto => SeriesDetail::Groups,
            d => d,
        };
        let n = match detail {
            SeriesDetail::Servers => servers,
            SeriesDetail::Groups => groups,
            _ => 0,
        };
        SeriesStore {
            max_points: (max_points as usize).max(2),
            detail,
            t: Vec::new(),
            dt: Vec::new(),
            pending: Vec::new(),
            in_flight: Vec::new(),
            rub: Vec::new(),
            p99: Vec::new(),
            replicas: vec![Vec::new(); services],
            util: vec![UtilSeries::default(); n],
        }
    }

    /// Values held: what the memory of the series is proportional to (tests bound it).
    #[cfg(test)]
    pub(crate) fn values_held(&self) -> usize {
        let util: usize = self.util.iter().map(|u| u.cpu.len() + u.mem.len() + u.bw.len()).sum();
        let reps: usize = self.replicas.iter().map(Vec::len).sum();
        self.t.len() * 6 + reps + util
    }

    /// Halves the points when there are `max_points`; true when it did (the interval doubles).
    fn merge_if_full(&mut self) -> bool {
        if self.t.len() < self.max_points {
            return false;
        }
        let dt = self.dt.clone();
        let keep_later = |v: &mut Vec<u32>| pairwise(v, |_, b| b);
        let mean = |v: &mut Vec<f64>| weighted(v, &dt);
        pairwise(&mut self.t, |_, b| b);
        keep_later(&mut self.pending);
        keep_later(&mut self.in_flight);
        self.replicas.iter_mut().for_each(keep_later);
        mean(&mut self.rub);
        pairwise(&mut self.p99, f64::max);
        for u in &mut self.util {
            mean(&mut u.cpu);
            pairwise(&mut u.mem, |_, b| b);
            mean(&mut u.bw);
        }
        pairwise(&mut self.dt, |a, b| a + b);
        true
    }
}

/// Merges (v[0], v[1]), (v[2], v[3]), …; an odd last element stays as it is.
fn pairwise<T: Copy>(v: &mut Vec<T>, f: impl Fn(T, T) -> T) {
    let n = v.len();
    for k in 0..n / 2 {
        v[k] = f(v[2 * k], v[2 * k + 1]);
    }
    if n % 2 == 1 {
        v[n / 2] = v[n - 1];
    }
    v.truncate(n.div_ceil(2));
}

/// `pairwise` for interval means, weighted by the intervals' lengths `dt`.
fn weighted(v: &mut Vec<f64>, dt: &[f64]) {
    let n = v.len();
    for k in 0..n / 2 {
        let (a, b) = (2 * k, 2 * k + 1);
        let w = dt[a] + dt[b];
        v[k] = if w > 0.0 { (v[a] * dt[a] + v[b] * dt[b]) / w } else { v[b] };
    }
    if n % 2 == 1 {
        v[n / 2] = v[n - 1];
    }
    v.truncate(n.div_ceil(2));
}

impl World<'_> {
    /// Records a point of every series: replicas, pending pods, in-flight requests, per-server
    /// utilisation (CPU = busy share of the pods' workers × their CPU request), RUB over live
    /// servers and the p99 of the interval; then merges points if the run outgrew its budget.
    pub(crate) fn sample(&mut self) {
        let now = self.now;
        let dt = now - self.last_sample;
        self.last_sample = now;
        let mut cpu = vec![0.0; self.servers.len()];
        for p in 0..self.pods.len() {
            let pod = &self.pods[p];
            if pod.server == NONE || pod.state == PodState::Dead && pod.area == pod.mark_sample {
                continue;
            }
            let area = self.busy_area(p as u32, now);
            let pod = &mut self.pods[p];
            let busy = area - pod.mark_sample;
            pod.mark_sample = area;
            if dt > 0.0 {
                let svc = &self.services[pod.service as usize];
                cpu[pod.server as usize] += svc.cpu_m * busy / (pod.par as f64 * dt);
            }
        }
        let st = &mut self.series;
        let per_group = st.detail == SeriesDetail::Groups;
        // Per group: Σ used and Σ allocatable of CPU, memory, bandwidth over live servers.
        let mut sums = if per_group { vec![[0.0; 6]; st.util.len()] } else { Vec::new() };
        let mut means = Vec::with_capacity(self.servers.len());
        for (i, srv) in self.servers.iter_mut().enumerate() {
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            let mbps = if dt > 0.0 { self.server_bytes[i] * 8.0 / 1e6 / (dt / 1000.0) } else { 0.0 };
            let c = ratio(cpu[i], srv.alloc_cpu);
            let m = ratio(srv.used_mem, srv.alloc_mem);
            let b = ratio(mbps, srv.bw_mbps);
            self.server_bytes[i] = 0.0;
            srv.last = [c, m, b];
            if st.detail == SeriesDetail::Servers {
                let u = &mut st.util[i];
                u.cpu.push(c);
                u.mem.push(m);
                u.bw.push(b);
            }
            if srv.alive {
                means.push((c + m + b) / 3.0);
                if per_group {
                    let g = &mut sums[self.ep_group[i] as usize];
                    for (k, v) in [cpu[i], srv.alloc_cpu, srv.used_mem, srv.alloc_mem, mbps, srv.bw_mbps]
                        .into_iter()
                        .enumerate()
                    {
                        g[k] += v;
                    }
                }
            }
        }
        for (u, g) in st.util.iter_mut().zip(&sums) {
            let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
            u.cpu.push(ratio(g[0], g[1]));
            u.mem.push(ratio(g[2], g[3]));
            u.bw.push(ratio(g[4], g[5]));
        }
        st.t.push(now / 1000.0);
        st.dt.push(dt / 1000.0);
        st.rub.push(rub(&means));
        st.p99.push(self.ttr_win.quantile(0.99));
        self.ttr_win.clear();
        let mut total = 0;
        for s in 0..self.services.len() {
            let live = self.live(s as u32);
            total += live;
            self.series.replicas[s].push(live);
            let sv = &mut self.services[s];
            sv.live = live;
            sv.replicas_max = sv.replicas_max.max(live);
        }
        let pending = self.pending.len() as u32;
        self.series.pending.push(pending);
        self.pending_max = self.pending_max.max(pending);
        self.series.in_flight.push(self.in_flight);
        if total > self.peak_pods {
            self.peak_pods = total;
            self.peak_t = now / 1000.0;
            let mut tiers: Vec<(String, u32)> = Vec::new();
            for pod in &self.pods {
                if pod.server != NONE && matches!(pod.state, PodState::Starting | PodState::Ready) {
                    let t = &self.servers[pod.server as usize].tier;
                    match tiers.iter_mut().find(|x| &x.0 == t) {
                        Some(x) => x.1 += 1,
                        None => tiers.push((t.clone(), 1)),
                    }
                }
            }
            self.peak_tiers = tiers;
        }
        if self.series.merge_if_full() {
            self.sample_ms *= 2.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_instants_and_weights_means() {
        let mut s = SeriesStore::new(4, SeriesDetail::Servers, 1, 1, 1);
        // Points at 0, 10, 20, 40 s: the first covers nothing, the last 20 s.
        for (t, dt, cpu, p99, reps) in [
            (0.0, 0.0, 0.0, 0.0, 1),
            (10.0, 10.0, 0.2, 5.0, 2),
            (20.0, 10.0, 0.4, 9.0, 3),
            (40.0, 20.0, 0.1, 7.0, 4),
        ] {
            s.t.push(t);
            s.dt.push(dt);
            s.pending.push(0);
            s.in_flight.push(reps);
            s.rub.push(cpu);
            s.p99.push(p99);
            s.replicas[0].push(reps);
            s.util[0].cpu.push(cpu);
            s.util[0].mem.push(cpu);
            s.util[0].bw.push(cpu);
        }
        assert!(s.merge_if_full());
        assert_eq!(s.t, vec![10.0, 40.0]);
        assert_eq!(s.dt, vec![10.0, 30.0]);
        assert_eq!(s.replicas[0], vec![2, 4]);
        assert_eq!(s.p99, vec![5.0, 9.0]);
        assert_eq!(s.util[0].mem, vec![0.2, 0.1]);
        // (0.4 × 10 + 0.1 × 20) / 30 = 0.2; the zero-length first point weighs nothing.
        assert!((s.util[0].cpu[1] - 0.2).abs() < 1e-12 && (s.util[0].cpu[0] - 0.2).abs() < 1e-12);
        assert!(!s.merge_if_full(), "two points are within the budget of four");
    }

    #[test]
    fn auto_detail_is_per_server_only_for_small_clusters() {
        assert_eq!(SeriesStore::new(10, SeriesDetail::Auto, 1, 50, 3).util.len(), 50);
        let big = SeriesStore::new(10, SeriesDetail::Auto, 1, 475, 7);
        assert_eq!((big.detail, big.util.len()), (SeriesDetail::Groups, 7));
        assert_eq!(SeriesStore::new(10, SeriesDetail::None, 1, 475, 7).util.len(), 0);
    }
}
