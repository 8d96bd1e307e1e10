//! Figures the console derives from a snapshot: computed once when a snapshot arrives,
//! never per frame (at 5,000 servers a frame must stay in the low milliseconds).

use crate::text::escape;
use crate::twin::Snapshot;
use crate::twin::kpi::{self, Kpis, ServerUtil, SloState};
use std::collections::HashMap;

/// Samples of history the overview's sparklines can show.
const HISTORY_SAMPLES: usize = 200;
/// How far back the header's RUB trend looks, in history samples.
const TREND_SAMPLES: usize = 30;

/// A heatmap group: the servers of one location (region → zone → rack), in name order.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Escaped `region/zone/rack`.
    pub label: String,
    /// Escaped rack (or the last non-empty level), for narrow group boxes.
    pub short: String,
    pub servers: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub kpis: Kpis,
    pub utils: Vec<ServerUtil>,
    /// Per-server deviation of mean utilisation from the cluster mean.
    pub rub_dev: Vec<f64>,
    /// Mean p99 (ms) of the workloads with pods on each server.
    pub server_p99: Vec<Option<f64>>,
    /// Top of the latency scale: a round number at or above every server's figure.
    pub latency_scale_ms: f64,
    /// Pods on each server by workload: (workload index, count), most pods first.
    pub server_pods: Vec<Vec<(usize, u32)>>,
    /// Pods without a workload, per server.
    pub server_loose_pods: Vec<u32>,
    pub slo: Vec<SloState>,
    pub groups: Vec<Group>,
    /// Lower-case escaped text a filter matches servers against (name, location, hardware,
    /// names of the workloads with pods on it).
    pub server_search: Vec<String>,
    /// Lower-case escaped text a filter matches workloads against (namespace/name, kind).
    pub workload_search: Vec<String>,
    pub rub_hist: Vec<f64>,
    pub rps_hist: Vec<f64>,
    pub cpu_hist: Vec<f64>,
    /// RUB now minus RUB `TREND_SAMPLES` ago.
    pub rub_trend: Option<f64>,
    /// Hottest servers first (by their highest resource utilisation).
    pub worst_servers: Vec<usize>,
    /// Breaching workloads first, then by p99 relative to target (or p99).
    pub worst_workloads: Vec<usize>,
}

