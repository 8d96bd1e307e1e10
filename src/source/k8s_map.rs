//! Kubernetes objects (k8s-openapi typed structs) → twin types. Pure functions shared by the
//! live reflectors and the manifest reader, so both read a cluster the same way.

pub(crate) mod env;
pub(crate) mod graph;
pub(crate) mod quantity;
pub(crate) mod scheduling;

pub(crate) use env::ConfigMaps;
pub(crate) use graph::{
    ORIGIN_ANNOTATION, ORIGIN_ENV, ServiceInfo, WorkloadTemplate, call_graph, call_graph_with, service_info,
    template_of_daemonset_with, template_of_deployment, template_of_deployment_with, template_of_statefulset,
    template_of_statefulset_with,
};
pub(crate) use quantity::{cpu_millis, mem_mib, parse_quantity};

use crate::twin::{Hpa, HpaMetric, Location, PodPhase, PodSpec, Resources, Server, Workload, WorkloadKind};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec as K8sPodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, HashMap};

/// A mapping error naming the object (`Kind ns/name`) and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{object}: {field}: {message}")]
pub(crate) struct MapError {
    pub object: String,
    pub field: String,
    pub message: String,
}

impl MapError {
    fn new(object: &str, field: &str, message: impl Into<String>) -> MapError {
        MapError { object: object.into(), field: field.into(), message: message.into() }
    }
}

/// The namespace objects without one land in (as `kubectl apply` would do).
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

pub(crate) const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
pub(crate) const LABEL_REGION: &str = "topology.kubernetes.io/region";
pub(crate) const LABEL_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
const LEGACY_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
const LEGACY_REGION: &str = "failure-domain.beta.kubernetes.io/region";
const LEGACY_INSTANCE_TYPE: &str = "beta.kubernetes.io/instance-type";
/// Not a well-known label, but the one rack-aware clusters commonly set.
const LABEL_RACK: &str = "topology.kubernetes.io/rack";

pub(crate) fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(DEFAULT_NAMESPACE)
}

fn name<'a>(meta: &'a ObjectMeta, kind: &str) -> Result<&'a str, MapError> {
    meta.name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| MapError::new(kind, "metadata.name", "missing"))
}

pub(crate) fn object_id(kind: &str, meta: &ObjectMeta) -> String {
    match (&meta.namespace, &meta.name) {
        (Some(ns), Some(n)) => format!("{kind} {ns}/{n}"),
        (None, Some(n)) => format!("{kind} {n}"),
        _ => kind.to_string(),
    }
}

/// CPU and memory as an object declares them: `None` where a resource is not set (a missing
/// request defaults to the limit, so "unset" and "0" differ).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Declared {
    pub cpu_m: Option<f64>,
    pub mem_mib: Option<f64>,
}

impl Declared {
    pub(crate) fn any(&self) -> bool {
        self.cpu_m.is_some() || self.mem_mib.is_some()
    }

    pub(crate) fn or_zero(&self) -> Resources {
        Resources::new(self.cpu_m.unwrap_or(0.0), self.mem_mib.unwrap_or(0.0), 0.0)
    }

    /// Parses a `cpu`/`memory` pair of quantities; `field` names them in errors.
    pub(crate) fn parse(
        cpu: Option<&str>,
        memory: Option<&str>,
        object: &str,
        field: &str,
    ) -> Result<Declared, MapError> {
        let cpu = cpu
            .map(|q| cpu_millis(q).map_err(|e| MapError::new(object, &format!("{field}.cpu"), e.to_string())))
            .transpose()?;
        let mem = memory
            .map(|q| mem_mib(q).map_err(|e| MapError::new(object, &format!("{field}.memory"), e.to_string())))
            .transpose()?;
        Ok(Declared { cpu_m: cpu, mem_mib: mem })
    }
}

/// CPU and memory of a `name → Quantity` map; `field` names it in errors.
fn declared(
    map: Option<&BTreeMap<String, Quantity>>,
    object: &str,
    field: &str,
) -> Result<Declared, MapError> {
    let Some(map) = map else { return Ok(Declared::default()) };
    let q = |k: &str| map.get(k).map(|q| q.0.as_str());
    Declared::parse(q("cpu"), q("memory"), object, field)
}

