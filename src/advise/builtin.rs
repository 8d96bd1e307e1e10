//! The built-in advisors (no network): reactive — HPA-like desired replicas from SLO breaches
//! and CPU use against requests; predictive — the same, ahead of a peak the forecaster sees in
//! a workload's request rate, scheduled before it; and placement — a few pod moves (evictions)
//! off servers running hot, through the placement optimizer, else a cordon so nothing new
//! lands on them.

use super::proposal::{Candidate, Motive};
use super::rebalance;
use super::validate::Guardrails;
use crate::change::Change;
use crate::twin::kpi::{SloState, server_utilization, slo_state};
use crate::twin::{HpaMetric, Snapshot};

pub(crate) const REACTIVE: &str = "builtin:reactive";
pub(crate) const PLACEMENT: &str = "builtin:placement";
pub(crate) const PREDICTIVE: &str = "builtin:predictive";

/// CPU utilisation of requests aimed at when a workload has no HPA target of its own.
pub(crate) const DEFAULT_TARGET_UTIL: f64 = 0.7;
/// Kubernetes' HPA tolerance: within ±10 % of the target nothing is done.
const TOLERANCE: f64 = 0.1;
/// A server this busy (CPU share of allocatable) is hot.
pub(crate) const HOT_SERVER_CPU: f64 = 0.9;
/// At most this many hot servers are acted on per run.
const MAX_CORDONS: usize = 2;
/// At most this many pod moves per run: nobody approves moving everything at once.
pub(crate) const MAX_MOVES: usize = 3;

/// A service's CPU use as a share of its pods' requests, and the share it is scaled to (its
/// HPA's CPU target, else `DEFAULT_TARGET_UTIL`). `None` for non-services: batch and data
/// workloads run hot by design and have no latency to fix.
fn cpu_load(snap: &Snapshot, w: usize) -> Option<(f64, f64)> {
    let (wl, st) = (&snap.workloads[w], &snap.workload_status[w]);
    let serves = st.rps.is_some() || wl.slo_p99_ms.is_some();
    if !serves {
        return None;
    }
    let util = crate::twin::kpi::cpu_of_requests(snap, w)?;
    let target = wl
        .hpa
        .as_ref()
        .and_then(|h| {
            h.metrics.iter().find_map(|m| match m {
                HpaMetric::CpuUtilization { target_pct } => Some(target_pct / 100.0),
                _ => None,
            })
        })
        .unwrap_or(DEFAULT_TARGET_UTIL);
    Some((util, target))
}

/// The change that gives a workload `desired` replicas: through its HPA when it has one.
fn scale_to(wl: &crate::twin::Workload, desired: u32) -> Change {
    match &wl.hpa {
        Some(h) => Change::HpaBounds {
            workload: wl.key(),
            min: desired.max(h.min_replicas),
            max: h.max_replicas.max(desired),
        },
        None => Change::Scale { workload: wl.key(), replicas: desired },
    }
}

/// The built-in advisors, in the one roster the console, `twintop advise`, the operator and
/// the calibration all run: reactive scaling, placement, and — on the demo, whose history is
/// sampled once per simulated second — predictive scaling. Other sources' sampling cadence is
/// not known to the twin, so the predictive advisor runs on the demo only for now.
pub(crate) fn roster(snap: &Snapshot, g: &Guardrails) -> Vec<Candidate> {
    roster_with(snap, g, crate::plan::REPLAN_BUDGET)
}

/// `roster` with the placement advisor's re-plan budget (moves its search may evaluate).
pub(crate) fn roster_with(snap: &Snapshot, g: &Guardrails, replan_budget: usize) -> Vec<Candidate> {
    let mut candidates = reactive(snap, g);
    candidates.extend(placement_with(snap, replan_budget));
    if snap.source.kind == crate::twin::SourceKind::Demo {
        candidates.extend(predictive(snap, g, chrono::Duration::seconds(1), PREDICTIVE_HORIZON));
    }
    candidates
}

/// Samples ahead the predictive advisor forecasts in the roster.
pub(crate) const PREDICTIVE_HORIZON: usize = 120;