impl Derived {
    pub fn new(s: &Snapshot) -> Derived {
        let utils = kpi::server_utilization(s);
        let rub_dev = kpi::rub_deviation(&utils);
        let slo: Vec<SloState> = (0..s.workloads.len()).map(|w| kpi::slo_state(s, w)).collect();

        let mut per_server: Vec<HashMap<usize, u32>> = vec![HashMap::new(); s.servers.len()];
        let mut loose = vec![0u32; s.servers.len()];
        for p in &s.pods {
            let Some(sv) = p.server else { continue };
            if !p.phase.holds_resources() {
                continue;
            }
            match p.workload {
                Some(w) => *per_server[sv].entry(w).or_default() += 1,
                None => loose[sv] += 1,
            }
        }
        let server_pods: Vec<Vec<(usize, u32)>> = per_server
            .into_iter()
            .map(|m| {
                let mut v: Vec<(usize, u32)> = m.into_iter().collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                v
            })
            .collect();
        let server_p99: Vec<Option<f64>> = server_pods
            .iter()
            .map(|ws| {
                let v: Vec<f64> = ws.iter().filter_map(|&(w, _)| s.workload_status[w].p99_ms).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        let latency_scale_ms = nice_ceiling(server_p99.iter().flatten().copied().fold(0.0, f64::max));

        let (rub_hist, cpu_hist) = server_history(s);
        let rps_hist = rps_history(s);
        let rub_trend = (rub_hist.len() > 1).then(|| {
            let now = rub_hist[rub_hist.len() - 1];
            let then = rub_hist[rub_hist.len().saturating_sub(TREND_SAMPLES + 1)];
            now - then
        });

        let mut worst_servers: Vec<usize> = (0..s.servers.len()).collect();
        let peak = |u: &ServerUtil| u.cpu.max(u.mem).max(u.bw);
        worst_servers.sort_by(|&a, &b| peak(&utils[b]).total_cmp(&peak(&utils[a])));
        let mut worst_workloads: Vec<usize> = (0..s.workloads.len()).collect();
        let badness = |w: usize| {
            let st = &s.workload_status[w];
            match (st.p99_ms, s.workloads[w].slo_p99_ms) {
                (Some(p), Some(t)) if t > 0.0 => p / t,
                (Some(p), _) => p / 1000.0,
                _ => -1.0,
            }
        };
        worst_workloads.sort_by(|&a, &b| badness(b).total_cmp(&badness(a)));

        Derived {
            kpis: kpi::kpis(s),
            server_search: s
                .servers
                .iter()
                .zip(&server_pods)
                .map(|(v, pods)| {
                    let mut t = format!("{} {} {}", v.name, v.location.group_label(), v.hardware);
                    for &(w, _) in pods {
                        t.push(' ');
                        t.push_str(&s.workloads[w].name);
                    }
                    escape(&t.to_lowercase()).into_owned()
                })
                .collect(),
            workload_search: s
                .workloads
                .iter()
                .map(|w| escape(&format!("{} {}", w.key(), w.kind.as_str()).to_lowercase()).into_owned())
                .collect(),
            groups: groups(s),
            utils,
            rub_dev,
            server_p99,
            latency_scale_ms,
            server_pods,
            server_loose_pods: loose,
            slo,
            rub_hist,
            rps_hist,
            cpu_hist,
            rub_trend,
            worst_servers,
            worst_workloads,
        }
    }
}

fn groups(s: &Snapshot) -> Vec<Group> {
    let mut order: Vec<usize> = (0..s.servers.len()).collect();
    order.sort_by(|&a, &b| s.servers[a].location.cmp(&s.servers[b].location).then(a.cmp(&b)));
    let mut out: Vec<Group> = Vec::new();
    let mut last: Option<&crate::twin::Location> = None;
    for i in order {
        let loc = &s.servers[i].location;
        if last != Some(loc) {
            let short = [&loc.rack, &loc.zone, &loc.region]
                .into_iter()
                .find(|x| !x.is_empty())
                .cloned()
                .unwrap_or_else(|| "(no location)".into());
            let label = if loc.group_label().is_empty() { "(no location)".into() } else { loc.group_label() };
            out.push(Group {
                label: escape(&label).into_owned(),
                short: escape(&short).into_owned(),
                servers: Vec::new(),
            });
            last = Some(loc);
        }
        out.last_mut().expect("a group was just pushed").servers.push(i);
    }
    out
}

/// Cluster RUB and mean CPU per history sample, aligned at the newest sample.
fn server_history(s: &Snapshot) -> (Vec<f64>, Vec<f64>) {
    let len = s.server_history.iter().map(|h| h.cpu.len()).max().unwrap_or(0).min(HISTORY_SAMPLES);
    let mut means: Vec<Vec<f64>> = vec![Vec::new(); len];
    let mut cpu_sum = vec![(0.0, 0usize); len];
    for (sv, h) in s.server_history.iter().enumerate() {
        let bw_cap = s.servers[sv].allocatable.bw_mbps;
        let (cpu, mem, bw) = (h.cpu.tail(len), h.mem.tail(len), h.bw_mbps.tail(len));
        let off = len - cpu.len();
        for k in 0..cpu.len() {
            let bw_u = if bw_cap > 0.0 { bw.get(k).copied().unwrap_or(f64::NAN) / bw_cap } else { 0.0 };
            let m = (cpu[k] + mem.get(k).copied().unwrap_or(f64::NAN) + bw_u) / 3.0;
            if m.is_finite() {
                means[off + k].push(m);
            }
            if cpu[k].is_finite() {
                cpu_sum[off + k].0 += cpu[k];
                cpu_sum[off + k].1 += 1;
            }
        }
    }
    let rub = means.iter().map(|v| kpi::rub(v)).collect();
    let cpu = cpu_sum.iter().map(|&(t, n)| if n > 0 { t / n as f64 } else { f64::NAN }).collect();
    (rub, cpu)
}

/// Total request rate per history sample, aligned at the newest sample.
fn rps_history(s: &Snapshot) -> Vec<f64> {
    let len = s.workload_history.iter().map(|h| h.rps.len()).max().unwrap_or(0).min(HISTORY_SAMPLES);
    let mut sum = vec![f64::NAN; len];
    for h in &s.workload_history {
        let v = h.rps.tail(len);
        let off = len - v.len();
        for (k, x) in v.into_iter().enumerate() {
            if x.is_finite() {
                let slot = &mut sum[off + k];
                *slot = if slot.is_finite() { *slot + x } else { x };
            }
        }
    }
    sum
}

/// 1, 2 or 5 × 10^k at or above `x` (at least 1).
pub(crate) fn nice_ceiling(x: f64) -> f64 {
    if x.is_nan() || x <= 1.0 {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|&v| v >= x).unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceiling_rounds_up() {
        assert_eq!(nice_ceiling(0.3), 1.0);
        assert_eq!(nice_ceiling(48.0), 50.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(500.0), 500.0);
    }

    #[test]
    fn demo_groups_by_rack_and_counts_pods() {
        let snap = crate::demo::DemoTwin::new(crate::demo::DemoPreset::Dc, 1).warm_snapshot(40);
        let d = Derived::new(&snap);
        assert_eq!(d.groups.len(), 5);
        assert_eq!(d.groups[0].short, "rack-1");
        assert_eq!(d.groups.iter().map(|g| g.servers.len()).sum::<usize>(), snap.servers.len());
        let placed: u32 = d.server_pods.iter().flatten().map(|&(_, n)| n).sum::<u32>()
            + d.server_loose_pods.iter().sum::<u32>();
        assert_eq!(placed, snap.server_status.iter().map(|s| s.pods).sum::<u32>());
        assert!(!d.rub_hist.is_empty() && d.rub_hist.iter().all(|r| (0.0..=1.0).contains(r)));
        assert!((d.rub_hist.last().unwrap() - d.kpis.rub).abs() < 0.05, "history ends at the current RUB");
    }
}
