//! The Kubernetes source against a fake API server speaking list and watch over a socket:
//! real objects (tests/data/api), 403 on HPAs, watch events, 410 Gone, and a restart.

mod common;
mod kube_fake;

use kube_fake::{FakeApi, write_kubeconfig};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use twintop::source::SourceArgs;
use twintop::twin::{FeedState, Snapshot};

const NODES: &str = "/api/v1/nodes";
const PODS: &str = "/api/v1/pods";
const DEPLOYMENTS: &str = "/apis/apps/v1/deployments";
const STATEFULSETS: &str = "/apis/apps/v1/statefulsets";
const REPLICASETS: &str = "/apis/apps/v1/replicasets";
const HPAS: &str = "/apis/autoscaling/v2/horizontalpodautoscalers";
const SERVICES: &str = "/api/v1/services";
const NODE_METRICS: &str = "/apis/metrics.k8s.io/v1beta1/nodes";
const POD_METRICS: &str = "/apis/metrics.k8s.io/v1beta1/pods";

/// A name no real cluster allows, as a hostile or broken API server could send it.
const EVIL: &str = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}";

fn load(rel: &str) -> Value {
    let path = common::data(&format!("api/{rel}"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn node(file: &str, name: &str, zone: &str) -> Value {
    let mut n = load(file);
    n["metadata"]["name"] = json!(name);
    let l = &mut n["metadata"]["labels"];
    l["topology.kubernetes.io/region"] = json!("region-1");
    l["topology.kubernetes.io/zone"] = json!(zone);
    l["node.kubernetes.io/instance-type"] = json!("m5.xlarge");
    l["kubernetes.io/hostname"] = json!(name);
    n
}

/// A pod of the icx-db Deployment (k9s's nginx pod, re-owned by icx-db's ReplicaSet).
fn db_pod(suffix: &str, node: &str) -> Value {
    let mut p = load("k9s/p1.json");
    p["metadata"]["name"] = json!(format!("icx-db-7d4b578979-{suffix}"));
    p["metadata"]["namespace"] = json!("icx");
    p["metadata"]["labels"] = json!({"app": "icx-db", "pod-template-hash": "7d4b578979"});
    p["metadata"]["ownerReferences"][0]["name"] = json!("icx-db-7d4b578979");
    p["spec"]["nodeName"] = json!(node);
    p
}

fn deployment(replicas: u32) -> Value {
    let mut d = load("k9s/dp.json");
    d["spec"]["replicas"] = json!(replicas);
    let env = &mut d["spec"]["template"]["spec"]["containers"][0]["env"];
    env.as_array_mut().unwrap().extend([
        json!({"name": "DICT_ADDR", "value": "dictionary1.default:4001"}),
        json!({"name": "CACHE_HOST", "value": "cache"}),
    ]);
    // A call env vars cannot show (the address comes from a config file), declared instead.
    d["spec"]["template"]["metadata"]["annotations"] =
        json!({"twintop.io/calls": "search, default/dictionary1"});
    d
}

/// Two nodes, the icx-db Deployment (2 replicas) with its ReplicaSet and pods, a bare nginx
/// pod, a StatefulSet behind the dictionary1 Service, an HPA (forbidden), metrics-server data.
fn populate(api: &FakeApi) {
    api.apply(NODES, node("k9s/no.json", "node-a", "zone-a"));
    let mut b = node("k9s/n1.json", "node-b", "zone-b");
    b["metadata"]["labels"]["team"] = json!(EVIL);
    api.apply(NODES, b);
    api.apply(DEPLOYMENTS, deployment(2));
    let mut evil = load("k9s/dp.json");
    evil["metadata"]["name"] = json!(EVIL);
    api.apply(DEPLOYMENTS, evil);
    let mut rs = load("k9s/rs.json");
    rs["apiVersion"] = json!("apps/v1"); // the k9s fixture's slip, see tests/data/SOURCES.md
    api.apply(REPLICASETS, rs);
    api.apply(PODS, db_pod("aaaaa", "node-a"));
    api.apply(PODS, db_pod("bbbbb", "node-b"));
    let mut bare = load("k9s/po.json");
    bare["spec"]["nodeName"] = json!("node-a");
    api.apply(PODS, bare);
    let mut sts = load("k9s/sts.json");
    sts["spec"]["template"]["metadata"]["labels"]["app"] = json!("dictionary1");
    api.apply(STATEFULSETS, sts);
    api.apply(SERVICES, load("k9s/svc.json"));
    api.apply(HPAS, load("k9s/hpa_v2.json"));
    api.forbid(HPAS);
    api.apply(
        NODE_METRICS,
        json!({"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": "node-a"}, "timestamp": "2026-11-23T12:00:00Z", "window": "10s",
        "usage": {"cpu": "1500m", "memory": "2Gi"}}),
    );
    api.apply(POD_METRICS, json!({"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": "icx-db-7d4b578979-aaaaa", "namespace": "icx"}, "timestamp": "2026-11-23T12:00:00Z",
        "window": "10s", "containers": [{"name": "nginx", "usage": {"cpu": "50m", "memory": "10Mi"}}]}));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// `twintop ARGS` against the cluster `kubeconfig` names.
fn with_kubeconfig(kubeconfig: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::twintop().args(args).env("KUBECONFIG", kubeconfig).output().expect("run twintop")
}

#[test]
fn headless_twin_of_a_fake_cluster() {
    let rt = runtime();
    let api = rt.block_on(FakeApi::start());
    populate(&api);
    let dir = tempfile::tempdir().unwrap();
    let kc = write_kubeconfig(dir.path(), &api.url(), "fake-cluster", "fake-ctx");

    let out = with_kubeconfig(&kc, &["twin", "-A", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "twintop twin --json failed: {stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["source"]["kind"], "live");
    assert_eq!(doc["source"]["name"], "fake-cluster");
    assert_eq!(doc["source"]["context"], "fake-ctx");
    let servers = doc["servers"].as_array().unwrap();
    let names: Vec<&str> = servers.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["node-a", "node-b"]);
    let a = &servers[0];
    assert_eq!(a["zone"], "zone-a");
    assert_eq!(a["pods"], 2, "icx-db-…-aaaaa and the bare nginx pod run on node-a: {a}");
    assert_eq!(servers[1]["pods"], 1);
    // metrics-server says node-a uses 1.5 of its 4 allocatable cores.
    assert!((a["cpu_util"].as_f64().unwrap() - 0.375).abs() < 1e-9, "{a}");
    let wl = |key: &str| {
        doc["workloads"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| format!("{}/{}", w["namespace"].as_str().unwrap(), w["name"].as_str().unwrap()) == key)
            .cloned()
    };
    let db = wl("icx/icx-db").expect("icx/icx-db in the twin");
    assert_eq!(db["replicas"], 2);
    assert_eq!(db["cpu_request_m"], 250.0);
    assert_eq!(db["mem_request_mib"], 256.0);
    assert_eq!(wl("default/nginx-sts").expect("the StatefulSet")["replicas"], 4);
    let edges: Vec<(String, String)> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["from"].as_str().unwrap().into(), e["to"].as_str().unwrap().into()))
        .collect();
    assert!(edges.contains(&("icx/icx-db".into(), "default/nginx-sts".into())), "{edges:?}");
    assert!(edges.contains(&("icx/icx-db".into(), "icx/cache".into())), "dangling edge kept: {edges:?}");
    let origin = |to: &str| {
        doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["from"] == "icx/icx-db" && e["to"] == to)
            .map(|e| e["origin"].clone())
    };
    assert_eq!(origin("icx/search"), Some(json!("annotation")), "twintop.io/calls edge: {edges:?}");
    assert_eq!(origin("default/nginx-sts"), Some(json!("env")), "env and annotation agree: env wins");
    let notices: Vec<&str> = doc["notices"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(
        notices.contains(&"cannot list horizontalpodautoscalers in all namespaces: HPAs not shown"),
        "{notices:?}"
    );
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(!raw.contains('\u{1b}'), "JSON output must not carry a raw ESC");

    let out = with_kubeconfig(&kc, &["twin", "-A"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !table.contains('\u{1b}') && !table.contains('\u{7}'),
        "raw escape reached the terminal:\n{table}"
    );
    assert!(table.contains("evil\\u{1b}[2J"), "hostile name shown escaped:\n{table}");

    // -n scopes namespaced resources (default: the context's namespace, icx).
    let out = with_kubeconfig(&kc, &["twin", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["workloads"].as_array().unwrap().iter().all(|w| w["namespace"] == "icx"));
    assert!(api.requests().iter().any(|r| r.starts_with("GET /apis/apps/v1/namespaces/icx/deployments?")));
    rt.shutdown_background();
}

#[test]
fn wrong_context_and_unreachable_server_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{free}");
    let kc = write_kubeconfig(dir.path(), &url, "gone-cluster", "gone-ctx");

    let out = with_kubeconfig(&kc, &["twin", "--context", "nope"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no context \"nope\"") && err.contains("gone-ctx"), "{err}");

    let t = std::time::Instant::now();
    let out = with_kubeconfig(&kc, &["twin"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("context gone-ctx") && err.contains(&free.to_string()), "{err}");
    assert!(t.elapsed() < Duration::from_secs(15), "an unreachable server fails fast");
}

/// Waits for a snapshot satisfying `pred`, or panics naming what was awaited.
async fn wait_for(
    rx: &mut tokio::sync::watch::Receiver<Arc<Snapshot>>,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let r = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let s = rx.borrow_and_update().clone();
            if pred(&s) {
                return s;
            }
            rx.changed().await.expect("feeder alive");
        }
    })
    .await;
    r.unwrap_or_else(|_| {
        let s = rx.borrow().clone();
        panic!("timed out waiting for {what}; feeds {:?}; notices {:?}", s.feeds, s.notices)
    })
}

