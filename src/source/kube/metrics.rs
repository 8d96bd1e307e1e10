//! metrics.k8s.io (metrics-server): NodeMetrics and PodMetrics have no watch, so they are
//! listed every `POLL` when the API group exists. Read as dynamic objects to avoid a crate.

use super::config::{Scope, Target};
use super::watch::{MetricsRound, Shared, error_text};
use crate::source::k8s_map::parse_quantity;
use crate::twin::Resources;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const POLL: Duration = Duration::from_secs(15);
const GROUP: &str = "metrics.k8s.io";
const VERSION: &str = "v1beta1";

/// Whether the API server serves metrics.k8s.io/v1beta1.
pub(crate) async fn available(t: &Target) -> bool {
    match t.client.list_api_groups().await {
        Ok(groups) => {
            groups.groups.iter().any(|g| g.name == GROUP && g.versions.iter().any(|v| v.version == VERSION))
        }
        Err(e) => {
            tracing::debug!("API group discovery failed: {e}");
            false
        }
    }
}

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, kind), plural)
}

/// CPU and memory of a metrics `usage` object.
pub(crate) fn usage_of(v: &Value) -> Resources {
    let q = |k: &str| v.get(k).and_then(Value::as_str).and_then(|q| parse_quantity(q).ok()).unwrap_or(0.0);
    Resources::new(q("cpu") * 1000.0, q("memory") / (1024.0 * 1024.0), 0.0)
}

/// One round: node usage and per-pod usage (sum of containers).
pub(crate) async fn poll_once(t: &Target) -> Result<MetricsRound, String> {
    let nodes_api: Api<DynamicObject> = Api::all_with(t.client.clone(), &resource("NodeMetrics", "nodes"));
    let pods_ar = resource("PodMetrics", "pods");
    let pods_api: Api<DynamicObject> = match &t.scope {
        Scope::All => Api::all_with(t.client.clone(), &pods_ar),
        Scope::Namespace(ns) => Api::namespaced_with(t.client.clone(), ns, &pods_ar),
    };
    let lp = ListParams::default();
    let nodes =
        nodes_api.list(&lp).await.map_err(|e| format!("listing nodes.{GROUP}: {}", error_text(&e)))?;
    let pods = pods_api.list(&lp).await.map_err(|e| format!("listing pods.{GROUP}: {}", error_text(&e)))?;
    let mut round = MetricsRound::default();
    for n in nodes.items {
        if let (Some(name), Some(u)) = (n.metadata.name, n.data.get("usage")) {
            round.nodes.push((name, usage_of(u)));
        }
    }
    for p in pods.items {
        let containers = p.data.get("containers").and_then(Value::as_array);
        let usage = containers
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("usage"))
            .fold(Resources::ZERO, |acc, u| acc.add(&usage_of(u)));
        if let (Some(ns), Some(name)) = (p.metadata.namespace, p.metadata.name) {
            round.pods.push((ns, name, usage));
        }
    }
    Ok(round)
}

/// Polls forever when the API exists, handing each round to the sync task; without it, only
/// marks the rhythm so history still advances (on requests) every `POLL`.
pub(crate) async fn run(t: Target, shared: Arc<Shared>) {
    let present = available(&t).await;
    let mut interval = tokio::time::interval(POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if !present {
            shared.with_pending(|p| p.tick = true);
            continue;
        }
        let r = poll_once(&t).await;
        shared.with_pending(|p| match r {
            Ok(m) => {
                p.metrics = Some(m);
                p.metrics_error = None;
            }
            Err(e) => p.metrics_error = Some(e),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_quantities() {
        let u = usage_of(&serde_json::json!({"cpu": "123456789n", "memory": "2048Ki"}));
        assert!((u.cpu_m - 123.456789).abs() < 1e-9);
        assert_eq!(u.mem_mib, 2.0);
        assert_eq!(usage_of(&serde_json::json!({"cpu": 5})), Resources::ZERO);
    }
}
