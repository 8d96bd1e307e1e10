//! The mapping against real `kubectl get -o json` objects (k9s test data) and the full-field
//! round-trip fixtures of kubernetes/api: everything must parse and map.

use super::*;
use serde::de::DeserializeOwned;

fn load<T: DeserializeOwned>(rel: &str) -> T {
    let path = format!("{}/tests/data/api/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn k9s_node_maps_capacity_allocatable_and_labels() {
    let s = node_to_server(&load::<Node>("k9s/no.json")).unwrap();
    assert_eq!(s.name, "minikube");
    assert_eq!(s.capacity.cpu_m, 4000.0);
    assert_eq!(s.capacity.mem_mib, 8_165_556.0 / 1024.0);
    assert_eq!(s.allocatable.mem_mib, 8_063_156.0 / 1024.0);
    assert!(s.schedulable);
    assert_eq!(s.location, Location::default(), "minikube has no topology labels");
}

#[test]
fn topology_labels_legacy_fallback_and_cordon() {
    let mut n = load::<Node>("k9s/n1.json");
    let labels = n.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(LEGACY_ZONE.into(), "eu-west-1a".into());
    labels.insert(LEGACY_REGION.into(), "eu-west-1".into());
    labels.insert(LABEL_REGION.into(), "eu-central-1".into());
    labels.insert(LABEL_INSTANCE_TYPE.into(), "m5.large".into());
    n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
    let s = node_to_server(&n).unwrap();
    assert_eq!(s.location.region, "eu-central-1", "the GA label wins over the legacy one");
    assert_eq!(s.location.zone, "eu-west-1a", "legacy zone used when the GA one is absent");
    assert_eq!(s.hardware, "m5.large");
    assert!(!s.schedulable);
}

#[test]
fn bad_quantity_names_node_and_field() {
    let mut n = load::<Node>("k9s/no.json");
    n.status.as_mut().unwrap().allocatable.as_mut().unwrap().insert("cpu".into(), Quantity("4 cores".into()));
    let e = node_to_server(&n).unwrap_err().to_string();
    assert!(
        e.contains("Node minikube") && e.contains("status.allocatable.cpu") && e.contains("4 cores"),
        "{e}"
    );
}

#[test]
fn pod_requests_limits_init_and_sidecar_rules() {
    let none = ReplicaSetOwners::new();
    let p = pod_to_podspec(&load::<Pod>("k9s/po.json"), &none).unwrap();
    assert_eq!((p.requests.cpu_m, p.requests.mem_mib), (100.0, 70.0));
    assert_eq!(p.limits.map(|l| l.mem_mib), Some(170.0));
    assert_eq!(p.phase, PodPhase::Running);
    assert_eq!(p.workload, None);
    // One init container as large as the app container: max rule, not a sum.
    let p = pod_to_podspec(&load::<Pod>("k9s/po_init.json"), &none).unwrap();
    assert_eq!((p.requests.cpu_m, p.requests.mem_mib), (100.0, 70.0));
    // init 333m/333Mi, then a sidecar 20m/40Mi (restartPolicy Always), app 30m/10Mi:
    // max(30+20, 333) = 333 for both resources.
    let p = pod_to_podspec(&load::<Pod>("k9s/po_sidecar.json"), &none).unwrap();
    assert_eq!((p.requests.cpu_m, p.requests.mem_mib), (333.0, 333.0));
    assert_eq!(p.limits.map(|l| (l.cpu_m, l.mem_mib)), Some((333.0, 333.0)));
}

#[test]
fn pod_owner_chain_through_replicaset() {
    let pod = load::<Pod>("k9s/p1.json");
    let p = pod_to_podspec(&pod, &ReplicaSetOwners::new()).unwrap();
    assert_eq!(p.workload.as_deref(), Some("nginx"), "pod-template-hash suffix stripped");
    assert_eq!(p.requests.cpu_m, 200.0);
    // The ReplicaSet object, when known, decides.
    // k9s's ReplicaSet fixture carries apiVersion networking.k8s.io/v1 (a copy-paste slip in
    // its test data) which k8s-openapi rightly rejects; the object itself is a real apps/v1 one.
    let mut v: serde_json::Value = load("k9s/rs.json");
    assert!(serde_json::from_value::<ReplicaSet>(v.clone()).is_err());
    v["apiVersion"] = "apps/v1".into();
    let rs: ReplicaSet = serde_json::from_value(v).unwrap();
    let (key, dep) = replicaset_owner(&rs).unwrap();
    assert_eq!((key.as_str(), dep.as_str()), ("icx/icx-db-7d4b578979", "icx-db"));
    let owners: ReplicaSetOwners =
        [(format!("{}/nginx-7fb78fb6d8", p.namespace), "web-frontend".to_string())].into();
    assert_eq!(pod_workload(&pod, &owners).as_deref(), Some("web-frontend"));
    assert_eq!(p.reason, None, "a running pod has no scheduling verdict");
    // The same pod as the API shows it when the scheduler could not place it: the condition's
    // message is the reason `kubectl describe pod` gives.
    let mut v: serde_json::Value = load("k9s/p1.json");
    v["spec"]["nodeName"] = serde_json::Value::Null;
    v["status"] = serde_json::json!({"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/5 nodes are available: 5 Insufficient memory."}]});
    let p = pod_to_podspec(&serde_json::from_value(v).unwrap(), &ReplicaSetOwners::new()).unwrap();
    assert_eq!((p.phase, p.server.as_deref()), (PodPhase::Pending, None));
    assert_eq!(p.reason.as_deref(), Some("0/5 nodes are available: 5 Insufficient memory."));
}

