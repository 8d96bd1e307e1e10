//! Turns a checked what-if script into two simulator scenarios: the baseline (the twin as it
//! is) and the scenario (the script's changes: replicas, HPA bounds, timed failures, drains and
//! cordons, latency, node affinity for moves, and traffic as extra or reshaped load).

use super::lang::{Line, Scope, Step};
use super::run::{DEFAULT_HORIZON_S, RunError, RunOptions};
use crate::sim::FromSnapshotOptions;
use crate::sim::from_snapshot::scenario_from_snapshot;
use crate::sim::scenario::{
    AutoscalerSpec, EventSpec, GeneratorSpec, LinkLatency, MetricSpec, Scenario, SloSpec, WorkflowSpec,
};
use crate::twin::Snapshot;

/// The two scenarios a script compares, and what its lines asked besides changes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub baseline: Scenario,
    pub scenario: Scenario,
    /// An SLO on one workload's time to process instead of end to end.
    pub slo_workload: Option<String>,
    pub sweep: Option<(String, u32, u32)>,
    pub notes: Vec<String>,
}

fn service_of(snap: &Snapshot, name: &str) -> Option<String> {
    snap.workloads.iter().find(|w| w.name == name || w.key() == name).map(|w| w.key())
}

/// The servers a scope names.
fn servers_in(snap: &Snapshot, scope: &Scope) -> Vec<String> {
    snap.servers
        .iter()
        .filter(|s| {
            let l = &s.location;
            match scope {
                Scope::Region(n) => &l.region == n,
                Scope::Zone(n) => &l.zone == n,
                Scope::Rack(n) => &l.rack == n,
                Scope::Server(n) => &s.name == n,
                Scope::Any(n) => &s.name == n || &l.rack == n || &l.zone == n || &l.region == n,
            }
        })
        .map(|s| s.name.clone())
        .collect()
}

/// The region a location name lies in (the simulator adds latency between regions).
fn region_of(snap: &Snapshot, name: &str) -> Option<String> {
    snap.servers
        .iter()
        .find(|s| {
            let l = &s.location;
            s.name == name || l.rack == name || l.zone == name || l.region == name
        })
        .map(|s| s.location.region.clone())
}

fn find_call(c: &crate::sim::scenario::CallSpec, svc: &str) -> Option<crate::sim::scenario::CallSpec> {
    if c.service == svc {
        return Some(c.clone());
    }
    c.calls.iter().find_map(|k| find_call(k, svc))
}

