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
    for k in ["VirtualService (frontend)", "Gateway (istio-gateway)", "ServiceEntry ×2"] {
        assert!(note.contains(k), "{note}");
    }
    // ... but its HTTPRoute is read: the workload behind it is where users' requests enter.
    assert!(!note.contains("HTTPRoute"), "{note}");
    let entries: Vec<&str> = s
        .workloads
        .iter()
        .filter(|w| w.labels.get(crate::sim::entries::ENTRY_LABEL).map(String::as_str) == Some("true"))
        .map(|w| w.name.as_str())
        .collect();
    assert_eq!(entries, ["frontend"]);
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

fn api(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/api").join(rel)
}

fn snapshot(events: Vec<TwinEvent>) -> Arc<Snapshot> {
    let mut st = TwinStore::default();
    st.apply_all(events);
    st.snapshot()
}

fn load(paths: &[PathBuf], namespace: Option<&str>, dc: Datacenter) -> anyhow::Result<Arc<Snapshot>> {
    let opts = ReadOptions { namespace: namespace.map(Into::into) };
    Ok(snapshot(load_paths(paths, &opts, dc, DateTime::<Utc>::UNIX_EPOCH)?))
}

/// Two real EKS nodes as the API server lists them (honeycomb-kubernetes-agent's test data:
/// a NodeList whose items have no kind or apiVersion, both tainted `type=hound:NoSchedule`).
fn eks_nodes() -> Datacenter {
    Datacenter::from_nodes_file(&api("honeycomb/nodes.json")).unwrap()
}

/// The same nodes without their taints.
fn eks_nodes_untainted() -> Datacenter {
    let mut dc = eks_nodes();
    dc.servers.iter_mut().for_each(|s| s.taints.clear());
    dc
}

#[test]
fn a_deployment_list_from_the_api_loads_its_kindless_items() {
    // k9s's Deployment as an item of a DeploymentList, the way the API server returns it.
    let mut item: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(api("k9s/dp.json")).unwrap()).unwrap();
    item.as_object_mut().unwrap().remove("kind");
    item.as_object_mut().unwrap().remove("apiVersion");
    let list = serde_json::json!({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": [item]});
    let mut objs = Objects::default();
    read::parse_text(&list.to_string(), "deployments.json", &mut objs).unwrap();
    let s = twin(objs);
    assert_eq!(s.workloads.len(), 1, "the item is a Deployment");
    assert_eq!(s.workloads[0].key(), "icx/icx-db");
    // kubectl's own test data: a ServiceList and a v1 List of mixed objects.
    let mut objs = Objects::default();
    let svc = std::fs::read_to_string(data("kubectl-testdata/multi-resource-svclist.json")).unwrap();
    read::parse_text(&svc, "svclist.json", &mut objs).unwrap();
    let list = std::fs::read_to_string(data("kubectl-testdata/list.yaml")).unwrap();
    read::parse_text(&list, "list.yaml", &mut objs).unwrap();
    assert_eq!(objs.services.len(), 3);
    assert_eq!(objs.deployments.len(), 1);
    // A list that yields no workload at all is an error, not an empty twin.
    let mut objs = Objects::default();
    read::parse_text(&svc, "svclist.json", &mut objs).unwrap();
    let e = build_events(objs, "svclist.json", Datacenter::demo(DemoPreset::Dc), DateTime::<Utc>::UNIX_EPOCH)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("svclist.json: no Deployment, StatefulSet or DaemonSet"), "{e}");
    // The API's NodeList given as manifests: the error says where Nodes go.
    let e = read_paths(&[api("honeycomb/nodes.json")], &ReadOptions::default())
        .and_then(|o| {
            build_events(o, "nodes.json", Datacenter::demo(DemoPreset::Dc), DateTime::<Utc>::UNIX_EPOCH)
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("Node ×2 (duckboat-01, duckboat-02)") && e.contains("`--servers FILE`"), "{e}");
}

#[test]
fn a_node_list_from_the_api_loads_with_its_taints() {
    let dc = eks_nodes();
    let names: Vec<&str> = dc.servers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["duckboat-01", "duckboat-02"]);
    assert_eq!(dc.servers[0].allocatable.cpu_m, 7910.0);
    assert_eq!(
        (dc.servers[1].location.region.as_str(), dc.servers[1].location.zone.as_str()),
        ("us-east-2", "us-east-2d")
    );
    let t = &dc.servers[0].taints;
    assert_eq!((t[0].key.as_str(), t[0].value.as_str()), ("type", "hound"));
}

#[test]
fn a_node_without_capacity_is_refused_naming_it() {
    let text = "apiVersion: v1\nkind: Node\nmetadata:\n  name: hand-written\n";
    let e = nodes::parse_nodes(text, "nodes.yaml").unwrap_err().to_string();
    assert!(e.starts_with("nodes.yaml: document 1 (line 1): Node hand-written: no status.capacity"), "{e}");
}