#[test]
fn deployment_statefulset_hpa_v1() {
    let d = deployment_to_workload(&load::<Deployment>("k9s/dp.json")).unwrap();
    assert_eq!((d.key().as_str(), d.replicas), ("icx/icx-db", 1));
    assert_eq!((d.requests.cpu_m, d.requests.mem_mib), (250.0, 256.0));
    assert_eq!(d.limits.map(|l| l.mem_mib), Some(512.0));
    let s = statefulset_to_workload(&load::<StatefulSet>("k9s/sts.json")).unwrap();
    assert_eq!((s.kind, s.replicas, s.requests), (WorkloadKind::StatefulSet, 4, Resources::ZERO));
    let h = hpa_v1_to_hpa(&load::<hpa_v1::HorizontalPodAutoscaler>("k9s/hpa.json")).unwrap();
    assert_eq!(h.target, "default/nginx");
    assert_eq!((h.hpa.min_replicas, h.hpa.max_replicas), (1, 10));
    assert_eq!(h.hpa.metrics, [HpaMetric::CpuUtilization { target_pct: 10.0 }]);
    let mut ws = vec![Workload::new("nginx", "default", 1, Resources::ZERO), d];
    let orphans = attach_hpas(&mut ws, vec![h]);
    assert!(orphans.is_empty());
    assert_eq!(ws[0].hpa.as_ref().map(|h| h.max_replicas), Some(10));
    assert!(ws[1].hpa.is_none());
}

#[test]
fn hpa_v2_resource_and_custom_metrics() {
    let mut h =
        load::<hpa_v2::HorizontalPodAutoscaler>("kubernetes-api/autoscaling.v2.HorizontalPodAutoscaler.json");
    let m = h.spec.as_ref().unwrap().metrics.as_ref().unwrap()[0].clone();
    let mut cpu = m.clone();
    cpu.resource.as_mut().unwrap().name = "cpu".into();
    let mut custom = m.clone();
    custom.resource = None;
    custom.container_resource = None;
    custom.pods.as_mut().unwrap().target.average_utilization = None;
    custom.pods.as_mut().unwrap().target.average_value = Some(Quantity("250m".into()));
    h.spec.as_mut().unwrap().metrics = Some(vec![cpu, custom]);
    let t = hpa_v2_to_hpa(&h).unwrap();
    assert_eq!(t.target, "namespaceValue/nameValue");
    assert_eq!((t.hpa.min_replicas, t.hpa.max_replicas), (2, 3));
    assert_eq!(
        t.hpa.metrics,
        [
            HpaMetric::CpuUtilization { target_pct: 4.0 },
            HpaMetric::Other { name: "nameValue".into(), target: 0.25 }
        ]
    );
}