fn resources_of(
    map: Option<&BTreeMap<String, Quantity>>,
    object: &str,
    field: &str,
) -> Result<Option<Resources>, MapError> {
    let d = declared(map, object, field)?;
    Ok(d.any().then(|| d.or_zero()))
}

fn label<'a>(labels: &'a BTreeMap<String, String>, keys: &[&str]) -> &'a str {
    keys.iter().find_map(|k| labels.get(*k).filter(|v| !v.is_empty())).map(String::as_str).unwrap_or("")
}

/// A Node as a server: capacity and allocatable, location from the topology labels (legacy
/// `failure-domain.beta` ones as fallback), instance type as hardware, cordon as unschedulable.
pub(crate) fn node_to_server(node: &Node) -> Result<Server, MapError> {
    let name = name(&node.metadata, "Node")?;
    let id = format!("Node {name}");
    let status = node.status.as_ref();
    let capacity = resources_of(status.and_then(|s| s.capacity.as_ref()), &id, "status.capacity")?;
    let allocatable = resources_of(status.and_then(|s| s.allocatable.as_ref()), &id, "status.allocatable")?;
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let location = Location {
        region: label(&labels, &[LABEL_REGION, LEGACY_REGION]).to_string(),
        zone: label(&labels, &[LABEL_ZONE, LEGACY_ZONE]).to_string(),
        rack: label(&labels, &[LABEL_RACK]).to_string(),
    };
    let capacity = capacity.or(allocatable).unwrap_or_default();
    let mut server = Server::new(name, location, capacity);
    server.allocatable = allocatable.unwrap_or(capacity);
    server.hardware = label(&labels, &[LABEL_INSTANCE_TYPE, LEGACY_INSTANCE_TYPE]).to_string();
    server.schedulable = !node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    server.taints = scheduling::node_taints(node, &id)?;
    server.labels = labels;
    Ok(server)
}

/// One container's declared requests and limits, and whether it is a restartable (sidecar)
/// init container: what the pod arithmetic needs, from a full or a slim Pod type.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ContainerRes {
    pub requests: Declared,
    pub limits: Declared,
    pub sidecar: bool,
}

impl ContainerRes {
    /// Effective requests (the API server defaults a missing request to the limit) and limits.
    fn effective(&self) -> (Resources, Option<Resources>) {
        let (r, l) = (self.requests, self.limits);
        let req = Declared { cpu_m: r.cpu_m.or(l.cpu_m), mem_mib: r.mem_mib.or(l.mem_mib) }.or_zero();
        (req, l.any().then(|| l.or_zero()))
    }
}

fn container_res(c: &Container, field: &str, object: &str) -> Result<ContainerRes, MapError> {
    let res = c.resources.as_ref();
    let field = format!("{field}[{}].resources", c.name);
    Ok(ContainerRes {
        requests: declared(res.and_then(|r| r.requests.as_ref()), object, &format!("{field}.requests"))?,
        limits: declared(res.and_then(|r| r.limits.as_ref()), object, &format!("{field}.limits"))?,
        sidecar: c.restart_policy.as_deref() == Some("Always"),
    })
}

/// Requests and limits of one pod spec (see `sum_pod_resources`).
pub(crate) fn pod_resources(
    spec: &K8sPodSpec,
    object: &str,
) -> Result<(Resources, Option<Resources>), MapError> {
    let app = spec
        .containers
        .iter()
        .map(|c| container_res(c, "spec.containers", object))
        .collect::<Result<Vec<_>, _>>()?;
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| container_res(c, "spec.initContainers", object))
        .collect::<Result<Vec<_>, _>>()?;
    let overhead = resources_of(spec.overhead.as_ref(), object, "spec.overhead")?;
    Ok(sum_pod_resources(&app, &init, overhead))
}

