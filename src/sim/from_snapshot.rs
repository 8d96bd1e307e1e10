//! A scenario from a twin snapshot: the twin's servers and latency model, its workloads as
//! services where their pods run now with the request model `calibrate` fits, a call tree per
//! entry (`entries`) from the call graph's edges, load at the measured request rates (none is
//! invented where nothing is measured), and the requests in the system now, so a run starts
//! from the present rather than from empty queues. What-if, the advisors' simulator and
//! `fidelity` start from this.

use super::calibrate::{WorkloadModel, calibrate};
use super::entries::{CallGraph, balancer, call_tree, entries};
use super::hpa::{Behavior, ScalerMode};
use super::scenario::{
    AutoscalerSpec, CallSpec, GeneratorSpec, LatencySpec, Limits, MetricSpec, PodSpec, Scenario,
    SchedulerPolicy, SchedulerSpec, ServerGroup, ServiceSpec, SloSpec, WorkflowSpec,
};
use crate::twin::{Dist, HpaMetric, PodPhase, Snapshot};

/// The requests in the system now enter within this many seconds and are not counted.
pub const PRESENT_S: f64 = 0.002;

/// Choices the snapshot cannot make.
#[derive(Debug, Clone, PartialEq)]
pub struct FromSnapshotOptions {
    /// Simulated seconds.
    pub duration_s: f64,
    pub scheduler: SchedulerPolicy,
    /// Tier order for `MecFirst` (servers' tier is their `twintop.io/tier` label, else zone).
    pub tiers: Vec<String>,
    /// SLO on time to resolution; by default the tightest p99 SLO among the workloads.
    pub slo_target_ms: Option<f64>,
    /// Service time of a workload whose latency is not measured, ms.
    pub default_service_ms: f64,
}

impl Default for FromSnapshotOptions {
    fn default() -> Self {
        FromSnapshotOptions {
            duration_s: 300.0,
            scheduler: SchedulerPolicy::Spread,
            tiers: Vec::new(),
            slo_target_ms: None,
            default_service_ms: 10.0,
        }
    }
}

/// The label that tells a DaemonSet's pods apart in the simulator.
const DAEMONSET_LABEL: &str = "twintop.io/daemonset";

fn sim_labels(w: &crate::twin::Workload) -> std::collections::BTreeMap<String, String> {
    let mut l = w.pod_labels.clone();
    if w.kind == crate::twin::WorkloadKind::DaemonSet {
        l.insert(DAEMONSET_LABEL.into(), w.key());
    }
    l
}

/// A workload's scheduling rules for the simulator. A DaemonSet runs one pod per server its
/// rules admit: in the simulator, that is a hostname anti-affinity against its own pods.
fn sim_scheduling(w: &crate::twin::Workload) -> crate::twin::scheduling::Scheduling {
    use crate::twin::scheduling::{HOSTNAME_LABEL, LabelSelector, PodAffinityTerm};
    let mut s = w.scheduling.clone();
    if w.kind == crate::twin::WorkloadKind::DaemonSet {
        s.anti_affinity.push(PodAffinityTerm {
            selector: Some(LabelSelector {
                match_labels: [(DAEMONSET_LABEL.to_string(), w.key())].into(),
                match_expressions: Vec::new(),
            }),
            topology_key: HOSTNAME_LABEL.into(),
            namespaces: Vec::new(),
            all_namespaces: false,
        });
    }
    s
}

/// Builds the scenario. Each workload's request model (own processing time, its tail, pods'
/// parallelism) is fitted to the twin's measurements by `calibrate`; a client-only entry (a
/// load generator) adds no time. Calls become a tree per entry workload (one with no callers),
/// each call made with probability edge rate / caller rate. The SLO is the entry's (see
/// `entry_slo`).
pub fn scenario_from_snapshot(snap: &Snapshot, opt: &FromSnapshotOptions) -> Scenario {
    scenario_from_snapshot_with_models(snap, opt).0
}

