//! The offline twin (KubeTwin's offline mode): a deployment read from its Kubernetes YAML and
//! placed on a datacenter (by default the demo's `dc` servers) by a spreading scheduler, so a
//! team can explore it before it exists.

pub mod nodes;
pub mod read;
pub mod spread;

pub use read::{AnyHpa, Objects, Origin, read_path};

use super::k8s_map::{self, HpaTarget};
use crate::demo::{DemoPreset, presets};
use crate::twin::{
    Feed, FeedState, LatencyModel, PodPhase, PodSpec, Server, SourceInfo, SourceKind, TwinEvent, Workload,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::Path;

/// The datacenter a manifest twin is placed on.
pub struct Datacenter {
    pub name: String,
    pub servers: Vec<Server>,
    pub latency: LatencyModel,
}

impl Datacenter {
    pub fn demo(preset: DemoPreset) -> Datacenter {
        Datacenter {
            name: format!("demo datacenter {}", preset.name()),
            servers: presets::servers(preset),
            latency: presets::latency(preset),
        }
    }

    /// The servers of a `kubectl get nodes` file, with the default rack latency model.
    pub fn from_nodes_file(path: &Path) -> anyhow::Result<Datacenter> {
        Ok(Datacenter {
            name: format!("servers of {}", path.display()),
            servers: nodes::read_nodes_file(path)?,
            latency: crate::twin::LatencyModel::default(),
        })
    }
}

/// Pods a set of manifests may ask for (the simulator's default `limits.max_pods`).
pub const MAX_PODS: u64 = 200_000;

/// Reads `path` and builds the twin's events at time `now`.
pub fn load_events(path: &Path, dc: Datacenter, now: DateTime<Utc>) -> anyhow::Result<Vec<TwinEvent>> {
    let objs = read_path(path)?;
    build_events(objs, &path.display().to_string(), dc, now)
}

/// Turns the objects into twin events: servers, workloads (with HPAs), pods placed by the
/// spreading scheduler, the env/annotation call graph, and notices for whatever the operator
/// should know (skipped kinds, workloads without requests, pods that fit nowhere).
pub fn build_events(
    objs: Objects,
    name: &str,
    dc: Datacenter,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<TwinEvent>> {
    let ctx = |o: &Origin, e: k8s_map::MapError| anyhow::anyhow!("{o}: {e}");
    let mut workloads: Vec<Workload> = Vec::new();
    let mut templates = Vec::new();
    for (o, d) in &objs.deployments {
        workloads.push(k8s_map::deployment_to_workload(d).map_err(|e| ctx(o, e))?);
        templates.push(k8s_map::template_of_deployment(d).map_err(|e| ctx(o, e))?);
    }
    for (o, s) in &objs.statefulsets {
        workloads.push(k8s_map::statefulset_to_workload(s).map_err(|e| ctx(o, e))?);
        templates.push(k8s_map::template_of_statefulset(s).map_err(|e| ctx(o, e))?);
    }
    let mut services = Vec::new();
    for (o, s) in &objs.services {
        services.push(k8s_map::service_info(s).map_err(|e| ctx(o, e))?);
    }
    let mut hpas: Vec<HpaTarget> = Vec::new();
    for (o, h) in &objs.hpas {
        hpas.push(
            match h {
                AnyHpa::V2(h) => k8s_map::hpa_v2_to_hpa(h),
                AnyHpa::V1(h) => k8s_map::hpa_v1_to_hpa(h),
            }
            .map_err(|e| ctx(o, e))?,
        );
    }
    let mut seen = std::collections::HashSet::new();
    for w in &workloads {
        if !seen.insert(w.key()) {
            anyhow::bail!("{name}: {} {} is defined twice", w.kind.as_str(), w.key());
        }
    }

    let mut notices = Vec::new();
    for h in k8s_map::attach_hpas(&mut workloads, hpas) {
        notices.push(format!("HPA {} targets {}, which the manifests do not define", h.hpa.name, h.target));
    }
    if !objs.skipped.is_empty() {
        notices.push(skipped_notice(&objs.skipped));
    }
    let no_requests: Vec<String> = workloads
        .iter()
        .filter(|w| w.requests.cpu_m == 0.0 && w.requests.mem_mib == 0.0)
        .map(|w| w.key())
        .collect();
    if !no_requests.is_empty() {
        notices.push(format!(
            "{} workload(s) declare no CPU or memory requests and count as zero in utilisation: {}",
            no_requests.len(),
            no_requests.join(", ")
        ));
    }

    let mut events = vec![
        TwinEvent::Source(SourceInfo {
            kind: SourceKind::Manifests,
            name: name.to_string(),
            context: dc.name.clone(),
        }),
        TwinEvent::Latency(dc.latency.clone()),
    ];
    events.extend(dc.servers.iter().cloned().map(TwinEvent::Server));
    // A replica count is one small number in a file: bound the pods it makes before making them.
    let total: u64 = workloads.iter().map(|w| w.replicas as u64).sum();
    if total > MAX_PODS {
        let big =
            workloads.iter().max_by_key(|w| w.replicas).map(|w| (w.key(), w.replicas)).unwrap_or_default();
        anyhow::bail!(
            "{name}: the manifests ask for {total} pods ({} alone has {} replicas); twintop models at most \
             {MAX_PODS} (Kubernetes supports 150,000 per cluster)",
            crate::text::escape(&big.0),
            big.1
        );
    }
    let mut sched = spread::Spread::new(&dc.servers);
    let mut pending: BTreeMap<String, u32> = BTreeMap::new();
    let mut pods = Vec::new();
    for w in &workloads {
        for i in 0..w.replicas {
            let server = sched.place(&w.requests);
            if server.is_none() {
                *pending.entry(w.key()).or_default() += 1;
            }
            pods.push(TwinEvent::Pod(PodSpec {
                name: format!("{}-{i}", w.name),
                namespace: w.namespace.clone(),
                workload: Some(w.name.clone()),
                server: server.map(|s| dc.servers[s].name.clone()),
                requests: w.requests,
                limits: w.limits,
                phase: if server.is_some() { PodPhase::Running } else { PodPhase::Pending },
            }));
        }
    }
    if !pending.is_empty() {
        let list: Vec<String> = pending.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        notices.push(format!("pods that fit on no server stay Pending: {}", list.join(", ")));
    }
    let edges = k8s_map::call_graph(&templates, &services);
    let n_workloads = workloads.len();
    events.extend(workloads.into_iter().map(TwinEvent::Workload));
    events.extend(pods);
    for origin in [k8s_map::graph::ORIGIN_ENV, k8s_map::graph::ORIGIN_ANNOTATION] {
        let edges = edges.iter().filter(|e| e.origin == origin).cloned().collect();
        events.push(TwinEvent::Edges { origin: origin.into(), edges });
    }
    events.push(TwinEvent::Feed(Feed {
        name: "manifests".into(),
        state: FeedState::Ok,
        detail: format!(
            "{n_workloads} workloads, {} services from {} file(s); {} skipped",
            objs.services.len(),
            objs.files.len(),
            objs.skipped.len()
        ),
        updated: Some(now),
    }));
    events.extend(notices.into_iter().map(TwinEvent::Notice));
    events.push(TwinEvent::Tick(now));
    Ok(events)
}

/// "skipped kinds twintop does not model: Gateway (istio-gateway), ServiceAccount ×12 (a, b, …)".
fn skipped_notice(skipped: &[(String, String, Origin)]) -> String {
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (kind, name, _) in skipped {
        by_kind.entry(kind).or_default().push(name);
    }
    let parts: Vec<String> = by_kind
        .iter()
        .map(|(kind, names)| {
            let mut shown = names.iter().take(4).copied().collect::<Vec<_>>().join(", ");
            if names.len() > 4 {
                shown.push_str(", …");
            }
            if names.len() > 1 {
                format!("{kind} ×{} ({shown})", names.len())
            } else {
                format!("{kind} ({shown})")
            }
        })
        .collect();
    format!("skipped {} object(s) of kinds twintop does not model: {}", skipped.len(), parts.join(", "))
}

#[cfg(test)]
mod tests;
