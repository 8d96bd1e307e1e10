//! Against a recording HTTP server that answers like the API server: the exact PATCH bodies,
//! the dry-run query, the field manager, the resourceVersion read at approval and carried by
//! the patch, and 403/409 handling; the eviction POST and its 429.

use super::*;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    content_type: String,
    body: String,
}

/// Answers every request with `status` and `body`, recording it.
async fn api_server(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else { return };
            let log = log.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let (method, path) =
                        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
                    let (mut len, mut ct) = (0usize, String::new());
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).await.unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap();
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => len = v.trim().parse().unwrap(),
                            "content-type" => ct = v.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut b = vec![0; len];
                    r.read_exact(&mut b).await.unwrap();
                    log.lock().unwrap().push(Seen {
                        method,
                        path,
                        content_type: ct,
                        body: String::from_utf8(b).unwrap(),
                    });
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    w.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (url, seen)
}

fn client(url: &str) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

const SCALE: &str = r#"{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"checkoutservice","namespace":"boutique","resourceVersion":"48213"},"spec":{"replicas":6},"status":{"replicas":2}}"#;

#[tokio::test]
async fn scale_sends_a_merge_patch_to_the_scale_subresource_with_dry_run_first() {
    let (url, seen) = api_server(200, SCALE).await;
    let c = client(&url);
    let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 6 };
    // At approval: the version is read from the scale subresource itself.
    let version = read_version(&c, &change, WorkloadKind::Deployment).await.unwrap();
    assert_eq!(version.as_deref(), Some("48213"));
    let dry = apply(&c, &change, WorkloadKind::Deployment, true, version.as_deref()).await.unwrap();
    assert!(dry.starts_with("dry run:"), "{dry}");
    apply(&c, &change, WorkloadKind::Deployment, false, version.as_deref()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].path, "/apis/apps/v1/namespaces/boutique/deployments/checkoutservice/scale");
    let seen = &seen[1..];
    for s in seen {
        assert_eq!(s.method, "PATCH");
        assert!(
            s.path.starts_with("/apis/apps/v1/namespaces/boutique/deployments/checkoutservice/scale?"),
            "{}",
            s.path
        );
        assert!(s.path.contains("fieldManager=twintop"), "{}", s.path);
        assert_eq!(s.content_type, "application/merge-patch+json");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&s.body).unwrap(),
            json!({"metadata": {"resourceVersion": "48213"}, "spec": {"replicas": 6}})
        );
    }
    assert!(seen[0].path.contains("dryRun=All"), "{}", seen[0].path);
    assert!(!seen[1].path.contains("dryRun"), "{}", seen[1].path);
}

#[tokio::test]
async fn hpa_and_cordon_patch_their_objects() {
    let hpa = r#"{"apiVersion":"autoscaling/v2","kind":"HorizontalPodAutoscaler","metadata":{"name":"frontend","namespace":"boutique","resourceVersion":"991"},"spec":{"minReplicas":5,"maxReplicas":30,"scaleTargetRef":{"kind":"Deployment","name":"frontend"}}}"#;
    let (url, seen) = api_server(200, hpa).await;
    let change = Change::HpaBounds { workload: "boutique/frontend".into(), min: 5, max: 30 };
    let version = read_version(&client(&url), &change, WorkloadKind::Deployment).await.unwrap();
    assert_eq!(version.as_deref(), Some("991"));
    apply(&client(&url), &change, WorkloadKind::Deployment, false, version.as_deref()).await.unwrap();
    let get = seen.lock().unwrap()[0].clone();
    assert_eq!(
        (get.method.as_str(), get.path.as_str()),
        ("GET", "/apis/autoscaling/v2/namespaces/boutique/horizontalpodautoscalers/frontend")
    );
    let s = seen.lock().unwrap()[1].clone();
    assert_eq!(s.method, "PATCH");
    assert!(
        s.path.starts_with("/apis/autoscaling/v2/namespaces/boutique/horizontalpodautoscalers/frontend?"),
        "{}",
        s.path
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&s.body).unwrap(),
        json!({"metadata": {"resourceVersion": "991"}, "spec": {"minReplicas": 5, "maxReplicas": 30}})
    );

    let node =
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"r3-07"},"spec":{"unschedulable":true}}"#;
    let (url, seen) = api_server(200, node).await;
    let cordon = Change::Cordon { server: "r3-07".into(), cordon: true };
    // A node's version moves with every heartbeat: a cordon is not pinned to one.
    assert_eq!(read_version(&client(&url), &cordon, WorkloadKind::Deployment).await.unwrap(), None);
    assert!(seen.lock().unwrap().is_empty(), "nothing read for a cordon");
    apply(&client(&url), &cordon, WorkloadKind::Deployment, false, None).await.unwrap();
    let s = seen.lock().unwrap()[0].clone();
    assert!(s.path.starts_with("/api/v1/nodes/r3-07?"), "{}", s.path);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&s.body).unwrap(),
        json!({"spec": {"unschedulable": true}})
    );
}

