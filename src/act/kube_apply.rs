//! Applying a `Change` to a real cluster through the Kubernetes API: RBAC asked first
//! (SelfSubjectAccessReview) so the console never offers what the API will refuse, then a
//! server-side dry run, then the same request for real — merge patches with field manager
//! `twintop` on the scale subresource, the HPA, or the node; for a pod move, a policy/v1
//! Eviction (which honours PodDisruptionBudgets: 429 when one allows no disruption now). Scale
//! and HPA patches carry the `metadata.resourceVersion` read when the operator approved, so an
//! object that changed since is refused with 409 Conflict (reported as such, never retried)
//! instead of overwritten.

use super::cluster::ApplyError;
use crate::change::Change;
use crate::twin::WorkloadKind;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Node;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

pub(crate) const FIELD_MANAGER: &str = "twintop";
/// How long an eviction may be retried (the client retries 429s) before it is reported.
pub(crate) const EVICTION_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15);

/// What the API server is asked to allow for a change (a SelfSubjectAccessReview).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: Option<String>,
    pub name: String,
    pub verb: String,
}

/// The API request a change becomes.
pub(crate) fn access_for(change: &Change, kind: WorkloadKind) -> Access {
    let (group, resource, subresource, namespace, name) = target_for(change, kind);
    let verb = if matches!(change, Change::Evict { .. }) { "create" } else { "patch" };
    Access { group, resource, subresource, namespace, name, verb: verb.into() }
}

fn target_for(change: &Change, kind: WorkloadKind) -> (String, String, String, Option<String>, String) {
    match change {
        Change::Scale { workload, .. } => {
            let (ns, name) = split_key(workload);
            let res = match kind {
                WorkloadKind::Deployment => "deployments",
                WorkloadKind::StatefulSet => "statefulsets",
                // Never scaled (validation refuses it); named for the access review's message.
                WorkloadKind::DaemonSet => "daemonsets",
            };
            ("apps".into(), res.into(), "scale".into(), Some(ns), name)
        }
        Change::HpaBounds { workload, .. } => {
            let (ns, name) = split_key(workload);
            ("autoscaling".into(), "horizontalpodautoscalers".into(), String::new(), Some(ns), name)
        }
        Change::Cordon { server, .. } => (String::new(), "nodes".into(), String::new(), None, server.clone()),
        Change::Evict { pod, .. } => {
            let (ns, name) = split_key(pod);
            (String::new(), "pods".into(), "eviction".into(), Some(ns), name)
        }
    }
}

fn split_key(key: &str) -> (String, String) {
    match key.split_once('/') {
        Some((ns, n)) => (ns.into(), n.into()),
        None => ("default".into(), key.into()),
    }
}

/// Asks the API server whether the current user may `patch` what `change` touches (`create`
/// an eviction, for an eviction).
pub(crate) async fn can_apply(client: &Client, change: &Change, kind: WorkloadKind) -> Result<bool, String> {
    let Access { group, resource, subresource, namespace, name, verb } = access_for(change, kind);
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(group),
                resource: Some(resource.clone()),
                subresource: (!subresource.is_empty()).then_some(subresource),
                namespace,
                name: Some(name),
                verb: Some(verb),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let r =
        api.create(&PostParams::default(), &review).await.map_err(|e| describe(&e, &resource).to_string())?;
    Ok(r.status.map(|s| s.allowed).unwrap_or(false))
}

/// The resourceVersion of the object `change` patches, read now (at approval): the scale
/// subresource (which shares its workload's version) or the HPA. None for a cordon: a node's
/// version moves with every status heartbeat, so pinning it would only make cordons fail.
pub(crate) async fn read_version(
    client: &Client,
    change: &Change,
    kind: WorkloadKind,
) -> Result<Option<String>, String> {
    match change {
        Change::Scale { workload, .. } => {
            let (ns, name) = split_key(workload);
            let scale = match kind {
                WorkloadKind::Deployment => {
                    Api::<Deployment>::namespaced(client.clone(), &ns).get_scale(&name).await
                }
                WorkloadKind::StatefulSet => {
                    Api::<StatefulSet>::namespaced(client.clone(), &ns).get_scale(&name).await
                }
                WorkloadKind::DaemonSet => {
                    return Err(format!("{workload} is a DaemonSet: it has no replicas"));
                }
            }
            .map_err(|e| describe(&e, workload).to_string())?;
            Ok(scale.metadata.resource_version)
        }
        Change::HpaBounds { workload, .. } => {
            let (ns, name) = split_key(workload);
            let hpa = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), &ns)
                .get(&name)
                .await
                .map_err(|e| describe(&e, workload).to_string())?;
            Ok(hpa.metadata.resource_version)
        }
        Change::Cordon { .. } | Change::Evict { .. } => Ok(None),
    }
}

/// A merge patch of `spec`, pinned to `version` when one was read.
fn versioned(spec: serde_json::Value, version: Option<&str>) -> Patch<serde_json::Value> {
    match version {
        Some(v) => Patch::Merge(json!({"metadata": {"resourceVersion": v}, "spec": spec})),
        None => Patch::Merge(json!({"spec": spec})),
    }
}

