//! The offline twin (KubeTwin's offline mode): a deployment read from its Kubernetes YAML and
//! placed on a datacenter (by default the demo's `dc` servers) by a spreading scheduler, so a
//! team can explore it before it exists.

mod classify;
pub mod nodes;
mod place;
pub mod read;
mod routes;
pub(crate) mod spread;

pub use place::Placed;
pub use read::{AnyHpa, Objects, Origin, ReadOptions, read_path, read_paths};

use super::k8s_map::{self, HpaTarget};
use crate::demo::{DemoPreset, presets};
use crate::twin::{
    Feed, FeedState, LatencyModel, PodPhase, PodSpec, Server, SourceInfo, SourceKind, TwinEvent, Workload,
    WorkloadKind,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The datacenter a manifest twin is placed on.
pub struct Datacenter {
    pub name: String,
    pub servers: Vec<Server>,
    pub latency: LatencyModel,
}

impl Datacenter {
    /// The demo's servers, with the labels every kubelet sets (hostname, os, arch, and zone
    /// and region from their location), which manifests' nodeSelectors commonly ask for.
    pub fn demo(preset: DemoPreset) -> Datacenter {
        let mut servers = presets::servers(preset);
        for s in &mut servers {
            let mut well_known = vec![
                ("kubernetes.io/hostname", s.name.clone()),
                ("kubernetes.io/os", "linux".to_string()),
                ("kubernetes.io/arch", "amd64".to_string()),
            ];
            if !s.location.region.is_empty() {
                well_known.push((k8s_map::LABEL_REGION, s.location.region.clone()));
            }
            if !s.location.zone.is_empty() {
                well_known.push((k8s_map::LABEL_ZONE, s.location.zone.clone()));
            }
            for (k, v) in well_known {
                s.labels.entry(k.to_string()).or_insert(v);
            }
        }
        Datacenter {
            name: format!("demo datacenter {}", preset.name()),
            servers,
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
pub(crate) const MAX_PODS: u64 = 200_000;

/// Reads `path` and builds the twin's events at time `now`.
#[cfg(test)]
pub(crate) fn load_events(path: &Path, dc: Datacenter, now: DateTime<Utc>) -> anyhow::Result<Vec<TwinEvent>> {
    load_paths(&[path.to_path_buf()], &ReadOptions::default(), dc, now)
}

/// Reads every path (as `kubectl apply -f a -f b`, with `-n` in `opts`) and builds the twin.
pub fn load_paths(
    paths: &[PathBuf],
    opts: &ReadOptions,
    dc: Datacenter,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<TwinEvent>> {
    let objs = read_paths(paths, opts)?;
    let name: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    build_events(objs, &name.join(", "), dc, now)
}

/// Turns the objects into twin events: servers, workloads (with HPAs), pods placed by the
/// scheduling rules and the spreading scheduler, the env/annotation call graph, and notices
/// for whatever the operator should know (skipped files and kinds, workloads without requests,
/// pods that fit nowhere and why, rules twintop does not model).
pub fn build_events(
    objs: Objects,
    name: &str,
    dc: Datacenter,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<TwinEvent>> {
    let ctx = |o: &Origin, e: k8s_map::MapError| anyhow::anyhow!("{o}: {e}");
    if objs.workload_count() == 0 {
        let mut msg = format!("{name}: no Deployment, StatefulSet or DaemonSet to build a twin from");
        if !objs.skipped.is_empty() {
            msg.push_str(&format!("; {}", skipped_notice(&objs.skipped)));
        }
        if !objs.skipped_files.is_empty() {
            msg.push_str(&format!("; {}", skipped_files_notice(&objs.skipped_files)));
        }
        anyhow::bail!(msg);
    }
    let mut notices = Vec::new();
    // (workload, template, origin); a later definition replaces an earlier one, as a second
    // `kubectl apply` of the same object would.
    let mut defs: Vec<(Workload, k8s_map::WorkloadTemplate, Origin)> = Vec::new();
    let mut unmodelled: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut note_rules = |w: &Workload, t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>| {
        let rules = k8s_map::unmodelled_rules(t, &w.key());
        if !rules.is_empty() {
            unmodelled.insert(w.key(), rules);
        }
    };
    for (o, d) in &objs.deployments {
        let w = k8s_map::deployment_to_workload(d).map_err(|e| ctx(o, e))?;
        note_rules(&w, d.spec.as_ref().map(|s| &s.template));
        defs.push((
            w,
            k8s_map::template_of_deployment_with(d, &objs.configmaps).map_err(|e| ctx(o, e))?,
            o.clone(),
        ));
    }
    for (o, s) in &objs.statefulsets {
        let w = k8s_map::statefulset_to_workload(s).map_err(|e| ctx(o, e))?;
        note_rules(&w, s.spec.as_ref().map(|s| &s.template));
        defs.push((
            w,
            k8s_map::template_of_statefulset_with(s, &objs.configmaps).map_err(|e| ctx(o, e))?,
            o.clone(),
        ));
    }
    for (o, d) in &objs.daemonsets {
        let w = k8s_map::daemonset_to_workload(d).map_err(|e| ctx(o, e))?;
        note_rules(&w, d.spec.as_ref().map(|s| &s.template));
        defs.push((
            w,
            k8s_map::template_of_daemonset_with(d, &objs.configmaps).map_err(|e| ctx(o, e))?,
            o.clone(),
        ));
    }
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut replaced = Vec::new();
    let mut kept: Vec<Option<(Workload, k8s_map::WorkloadTemplate, Origin)>> = Vec::new();
    for d in defs {
        let key = format!("{} {}", d.0.kind.as_str(), d.0.key());
        if let Some(&i) = by_key.get(&key) {
            let old = kept[i].take().map(|o| o.2.file).unwrap_or_default();
            replaced.push(format!("{key} ({} replaces {})", d.2.file, old));
        }
        by_key.insert(key, kept.len());
        kept.push(Some(d));
    }
    if !replaced.is_empty() {
        notices.push(format!(
            "{} workload(s) defined more than once; the later definition is used, as a second kubectl apply would: {}",
            replaced.len(),
            replaced.join(", ")
        ));
    }
    let (mut workloads, templates): (Vec<Workload>, Vec<k8s_map::WorkloadTemplate>) =
        kept.into_iter().flatten().map(|(w, t, _)| (w, t)).unzip();
    let mut services = Vec::new();
    for (o, s) in &objs.services {
        services.push(k8s_map::service_info(s).map_err(|e| ctx(o, e))?);
    }
    // Workloads behind an Ingress or a Gateway route are where users' requests enter.
    let mut entries: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &objs.routes {
        let behind = k8s_map::graph::workloads_behind(&r.namespace, &r.service, &templates, &services);
        if behind.is_empty() {
            notices.push(format!(
                "{} ({}) routes to Service {}/{}, which selects no workload in the manifests",
                r.via, r.origin, r.namespace, r.service
            ));
        }
        for key in behind {
            entries.entry(key).or_default().push(r.via.clone());
        }
    }
    for w in &mut workloads {
        if entries.contains_key(&w.key()) {
            w.labels.insert(crate::sim::entries::ENTRY_LABEL.into(), "true".into());
        }
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
    for h in k8s_map::attach_hpas(&mut workloads, hpas) {
        notices.push(format!("HPA {} targets {}, which the manifests do not define", h.hpa.name, h.target));
    }
    if !objs.skipped_files.is_empty() {
        notices.push(skipped_files_notice(&objs.skipped_files));
    }
    if !objs.skipped.is_empty() {
        notices.push(skipped_notice(&objs.skipped));
    }
    for (key, rules) in &unmodelled {
        notices.push(format!("{key}: {} not modelled; its pods are placed without it", rules.join(", ")));
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
    // A replica count (a DaemonSet's is the servers it runs on, at most all of them) is one small number in a file: bound the pods it makes before making them.
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
    let placed = place::place_all(&dc.servers, &mut workloads);
    let mut pending: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut pods = Vec::new();
    for (w, placed) in workloads.iter().zip(&placed) {
        for (i, p) in placed.iter().enumerate() {
            let (server, reason) = match p {
                Placed::On(s) => (Some(dc.servers[*s].name.clone()), None),
                Placed::Pending(why) => {
                    *pending.entry((w.key(), why.clone())).or_default() += 1;
                    (None, Some(why.clone()))
                }
            };
            // A DaemonSet's pods are named for their server, as `kubectl get pods -o wide` pairs them.
            let name = match (&w.kind, &server) {
                (WorkloadKind::DaemonSet, Some(s)) => format!("{}-{s}", w.name),
                _ => format!("{}-{i}", w.name),
            };
            pods.push(TwinEvent::Pod(PodSpec {
                name,
                namespace: w.namespace.clone(),
                workload: Some(w.name.clone()),
                phase: if server.is_some() { PodPhase::Running } else { PodPhase::Pending },
                server,
                requests: w.requests,
                limits: w.limits,
                reason,
            }));
        }
    }
    if !pending.is_empty() {
        let list: Vec<String> = pending.iter().map(|((k, why), n)| format!("{k} ×{n} ({why})")).collect();
        notices.push(format!("pods that fit on no server stay Pending: {}", list.join("; ")));
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
            "{n_workloads} workloads, {} services from {} file(s); {} object(s) and {} file(s) skipped",
            objs.services.len(),
            objs.files.len() - objs.skipped_files.iter().filter(|f| !f.0.ends_with('/')).count(),
            objs.skipped.len(),
            objs.skipped_files.len()
        ),
        updated: Some(now),
    }));
    events.extend(notices.into_iter().map(TwinEvent::Notice));
    events.push(TwinEvent::Tick(now));
    Ok(events)
}

/// "skipped 3 file(s) that hold no Kubernetes object: helm-chart/ (a Helm chart …), …".
fn skipped_files_notice(files: &[(String, String)]) -> String {
    let mut shown: Vec<String> = files.iter().take(8).map(|(f, why)| format!("{f} ({why})")).collect();
    if files.len() > 8 {
        shown.push(format!("… {} more", files.len() - 8));
    }
    format!("skipped {} file(s) that hold no Kubernetes object: {}", files.len(), shown.join(", "))
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
            // A Kustomization has no name: it is listed by its kind alone.
            let named: Vec<&str> = names.iter().copied().filter(|n| !n.is_empty()).collect();
            let mut shown = named.iter().take(4).copied().collect::<Vec<_>>().join(", ");
            if named.len() > 4 {
                shown.push_str(", …");
            }
            let count = if names.len() > 1 { format!(" ×{}", names.len()) } else { String::new() };
            if shown.is_empty() { format!("{kind}{count}") } else { format!("{kind}{count} ({shown})") }
        })
        .collect();
    let mut out =
        format!("skipped {} object(s) of kinds twintop does not model: {}", skipped.len(), parts.join(", "));
    if by_kind.contains_key("Node") {
        out.push_str(
            " (Nodes are the servers: give their file with `--servers FILE`, before the subcommand)",
        );
    }
    out
}

#[cfg(test)]
mod tests;