/// Requests and limits of one pod as the scheduler counts them: the sum over app containers
/// and restartable (sidecar) init containers, or the largest init container plus the sidecars
/// started before it when that is more; plus the pod overhead. `None` limits when no
/// container sets any.
pub(crate) fn sum_pod_resources(
    app: &[ContainerRes],
    init: &[ContainerRes],
    overhead: Option<Resources>,
) -> (Resources, Option<Resources>) {
    let mut req = Resources::ZERO;
    let mut lim = Resources::ZERO;
    let mut any_limit = false;
    let mut init_req = Resources::ZERO;
    let mut init_lim = Resources::ZERO;
    let mut sidecar_req = Resources::ZERO;
    let mut sidecar_lim = Resources::ZERO;
    for c in init {
        let (r, l) = c.effective();
        any_limit |= l.is_some();
        let l = l.unwrap_or_default();
        if c.sidecar {
            sidecar_req = sidecar_req.add(&r);
            sidecar_lim = sidecar_lim.add(&l);
            init_req = max_res(&init_req, &sidecar_req);
            init_lim = max_res(&init_lim, &sidecar_lim);
        } else {
            init_req = max_res(&init_req, &r.add(&sidecar_req));
            init_lim = max_res(&init_lim, &l.add(&sidecar_lim));
        }
    }
    for c in app {
        let (r, l) = c.effective();
        req = req.add(&r);
        if let Some(l) = l {
            lim = lim.add(&l);
            any_limit = true;
        }
    }
    req = max_res(&req.add(&sidecar_req), &init_req);
    lim = max_res(&lim.add(&sidecar_lim), &init_lim);
    if let Some(o) = overhead {
        req = req.add(&o);
        lim = lim.add(&o);
    }
    (req, any_limit.then_some(lim))
}

fn max_res(a: &Resources, b: &Resources) -> Resources {
    Resources::new(a.cpu_m.max(b.cpu_m), a.mem_mib.max(b.mem_mib), a.bw_mbps.max(b.bw_mbps))
}

/// ReplicaSets known by `namespace/name` → the name of the Deployment that owns them.
pub(crate) type ReplicaSetOwners = HashMap<String, String>;

/// The `(namespace/name, deployment)` entry of a ReplicaSet that a Deployment controls.
pub(crate) fn replicaset_owner(rs: &ReplicaSet) -> Option<(String, String)> {
    let name = rs.metadata.name.as_deref()?;
    let owner = controller_of(&rs.metadata, "Deployment")?;
    Some((format!("{}/{name}", namespace(&rs.metadata)), owner.to_string()))
}

fn controller_of<'a>(meta: &'a ObjectMeta, kind: &str) -> Option<&'a str> {
    let refs = meta.owner_references.as_ref()?;
    let r = refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first())?;
    (r.kind == kind).then_some(r.name.as_str())
}

/// The workload a pod belongs to: Pod → ReplicaSet → Deployment, or Pod → StatefulSet. For a
/// ReplicaSet not in `replicasets`, its name minus the `-<pod-template-hash>` suffix.
pub(crate) fn pod_workload(pod: &Pod, replicasets: &ReplicaSetOwners) -> Option<String> {
    let hash = pod.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash"));
    owner_workload(&pod.metadata, hash.map(String::as_str), |ns, rs| {
        replicasets.get(&format!("{ns}/{rs}")).map(|d| Some(d.clone()))
    })
}

/// The owner chain of a pod's metadata. `rs_owner(namespace, replicaset)` is `Some(owner)`
/// for a known ReplicaSet (`Some(None)`: one no Deployment controls) and `None` for an unknown
/// one, which the Deployment naming rule (`<deployment>-<pod-template-hash>`) then resolves.
pub(crate) fn owner_workload(
    meta: &ObjectMeta,
    template_hash: Option<&str>,
    rs_owner: impl Fn(&str, &str) -> Option<Option<String>>,
) -> Option<String> {
    let refs = meta.owner_references.as_ref()?;
    let r = refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first())?;
    match r.kind.as_str() {
        "StatefulSet" => Some(r.name.clone()),
        "ReplicaSet" => {
            if let Some(known) = rs_owner(namespace(meta), &r.name) {
                return known;
            }
            let stripped = match template_hash {
                Some(h) => r.name.strip_suffix(h).and_then(|s| s.strip_suffix('-')),
                None => r.name.rsplit_once('-').map(|(a, _)| a),
            };
            Some(stripped.unwrap_or(&r.name).to_string())
        }
        _ => None,
    }
}