/// The kubernetes/api fixtures fill every field with placeholders ("nameValue", quantity "0",
/// phase "phaseValue"): the mapping must accept all of it, except values the API server
/// itself refuses (a taint effect "effectValue", a selector operator "operatorValue"), which
/// are errors naming the field.
#[test]
fn full_field_fixtures_all_map() {
    let mut node = load::<Node>("kubernetes-api/core.v1.Node.json");
    let e = node_to_server(&node).unwrap_err().to_string();
    assert!(e.contains("spec.taints[0].effect") && e.contains("effectValue"), "{e}");
    node.spec.as_mut().unwrap().taints.as_mut().unwrap()[0].effect = "NoExecute".into();
    let s = node_to_server(&node).unwrap();
    assert!(!s.schedulable);
    assert_eq!(s.capacity, Resources::ZERO);
    assert_eq!(s.taints[0].key, "keyValue");
    let p =
        pod_to_podspec(&load::<Pod>("kubernetes-api/core.v1.Pod.json"), &ReplicaSetOwners::new()).unwrap();
    assert_eq!(p.phase, PodPhase::Unknown);
    assert_eq!(p.workload, None, "owner kind kindValue is no workload");
    let mut d: serde_json::Value = load("kubernetes-api/apps.v1.Deployment.json");
    let e = deployment_to_workload(&serde_json::from_value(d.clone()).unwrap()).unwrap_err().to_string();
    assert!(e.contains("spec.tolerations[0].operator") && e.contains("operatorValue"), "{e}");
    // With the operators and effects made valid, every other placeholder maps.
    fix_placeholders(&mut d);
    let w = deployment_to_workload(&serde_json::from_value(d).unwrap()).unwrap();
    assert_eq!(
        w.scheduling.node_selector.get("nodeSelectorKey").map(String::as_str),
        Some("nodeSelectorValue")
    );
    assert_eq!(w.scheduling.anti_affinity[0].topology_key, "topologyKeyValue");
    let mut st: serde_json::Value = load("kubernetes-api/apps.v1.StatefulSet.json");
    fix_placeholders(&mut st);
    statefulset_to_workload(&serde_json::from_value(st).unwrap()).unwrap();
    hpa_v2_to_hpa(&load("kubernetes-api/autoscaling.v2.HorizontalPodAutoscaler.json")).unwrap();
    hpa_v1_to_hpa(&load("kubernetes-api/autoscaling.v1.HorizontalPodAutoscaler.json")).unwrap();
    let svc = service_info(&load("kubernetes-api/core.v1.Service.json")).unwrap();
    assert_eq!(svc.name, "nameValue");
    template_of_deployment(&load("kubernetes-api/apps.v1.Deployment.json")).unwrap();
    template_of_statefulset(&load("kubernetes-api/apps.v1.StatefulSet.json")).unwrap();
    let svc = service_info(&load("k9s/svc.json")).unwrap();
    assert_eq!(svc.selector.get("app").map(String::as_str), Some("dictionary1"));
}

/// Placeholder operators, effects and `whenUnsatisfiable` values made valid, everywhere.
fn fix_placeholders(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), x.as_str()) {
                    ("operator", Some("operatorValue")) => *x = "Exists".into(),
                    ("effect", Some("effectValue")) => *x = "NoSchedule".into(),
                    ("whenUnsatisfiable", Some(_)) => *x = "DoNotSchedule".into(),
                    _ => fix_placeholders(x),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(fix_placeholders),
        _ => {}
    }
}