fn replicas(s: &Snapshot, key: &str) -> Option<u32> {
    s.workload_index(key).map(|i| s.workloads[i].replicas)
}

fn kube_feed(s: &Snapshot) -> Option<FeedState> {
    s.feed("kube").map(|f| f.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_twin_follows_watch_410_and_restart() {
    let api = FakeApi::start().await;
    populate(&api);
    let dir = tempfile::tempdir().unwrap();
    let kc = write_kubeconfig(dir.path(), &api.url(), "fake-cluster", "fake-ctx");
    // The only test in this binary that reads KUBECONFIG in-process; the others pass it to a child.
    unsafe { std::env::set_var("KUBECONFIG", &kc) };
    let args = SourceArgs { namespace: Some("icx".into()), ..Default::default() };
    let handle = twintop::source::kube::spawn_live(&args).expect("spawn_live");
    let mut rx = handle.snapshots.clone();

    let s = wait_for(&mut rx, "the initial twin", |s| {
        s.servers.len() == 2 && replicas(s, "icx/icx-db") == Some(2) && kube_feed(s) == Some(FeedState::Ok)
    })
    .await;
    assert_eq!(s.source.name, "fake-cluster");
    let a = s.server_index("node-a").unwrap();
    assert_eq!(s.servers[a].capacity.cpu_m, 4000.0);
    assert_eq!(s.servers[a].location.zone, "zone-a");
    assert_eq!(s.servers[a].hardware, "m5.xlarge");
    assert_eq!(s.pods.len(), 2, "only namespace icx is watched");
    assert!(s.pods.iter().all(|p| p.server.is_some() && p.workload.is_some()));
    assert!(
        s.notices
            .iter()
            .any(|n| n == "cannot list horizontalpodautoscalers in namespace icx: HPAs not shown")
    );
    let b = s.server_index("node-b").unwrap();
    assert_eq!(s.servers[b].labels["team"], EVIL, "hostile label kept as data");
    // The console's dry run asks RBAC first (a SelfSubjectAccessReview about deployments),
    // which this fake API server does not serve: an error naming the resource, and no PATCH.
    let err = handle
        .cluster
        .apply(&twintop::change::Change::Scale { workload: "icx/icx-db".into(), replicas: 3 }, true)
        .unwrap_err();
    assert!(err.contains("request for deployments failed"), "{err}");

    // Watch events: MODIFIED, ADDED, DELETED.
    api.apply(DEPLOYMENTS, deployment(3));
    api.apply(PODS, db_pod("ccccc", "node-b"));
    api.delete(PODS, "icx/icx-db-7d4b578979-aaaaa");
    let s = wait_for(&mut rx, "scale to 3, pod c added, pod a deleted", |s| {
        replicas(s, "icx/icx-db") == Some(3)
            && s.pods.iter().any(|p| p.name.ends_with("ccccc"))
            && !s.pods.iter().any(|p| p.name.ends_with("aaaaa"))
    })
    .await;
    assert_eq!(s.server_status[s.server_index("node-b").unwrap()].pods, 2);

    // A watch that ends cleanly is resumed from its resourceVersion.
    api.close_watches();
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.apply(DEPLOYMENTS, deployment(5));
    wait_for(&mut rx, "an event after a resumed watch", |s| replicas(s, "icx/icx-db") == Some(5)).await;

    // 410 Gone: a change whose event was lost is seen only through the re-list.
    let lists_before =
        api.requests().iter().filter(|r| r.contains("/deployments?") && !r.contains("watch=")).count();
    api.apply_silently(DEPLOYMENTS, deployment(4));
    api.expire_watches();
    wait_for(&mut rx, "re-list after 410", |s| replicas(s, "icx/icx-db") == Some(4)).await;
    let lists_after =
        api.requests().iter().filter(|r| r.contains("/deployments?") && !r.contains("watch=")).count();
    assert!(lists_after > lists_before, "410 must force a new list");

    // API server restart: connections drop, the feed says so, then it catches up by itself.
    api.stop().await;
    wait_for(&mut rx, "the kube feed to notice the outage", |s| {
        matches!(kube_feed(s), Some(FeedState::Down | FeedState::Stale))
    })
    .await;
    api.apply(NODES, node("k9s/no.json", "node-c", "zone-c"));
    api.delete(PODS, "icx/icx-db-7d4b578979-bbbbb");
    api.restart();
    let s = wait_for(&mut rx, "recovery after restart", |s| {
        s.server_index("node-c").is_some()
            && !s.pods.iter().any(|p| p.name.ends_with("bbbbb"))
            && kube_feed(s) == Some(FeedState::Ok)
    })
    .await;
    assert_eq!(s.servers.len(), 3);
    assert_eq!(replicas(&s, "icx/icx-db"), Some(4));
}