/// A Pod as the twin sees it: owner, node, summed requests/limits and phase.
pub(crate) fn pod_to_podspec(pod: &Pod, replicasets: &ReplicaSetOwners) -> Result<PodSpec, MapError> {
    let name = name(&pod.metadata, "Pod")?;
    let id = object_id("Pod", &pod.metadata);
    let (requests, limits) = match &pod.spec {
        Some(s) => pod_resources(s, &id)?,
        None => (Resources::ZERO, None),
    };
    let phase =
        pod.status.as_ref().and_then(|s| s.phase.as_deref()).map_or(PodPhase::Pending, PodPhase::parse);
    let server = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty());
    // The scheduler's verdict on a pod it could not place ("0/3 nodes are available: …"), the
    // message `kubectl describe pod` shows.
    let reason = (phase == PodPhase::Pending && server.is_none())
        .then(|| {
            pod.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                .cloned()
        })
        .flatten()
        .and_then(|c| c.message.filter(|m| !m.is_empty()).or(c.reason));
    Ok(PodSpec {
        name: name.to_string(),
        namespace: namespace(&pod.metadata).to_string(),
        workload: pod_workload(pod, replicasets),
        server,
        requests,
        limits,
        phase,
        reason,
    })
}

fn workload_from(
    kind: WorkloadKind,
    meta: &ObjectMeta,
    replicas: Option<i32>,
    template: Option<&PodTemplateSpec>,
) -> Result<Workload, MapError> {
    let name = name(meta, kind.as_str())?;
    let id = object_id(kind.as_str(), meta);
    let replicas = replicas.unwrap_or(1);
    let replicas = u32::try_from(replicas)
        .map_err(|_| MapError::new(&id, "spec.replicas", format!("{replicas} is negative")))?;
    let (requests, limits) = match template.and_then(|t| t.spec.as_ref()) {
        Some(s) => pod_resources(s, &id)?,
        None => (Resources::ZERO, None),
    };
    let mut w = Workload::new(name, namespace(meta), replicas, requests);
    w.kind = kind;
    w.limits = limits;
    w.labels = meta.labels.clone().unwrap_or_default();
    w.pod_labels =
        template.and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone()).unwrap_or_default();
    if let Some(s) = template.and_then(|t| t.spec.as_ref()) {
        w.scheduling = scheduling::pod_scheduling(s, &id)?.0;
    }
    Ok(w)
}

/// The scheduling rules of a pod template that twintop does not model (for a notice).
pub(crate) fn unmodelled_rules(template: Option<&PodTemplateSpec>, object: &str) -> Vec<String> {
    template
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| scheduling::pod_scheduling(s, object).ok())
        .map(|(_, u)| u)
        .unwrap_or_default()
}

pub(crate) fn deployment_to_workload(d: &Deployment) -> Result<Workload, MapError> {
    let spec = d.spec.as_ref();
    workload_from(
        WorkloadKind::Deployment,
        &d.metadata,
        spec.and_then(|s| s.replicas),
        spec.map(|s| &s.template),
    )
}

/// A DaemonSet: its pods carry the tolerations the DaemonSet controller adds; `replicas` is
/// 0 until a placer counts the servers it runs on.
pub(crate) fn daemonset_to_workload(d: &DaemonSet) -> Result<Workload, MapError> {
    let mut w =
        workload_from(WorkloadKind::DaemonSet, &d.metadata, Some(0), d.spec.as_ref().map(|s| &s.template))?;
    w.scheduling.tolerations.extend(crate::twin::scheduling::Toleration::daemonset_defaults());
    Ok(w)
}

pub(crate) fn statefulset_to_workload(s: &StatefulSet) -> Result<Workload, MapError> {
    let spec = s.spec.as_ref();
    workload_from(
        WorkloadKind::StatefulSet,
        &s.metadata,
        spec.and_then(|s| s.replicas),
        spec.map(|s| &s.template),
    )
}

/// An HPA and the key (`namespace/name`) of the workload it scales.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HpaTarget {
    pub target: String,
    pub hpa: Hpa,
}

fn bounds(id: &str, min: Option<i32>, max: i32) -> Result<(u32, u32), MapError> {
    let min = min.unwrap_or(1);
    let min = u32::try_from(min)
        .map_err(|_| MapError::new(id, "spec.minReplicas", format!("{min} is negative")))?;
    let max = u32::try_from(max)
        .map_err(|_| MapError::new(id, "spec.maxReplicas", format!("{max} is negative")))?;
    Ok((min, max))
}