/// Kubernetes' documented example of dependent environment variables: a reference to a
/// variable defined later stays as written, `$$` escapes, the rest expands.
#[test]
fn dependent_env_vars_expand_as_the_kubelet_does() {
    let path = format!(
        "{}/tests/data/manifests/kubernetes-website/dependent-envars.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let pod: Pod = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let c = &pod.spec.as_ref().unwrap().containers[0];
    let env: BTreeMap<String, String> =
        env::container_env(c, "default", &ConfigMaps::new()).into_iter().collect();
    assert_eq!(env["SERVICE_ADDRESS"], "https://172.17.0.1:80");
    assert_eq!(env["UNCHANGED_REFERENCE"], "$(PROTOCOL)://172.17.0.1:80");
    assert_eq!(env["ESCAPED_REFERENCE"], "$(PROTOCOL)://172.17.0.1:80");
}

/// Online Boutique's frontend with its cart address built from two variables, and its
/// checkout address read from a ConfigMap: both calls are in the graph.
#[test]
fn expanded_and_configmap_addresses_make_edges() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/manifests/online-boutique/kubernetes-manifests.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let docs: Vec<serde_json::Value> = crate::source::manifests::read::split_documents(&text)
        .into_iter()
        .filter_map(|(_, d)| serde_saphyr::from_str::<serde_json::Value>(&d).ok())
        .filter(|v| !v.is_null())
        .collect();
    let mut frontend: Deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == "frontend")
        .map(|d| serde_json::from_value(d.clone()).unwrap())
        .unwrap();
    let c = &mut frontend.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0];
    let env = c.env.as_mut().unwrap();
    let at = |env: &Vec<k8s_openapi::api::core::v1::EnvVar>, n: &str| {
        env.iter().position(|e| e.name == n).unwrap()
    };
    let cart = at(env, "CART_SERVICE_ADDR");
    env[cart].value = Some("$(CART_HOST):$(CART_PORT)".into());
    env.insert(
        cart,
        k8s_openapi::api::core::v1::EnvVar {
            name: "CART_PORT".into(),
            value: Some("7070".into()),
            ..Default::default()
        },
    );
    env.insert(
        cart,
        k8s_openapi::api::core::v1::EnvVar {
            name: "CART_HOST".into(),
            value: Some("cartservice".into()),
            ..Default::default()
        },
    );
    let checkout = at(env, "CHECKOUT_SERVICE_ADDR");
    env[checkout].value = None;
    env[checkout].value_from = Some(k8s_openapi::api::core::v1::EnvVarSource {
        config_map_key_ref: Some(k8s_openapi::api::core::v1::ConfigMapKeySelector {
            name: "endpoints".into(),
            key: "checkout".into(),
            optional: None,
        }),
        ..Default::default()
    });
    let config: ConfigMaps = [(
        ("default".to_string(), "endpoints".to_string()),
        [("checkout".to_string(), "checkoutservice:5050".to_string())].into(),
    )]
    .into();
    let t = template_of_deployment_with(&frontend, &config).unwrap();
    let env: BTreeMap<&str, &str> = t.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env["CART_SERVICE_ADDR"], "cartservice:7070");
    assert_eq!(env["CHECKOUT_SERVICE_ADDR"], "checkoutservice:5050");
    let to: Vec<String> = call_graph(&[t], &[]).into_iter().map(|e| e.to).collect();
    assert!(
        to.contains(&"default/cartservice".to_string())
            && to.contains(&"default/checkoutservice".to_string()),
        "{to:?}"
    );
}

#[test]
fn service_reference_forms() {
    let nss: std::collections::BTreeSet<String> = ["shop".to_string()].into();
    let s = |v: &str| graph::services_of_value(v, &nss);
    let one = |svc: &str, ns: Option<&str>| vec![(svc.to_string(), ns.map(str::to_string))];
    assert_eq!(
        s("kafka-0.kafka.data.svc.cluster.local:9092"),
        one("kafka", Some("data")),
        "a StatefulSet pod"
    );
    assert_eq!(s("svc.shop.svc.cluster.local"), one("svc", Some("shop")), "a Service named svc");
    assert_eq!(s("redis://:pw@cache.shop.svc:6379/0"), one("cache", Some("shop")));
    assert_eq!(s("jdbc:postgresql://db:5432/app"), one("db", None));
    assert_eq!(
        s("kafka-0.kafka.data.svc:9092,kafka-1.kafka.data.svc:9092"),
        one("kafka", Some("data")),
        "a list naming one Service twice"
    );
    assert_eq!(s("a:1, b:2").len(), 2);
    assert!(s("0.0.0.0:8081").is_empty());
    for name in
        ["REDIS_SERVER", "ZK_SERVERS", "OTEL_EXPORTER_OTLP_ENDPOINT", "DATABASE_URI", "db_host", "SENTRY_DSN"]
    {
        assert!(graph::is_address_var(name), "{name}");
    }
    assert!(!graph::is_address_var("ARGOCD_REPO_SERVER_LOGLEVEL"));
}
