//! The call graph from what workloads declare: env vars (`*_ADDR`, `*_HOST`, `*_URL`,
//! `*_SERVER`, `*_ENDPOINT`, …; values as the kubelet builds them, `$(VAR)` expanded and
//! ConfigMap references read) naming Services, and the `twintop.io/calls` annotation. Services
//! map to workloads by selector ⊆ pod-template labels; a Service that is not there (or selects
//! no workload) keeps a dangling edge to `namespace/<service>`.

use super::env::{ConfigMaps, container_env};
use super::{DEFAULT_NAMESPACE, MapError};
use crate::twin::Edge;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::{BTreeMap, BTreeSet};

/// The annotation that declares calls env vars cannot show: Service names, comma-separated
/// (`name` or `namespace/name`).
pub(crate) const CALLS_ANNOTATION: &str = "twintop.io/calls";

pub(crate) const ORIGIN_ENV: &str = "env";
pub(crate) const ORIGIN_ANNOTATION: &str = "annotation";

/// What the call graph needs of a Deployment or StatefulSet.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WorkloadTemplate {
    pub namespace: String,
    pub name: String,
    pub pod_labels: BTreeMap<String, String>,
    /// Env values of all containers (init containers too) as the kubelet builds them, by
    /// variable name; values twintop cannot know (Secrets, field references) left out.
    pub env: Vec<(String, String)>,
    /// Workload and pod-template annotations together (template wins).
    pub annotations: BTreeMap<String, String>,
}

impl WorkloadTemplate {
    pub(crate) fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    /// Empty for Services without a selector (they select no workload).
    pub selector: BTreeMap<String, String>,
}

fn ns(meta: &ObjectMeta) -> String {
    meta.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| DEFAULT_NAMESPACE.into())
}

fn template(
    meta: &ObjectMeta,
    kind: &str,
    t: Option<&PodTemplateSpec>,
    config: &ConfigMaps,
) -> Result<WorkloadTemplate, MapError> {
    let name = meta.name.clone().ok_or_else(|| MapError {
        object: kind.into(),
        field: "metadata.name".into(),
        message: "missing".into(),
    })?;
    let mut annotations = meta.annotations.clone().unwrap_or_default();
    let tmeta = t.and_then(|t| t.metadata.as_ref());
    annotations.extend(tmeta.and_then(|m| m.annotations.clone()).unwrap_or_default());
    let spec = t.and_then(|t| t.spec.as_ref());
    let namespace = ns(meta);
    let env = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(s.containers.iter()))
        .flat_map(|c| container_env(c, &namespace, config))
        .collect();
    Ok(WorkloadTemplate {
        namespace,
        name,
        pod_labels: tmeta.and_then(|m| m.labels.clone()).unwrap_or_default(),
        env,
        annotations,
    })
}

pub(crate) fn template_of_deployment(d: &Deployment) -> Result<WorkloadTemplate, MapError> {
    template_of_deployment_with(d, &ConfigMaps::new())
}

pub(crate) fn template_of_statefulset(s: &StatefulSet) -> Result<WorkloadTemplate, MapError> {
    template_of_statefulset_with(s, &ConfigMaps::new())
}

/// With the ConfigMaps `configMapKeyRef` and `envFrom` read from.
pub(crate) fn template_of_deployment_with(
    d: &Deployment,
    config: &ConfigMaps,
) -> Result<WorkloadTemplate, MapError> {
    template(&d.metadata, "Deployment", d.spec.as_ref().map(|s| &s.template), config)
}

pub(crate) fn template_of_statefulset_with(
    s: &StatefulSet,
    config: &ConfigMaps,
) -> Result<WorkloadTemplate, MapError> {
    template(&s.metadata, "StatefulSet", s.spec.as_ref().map(|s| &s.template), config)
}

pub(crate) fn template_of_daemonset_with(
    d: &DaemonSet,
    config: &ConfigMaps,
) -> Result<WorkloadTemplate, MapError> {
    template(&d.metadata, "DaemonSet", d.spec.as_ref().map(|s| &s.template), config)
}

pub(crate) fn service_info(s: &Service) -> Result<ServiceInfo, MapError> {
    let name = s.metadata.name.clone().ok_or_else(|| MapError {
        object: "Service".into(),
        field: "metadata.name".into(),
        message: "missing".into(),
    })?;
    Ok(ServiceInfo {
        namespace: ns(&s.metadata),
        name,
        selector: s.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default(),
    })
}