pub(crate) fn hpa_v2_to_hpa(h: &hpa_v2::HorizontalPodAutoscaler) -> Result<HpaTarget, MapError> {
    let name = name(&h.metadata, "HorizontalPodAutoscaler")?;
    let id = object_id("HorizontalPodAutoscaler", &h.metadata);
    let spec = h.spec.as_ref().ok_or_else(|| MapError::new(&id, "spec", "missing"))?;
    let (min, max) = bounds(&id, spec.min_replicas, spec.max_replicas)?;
    let mut metrics = Vec::new();
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        let field = format!("spec.metrics[{i}]");
        let target_value = |t: &hpa_v2::MetricTarget| -> Result<f64, MapError> {
            let q = t.average_value.as_ref().or(t.value.as_ref());
            match (t.average_utilization, q) {
                (Some(u), _) => Ok(u as f64),
                (None, Some(q)) => {
                    parse_quantity(&q.0).map_err(|e| MapError::new(&id, &field, e.to_string()))
                }
                (None, None) => Ok(f64::NAN),
            }
        };
        let (resource, target) = match (&m.resource, &m.container_resource) {
            (Some(r), _) => (Some(r.name.as_str()), Some(&r.target)),
            (None, Some(c)) => (Some(c.name.as_str()), Some(&c.target)),
            _ => (None, None),
        };
        let metric = match (resource, target) {
            (Some("cpu"), Some(t)) if t.average_utilization.is_some() => {
                HpaMetric::CpuUtilization { target_pct: target_value(t)? }
            }
            (Some("memory"), Some(t)) if t.average_utilization.is_some() => {
                HpaMetric::MemoryUtilization { target_pct: target_value(t)? }
            }
            (Some(r), Some(t)) => HpaMetric::Other { name: r.to_string(), target: target_value(t)? },
            _ => {
                let (mname, t) = if let Some(p) = &m.pods {
                    (p.metric.name.clone(), &p.target)
                } else if let Some(o) = &m.object {
                    (o.metric.name.clone(), &o.target)
                } else if let Some(e) = &m.external {
                    (e.metric.name.clone(), &e.target)
                } else {
                    return Err(MapError::new(&id, &field, format!("type {:?} has no source", m.type_)));
                };
                HpaMetric::Other { name: mname, target: target_value(t)? }
            }
        };
        metrics.push(metric);
    }
    Ok(HpaTarget {
        target: format!("{}/{}", namespace(&h.metadata), spec.scale_target_ref.name),
        hpa: Hpa { name: name.to_string(), min_replicas: min, max_replicas: max, metrics },
    })
}

pub(crate) fn hpa_v1_to_hpa(h: &hpa_v1::HorizontalPodAutoscaler) -> Result<HpaTarget, MapError> {
    let name = name(&h.metadata, "HorizontalPodAutoscaler")?;
    let id = object_id("HorizontalPodAutoscaler", &h.metadata);
    let spec = h.spec.as_ref().ok_or_else(|| MapError::new(&id, "spec", "missing"))?;
    let (min, max) = bounds(&id, spec.min_replicas, spec.max_replicas)?;
    let metrics = spec
        .target_cpu_utilization_percentage
        .map(|p| vec![HpaMetric::CpuUtilization { target_pct: p as f64 }])
        .unwrap_or_default();
    Ok(HpaTarget {
        target: format!("{}/{}", namespace(&h.metadata), spec.scale_target_ref.name),
        hpa: Hpa { name: name.to_string(), min_replicas: min, max_replicas: max, metrics },
    })
}

/// Sets each workload's `hpa` from the HPAs that target it; returns the HPAs whose target
/// is not among `workloads` (for a notice).
pub(crate) fn attach_hpas(workloads: &mut [Workload], hpas: Vec<HpaTarget>) -> Vec<HpaTarget> {
    let mut orphans = Vec::new();
    for h in hpas {
        match workloads.iter_mut().find(|w| w.key() == h.target) {
            Some(w) => w.hpa = Some(h.hpa),
            None => orphans.push(h),
        }
    }
    orphans
}

#[cfg(test)]
mod tests;