/// Applies the lines to a scenario built from the snapshot.
pub fn plan(snap: &Snapshot, lines: &[Line], opt: &RunOptions) -> Result<Plan, RunError> {
    let horizon = lines
        .iter()
        .rev()
        .find_map(|l| match l.step {
            Step::Horizon { secs } => Some(secs),
            _ => None,
        })
        .unwrap_or(DEFAULT_HORIZON_S);
    let horizon = opt.horizon_override_s.unwrap_or(horizon);
    let fo = FromSnapshotOptions { duration_s: horizon, ..Default::default() };
    let mut baseline = scenario_from_snapshot(snap, &fo);
    let mut slo_workload = None;
    for l in lines {
        if let Step::Slo { quantile, below_ms, workload } = &l.step {
            baseline.slo = Some(SloSpec { target_ms: *below_ms, percentile: *quantile as f64 });
            slo_workload = workload.as_ref().and_then(|w| service_of(snap, w));
        }
    }
    let mut sc = baseline.clone();
    let mut notes = Vec::new();
    let mut sweep = None;
    for l in lines {
        let bad = |m: String| RunError::Script(format!("line {}: {m}", l.line));
        // A change after the horizon would never happen: say so rather than run without it.
        let starts = match &l.step {
            Step::FailServer { at, .. } | Step::Cordon { at, .. } | Step::Drain { at, .. } => Some(*at),
            Step::Latency { at, .. } => Some(*at),
            Step::Traffic { from, .. } => Some(*from),
            _ => None,
        };
        if let Some(t) = starts.filter(|t| !(*t >= 0.0 && *t < horizon)) {
            return Err(bad(format!(
                "it starts at {t} s, not within the horizon of {horizon} s (set a longer one with `horizon 2h`)"
            )));
        }
        let svc = |w: &str| service_of(snap, w).ok_or_else(|| bad(format!("no workload named `{w}`")));
        let event = |at: f64| EventSpec { at_s: at, ..Default::default() };
        match &l.step {
            Step::Scale { workload, change } => {
                let name = svc(workload)?;
                let s = sc.services.iter_mut().find(|s| s.name == name).expect("from the snapshot");
                let n = change.apply(s.replicas).max(1);
                s.replicas = n;
                if let Some(a) = &mut s.autoscaler {
                    // A manual scale under an HPA sticks only if the HPA's floor allows it.
                    a.min = a.min.max(n);
                    a.max = a.max.max(n);
                    notes.push(format!("line {}: {name} has an HPA: its min is raised to {n}", l.line));
                }
            }
            Step::FailServer { server, at } => {
                sc.events.push(EventSpec { node_loss: Some(server.clone()), ..event(*at) })
            }
            Step::Cordon { server, at } => {
                sc.events.push(EventSpec { cordon: Some(server.clone()), ..event(*at) })
            }
            Step::Drain { scope, at } => {
                let names = servers_in(snap, scope);
                if names.is_empty() {
                    return Err(bad("the drain names no server".into()));
                }
                for n in names {
                    sc.events.push(EventSpec { drain: Some(n), ..event(*at) });
                }
            }
            Step::Traffic { workload, factor, from, until } => {
                let name = svc(workload)?;
                apply_traffic(snap, &mut sc, &name, *factor, *from, *until, l.line, &mut notes)
                    .map_err(bad)?;
            }
            Step::Latency { a, b, add_ms, at } => {
                let ra = region_of(snap, a).ok_or_else(|| bad(format!("no location named `{a}`")))?;
                let rb = region_of(snap, b).ok_or_else(|| bad(format!("no location named `{b}`")))?;
                if (&ra, &rb) != (a, b) {
                    notes.push(format!(
                        "line {}: latency is added between regions {ra} and {rb} (the simulator's granularity)",
                        l.line
                    ));
                }
                sc.events.push(EventSpec {
                    link_latency: Some(LinkLatency { a: ra, b: rb, add_ms: *add_ms }),
                    ..event(*at)
                });
            }
            Step::Hpa { workload, min, max, target_pct } => {
                let name = svc(workload)?;
                let s = sc.services.iter_mut().find(|s| s.name == name).expect("from the snapshot");
                let a = s.autoscaler.get_or_insert_with(|| AutoscalerSpec {
                    mode: Default::default(),
                    metric: MetricSpec::UtilizationPct(70.0),
                    min: 1,
                    max: s.replicas.max(1).saturating_mul(3),
                    period_s: 15.0,
                    tolerance: 0.1,
                    behavior: Default::default(),
                });
                if let Some(m) = min {
                    a.min = (*m).max(1);
                }
                if let Some(m) = max {
                    a.max = *m;
                }
                if let Some(t) = target_pct {
                    a.metric = MetricSpec::UtilizationPct(*t);
                }
                if a.min > a.max {
                    return Err(bad(format!("hpa min {} is above max {}", a.min, a.max)));
                }
            }
            Step::Move { workload, to } => {
                let name = svc(workload)?;
                let names = servers_in(snap, to);
                if names.is_empty() {
                    return Err(bad("the move names no server".into()));
                }
                let s = sc.services.iter_mut().find(|s| s.name == name).expect("from the snapshot");
                s.node_affinity = names;
                s.initial_servers.clear();
            }
            Step::Sweep { workload, from, to } => {
                sweep = Some((svc(workload)?, *from, *to));
            }
            Step::Horizon { .. } | Step::Slo { .. } => {}
        }
    }
    sc.events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    if sweep.is_some() && sc.slo.is_none() {
        return Err(RunError::Script(
            "a sweep needs an SLO: add a line like `slo p99 < 60ms` (the twin has none)".into(),
        ));
    }
    for s in [&baseline, &sc] {
        s.validate().map_err(|(f, m, _)| {
            RunError::Script(format!("scenario: {f}: {m} (what-if runs use the simulator's default limits)"))
        })?;
    }
    Ok(Plan { baseline, scenario: sc, slo_workload, sweep, notes })
}