/// `scenario_from_snapshot` with the fitted request model of every workload (same order as
/// `snap.workloads`), so a caller can say how each was fitted.
pub(crate) fn scenario_from_snapshot_with_models(
    snap: &Snapshot,
    opt: &FromSnapshotOptions,
) -> (Scenario, Vec<WorkloadModel>) {
    let servers = snap
        .servers
        .iter()
        .map(|s| ServerGroup {
            name: s.name.clone(),
            count: 1,
            region: s.location.region.clone(),
            zone: s.location.zone.clone(),
            rack: s.location.rack.clone(),
            tier: s.labels.get("twintop.io/tier").cloned(),
            cpu_m: s.allocatable.cpu_m,
            mem_mib: s.allocatable.mem_mib,
            bw_mbps: s.allocatable.bw_mbps,
            speed: if s.speed > 0.0 { s.speed } else { 1.0 },
            price_per_hour: s.price_per_hour,
            schedulable: s.schedulable,
            labels: s.labels.clone(),
            taints: s.taints.clone(),
        })
        .collect();
    let models = calibrate(snap, opt.default_service_ms);
    let graph = CallGraph::of(snap);
    let n = snap.workloads.len();
    let mut services = Vec::new();
    for (wi, w) in snap.workloads.iter().enumerate() {
        let st = snap.workload_status.get(wi).copied().unwrap_or_default();
        let replicas = w.replicas.max(1);
        // A traffic source, or an entry that only calls others and has no latency of its own
        // (an ingress without metrics), is the users' client: it adds no processing time.
        let client = graph.source[wi]
            || (!graph.called[wi]
                && !graph.callees[wi].is_empty()
                && st.p50_ms.is_none()
                && st.rps.is_none());
        let (service_time, parallelism) = if client {
            (Dist::Constant { value: 0.001 }, 100_000)
        } else {
            (at_unit_speed(models[wi].service_time(), speed_factor(snap, wi)), models[wi].parallelism)
        };
        let autoscaler = w.hpa.as_ref().and_then(|h| {
            h.metrics.iter().find_map(|m| match m {
                HpaMetric::CpuUtilization { target_pct } => Some(AutoscalerSpec {
                    mode: ScalerMode::Kubernetes,
                    metric: MetricSpec::UtilizationPct(*target_pct),
                    min: h.min_replicas.max(1),
                    max: h.max_replicas.max(h.min_replicas.max(1)),
                    period_s: 15.0,
                    tolerance: 0.1,
                    behavior: Behavior::default(),
                }),
                _ => None,
            })
        });
        let initial_servers = snap
            .pods_of_workload(wi)
            .filter(|p| p.phase == PodPhase::Running)
            .filter_map(|p| p.server.map(|s| snap.servers[s].name.clone()))
            .collect();
        services.push(ServiceSpec {
            name: w.key(),
            replicas,
            pod: PodSpec {
                cpu_m: w.requests.cpu_m,
                mem_mib: w.requests.mem_mib,
                parallelism,
                max_queue: 10_000,
                service_time,
                startup_s: 5.0,
            },
            balancer: balancer(w),
            autoscaler,
            initial_servers,
            node_affinity: Vec::new(),
            labels: sim_labels(w),
            scheduling: sim_scheduling(w),
        });
    }
    let names: Vec<String> = snap.workloads.iter().map(|w| w.key()).collect();
    let mut workflows = Vec::new();
    let mut load = Vec::new();
    for e in entries(snap, &graph) {
        let w = e.workload;
        let wf_name = format!("from {}", names[w]);
        workflows.push(workflow(&wf_name, call_tree(snap, &graph, w)));
        // No rate is invented: an entry without a measured one waits for a declared `load`.
        if let Some(rate) = e.rps {
            load.push(GeneratorSpec {
                name: format!("users of {}", names[w]),
                arrivals: super::scenario::Arrivals::Poisson,
                rate,
                ..generator(&wf_name)
            });
        }
    }
    // The present: the requests at each workload's pods now (in service, waiting, backlogged)
    // enter in the first milliseconds and are not counted, so the run starts where the twin is
    // instead of with empty queues.
    let mut present = false;
    for (w, m) in models.iter().enumerate().take(n) {
        let queued = m.in_system.round();
        if queued < 1.0 || !queued.is_finite() || graph.source[w] {
            continue;
        }
        present = true;
        let wf_name = format!("present at {}", names[w]);
        workflows.push(workflow(&wf_name, call_tree(snap, &graph, w)));
        load.push(GeneratorSpec {
            name: wf_name.clone(),
            arrivals: super::scenario::Arrivals::Constant,
            rate: queued / (PRESENT_S * 0.5),
            requests: Some(queued.min(1e7) as u64),
            ..generator(&wf_name)
        });
    }
    let slo_target = opt.slo_target_ms.or_else(|| entry_slo(snap, &graph));
    let sc = Scenario {
        name: format!("{} ({})", snap.source.name, snap.source.kind.as_str()),
        description: "built from a twin snapshot".into(),
        duration_s: Some(opt.duration_s),
        warmup_s: if present { PRESENT_S } else { 0.0 },
        sample_s: 15.0,
        series: Default::default(),
        latency: LatencySpec { model: Some(snap.latency.clone()), ..Default::default() },
        servers,
        scheduler: SchedulerSpec { policy: opt.scheduler, tiers: opt.tiers.clone() },
        services,
        workflows,
        load,
        events: Vec::new(),
        slo: slo_target.map(|t| SloSpec { target_ms: t, percentile: 99.0 }),
        limits: Limits::default(),
    };
    (sc, models)
}

