//! What a what-if script declares about the world rather than changes in it: `load W N rps`
//! (users send N requests per second to W) and `service W Nms [workers K]` (W's own time per
//! request). Declarations hold in the baseline and the scenario alike: they stand in for
//! measurements the twin lacks (a twin from manifests has none) or replace them. A twin with no
//! traffic at all is refused rather than simulated as "0 ms, SLO met".

use super::lang::{Line, Step};
use super::run::RunError;
use crate::sim::calibrate::{Fit, WorkloadModel};
use crate::sim::entries::{CallGraph, call_tree, entry_names};
use crate::sim::from_snapshot::generator;
use crate::sim::scenario::{CallSpec, Scenario, WorkflowSpec};
use crate::twin::{Dist, Snapshot};

/// A workload's name in the scenario.
fn key(snap: &Snapshot, name: &str) -> Option<String> {
    snap.workloads.iter().find(|w| w.name == name || w.key() == name).map(|w| w.key())
}

fn find_call(c: &CallSpec, svc: &str) -> Option<CallSpec> {
    if c.service == svc {
        return Some(c.clone());
    }
    c.calls.iter().find_map(|k| find_call(k, svc))
}

/// Busy fraction an unmeasured workload's pods are sized for under a declared load (the
/// calibration's fallback when nothing shows their queueing).
const ASSUMED_BUSY: f64 = 0.6;

/// Applies every `load` and `service` line to `sc` (the baseline, before the scenario is
/// copied from it). Under a declared load, a workload with nothing measured and no declared
/// `workers` gets pods sized to be 60 % busy at the rate the declared load sends it (a pod of
/// one worker would saturate at the first request a second more than its service time allows,
/// an artefact of missing measurements, not a prediction).
pub(crate) fn apply(
    snap: &Snapshot,
    sc: &mut Scenario,
    models: &[WorkloadModel],
    lines: &[Line],
) -> Result<(), RunError> {
    declare(snap, sc, lines)?;
    if !lines.iter().any(|l| matches!(l.step, Step::Load { .. })) {
        return Ok(());
    }
    let rates = offered(sc);
    for (w, m) in models.iter().enumerate() {
        let key = snap.workloads[w].key();
        let workers_declared = lines
            .iter()
            .any(|l| matches!(&l.step, Step::Service { workload, workers: Some(_), .. } if self::key(snap, workload).as_deref() == Some(key.as_str())));
        let Some(&rate) = rates.get(&key) else { continue };
        if m.fit != Fit::Unmeasured || workers_declared {
            continue;
        }
        let Some(s) = sc.services.iter_mut().find(|s| s.name == key) else { continue };
        if s.pod.parallelism >= 100_000 {
            continue; // a client: adds no time
        }
        let mean_s = s.pod.service_time.mean() / 1000.0;
        let erlangs = rate * mean_s / s.replicas.max(1) as f64;
        s.pod.parallelism = s.pod.parallelism.max((erlangs / ASSUMED_BUSY).ceil().clamp(1.0, 512.0) as u32);
    }
    Ok(())
}

/// Requests per second each service is sent by the scenario's steady generators.
fn offered(sc: &Scenario) -> std::collections::HashMap<String, f64> {
    fn walk(c: &CallSpec, rate: f64, out: &mut std::collections::HashMap<String, f64>) {
        let r = rate * c.probability;
        *out.entry(c.service.clone()).or_default() += r;
        c.calls.iter().for_each(|k| walk(k, r, out));
    }
    let mut out = std::collections::HashMap::new();
    for g in sc.load.iter().filter(|g| g.rate > 0.0 && g.requests.is_none()) {
        if let Some(r) = sc.workflows.iter().find(|w| w.name == g.workflow).and_then(|w| w.root.as_ref()) {
            walk(r, g.rate, &mut out);
        }
    }
    out
}

