//! What the live source maps beyond `source::k8s_map` (which it shares with the manifest
//! reader): the slim watched Pod, HPAs filtered to the targets the twin models, and the call
//! graph over the reflectors' stores with EndpointSlices behind selector-less Services.

use super::slim::{SlimContainer, SlimPod};
use crate::source::k8s_map::{
    self, ContainerRes, Declared, MapError, ServiceInfo, WorkloadTemplate, namespace, object_id,
};
use crate::twin::{Edge, Hpa, PodPhase, PodSpec, Resources};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

fn slim_res(c: &SlimContainer, field: &str, object: &str) -> Result<ContainerRes, MapError> {
    let r = c.resources.as_ref();
    let field = format!("{field}[{}].resources", c.name);
    let declared = |q: Option<&super::slim::CpuMem>, what: &str| match q {
        Some(q) => q.declared(object, &format!("{field}.{what}")),
        None => Ok(Declared::default()),
    };
    Ok(ContainerRes {
        requests: declared(r.and_then(|r| r.requests.as_ref()), "requests")?,
        limits: declared(r.and_then(|r| r.limits.as_ref()), "limits")?,
        sidecar: c.restart_policy.as_deref() == Some("Always"),
    })
}

/// Maps a watched pod; `rs_owner(namespace, replicaset)` follows ReplicaSet → Deployment
/// (see `k8s_map::owner_workload`).
pub(crate) fn pod_to_spec(
    p: &SlimPod,
    rs_owner: impl Fn(&str, &str) -> Option<Option<String>>,
) -> Result<PodSpec, MapError> {
    let id = object_id("Pod", &p.metadata);
    let label = || p.metadata.labels.as_ref()?.get("pod-template-hash");
    let hash = p.template_hash.as_ref().or_else(label).map(String::as_str);
    let (requests, limits) = match &p.spec {
        Some(s) => {
            let of = |cs: &[SlimContainer], field: &str| {
                cs.iter().map(|c| slim_res(c, field, &id)).collect::<Result<Vec<_>, _>>()
            };
            let overhead = match &s.overhead {
                Some(o) => {
                    let d = o.declared(&id, "spec.overhead")?;
                    d.any().then(|| d.or_zero())
                }
                None => None,
            };
            k8s_map::sum_pod_resources(
                &of(&s.containers, "spec.containers")?,
                &of(&s.init_containers, "spec.initContainers")?,
                overhead,
            )
        }
        None => (Resources::ZERO, None),
    };
    Ok(PodSpec {
        name: p.metadata.name.clone().unwrap_or_default(),
        namespace: namespace(&p.metadata).to_string(),
        workload: k8s_map::owner_workload(&p.metadata, hash, rs_owner),
        server: p.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty()),
        requests,
        limits,
        phase: PodPhase::parse(p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")),
        reason: None,
    })
}

/// The workload key an HPA targets and what it says; `None` for targets the twin has no
/// workload for (ReplicaSets, custom resources).
pub(crate) fn hpa_to_twin(h: &HorizontalPodAutoscaler) -> Option<Result<(String, Hpa), MapError>> {
    let kind = h.spec.as_ref().map(|s| s.scale_target_ref.kind.as_str());
    if !matches!(kind, Some("Deployment" | "StatefulSet")) {
        return None;
    }
    Some(k8s_map::hpa_v2_to_hpa(h).map(|t| (t.target, t.hpa)))
}

/// The declared call graph (env vars, then `twintop.io/calls` annotations); `behind(ns, svc)`
/// names the workloads behind a Service that selects no template.
pub(crate) fn call_graph(
    mut templates: Vec<WorkloadTemplate>,
    services: &[ServiceInfo],
    behind: impl Fn(&str, &str) -> Vec<String>,
) -> Vec<Edge> {
    templates.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    k8s_map::call_graph_with(&templates, services, behind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::HpaMetric;

    fn load<T: serde::de::DeserializeOwned>(rel: &str) -> T {
        let path = format!("{}/tests/data/api/{rel}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn real_pod_follows_replicaset_to_deployment() {
        let p: SlimPod = load("k9s/p1.json");
        let spec = pod_to_spec(&p, |_, _| None).unwrap();
        assert_eq!(spec.workload.as_deref(), Some("nginx"), "pod-template-hash naming rule");
        assert_eq!(spec.requests.cpu_m, 200.0);
        assert_eq!(spec.limits.map(|l| l.mem_mib), Some(20.0));
        assert_eq!(spec.phase, PodPhase::Running);
        let spec = pod_to_spec(&p, |ns, rs| {
            assert_eq!((ns, rs), ("default", "nginx-7fb78fb6d8"));
            Some(Some("web".into()))
        })
        .unwrap();
        assert_eq!(spec.workload.as_deref(), Some("web"));
    }

    #[test]
    fn slim_and_full_pod_types_map_alike() {
        // The watch keeps a slim Pod; the manifest reader a full one: both must count the same.
        for rel in ["k9s/p1.json", "kubernetes-api/core.v1.Pod.json"] {
            let slim = pod_to_spec(&load::<SlimPod>(rel), |_, _| None).unwrap();
            let full = k8s_map::pod_to_podspec(&load(rel), &Default::default()).unwrap();
            assert_eq!((slim.requests, slim.limits), (full.requests, full.limits), "{rel}");
            assert_eq!(slim.workload, full.workload, "{rel}");
        }
    }

    #[test]
    fn bad_quantity_names_the_pod_and_container() {
        let mut v: serde_json::Value = load("k9s/p1.json");
        v["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots".into();
        let e = pod_to_spec(&serde_json::from_value(v).unwrap(), |_, _| None).unwrap_err().to_string();
        assert!(e.starts_with("Pod default/nginx-7fb78fb6d8-"), "{e}");
        assert!(e.contains("spec.containers[nginx].resources.requests.cpu"), "{e}");
    }

    #[test]
    fn hpa_v2_targets_its_deployment() {
        let (target, hpa) = hpa_to_twin(&load("k9s/hpa_v2.json")).unwrap().unwrap();
        assert_eq!(target, "default/nginx");
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (1, 10));
        assert_eq!(hpa.metrics, vec![HpaMetric::CpuUtilization { target_pct: 10.0 }]);
    }

    #[test]
    fn full_schema_pod_maps() {
        pod_to_spec(&load::<SlimPod>("kubernetes-api/core.v1.Pod.json"), |_, _| None).unwrap();
    }
}