/// What the twin measures of a workload is its time on the servers its pods run on; the
/// simulator divides a service time by its server's speed. The factor that turns the measured
/// time into one at speed 1: the harmonic mean of the pods' servers' speeds (a request's time is
/// its work over the speed of the pod it lands on).
pub fn speed_factor(snap: &Snapshot, w: usize) -> f64 {
    let inv: Vec<f64> = snap
        .pods_of_workload(w)
        .filter(|p| p.phase == PodPhase::Running)
        .filter_map(|p| p.server.map(|s| snap.servers[s].speed))
        .map(|sp| if sp > 0.0 { 1.0 / sp } else { 1.0 })
        .collect();
    if inv.is_empty() { 1.0 } else { inv.len() as f64 / inv.iter().sum::<f64>() }
}

fn at_unit_speed(d: Dist, factor: f64) -> Dist {
    match d {
        Dist::LogNormal { mu, sigma } if factor > 0.0 && factor.is_finite() => {
            Dist::LogNormal { mu: mu + factor.ln(), sigma }
        }
        d => d,
    }
}

/// The SLO a request's time to resolution is held to: the entry workload's own p99 SLO, else
/// the nearest SLO down its call tree (a load generator has none; the frontend it calls does);
/// with several entries, the loosest, since every request is measured against the one SLO.
fn entry_slo(snap: &Snapshot, g: &CallGraph) -> Option<f64> {
    let mut best: Option<f64> = None;
    for root in entries(snap, g).into_iter().map(|e| e.workload) {
        let mut frontier = vec![root];
        let mut seen = vec![false; snap.workloads.len()];
        let mut found = None;
        while found.is_none() && !frontier.is_empty() {
            let mut next = Vec::new();
            for w in frontier {
                if std::mem::replace(&mut seen[w], true) {
                    continue;
                }
                if let Some(slo) = snap.workloads[w].slo_p99_ms {
                    found = Some(found.map_or(slo, |f: f64| f.max(slo)));
                }
                next.extend(g.callees[w].iter().map(|c| c.0));
            }
            frontier = next;
        }
        if let Some(f) = found {
            best = Some(best.map_or(f, |b| b.max(f)));
        }
    }
    best.or_else(|| snap.workloads.iter().filter_map(|w| w.slo_p99_ms).reduce(f64::max))
}

fn workflow(name: &str, root: CallSpec) -> WorkflowSpec {
    WorkflowSpec {
        name: name.to_string(),
        steps: Vec::new(),
        root: Some(root),
        hold_caller: false,
        request_kb: 4.0,
        response_kb: 16.0,
    }
}