fn declare(snap: &Snapshot, sc: &mut Scenario, lines: &[Line]) -> Result<(), RunError> {
    let graph = CallGraph::of(snap);
    for l in lines {
        let bad = |m: String| RunError::Script(format!("line {}: {m}", l.line));
        match &l.step {
            Step::Load { workload, rps } => {
                let name =
                    key(snap, workload).ok_or_else(|| bad(format!("no workload named `{workload}`")))?;
                let w = snap.workload_index(&name).expect("named by the twin");
                if graph.source[w] {
                    return Err(bad(format!(
                        "{name} is a load generator (a traffic source): declare the load where its requests arrive"
                    )));
                }
                // Traffic measured entering at W (from users, or from a load generator calling
                // it) is replaced; calls from other services are kept.
                let roots: Vec<(String, String)> = sc
                    .workflows
                    .iter()
                    .filter_map(|wf| wf.root.as_ref().map(|r| (wf.name.clone(), r.clone())))
                    .filter(|(name, r)| {
                        !name.starts_with("present at ")
                            && (r.service == *snap.workloads[w].key()
                                || snap.workload_index(&r.service).is_some_and(|i| {
                                    graph.source[i] && r.calls.iter().any(|c| c.service == name_of(snap, w))
                                }))
                    })
                    .map(|(n, r)| (n, r.service))
                    .collect();
                sc.load.retain(|g| !roots.iter().any(|(wf, _)| *wf == g.workflow));
                let tree = sc
                    .workflows
                    .iter()
                    .find_map(|wf| wf.root.as_ref().and_then(|r| find_call(r, &name)))
                    .unwrap_or_else(|| call_tree(snap, &graph, w));
                let wf = format!("load at {name} (line {})", l.line);
                sc.workflows.push(WorkflowSpec {
                    name: wf.clone(),
                    steps: Vec::new(),
                    root: Some(CallSpec { probability: 1.0, ..tree }),
                    hold_caller: false,
                    request_kb: 4.0,
                    response_kb: 16.0,
                });
                sc.load.push(crate::sim::scenario::GeneratorSpec { rate: *rps, ..generator(&wf) });
            }
            Step::Service { workload, mean_ms, workers } => {
                let name =
                    key(snap, workload).ok_or_else(|| bad(format!("no workload named `{workload}`")))?;
                let s = sc.services.iter_mut().find(|s| s.name == name).expect("from the snapshot");
                // Keep the fitted shape of the time, if any: only its mean is declared.
                let sigma = match s.pod.service_time {
                    Dist::LogNormal { sigma, .. } => sigma,
                    _ => 0.5,
                };
                // Declared as it would be measured, on the servers its pods run on; the
                // simulator divides by their speed.
                let w = snap.workload_index(&name).expect("named by the twin");
                let at_speed_1 = mean_ms * crate::sim::from_snapshot::speed_factor(snap, w);
                s.pod.service_time = Dist::LogNormal { mu: at_speed_1.ln() - sigma * sigma / 2.0, sigma };
                if let Some(k) = workers {
                    s.pod.parallelism = *k;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn name_of(snap: &Snapshot, w: usize) -> String {
    snap.workloads[w].key()
}

/// Refuses a scenario no traffic enters (nothing measured, nothing declared), and notes every
/// workload on the traffic's path whose own time is an assumption.
pub(crate) fn check_traffic(
    snap: &Snapshot,
    sc: &Scenario,
    models: &[WorkloadModel],
    lines: &[Line],
    notes: &mut Vec<String>,
) -> Result<(), RunError> {
    let users = sc
        .load
        .iter()
        .filter(|g| !g.workflow.starts_with("present at "))
        .any(|g| g.rate > 0.0 || !g.rates.is_empty() || g.csv.is_some());
    if !users {
        let entries = entry_names(snap, 3);
        let example = entries.first().cloned().unwrap_or_else(|| "frontend".into());
        return Err(RunError::Script(format!(
            "the twin measures no traffic entering it, so the simulation would show nothing (0 ms, no \
             violations): declare it, e.g. `load {example} 100 rps`{}",
            if entries.is_empty() {
                String::new()
            } else {
                format!(" (where requests enter: {})", entries.join(", "))
            }
        )));
    }
    let declared: Vec<String> = lines
        .iter()
        .filter_map(|l| match &l.step {
            Step::Service { workload, .. } => key(snap, workload),
            _ => None,
        })
        .collect();
    let mut on_path = vec![false; snap.workloads.len()];
    fn mark(snap: &Snapshot, c: &CallSpec, on: &mut [bool]) {
        if let Some(i) = snap.workload_index(&c.service) {
            on[i] = true;
        }
        c.calls.iter().for_each(|k| mark(snap, k, on));
    }
    for g in sc.load.iter().filter(|g| g.rate > 0.0 || !g.rates.is_empty()) {
        if let Some(wf) = sc.workflows.iter().find(|w| w.name == g.workflow)
            && let Some(r) = &wf.root
        {
            mark(snap, r, &mut on_path);
        }
    }
    let graph = CallGraph::of(snap);
    let assumed: Vec<String> = (0..snap.workloads.len())
        .filter(|&w| {
            on_path[w] && !graph.source[w] && models.get(w).is_some_and(|m| m.fit == Fit::Unmeasured)
        })
        .map(|w| snap.workloads[w].key())
        .filter(|k| !declared.contains(k))
        .collect();
    if !assumed.is_empty() {
        let ms = models.iter().find(|m| m.fit == Fit::Unmeasured).map_or(10.0, |m| m.service_median_ms);
        notes.push(format!(
            "no latency measured at {}: their own time is taken as {ms:.0} ms per request (declare it: `service W 20ms`)",
            assumed.join(", ")
        ));
    }
    Ok(())
}