/// Whether an env var's name says it holds the address of another service (or a list of
/// them).
pub(crate) fn is_address_var(name: &str) -> bool {
    const SUFFIXES: [&str; 14] = [
        "_ADDR",
        "_ADDRS",
        "_ADDRESS",
        "_ADDRESSES",
        "_HOST",
        "_HOSTS",
        "_URL",
        "_URLS",
        "_URI",
        "_SERVER",
        "_SERVERS",
        "_ENDPOINT",
        "_ENDPOINTS",
        "_DSN",
    ];
    let upper = name.to_ascii_uppercase();
    SUFFIXES.iter().any(|s| upper.ends_with(s))
}

/// The in-cluster Services an address value names: one address, or a list separated by
/// commas, semicolons or spaces (`kafka-0.kafka:9092,kafka-1.kafka:9092`).
pub(crate) fn services_of_value(
    value: &str,
    known_namespaces: &BTreeSet<String>,
) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for part in value.split([',', ';', ' ', '\t', '\n']).filter(|p| !p.is_empty()) {
        if let Some(s) = service_of_address(part, known_namespaces)
            && !out.contains(&s)
        {
            out.push(s);
        }
    }
    out
}

/// The `(service, namespace)` an address value names, if it names an in-cluster Service:
/// `svc`, `svc:port`, `scheme://[user@]svc[:port]/path`, `svc.ns`, `svc.ns.svc[.cluster.local]`,
/// a StatefulSet pod's `pod.svc.ns.svc[.cluster.local]`. IPs, `localhost` and external host
/// names give `None`.
pub(crate) fn service_of_address(
    value: &str,
    known_namespaces: &BTreeSet<String>,
) -> Option<(String, Option<String>)> {
    let v = value.trim();
    let v = v.split_once("://").map_or(v, |(_, rest)| rest);
    let v = v.rsplit_once('@').map_or(v, |(_, rest)| rest);
    let host = v.split(['/', '?', '#']).next()?;
    if host.starts_with('[') {
        return None; // IPv6 literal
    }
    let host = host.split_once(':').map_or(host, |(h, _)| h).trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty()
        || host == "localhost"
        || host.contains('$')
        || host.parse::<std::net::Ipv4Addr>().is_ok()
    {
        return None;
    }
    let is_dns_label =
        |l: &str| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let labels: Vec<&str> = host.split('.').collect();
    if !labels.iter().all(|l| is_dns_label(l)) {
        return None;
    }
    // `….<service>.<namespace>.svc[.<cluster domain>]`: the last `svc` label with two before it.
    if let Some(i) = (2..labels.len()).rev().find(|&i| labels[i] == "svc") {
        return Some((labels[i - 2].to_string(), Some(labels[i - 1].to_string())));
    }
    match labels.as_slice() {
        [svc] => Some((svc.to_string(), None)),
        [svc, ns] if known_namespaces.contains(*ns) => Some((svc.to_string(), Some(ns.to_string()))),
        _ => None,
    }
}

/// Edges from env vars (origin "env") and annotations (origin "annotation"), between
/// workload keys, sorted and without duplicates or self-calls.
pub(crate) fn call_graph(workloads: &[WorkloadTemplate], services: &[ServiceInfo]) -> Vec<Edge> {
    call_graph_with(workloads, services, |_, _| Vec::new())
}