#[tokio::test]
async fn forbidden_and_conflict_are_explained() {
    let forbidden = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"deployments.apps \"checkoutservice\" is forbidden: User \"sre\" cannot patch resource","reason":"Forbidden","code":403}"#;
    let (url, _) = api_server(403, forbidden).await;
    let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 6 };
    let e = apply(&client(&url), &change, WorkloadKind::Deployment, true, None).await.unwrap_err();
    let ApplyError::Failed(e) = e else { panic!("403 is not a conflict: {e:?}") };
    assert!(e.starts_with("RBAC: not allowed to change boutique/checkoutservice"), "{e}");

    // The version read at approval is stale: the API server refuses the patch with 409.
    let conflict = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Operation cannot be fulfilled on deployments.apps \"checkoutservice\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","code":409}"#;
    let (url, seen) = api_server(409, conflict).await;
    let e = apply(&client(&url), &change, WorkloadKind::Deployment, false, Some("48213")).await.unwrap_err();
    let ApplyError::Conflict(e) = e else { panic!("409 must be reported as a conflict: {e:?}") };
    assert!(e.starts_with("boutique/checkoutservice changed since you approved: re-check"), "{e}");
    assert!(e.contains("409 Conflict"), "{e}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "a conflict is not retried: {seen:?}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&seen[0].body).unwrap()["metadata"]["resourceVersion"],
        "48213"
    );
}

#[tokio::test]
async fn access_review_asks_for_patch_on_the_subresource() {
    let allowed = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{},"status":{"allowed":true}}"#;
    let (url, seen) = api_server(201, allowed).await;
    let change = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 6 };
    assert!(can_apply(&client(&url), &change, WorkloadKind::Deployment).await.unwrap());
    let s = seen.lock().unwrap()[0].clone();
    assert_eq!(s.method, "POST");
    assert!(s.path.starts_with("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), "{}", s.path);
    let body: serde_json::Value = serde_json::from_str(&s.body).unwrap();
    let ra = &body["spec"]["resourceAttributes"];
    assert_eq!(ra["verb"], "patch");
    assert_eq!(ra["subresource"], "scale");
    assert_eq!(ra["namespace"], "boutique");
    let denied = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{},"status":{"allowed":false}}"#;
    let (url, _) = api_server(201, denied).await;
    assert!(!can_apply(&client(&url), &change, WorkloadKind::Deployment).await.unwrap());
}

const EVICTED: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Success","code":201}"#;

#[tokio::test]
async fn evict_posts_a_policy_v1_eviction_with_dry_run_first() {
    let (url, seen) = api_server(201, EVICTED).await;
    let c = client(&url);
    let change = Change::Evict {
        pod: "boutique/cartservice-x7k2p".into(),
        server: "r1-03".into(),
        to: Some("r2-01".into()),
    };
    let dry = apply(&c, &change, WorkloadKind::Deployment, true, None).await.unwrap();
    assert!(dry.starts_with("dry run:"), "{dry}");
    let done = apply(&c, &change, WorkloadKind::Deployment, false, None).await.unwrap();
    assert!(done.contains("evicted from r1-03"), "{done}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert!(
            s.path.starts_with("/api/v1/namespaces/boutique/pods/cartservice-x7k2p/eviction?"),
            "{}",
            s.path
        );
        assert!(s.path.contains("fieldManager=twintop"), "{}", s.path);
        let body: serde_json::Value = serde_json::from_str(&s.body).unwrap();
        assert_eq!(body["apiVersion"], "policy/v1");
        assert_eq!(body["kind"], "Eviction");
        assert_eq!(body["metadata"], json!({"name": "cartservice-x7k2p", "namespace": "boutique"}));
    }
    assert!(seen[0].path.contains("dryRun=All"), "{}", seen[0].path);
    let dry_body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(dry_body["deleteOptions"], json!({"dryRun": ["All"]}));
    assert!(!seen[1].path.contains("dryRun"), "{}", seen[1].path);
    assert!(!seen[1].body.contains("dryRun"), "{}", seen[1].body);
}

#[tokio::test]
async fn a_disruption_budget_refusal_is_reported() {
    let pdb = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Cannot evict pod as it would violate the pod's disruption budget.","reason":"TooManyRequests","code":429}"#;
    let (url, seen) = api_server(429, pdb).await;
    let change = Change::Evict { pod: "boutique/cartservice-x7k2p".into(), server: "r1-03".into(), to: None };
    // Without the client's retries: the answer itself.
    let mut cfg = kube::Config::new(url.parse().unwrap());
    cfg.default_retry = false;
    let once = Client::try_from(cfg).unwrap();
    let e = apply(&once, &change, WorkloadKind::Deployment, false, None).await.unwrap_err().to_string();
    assert!(e.contains("429") && e.contains("PodDisruptionBudget") && e.contains("nothing changed"), "{e}");
    assert!(e.contains("disruption budget"), "the server's own words are kept: {e}");
    // With them (as the console's client has): reported after EVICTION_PATIENCE (15 s), not
    // after the minutes of backoff the client would spend.
    seen.lock().unwrap().clear();
    let e =
        apply(&client(&url), &change, WorkloadKind::Deployment, false, None).await.unwrap_err().to_string();
    assert!(
        e.contains("429") && e.contains("PodDisruptionBudget") && e.contains("not accepted within"),
        "{e}"
    );
    assert!(seen.lock().unwrap().len() > 1, "the client did retry");
}

#[tokio::test]
async fn access_review_asks_to_create_the_eviction() {
    let allowed = r#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{},"status":{"allowed":true}}"#;
    let (url, seen) = api_server(201, allowed).await;
    let change = Change::Evict { pod: "boutique/cartservice-x7k2p".into(), server: "r1-03".into(), to: None };
    assert!(can_apply(&client(&url), &change, WorkloadKind::Deployment).await.unwrap());
    let body: serde_json::Value = serde_json::from_str(&seen.lock().unwrap()[0].body).unwrap();
    let ra = &body["spec"]["resourceAttributes"];
    assert_eq!(ra["verb"], "create");
    assert_eq!(ra["resource"], "pods");
    assert_eq!(ra["subresource"], "eviction");
    assert_eq!(ra["namespace"], "boutique");
    assert_eq!(ra["name"], "cartservice-x7k2p");
}