#[test]
fn tainted_nodes_keep_pods_without_a_toleration_pending_with_the_reason() {
    let s = load(&[data("online-boutique/kubernetes-manifests.yaml")], None, eks_nodes()).unwrap();
    assert_eq!(s.pods.len(), 12);
    let want = "0/2 nodes are available: 2 node(s) had untolerated taint {type: hound}.";
    for p in &s.pods {
        assert_eq!((p.phase, p.reason.as_deref()), (PodPhase::Pending, Some(want)), "{}", p.name);
    }
    let note = s.notices.iter().find(|n| n.starts_with("pods that fit on no server")).unwrap();
    assert!(
        note.contains("default/frontend ×1 (0/2 nodes are available: 2 node(s) had untolerated taint"),
        "{note}"
    );
    let doc = crate::twin::export::twin_doc(&s);
    assert_eq!(doc.servers[0].taints, ["type=hound:NoSchedule"]);
    assert_eq!(doc.workloads[0].pending[0].reason.as_deref(), Some(want));
    // Without the taints every pod runs.
    let s = load(&[data("online-boutique/kubernetes-manifests.yaml")], None, eks_nodes_untainted()).unwrap();
    assert!(s.pods.iter().all(|p| p.phase == PodPhase::Running));
}

/// Argo CD's HA install (`kubectl apply -n argocd -f namespace-install.yaml`): required pod
/// anti-affinity on the hostname for the Redis HA proxy (3 replicas), the Redis servers (a
/// StatefulSet of 3), the repo server and the API server (2 each). On two nodes the third
/// proxy and the third Redis stay Pending, saying why.
#[test]
fn argocd_ha_anti_affinity_on_two_nodes() {
    let path = data("argocd/namespace-install-ha.yaml");
    let s = load(std::slice::from_ref(&path), Some("argocd"), eks_nodes_untainted()).unwrap();
    let keys: Vec<String> = s.workloads.iter().map(|w| w.key()).collect();
    assert!(keys.iter().all(|k| k.starts_with("argocd/")), "{keys:?}");
    assert_eq!(keys.len(), 8, "{keys:?}");
    let pending: Vec<(&str, Option<&str>)> = s
        .pods
        .iter()
        .filter(|p| p.phase == PodPhase::Pending)
        .map(|p| (p.name.as_str(), p.reason.as_deref()))
        .collect();
    let why = Some("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
    assert_eq!(pending, [("argocd-redis-ha-haproxy-2", why), ("argocd-redis-ha-server-2", why)]);
    // The two replicas that run are on different servers.
    let on = |name: &str| s.pods.iter().find(|p| p.name == name).and_then(|p| p.server);
    assert_ne!(on("argocd-repo-server-0"), on("argocd-repo-server-1"));
    // On the demo's 50 servers everything runs, each replica of a set on its own server.
    let s = load(&[path], Some("argocd"), Datacenter::demo(DemoPreset::Dc)).unwrap();
    let pending: Vec<_> =
        s.pods.iter().filter(|p| p.phase != PodPhase::Running).map(|p| (&p.name, &p.reason)).collect();
    assert!(pending.is_empty(), "{pending:?}");
    let proxies: std::collections::HashSet<_> =
        s.pods.iter().filter(|p| p.name.starts_with("argocd-redis-ha-haproxy-")).map(|p| p.server).collect();
    assert_eq!(proxies.len(), 3);
    // The repo server reaches Redis through the proxy: REDIS_SERVER comes from a ConfigMap key.
    assert!(
        s.edges
            .iter()
            .any(|e| e.from == "argocd/argocd-repo-server" && e.to == "argocd/argocd-redis-ha-haproxy"),
        "{:?}",
        s.edges
    );
}

#[test]
fn namespace_flag_places_objects_and_refuses_another_namespace() {
    // Online Boutique, with one address written the fully qualified way an app installed in
    // `shop` would use.
    let text = std::fs::read_to_string(data("online-boutique/kubernetes-manifests.yaml")).unwrap();
    let fq =
        text.replace("value: \"cartservice:7070\"", "value: \"cartservice.shop.svc.cluster.local:7070\"");
    assert_ne!(fq, text);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("boutique.yaml");
    std::fs::write(&file, &fq).unwrap();
    let dangling = |s: &Snapshot| -> Vec<String> {
        crate::twin::export::twin_doc(s).edges.into_iter().filter(|e| e.dangling).map(|e| e.to).collect()
    };
    let s = load(std::slice::from_ref(&file), None, Datacenter::demo(DemoPreset::Dc)).unwrap();
    assert!(dangling(&s).contains(&"shop/cartservice".to_string()));
    let s = load(std::slice::from_ref(&file), Some("shop"), Datacenter::demo(DemoPreset::Dc)).unwrap();
    assert_eq!(s.workloads[0].namespace, "shop");
    assert_eq!(dangling(&s), ["shop/shoppingassistantservice"]);
    assert!(s.edges.iter().any(|e| e.from == "shop/frontend" && e.to == "shop/cartservice"));
    // An object naming another namespace is refused, as kubectl apply -n does.
    let other = dir.path().join("other.yaml");
    std::fs::write(&other, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c}]}\n").unwrap();
    let e = load(&[other], Some("shop"), Datacenter::demo(DemoPreset::Dc)).unwrap_err().to_string();
    assert!(e.contains("other.yaml: document 1 (line 1): Deployment web: the namespace from the provided object \"prod\" does not match the namespace \"shop\""), "{e}");
}

