//! Where users' requests enter, as the manifests say it: the Services an Ingress or a Gateway
//! API route (HTTPRoute, GRPCRoute) sends traffic to. Their workloads are the twin's entries
//! (`twintop.io/entry`), so a scenario's load arrives there rather than at the call graph's
//! roots.

use super::read::Origin;
use serde_json::Value;

/// A Service that a route sends outside traffic to.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteBackend {
    pub namespace: String,
    pub service: String,
    /// `Ingress shop-ingress`, `HTTPRoute frontend-route`.
    pub via: String,
    pub origin: Origin,
}

/// Whether `(apiVersion, kind)` is a route twintop reads.
pub(crate) fn is_route(api: &str, kind: &str) -> bool {
    match kind {
        "Ingress" => api == "networking.k8s.io/v1" || api == "networking.k8s.io/v1beta1",
        "HTTPRoute" | "GRPCRoute" => api.starts_with("gateway.networking.k8s.io/"),
        _ => false,
    }
}

/// The Services `route` (an Ingress, HTTPRoute or GRPCRoute) sends traffic to.
pub(crate) fn backends(route: &Value, origin: &Origin) -> Vec<RouteBackend> {
    let kind = route["kind"].as_str().unwrap_or_default();
    let name = route["metadata"]["name"].as_str().unwrap_or_default();
    let ns = route["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
    let spec = &route["spec"];
    let mut services: Vec<(String, String)> = Vec::new();
    if kind == "Ingress" {
        // v1: backend.service.name; v1beta1: backend.serviceName.
        let of = |b: &Value| {
            b["service"]["name"].as_str().or_else(|| b["serviceName"].as_str()).map(str::to_string)
        };
        services.extend(
            of(&spec["defaultBackend"]).or_else(|| of(&spec["backend"])).map(|s| (ns.to_string(), s)),
        );
        for rule in spec["rules"].as_array().into_iter().flatten() {
            for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                services.extend(of(&path["backend"]).map(|s| (ns.to_string(), s)));
            }
        }
    } else {
        for rule in spec["rules"].as_array().into_iter().flatten() {
            for b in rule["backendRefs"].as_array().into_iter().flatten() {
                let is_service = b["kind"].as_str().is_none_or(|k| k == "Service")
                    && b["group"].as_str().is_none_or(str::is_empty);
                if let (true, Some(svc)) = (is_service, b["name"].as_str()) {
                    let to_ns = b["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(ns);
                    services.push((to_ns.to_string(), svc.to_string()));
                }
            }
        }
    }
    services.sort();
    services.dedup();
    services
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(namespace, service)| RouteBackend {
            namespace,
            service,
            via: format!("{kind} {name}"),
            origin: origin.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin { file: "f.yaml".into(), document: 1, line: 1, item: None }
    }

    fn names(v: &[RouteBackend]) -> Vec<String> {
        v.iter().map(|b| format!("{}/{} via {}", b.namespace, b.service, b.via)).collect()
    }

    #[test]
    fn ingress_rules_and_default_backend() {
        let ing = serde_json::json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "defaultBackend": {"service": {"name": "frontend", "port": {"number": 80}}},
                "rules": [{"host": "shop.example.com", "http": {"paths": [
                    {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
                    {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "frontend", "port": {"number": 80}}}},
                    {"path": "/static", "pathType": "Prefix",
                     "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}}}
                ]}}]
            }
        });
        assert_eq!(
            names(&backends(&ing, &origin())),
            ["shop/api via Ingress web", "shop/frontend via Ingress web"]
        );
    }

    #[test]
    fn http_route_backend_refs_only_services() {
        let r = serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "r"},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [
                {"backendRefs": [{"name": "frontend", "port": 80}, {"name": "other", "namespace": "edge", "port": 80}]},
                {"backendRefs": [{"name": "bucket", "kind": "Bucket", "group": "example.com"}]}
            ]}
        });
        assert_eq!(
            names(&backends(&r, &origin())),
            ["default/frontend via HTTPRoute r", "edge/other via HTTPRoute r"]
        );
        assert!(is_route("gateway.networking.k8s.io/v1beta1", "HTTPRoute"));
        assert!(!is_route("networking.istio.io/v1alpha3", "VirtualService"));
    }
}