/// A generator of `workflow` with nothing set but its name.
pub fn generator(workflow: &str) -> GeneratorSpec {
    GeneratorSpec {
        name: workflow.to_string(),
        workflow: workflow.to_string(),
        origin: None,
        arrivals: super::scenario::Arrivals::Poisson,
        rate: 0.0,
        start_s: 0.0,
        stop_s: None,
        requests: None,
        rates: Vec::new(),
        csv: None,
        column: None,
        step_s: 1.0,
        scale: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoPreset, DemoTwin};
    use chrono::{TimeZone, Utc};

    #[test]
    fn demo_snapshot_becomes_a_valid_scenario_that_runs() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let snap = DemoTwin::starting_at(DemoPreset::Dc, 3, start).warm_snapshot(30);
        let opt = FromSnapshotOptions { duration_s: 20.0, ..Default::default() };
        let sc = scenario_from_snapshot(&snap, &opt);
        sc.validate().unwrap();
        assert_eq!(sc.servers.len(), snap.servers.len());
        assert!(!sc.workflows.is_empty(), "the demo's call graph gives at least one workflow");
        let out = crate::sim::run(&sc, 1).unwrap();
        assert!(out.completed > 100, "{}", out.completed);
        // The snapshot's placement is kept: pods start where the twin has them.
        let running = snap.pods.iter().filter(|p| p.phase == PodPhase::Running && p.server.is_some()).count();
        assert!(out.servers.len() <= running.max(1));
    }

    /// Servers (with multiplicity) that host one more pod in `after` than in `before`.
    fn gained(before: &[(String, u32)], after: &[(String, u32)]) -> Vec<String> {
        let mut out = Vec::new();
        for (name, n) in after {
            let was = before.iter().find(|b| &b.0 == name).map_or(0, |b| b.1);
            out.extend(std::iter::repeat_n(name.clone(), n.saturating_sub(was) as usize));
        }
        out.sort();
        out
    }

    #[test]
    fn a_scale_ups_new_pods_go_where_the_cluster_puts_them() {
        // kube-scheduler places a scale-up's new pods among all the pods that run now, whatever
        // their workload. The simulator once placed them before it had bound the workloads
        // listed after theirs, onto servers it thought empty: on the mec demo checkoutservice
        // 2 → 4 was predicted at 166 ms p99 with its new pods beside the shop; the demo put
        // them across the ocean and measured 1,595 ms.
        use crate::change::Change;
        use crate::twin::TwinStore;
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut demo = DemoTwin::starting_at(DemoPreset::Mec, 2, start);
        let mut store = TwinStore::default();
        for _ in 0..130 {
            store.apply_all(demo.step());
        }
        let snap = store.snapshot();
        let checkout = "boutique/checkoutservice";
        let servers_of = |snap: &Snapshot| -> Vec<(String, u32)> {
            let w = snap.workload_index(checkout).unwrap();
            let mut v: Vec<(String, u32)> = Vec::new();
            for p in snap.pods_of_workload(w) {
                let name = snap.servers[p.server.unwrap()].name.clone();
                match v.iter_mut().find(|x| x.0 == name) {
                    Some(x) => x.1 += 1,
                    None => v.push((name, 1)),
                }
            }
            v
        };
        let was = servers_of(&snap);
        let mut sc =
            scenario_from_snapshot(&snap, &FromSnapshotOptions { duration_s: 1.0, ..Default::default() });
        let per_server = |sc: &Scenario| -> Vec<(String, u32)> {
            crate::sim::run(sc, 1).unwrap().servers.into_iter().map(|s| (s.name, s.max_pods)).collect()
        };
        let before = per_server(&sc);
        sc.services.iter_mut().find(|s| s.name == checkout).unwrap().replicas = 4;
        let twin = gained(&before, &per_server(&sc));

        demo.apply_change(&Change::Scale { workload: checkout.into(), replicas: 4 }, false).unwrap();
        store.apply_all(demo.step());
        let cluster = gained(&was, &servers_of(&store.snapshot()));
        assert_eq!(cluster.len(), 2, "{cluster:?}");
        assert_eq!(twin, cluster, "the twin's new pods vs the demo cluster's");

        // And so the prediction is what the demo then measures (its pods ready, the surge on).
        sc.duration_s = Some(20.0);
        let predicted = crate::sim::run(&sc, 1).unwrap().services[checkout].rt_ms.p99;
        let w = snap.workload_index(checkout).unwrap();
        let mut measured = Vec::new();
        for t in 1..20 {
            store.apply_all(demo.step());
            if t >= 10 {
                measured.push(store.snapshot().workload_status[w].p99_ms.unwrap());
            }
        }
        let measured = measured.iter().sum::<f64>() / measured.len() as f64;
        assert!(
            (predicted / measured - 1.0).abs() < 0.2,
            "predicted {predicted:.0} ms, measured {measured:.0} ms after the change"
        );
    }

    #[test]
    fn the_baseline_reproduces_what_the_twin_measures_in_the_surge() {
        // The what-if baseline is only worth reading if it shows the incident the console shows:
        // the shop's end-to-end latency during checkoutservice's surge, within a factor of 1.6.
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let snap = DemoTwin::starting_at(DemoPreset::Dc, 1, start)
            .warm_snapshot(crate::demo::SURGE.start as u32 + 30);
        let fe = snap.workload_index("frontend").unwrap();
        let measured = snap.workload_status[fe];
        let sc =
            scenario_from_snapshot(&snap, &FromSnapshotOptions { duration_s: 120.0, ..Default::default() });
        assert_eq!(sc.slo.as_ref().map(|s| s.target_ms), snap.workloads[fe].slo_p99_ms, "the entry's SLO");
        let out = crate::sim::run(&sc, 1).unwrap();
        for (sim, twin) in
            [(out.ttr_ms.p50, measured.p50_ms.unwrap()), (out.ttr_ms.p99, measured.p99_ms.unwrap())]
        {
            assert!(sim / twin < 1.6 && twin / sim < 1.6, "simulated {sim:.0} ms vs measured {twin:.0} ms");
        }
        assert!(!out.slo.met, "the twin breaches the frontend SLO in the surge; so must the baseline");
    }
}