/// Scale proposals for workloads breaching their SLO or running above their CPU target.
pub fn reactive(snap: &Snapshot, g: &Guardrails) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (w, wl) in snap.workloads.iter().enumerate() {
        let st = &snap.workload_status[w];
        let Some((util, target)) = cpu_load(snap, w) else { continue };
        let breach = slo_state(snap, w) == SloState::Breach;
        let ratio = util / target;
        if ratio <= 1.0 + TOLERANCE {
            // Busy enough to matter only when it is the one breaching; a breach with idle CPU
            // comes from elsewhere (a callee, the network) and more replicas would not help.
            continue;
        }
        let current = wl.replicas;
        let mut desired = (current as f64 * ratio).ceil() as u32;
        if breach {
            desired = desired.max(current + 1);
        }
        desired = desired.min(g.max_step_up(current));
        if desired <= current {
            continue;
        }
        let why = match (breach, st.p99_ms, wl.slo_p99_ms) {
            (true, Some(p99), Some(slo)) => format!(
                "p99 {p99:.0} ms breaches its {slo:.0} ms SLO with CPU at {:.0} % of requests (target {:.0} %)",
                util * 100.0,
                target * 100.0
            ),
            _ => {
                format!("CPU at {:.0} % of requests, above the {:.0} % target", util * 100.0, target * 100.0)
            }
        };
        let change = scale_to(wl, desired);
        out.push(Candidate::new(
            REACTIVE,
            change,
            format!("{why}; HPA-like desired replicas {current} → {desired}."),
        ));
    }
    out
}

/// Samples of request-rate history the forecaster needs before predictive advice.
const MIN_HISTORY: usize = 30;
/// Act this many samples before the predicted crossing (pods need time to start).
const LEAD_SAMPLES: usize = 15;

/// Scheduled scale proposals ahead of predicted peaks: each service's request rate is forecast
/// `horizon` samples ahead (history samples are `sample` apart); when CPU at the forecast rate
/// would exceed its target, the workload is scaled `LEAD_SAMPLES` before the crossing.
/// Workloads over their target now are left to the reactive advisor.
pub(crate) fn predictive(
    snap: &Snapshot,
    g: &Guardrails,
    sample: chrono::Duration,
    horizon: usize,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (w, wl) in snap.workloads.iter().enumerate() {
        let st = &snap.workload_status[w];
        let (Some((util, target)), Some(rps), Some(hist)) =
            (cpu_load(snap, w), st.rps, snap.workload_history.get(w))
        else {
            continue;
        };
        if util / target > 1.0 + TOLERANCE || rps <= 0.0 {
            continue;
        }
        let series: Vec<f64> = hist.rps.iter().filter(|v| v.is_finite()).collect();
        if series.len() < MIN_HISTORY {
            continue;
        }
        let f = crate::forecast::forecast(&series, horizon);
        let util_at = |r: f64| util * r / rps;
        let Some(cross) = f.point.iter().position(|&r| util_at(r) / target > 1.0 + TOLERANCE) else {
            continue;
        };
        let (peak_i, peak) =
            f.point.iter().copied().enumerate().fold((0, 0.0), |m, (i, r)| if r > m.1 { (i, r) } else { m });
        let current = wl.replicas;
        let desired = ((current as f64 * util_at(peak) / target).ceil() as u32).min(g.max_step_up(current));
        if desired <= current {
            continue;
        }
        let ahead = (cross + 1).saturating_sub(LEAD_SAMPLES);
        let when = (ahead > 0).then(|| snap.time + sample * ahead as i32);
        let width = (f.upper[peak_i] - f.lower[peak_i]).max(0.0);
        let mut c = Candidate::new(
            PREDICTIVE,
            scale_to(wl, desired),
            format!(
                "request rate forecast to reach {peak:.0}/s from {rps:.0}/s within {} s ({}), taking CPU to {:.0} % of requests; HPA-like desired replicas {current} → {desired} before the peak.",
                (sample * (peak_i as i32 + 1)).num_seconds(),
                f.method.split(';').next().unwrap_or(""),
                util_at(peak) * 100.0
            ),
        );
        c.when = when;
        c.forecast_uncertainty = Some(if peak > 0.0 { width / peak } else { 1.0 });
        c.forecast_load = Some(peak / rps);
        out.push(c);
    }
    out
}