/// Traffic × factor on `svc` over [from, until). Extra load is added as new generators (so
/// the baseline's arrivals are kept: same seeds, same draws); less load reshapes the existing
/// generators in three pieces.
#[allow(clippy::too_many_arguments)]
fn apply_traffic(
    snap: &Snapshot,
    sc: &mut Scenario,
    svc: &str,
    factor: f64,
    from: f64,
    until: Option<f64>,
    line: usize,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let entry_wf = format!("from {svc}");
    let mut gens: Vec<usize> =
        sc.load.iter().enumerate().filter(|(_, g)| g.workflow == entry_wf).map(|(i, _)| i).collect();
    let rooted = gens.is_empty();
    if rooted {
        // Not an entry workload: its own traffic is what its callers send it.
        if factor >= 1.0 {
            let call = sc
                .workflows
                .iter()
                .find_map(|w| w.root.as_ref().and_then(|r| find_call(r, svc)))
                .ok_or_else(|| format!("{svc} receives no traffic in the twin"))?;
            let rps = snap
                .workload_index(svc)
                .and_then(|i| snap.workload_status.get(i))
                .and_then(|s| s.rps)
                .unwrap_or(0.0);
            if rps <= 0.0 {
                return Err(format!("{svc} has no measured request rate to multiply"));
            }
            let wf = format!("extra traffic to {svc} (line {line})");
            let mut root = call;
            root.probability = 1.0;
            sc.workflows.push(WorkflowSpec {
                name: wf.clone(),
                steps: Vec::new(),
                root: Some(root),
                hold_caller: false,
                request_kb: 4.0,
                response_kb: 16.0,
            });
            sc.load.push(generator(&wf, rps * (factor - 1.0), from, until));
            return Ok(());
        }
        gens = sc
            .load
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                sc.workflows.iter().any(|w| {
                    w.name == g.workflow && w.root.as_ref().is_some_and(|r| find_call(r, svc).is_some())
                })
            })
            .map(|(i, _)| i)
            .collect();
        notes.push(format!(
            "line {line}: less traffic to {svc} is less traffic from the workloads calling it"
        ));
    }
    for i in gens {
        let g = sc.load[i].clone();
        if factor >= 1.0 {
            let name = format!("{} ×{factor} (line {line})", g.workflow);
            let mut extra = generator(&g.workflow, g.rate * (factor - 1.0), from, until);
            extra.name = name;
            extra.origin = g.origin.clone();
            if extra.rate > 0.0 {
                sc.load.push(extra);
            }
        } else {
            // The original stops at `from`; a reduced copy runs until `until`; then the
            // original rate again.
            sc.load[i].stop_s = Some(from);
            let mut reduced = generator(&g.workflow, g.rate * factor, from, until);
            reduced.origin = g.origin.clone();
            if reduced.rate > 0.0 {
                sc.load.push(reduced);
            }
            if let Some(u) = until {
                let mut back = generator(&g.workflow, g.rate, u, None);
                back.origin = g.origin.clone();
                sc.load.push(back);
            }
            if from <= 0.0 {
                sc.load[i].stop_s = Some(0.0);
            }
        }
    }
    Ok(())
}

fn generator(workflow: &str, rate: f64, from: f64, until: Option<f64>) -> GeneratorSpec {
    GeneratorSpec {
        name: format!("{workflow} from {from}s"),
        workflow: workflow.into(),
        origin: None,
        arrivals: Default::default(),
        rate,
        start_s: from,
        stop_s: until,
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
    use crate::whatif::lang::parse;

    fn planned(script: &str) -> Result<Plan, RunError> {
        let snap = DemoTwin::new(DemoPreset::Dc, 1).warm_snapshot(2);
        plan(&snap, &parse(script).unwrap(), &RunOptions::default())
    }

    #[test]
    fn hostile_scripts_are_refused_before_running() {
        for (script, needle) in [
            ("scale checkoutservice to 4294967295", "limits.max_pods = 200000"),
            ("scale checkoutservice +4294967295", "limits.max_pods"),
            ("hpa checkoutservice max 4294967295", "limits.max_pods"),
            // Found by the fuzzer: an HPA added after a huge scale overflowed its default max.
            ("scale checkoutservice to 4294967295\nhpa checkoutservice max 4294967295", "limits.max_pods"),
            (
                "fail server r3-07 at 1000000000000s",
                "line 1: it starts at 1000000000000 s, not within the horizon of 900 s",
            ),
            (
                "horizon 10m\ntraffic frontend x2 from 20m",
                "line 2: it starts at 1200 s, not within the horizon of 600 s",
            ),
        ] {
            let e = planned(script).expect_err(script).to_string();
            assert!(e.contains(needle), "{script}: {e}");
        }
        assert!(planned("fail server r3-07 at 5m").is_ok());
    }
}
