//! The offline twin from real manifests: Online Boutique and Istio's Bookinfo.

use super::*;
use crate::twin::{Snapshot, TwinStore};
use std::path::PathBuf;
use std::sync::Arc;

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/manifests").join(rel)
}

fn twin(objs: Objects) -> Arc<Snapshot> {
    let mut st = TwinStore::default();
    st.apply_all(
        build_events(objs, "test", Datacenter::demo(DemoPreset::Dc), DateTime::<Utc>::UNIX_EPOCH).unwrap(),
    );
    st.snapshot()
}

fn edge_set(s: &Snapshot) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = s.edges.iter().map(|e| (e.from.clone(), e.to.clone(), e.origin.clone())).collect();
    v.sort();
    v
}

#[test]
fn online_boutique_directory() {
    let s = twin(read_path(&data("online-boutique")).unwrap());
    let names: Vec<&str> = s.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names.len(), 12, "{names:?}");
    assert!(names.contains(&"loadgenerator"));
    let w = |n: &str| &s.workloads[s.workload_index(n).unwrap()];
    assert_eq!((w("frontend").requests.cpu_m, w("frontend").requests.mem_mib), (100.0, 64.0));
    assert_eq!((w("adservice").requests.cpu_m, w("adservice").requests.mem_mib), (200.0, 180.0));
    assert_eq!((w("redis-cart").requests.cpu_m, w("redis-cart").requests.mem_mib), (70.0, 200.0));
    // loadgenerator's init container (no requests) does not raise the pod's requests.
    assert_eq!(w("loadgenerator").requests.cpu_m, 300.0);
    assert_eq!(w("frontend").key(), "default/frontend");

    let edges = edge_set(&s);
    let has = |f: &str, t: &str| {
        edges.iter().any(|e| e.0 == format!("default/{f}") && e.1 == format!("default/{t}"))
    };
    assert!(has("frontend", "checkoutservice"));
    assert!(has("checkoutservice", "paymentservice"));
    assert!(has("cartservice", "redis-cart"));
    assert!(has("loadgenerator", "frontend"));
    assert!(has("frontend", "shoppingassistantservice"), "the dangling edge is kept");
    assert!(edges.iter().all(|e| e.2 == "env"));
    let doc = crate::twin::export::twin_doc(&s);
    let dangling: Vec<&str> = doc.edges.iter().filter(|e| e.dangling).map(|e| e.to.as_str()).collect();
    assert_eq!(dangling, ["default/shoppingassistantservice"]);

    // Every pod placed and Running on the demo datacenter; the server figures are requests.
    assert_eq!(s.pods.len(), 12);
    assert!(s.pods.iter().all(|p| p.phase == PodPhase::Running && p.server.is_some()));
    assert_eq!(s.servers.len(), 50);
    let requested: f64 = s.server_status.iter().map(|st| st.requested.cpu_m).sum();
    assert_eq!(requested, 1570.0);

    // istio-manifests.yaml: every object listed as skipped, by kind.
    let note = s.notices.iter().find(|n| n.starts_with("skipped")).expect("skipped notice");
    for k in [
        "VirtualService (frontend)",
        "Gateway (istio-gateway)",
        "HTTPRoute (frontend-route)",
        "ServiceEntry ×2",
    ] {
        assert!(note.contains(k), "{note}");
    }
    assert!(note.contains("ServiceAccount ×11"), "{note}");
    assert_eq!(s.source.kind, SourceKind::Manifests);
}

#[test]
fn bookinfo_without_resources_and_three_reviews() {
    let s = twin(read_path(&data("istio-bookinfo/bookinfo.yaml")).unwrap());
    assert_eq!(s.workloads.len(), 6);
    assert!(s.workloads.iter().all(|w| w.requests == crate::twin::Resources::ZERO));
    let note = s.notices.iter().find(|n| n.contains("no CPU or memory requests")).expect("notice");
    assert!(note.starts_with("6 workload(s)") && note.contains("default/reviews-v2"), "{note}");
    // Zero-request pods are spread, not piled on one server.
    let servers: std::collections::HashSet<_> = s.pods.iter().map(|p| p.server).collect();
    assert_eq!(servers.len(), 6);
    // Bookinfo's calls are in its code, not its env: no edges without an annotation.
    assert!(s.edges.is_empty());
}

