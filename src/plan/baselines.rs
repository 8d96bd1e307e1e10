//! The DIRA-LDT paper's baselines, as it describes them. HBA: rule-based with predefined
//! static thresholds — first fit onto the first server whose current utilisation is below the
//! thresholds (the rule looks at the server, not at whether this workload fits, which is why
//! it can overfill). SM: a statistical model — each workload goes to the server least loaded
//! by *forecast* demand where its forecast fits (actual demand may differ from the forecast).

use super::problem::{Assignment, Problem, fits, ratio};
use crate::twin::Resources;

/// HBA's static utilisation thresholds (CPU, memory, bandwidth).
pub(crate) const HBA_THRESHOLDS: [f64; 3] = [0.8, 0.8, 0.8];

pub(crate) fn hba(p: &Problem) -> Assignment {
    let mut used = vec![Resources::ZERO; p.servers.len()];
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); p.servers.len()];
    p.workloads
        .iter()
        .map(|w| {
            let s = p.servers.iter().enumerate().position(|(s, srv)| {
                let c = &srv.capacity;
                !srv.cordoned
                    && ratio(used[s].cpu_m, c.cpu_m) < HBA_THRESHOLDS[0]
                    && ratio(used[s].mem_mib, c.mem_mib) < HBA_THRESHOLDS[1]
                    && ratio(used[s].bw_mbps, c.bw_mbps) < HBA_THRESHOLDS[2]
                    && w.group.is_none_or(|g| !groups[s].contains(&g))
            })?;
            used[s] = used[s].add(&w.demand);
            if let Some(g) = w.group {
                groups[s].push(g);
            }
            Some(s)
        })
        .collect()
}

pub(crate) fn sm(p: &Problem) -> Assignment {
    let mut predicted = vec![Resources::ZERO; p.servers.len()];
    let mut groups: Vec<Vec<u32>> = vec![Vec::new(); p.servers.len()];
    p.workloads
        .iter()
        .map(|w| {
            let mut best: Option<(f64, usize)> = None;
            for (s, srv) in p.servers.iter().enumerate() {
                if srv.cordoned || w.group.is_some_and(|g| groups[s].contains(&g)) {
                    continue;
                }
                if !fits(&predicted[s].add(&w.forecast), &srv.capacity) {
                    continue;
                }
                let load = p.util_of(&predicted[s], s);
                if best.is_none_or(|(b, _)| load < b) {
                    best = Some((load, s));
                }
            }
            let (_, s) = best?;
            predicted[s] = predicted[s].add(&w.forecast);
            if let Some(g) = w.group {
                groups[s].push(g);
            }
            Some(s)
        })
        .collect()
}