/// Applies (or with `dry_run`, validates server-side) one change; returns what changed.
/// `version`: the resourceVersion read at approval (scale and HPA patches carry it).
pub(crate) async fn apply(
    client: &Client,
    change: &Change,
    kind: WorkloadKind,
    dry_run: bool,
    version: Option<&str>,
) -> Result<String, ApplyError> {
    let pp = PatchParams { dry_run, field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    let prefix = if dry_run { "dry run: " } else { "" };
    match change {
        Change::Scale { workload, replicas } => {
            let (ns, name) = split_key(workload);
            let patch = versioned(json!({"replicas": replicas}), version);
            let scale = match kind {
                WorkloadKind::Deployment => {
                    Api::<Deployment>::namespaced(client.clone(), &ns).patch_scale(&name, &pp, &patch).await
                }
                WorkloadKind::StatefulSet => {
                    Api::<StatefulSet>::namespaced(client.clone(), &ns).patch_scale(&name, &pp, &patch).await
                }
                WorkloadKind::DaemonSet => {
                    return Err(ApplyError::Failed(format!("{workload} is a DaemonSet: it has no replicas")));
                }
            }
            .map_err(|e| describe(&e, workload))?;
            let now = scale.spec.and_then(|s| s.replicas).unwrap_or(*replicas as i32);
            Ok(format!("{prefix}{workload} scaled to {now} replicas"))
        }
        Change::HpaBounds { workload, min, max } => {
            let (ns, name) = split_key(workload);
            let patch = versioned(json!({"minReplicas": min, "maxReplicas": max}), version);
            Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), &ns)
                .patch(&name, &pp, &patch)
                .await
                .map_err(|e| describe(&e, workload))?;
            Ok(format!("{prefix}HPA {workload} set to min {min} max {max}"))
        }
        Change::Cordon { server, cordon } => {
            let patch = Patch::Merge(json!({"spec": {"unschedulable": cordon}}));
            Api::<Node>::all(client.clone())
                .patch(server, &pp, &patch)
                .await
                .map_err(|e| describe(&e, server))?;
            Ok(format!("{prefix}node {server} {}", if *cordon { "cordoned" } else { "uncordoned" }))
        }
        Change::Evict { pod, server, .. } => {
            let (ns, name) = split_key(pod);
            if ![&ns, &name].iter().all(|s| is_dns_name(s)) {
                return Err(ApplyError::Failed(format!(
                    "{} is not a valid pod name",
                    crate::text::escape(pod)
                )));
            }
            // The policy/v1 Eviction as `kubectl drain` sends it, with the dry run both in the
            // query and in the delete options (which the eviction subresource reads). Built
            // by hand: kube's `Api::evict` sends no apiVersion/kind and snake_case options.
            let mut body = json!({
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": name, "namespace": ns},
            });
            if dry_run {
                body["deleteOptions"] = json!({"dryRun": ["All"]});
            }
            let post = PostParams { dry_run, field_manager: Some(FIELD_MANAGER.into()) };
            let req = kube::core::Request::new(format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"))
                .create(&post, body.to_string().into_bytes())
                .map_err(|e| ApplyError::Failed(e.to_string()))?;
            // kube's client retries a 429 for minutes; a budget that allows no disruption now
            // will not change within an approval, so the operator hears of it in seconds.
            match tokio::time::timeout(EVICTION_PATIENCE, client.request_text(req)).await {
                Ok(r) => r.map_err(|e| describe_eviction(&e, pod))?,
                Err(_) => {
                    return Err(ApplyError::Failed(format!(
                        "eviction of {} not accepted within {} s: the API server kept refusing it (429 — a PodDisruptionBudget allows no disruption now, or throttling); twintop stopped asking, check the pod before approving again",
                        crate::text::escape(pod),
                        EVICTION_PATIENCE.as_secs()
                    )));
                }
            };
            Ok(format!(
                "{prefix}pod {pod} evicted from {server}; its controller recreates it and the scheduler places it"
            ))
        }
    }
}

/// A Kubernetes object name (DNS subdomain): safe to put in a request path as it is.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

/// An eviction's API error: 429 is a PodDisruptionBudget saying not now.
fn describe_eviction(e: &kube::Error, pod: &str) -> ApplyError {
    match e {
        kube::Error::Api(s) if s.code == 429 => ApplyError::Failed(format!(
            "eviction of {} refused (429): a PodDisruptionBudget allows no disruption now ({}); nothing changed, try later",
            crate::text::escape(pod),
            crate::text::escape(&s.message)
        )),
        _ => describe(e, pod),
    }
}

/// An API error in an operator's words; 409 is a conflict, kept apart so it is shown and
/// audited as one.
fn describe(e: &kube::Error, target: &str) -> ApplyError {
    let target = crate::text::escape(target);
    ApplyError::Failed(match e {
        kube::Error::Api(s) if s.code == 403 => {
            format!("RBAC: not allowed to change {target}: {}", crate::text::escape(&s.message))
        }
        kube::Error::Api(s) if s.code == 409 => {
            return ApplyError::Conflict(format!(
                "{target} changed since you approved: re-check it and approve again (409 Conflict: {})",
                crate::text::escape(&s.message)
            ));
        }
        kube::Error::Api(s) if s.code == 404 => format!("{target} no longer exists in the cluster"),
        kube::Error::Api(s) => {
            format!("API error {} on {target}: {}", s.code, crate::text::escape(&s.message))
        }
        other => format!("request for {target} failed: {}", crate::text::escape(&other.to_string())),
    })
}

#[cfg(test)]
#[path = "kube_apply_tests.rs"]
mod tests;