/// `call_graph`, with `behind(namespace, service)` naming the workloads behind a Service whose
/// selector picks none (a live cluster knows them from its EndpointSlices).
pub(crate) fn call_graph_with(
    workloads: &[WorkloadTemplate],
    services: &[ServiceInfo],
    behind: impl Fn(&str, &str) -> Vec<String>,
) -> Vec<Edge> {
    let mut namespaces: BTreeSet<String> = workloads.iter().map(|w| w.namespace.clone()).collect();
    namespaces.extend(services.iter().map(|s| s.namespace.clone()));
    let mut edges: BTreeSet<(String, String, &'static str)> = BTreeSet::new();
    for w in workloads {
        let from = w.key();
        let mut targets: Vec<(String, String, &'static str)> = Vec::new();
        for (name, value) in &w.env {
            if !is_address_var(name) {
                continue;
            }
            for (svc, ns) in services_of_value(value, &namespaces) {
                targets.push((ns.unwrap_or_else(|| w.namespace.clone()), svc, ORIGIN_ENV));
            }
        }
        if let Some(list) = w.annotations.get(CALLS_ANNOTATION) {
            for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (ns, svc) = item.split_once('/').unwrap_or((&w.namespace, item));
                targets.push((ns.to_string(), svc.to_string(), ORIGIN_ANNOTATION));
            }
        }
        for (ns, svc, origin) in targets {
            for to in resolve_service(&ns, &svc, workloads, services, &behind) {
                if to != from {
                    edges.insert((from.clone(), to, origin));
                }
            }
        }
    }
    // An edge known from env needs no second copy from the annotation.
    let env_pairs: BTreeSet<(String, String)> =
        edges.iter().filter(|e| e.2 == ORIGIN_ENV).map(|e| (e.0.clone(), e.1.clone())).collect();
    edges
        .into_iter()
        .filter(|e| e.2 == ORIGIN_ENV || !env_pairs.contains(&(e.0.clone(), e.1.clone())))
        .map(|(from, to, origin)| Edge { from, to, rps: 0.0, origin: origin.into() })
        .collect()
}

/// Keys of the workloads whose pods Service `ns/svc` selects (none for a Service not in
/// `services` or without a selector).
pub(crate) fn workloads_behind(
    ns: &str,
    svc: &str,
    workloads: &[WorkloadTemplate],
    services: &[ServiceInfo],
) -> Vec<String> {
    let mut keys = resolve_service(ns, svc, workloads, services, &|_, _| Vec::new());
    keys.retain(|k| workloads.iter().any(|w| w.key() == *k));
    keys
}

/// Workload keys a Service reaches; `namespace/<service>` alone when it reaches none.
fn resolve_service(
    ns: &str,
    svc: &str,
    workloads: &[WorkloadTemplate],
    services: &[ServiceInfo],
    behind: &impl Fn(&str, &str) -> Vec<String>,
) -> Vec<String> {
    let mut hits: Vec<String> = services
        .iter()
        .filter(|s| s.namespace == ns && s.name == svc && !s.selector.is_empty())
        .flat_map(|s| {
            workloads
                .iter()
                .filter(|w| {
                    w.namespace == ns && s.selector.iter().all(|(k, v)| w.pod_labels.get(k) == Some(v))
                })
                .map(|w| w.key())
        })
        .collect();
    if hits.is_empty() && services.iter().any(|s| s.namespace == ns && s.name == svc) {
        hits = behind(ns, svc);
    }
    if hits.is_empty() { vec![format!("{ns}/{svc}")] } else { hits }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nss() -> BTreeSet<String> {
        ["shop".to_string()].into()
    }

    #[test]
    fn address_forms() {
        let n = nss();
        let s = |v: &str| service_of_address(v, &n);
        assert_eq!(s("cartservice:7070"), Some(("cartservice".into(), None)));
        assert_eq!(s("http://cart.shop.svc.cluster.local:80/x"), Some(("cart".into(), Some("shop".into()))));
        assert_eq!(s("cart.shop"), Some(("cart".into(), Some("shop".into()))));
        assert_eq!(s("grpc://user:pw@cart.shop.svc:1"), Some(("cart".into(), Some("shop".into()))));
        assert_eq!(s("10.0.0.1:80"), None);
        assert_eq!(s("localhost:80"), None);
        assert_eq!(s("api.openai.com"), None);
        assert_eq!(s("example.com"), None);
        assert_eq!(s("$(HOST):80"), None);
        assert_eq!(s("[::1]:80"), None);
    }

    #[test]
    fn selector_subset_and_dangling() {
        let w = |name: &str, app: &str, env: &[(&str, &str)]| WorkloadTemplate {
            namespace: "shop".into(),
            name: name.into(),
            pod_labels: [("app".to_string(), app.to_string()), ("v".to_string(), name.to_string())].into(),
            env: env.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            annotations: BTreeMap::new(),
        };
        let ws = vec![
            w("web", "web", &[("CART_ADDR", "cart:1"), ("GONE_URL", "http://gone"), ("LOG_DIR", "/tmp")]),
            w("cart-a", "cart", &[]),
            w("cart-b", "cart", &[]),
        ];
        let svcs = vec![ServiceInfo {
            namespace: "shop".into(),
            name: "cart".into(),
            selector: [("app".to_string(), "cart".to_string())].into(),
        }];
        let e = call_graph(&ws, &svcs);
        let pairs: Vec<(&str, &str)> = e.iter().map(|e| (e.from.as_str(), e.to.as_str())).collect();
        assert_eq!(
            pairs,
            [("shop/web", "shop/cart-a"), ("shop/web", "shop/cart-b"), ("shop/web", "shop/gone")]
        );
    }
}