/// Placement advice for servers running hot: up to `MAX_MOVES` pod evictions chosen by the
/// placement optimizer on measured use (`rebalance`), one proposal each; a hot server no move
/// relieves gets the cordon proposal instead, so nothing new lands on it.
#[cfg(test)]
pub(crate) fn placement(snap: &Snapshot) -> Vec<Candidate> {
    placement_with(snap, crate::plan::REPLAN_BUDGET)
}

/// `placement` with a re-plan budget (moves the optimizer's search may evaluate).
pub(crate) fn placement_with(snap: &Snapshot, replan_budget: usize) -> Vec<Candidate> {
    let utils = server_utilization(snap);
    let mut hot: Vec<(usize, f64)> =
        utils.iter().enumerate().filter(|(_, u)| u.cpu >= HOT_SERVER_CPU).map(|(i, u)| (i, u.cpu)).collect();
    hot.sort_by(|a, b| b.1.total_cmp(&a.1));
    hot.truncate(MAX_CORDONS);
    if hot.is_empty() {
        return Vec::new();
    }
    let hot_idx: Vec<usize> = hot.iter().map(|h| h.0).collect();
    let mut moves = rebalance::moves_off_with(snap, &hot_idx, MAX_MOVES, 1, replan_budget);
    // Off a saturated server whose load the pods do not explain, a move relieves nothing.
    let (before, after) = rebalance::figures_after(snap, &moves);
    moves.retain(|m| {
        let b = before.cpu[m.from];
        super::effect::cpu_after_moves(snap, m.from, b, after.cpu[m.from]) < b
    });
    let (before, after) = rebalance::figures_after(snap, &moves);
    let mut out = Vec::new();
    for m in &moves {
        let pod = &snap.pods[m.pod];
        let key = format!("{}/{}", pod.namespace, pod.name);
        let (from, to) = (&snap.servers[m.from].name, &snap.servers[m.to].name);
        let owner = pod.workload.map(|w| snap.workloads[w].key()).unwrap_or_default();
        let together = if moves.len() > 1 {
            format!(
                " With {} moves: {from} {:.0} % → {:.0} % CPU, RUB {:.2} → {:.2}.",
                if moves.len() == 2 { "both".to_string() } else { format!("all {}", moves.len()) },
                before.cpu[m.from] * 100.0,
                after.cpu[m.from] * 100.0,
                before.rub,
                after.rub
            )
        } else {
            String::new()
        };
        let alone = rebalance::figures_after(snap, std::slice::from_ref(m));
        out.push(Candidate::new(
            PLACEMENT,
            Change::Evict { pod: key, server: from.clone(), to: Some(to.clone()) },
            format!(
                "{from} runs at {:.0} % CPU of allocatable: the placement optimizer moves this {owner} pod to {to} \
                 ({from} → {:.0} % CPU, {to} {:.0} % → {:.0} %).{together} Kubernetes cannot move a pod: \
                 it is evicted and its controller recreates it; the scheduler decides where.",
                before.cpu[m.from] * 100.0,
                alone.1.cpu[m.from] * 100.0,
                before.cpu[m.to] * 100.0,
                alone.1.cpu[m.to] * 100.0,
            ),
        ));
    }
    for (i, cpu) in hot {
        let s = &snap.servers[i];
        if moves.iter().any(|m| m.from == i) || !s.schedulable {
            continue;
        }
        let pods = snap.server_status[i].pods;
        // What an SRE does first: keep new pods off it (the scheduler places by requests, not
        // by use) while its load is dealt with. Valid only where it keeps something off.
        let cordon = Change::Cordon { server: s.name.clone(), cordon: true };
        if super::effect::hot_cordon(snap, &cordon).is_err() {
            continue;
        }
        out.push(Candidate {
            motive: Some(Motive::HotServer),
            ..Candidate::new(
                PLACEMENT,
                cordon,
                format!(
                    "CPU at {:.0} % of allocatable with {pods} pods and no pod move that relieves it: cordon so no new \
                     pod lands on it (it cools only once its load is dealt with).",
                    cpu * 100.0
                ),
            )
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::testkit::small_twin;

    /// The candidates assessed with no track record and nothing pending.
    fn assess_alone(snap: &Snapshot, candidates: Vec<Candidate>) -> Vec<crate::advise::Proposal> {
        let record = crate::advise::TrackRecord::default();
        let ctx = crate::advise::Context {
            guardrails: Guardrails::default(),
            evaluator: &crate::advise::AnalyticEvaluator::default(),
            seeds: crate::advise::default_seeds(),
            record: &record,
            pending: &[],
        };
        crate::advise::assess(snap, candidates, &ctx)
    }

    #[test]
    fn reactive_scales_the_overloaded_workload_and_goes_through_the_hpa() {
        let snap = small_twin();
        let c = reactive(&snap, &Guardrails::default());
        let api = c.iter().find(|c| c.target == "shop/api").expect("api is at 120 % of requests");
        // 2 × 1.2 / 0.7 = 3.43 → 4
        assert_eq!(api.action, Some(Change::Scale { workload: "shop/api".into(), replicas: 4 }));
        assert!(api.reason.contains("breaches its 50 ms SLO"), "{}", api.reason);
        // web: 240 m over 2 × 200 m = 60 % = its HPA target: nothing to do.
        assert!(c.iter().all(|c| c.target != "shop/web"));
        // db: 300 m of 1000 m: idle.
        assert!(c.iter().all(|c| c.target != "shop/db"));
    }

    #[test]
    fn predictive_schedules_a_scale_up_before_a_forecast_peak() {
        let snap = crate::advise::testkit::small_twin_rising();
        let c = predictive(&snap, &Guardrails::default(), chrono::Duration::seconds(1), 120);
        let db = c.iter().find(|c| c.target == "shop/db").expect("db's traffic is climbing");
        // Now 39.5 rps at 766 m of 1000 m: 77 %, within the HPA tolerance of the 70 % target;
        // the (damped) trend takes it over.
        let Some(Change::Scale { replicas, .. }) = db.action else { panic!("{db:?}") };
        assert!(replicas > 2, "{db:?}");
        // The crossing is within the lead time pods need, so it is proposed for now; a later
        // one would be scheduled ahead of it, inside the horizon.
        assert!(
            db.when.is_none_or(|w| w > snap.time && w < snap.time + chrono::Duration::seconds(120)),
            "{db:?}"
        );
        assert!(db.forecast_uncertainty.is_some_and(|u| u >= 0.0));
        assert!(db.reason.contains("forecast"), "{}", db.reason);
        // A flat history predicts nothing.
        assert!(
            predictive(&small_twin(), &Guardrails::default(), chrono::Duration::seconds(1), 120).is_empty()
        );
    }

    #[test]
    fn placement_leaves_a_cluster_without_hot_servers_alone() {
        assert!(placement(&small_twin()).is_empty());
    }

    /// The demo during its hot-server incident (seed 1), a few seconds in.
    fn demo_hot() -> (std::sync::Arc<Snapshot>, String) {
        use crate::demo::{DemoPreset, DemoTwin, HOT_SERVER};
        let start = chrono::DateTime::<chrono::Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let mut demo = DemoTwin::starting_at(DemoPreset::Dc, 1, start);
        demo.skip_to(HOT_SERVER.start - 20);
        let snap = demo.warm_snapshot(30);
        (snap, demo.hot_server_name().to_string())
    }

    /// The demo's hot server is pegged by a runaway process that takes whatever CPU is free:
    /// no pod move relieves it, so the advice is a cordon (nothing new lands there).
    #[test]
    fn a_server_pegged_by_load_no_pod_explains_gets_a_cordon_not_evictions() {
        let (snap, hot) = demo_hot();
        let h = snap.server_index(&hot).unwrap();
        assert!(server_utilization(&snap)[h].cpu >= 0.97, "pegged: {:?}", server_utilization(&snap)[h]);
        let c = placement(&snap);
        assert!(
            c.iter().all(|c| !matches!(&c.action, Some(Change::Evict { server, .. }) if *server == hot)),
            "{c:#?}"
        );
        let cordon = Change::Cordon { server: hot.clone(), cordon: true };
        let cordons: Vec<Candidate> =
            c.iter().filter(|c| c.action.as_ref() == Some(&cordon)).cloned().collect();
        assert_eq!(cordons.len(), 1, "{c:#?}");
        assert_eq!(cordons[0].motive, Some(Motive::HotServer));
        // Shown: valid, predicted to keep the server as hot as it is (it moves no pod).
        let out = assess_alone(&snap, cordons);
        assert_eq!(out[0].status, crate::advise::Status::Valid, "{:?}", out[0]);
        let cpu = out[0].predicted.as_ref().and_then(|p| p.server_cpu).expect("the server's CPU predicted");
        assert!(cpu.after.mean == cpu.before.mean && cpu.before.mean >= 0.97, "{cpu:?}");
    }

    #[test]
    fn placement_evicts_a_few_pods_off_the_hot_server_each_valid() {
        let (mut snap, hot) = demo_hot();
        let h = snap.server_index(&hot).unwrap();
        // Hot but not pegged: what it measures is its demand, and moves off it relieve it.
        let cap = snap.servers[h].allocatable;
        let st = &mut std::sync::Arc::make_mut(&mut snap).server_status[h];
        st.usage = st.usage.map(|u| crate::twin::Resources { cpu_m: cap.cpu_m * 0.95, ..u });
        assert!(server_utilization(&snap)[h].cpu >= HOT_SERVER_CPU, "the incident is on");
        let c = placement(&snap);
        let evictions: Vec<_> = c.iter().filter(|c| matches!(c.action, Some(Change::Evict { .. }))).collect();
        assert!(!evictions.is_empty() && evictions.len() <= MAX_MOVES, "{c:#?}");
        let mut owners = Vec::new();
        for e in &evictions {
            let Some(Change::Evict { pod, server, to: Some(to) }) = &e.action else { panic!("{e:?}") };
            assert_eq!(server, &hot, "{e:?}");
            assert_ne!(to, &hot);
            let change = e.action.as_ref().unwrap();
            let checked = crate::advise::validate::validate(&snap, change, &Guardrails::default());
            assert_eq!(checked.as_ref(), Ok(change), "{e:?}");
            owners.push(snap.pods[snap.pod_index(pod).unwrap()].workload);
            assert!(e.reason.contains("evicted"), "{}", e.reason);
        }
        owners.sort();
        owners.dedup();
        assert_eq!(owners.len(), evictions.len(), "one eviction per workload");
        // No cordon of a server the moves relieve.
        assert!(c.iter().all(|c| c.action != Some(Change::Cordon { server: hot.clone(), cordon: true })));
        // Assessed: valid, predicted to cool the hot server.
        let out = assess_alone(&snap, evictions.into_iter().cloned().collect());
        for p in &out {
            // Valid, or not shown because the twin predicts the moves together leave the
            // server hot, or this one move takes too little off it (it cannot change the
            // outcome): either way judged on the twin.
            let stays_hot = p.rejection.as_deref().is_some_and(|r| r.contains("stays hot"));
            let immaterial = p.rejection.as_deref().is_some_and(|r| r.contains("no material effect"));
            assert!(p.status == crate::advise::Status::Valid || stays_hot || immaterial, "{p:?}");
            let cpu = p.predicted.as_ref().and_then(|x| x.server_cpu).expect("server CPU predicted");
            assert!(cpu.after.mean < cpu.before.mean, "{p:?}");
        }
    }

    #[test]
    fn a_hot_server_no_move_relieves_is_cordoned() {
        let (mut snap, hot) = demo_hot();
        let h = snap.server_index(&hot).unwrap();
        // Every other server cordoned: nowhere to move to.
        let s = std::sync::Arc::make_mut(&mut snap);
        for (i, srv) in s.servers.iter_mut().enumerate() {
            srv.schedulable = i == h;
        }
        let c = placement(&snap);
        assert!(c.iter().all(|c| !matches!(c.action, Some(Change::Evict { .. }))), "{c:#?}");
        assert!(c.iter().any(|c| c.action == Some(Change::Cordon { server: hot.clone(), cordon: true })));
    }
}