/// Bookinfo with the annotation that declares productpage's calls: one `reviews` Service
/// reaches all three versions.
#[test]
fn bookinfo_calls_annotation_fans_out_over_the_service_selector() {
    let text = std::fs::read_to_string(data("istio-bookinfo/bookinfo.yaml")).unwrap();
    let anchor = "  name: productpage-v1\n";
    assert!(text.contains(anchor));
    let text = text
        .replace(anchor, "  name: productpage-v1\n  annotations:\n    twintop.io/calls: details, reviews\n");
    let mut objs = Objects::default();
    read::parse_text(&text, "bookinfo.yaml", &mut objs).unwrap();
    let s = twin(objs);
    let to: Vec<(String, String)> = edge_set(&s).into_iter().map(|e| (e.1, e.2)).collect();
    let want = ["default/details-v1", "default/reviews-v1", "default/reviews-v2", "default/reviews-v3"];
    assert_eq!(to, want.map(|t| (t.to_string(), "annotation".to_string())));
}

#[test]
fn pods_that_fit_nowhere_are_pending_and_reported() {
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: huge, namespace: x}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: huge}}\n  template:\n    metadata: {labels: {app: huge}}\n    spec:\n      containers:\n      - name: c\n        resources: {requests: {cpu: '40', memory: 1Gi}}\n";
    let mut objs = Objects::default();
    read::parse_text(text, "huge.yaml", &mut objs).unwrap();
    let mut dc = Datacenter::demo(DemoPreset::Dc);
    dc.servers.truncate(1);
    let mut st = TwinStore::default();
    st.apply_all(build_events(objs, "t", dc, DateTime::<Utc>::UNIX_EPOCH).unwrap());
    let s = st.snapshot();
    let phases: Vec<PodPhase> = s.pods.iter().map(|p| p.phase).collect();
    assert_eq!(phases, [PodPhase::Running, PodPhase::Pending]);
    assert!(s.notices.iter().any(|n| n.contains("x/huge ×1")), "{:?}", s.notices);
}

#[test]
fn missing_path_and_empty_directory_are_named() {
    let e = read_path(Path::new("/nonexistent/k8s")).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/k8s: "), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = read_path(dir.path()).unwrap_err().to_string();
    assert!(e.contains("no .yaml"), "{e}");
}

#[test]
fn bad_quantity_names_file_document_object_and_field() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: c\n        resources: {requests: {cpu: lots}}\n";
    let mut objs = Objects::default();
    read::parse_text(text, "bad.yaml", &mut objs).unwrap();
    let e = build_events(objs, "t", Datacenter::demo(DemoPreset::Dc), DateTime::<Utc>::UNIX_EPOCH)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("bad.yaml: document 2 (line 4): Deployment web: "), "{e}");
    assert!(e.contains("spec.containers[c].resources.requests.cpu") && e.contains("\"lots\""), "{e}");
}

#[test]
fn a_replica_count_beyond_the_pod_limit_is_refused_before_placing_pods() {
    let yaml = "apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: shop }\n\
                spec:\n  replicas: 2147483647\n  selector: { matchLabels: { app: web } }\n  template:\n    \
                metadata: { labels: { app: web } }\n    spec:\n      containers: [ { name: web, image: x } ]\n";
    let mut objs = Objects::default();
    read::parse_text(yaml, "big.yaml", &mut objs).unwrap();
    let e = build_events(objs, "big.yaml", Datacenter::demo(DemoPreset::Dc), Utc::now()).unwrap_err();
    let e = e.to_string();
    assert!(e.contains("2147483647 pods") && e.contains("shop/web") && e.contains("at most 200000"), "{e}");
}