/// A repository as it comes: Online Boutique's `kubernetes-manifests/` beside its Helm chart,
/// a Kustomization, Cloud Build and DeployStack config, and the services' own JSON.
#[test]
fn a_repository_folder_loads_its_objects_and_lists_what_it_skipped() {
    let s = load(&[data("online-boutique-repo")], None, Datacenter::demo(DemoPreset::Dc)).unwrap();
    assert_eq!(s.workloads.len(), 12);
    let files = s
        .notices
        .iter()
        .find(|n| n.starts_with("skipped 6 file(s)"))
        .unwrap_or_else(|| panic!("{:?}", s.notices));
    for f in [
        "helm-chart/ (a Helm chart (render it with `helm template`",
        "src/cartservice/src/appsettings.json (not a Kubernetes object",
        "src/currencyservice/package.json (not a Kubernetes object",
        "src/productcatalogservice/products.json (not a Kubernetes object (no apiVersion or kind))",
        "cloudbuild.yaml (not a Kubernetes object (no apiVersion or kind))",
        ".deploystack/deploystack.yaml (not a Kubernetes object",
    ] {
        assert!(files.contains(f), "{f} in {files}");
    }
    let kinds = s.notices.iter().find(|n| n.starts_with("skipped") && n.contains("kinds")).unwrap();
    assert!(kinds.contains("Kustomization,") && !kinds.contains("()"), "nameless, listed by kind: {kinds}");
    // kubectl's recursive test folder: one file has `ind:` for `kind:`; it looks like
    // Kubernetes, so it fails naming the file, not skipped.
    let e =
        read_paths(&[data("kubectl-testdata/recursive")], &ReadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("nginx-broken.yaml: document 1 (line 1): kind is missing"), "{e}");
    // A Helm template given outside its chart is named as one.
    let e = read_path(&data("online-boutique-repo/helm-chart/templates/frontend.yaml"));
    let e = e.map(|o| format!("{:?}", o.skipped_files)).unwrap_or_else(|e| e.to_string());
    assert!(e.contains("frontend.yaml: document") && e.contains("render it first"), "{e}");
}

#[test]
fn several_paths_load_together() {
    let paths =
        [data("kubectl-testdata/list.yaml"), data("kubectl-testdata/recursive/deployment/nginx.yaml")];
    let s = load(&paths, None, Datacenter::demo(DemoPreset::Dc)).unwrap();
    let names: Vec<&str> = s.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["list-deployment-test", "nginx0-deployment"]);
    assert!(
        s.source.name.contains("list.yaml, ") && s.source.name.ends_with("nginx.yaml"),
        "{}",
        s.source.name
    );
}

/// Kubernetes' own fluentd DaemonSet example: one pod on every server, cordoned ones too
/// (the DaemonSet controller tolerates the cordon), none where a taint it does not tolerate
/// keeps it out; its requests count in each server's load.
#[test]
fn daemonsets_run_one_pod_per_eligible_server() {
    let mut dc = Datacenter::demo(DemoPreset::Dc);
    dc.servers[0].schedulable = false;
    dc.servers[1].taints.push(crate::twin::scheduling::Taint {
        key: "node-role.kubernetes.io/control-plane".into(),
        value: String::new(),
        effect: crate::twin::scheduling::TaintEffect::NoSchedule,
    });
    dc.servers[2].taints.push(crate::twin::scheduling::Taint {
        key: "node-role.kubernetes.io/master".into(),
        value: String::new(),
        effect: crate::twin::scheduling::TaintEffect::NoSchedule,
    });
    let s =
        load(&[data("kubernetes-website/daemonset.yaml"), data("istio-bookinfo/bookinfo.yaml")], None, dc)
            .unwrap();
    let ds = s.workload_index("kube-system/fluentd-elasticsearch").unwrap();
    assert_eq!(s.workloads[ds].kind, crate::twin::WorkloadKind::DaemonSet);
    assert_eq!(s.workloads[ds].replicas, 49, "50 servers but the one tainted control-plane");
    let on: Vec<usize> = s.pods_of_workload(ds).filter_map(|p| p.server).collect();
    assert_eq!(on.len(), 49);
    for (i, st) in s.server_status.iter().enumerate() {
        let has = on.contains(&i);
        assert_eq!(st.requested.cpu_m >= 100.0, has, "{}", s.servers[i].name);
    }
    // Bookinfo's pods stay off the cordoned server; the DaemonSet's pod runs there.
    let cordoned = s.servers.iter().position(|x| !x.schedulable).unwrap();
    assert!(on.contains(&cordoned));
    assert!(s.pods.iter().filter(|p| p.server == Some(cordoned)).all(|p| p.workload == Some(ds)));
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
