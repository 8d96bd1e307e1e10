//! The simulator's scheduler applies Kubernetes' scheduling rules (`twin::scheduling`, the
//! same implementation the manifests placement uses): taints, nodeSelector, anti-affinity,
//! topology spread, and replacements after a node loss that still respect them.

use twintop::sim::{Scenario, run};

fn scenario(servers: &str, scheduling: &str, replicas: u32, events: &str) -> Scenario {
    let yaml = format!(
        r#"name: rules
latency: {{ preset: racks, intra_rack_ms: 1, inter_rack_ms: 5 }}
servers:
{servers}services:
  - name: shop/api
    replicas: {replicas}
    labels: {{ app: api }}
    scheduling: {scheduling}
    pod: {{ cpu_m: 100, mem_mib: 100, parallelism: 4, service_time: {{ type: exponential, mean: 5 }} }}
workflows:
  - {{ name: w, steps: [shop/api] }}
load:
  - {{ name: users, workflow: w, rate: 50, stop_s: 30 }}
events:
{events}"#
    );
    Scenario::from_yaml(&yaml, "rules.yaml").unwrap_or_else(|e| panic!("{e}"))
}

const ZONES: &str = "  - { name: a, count: 2, region: r, zone: za, rack: r1, cpu_m: 4000, mem_mib: 8000, labels: { topology.kubernetes.io/zone: za } }
  - { name: b, count: 2, region: r, zone: zb, rack: r2, cpu_m: 4000, mem_mib: 8000, labels: { topology.kubernetes.io/zone: zb } }
  - { name: gpu, count: 2, region: r, zone: zb, rack: r3, cpu_m: 4000, mem_mib: 8000, labels: { topology.kubernetes.io/zone: zb, pool: gpu }, taints: [ { key: dedicated, value: gpu, effect: NoSchedule } ] }
";

fn used(o: &twintop::sim::Outputs) -> Vec<String> {
    let mut v: Vec<String> = o.servers.iter().map(|s| s.name.clone()).collect();
    v.sort();
    v
}

#[test]
fn taints_keep_pods_off_unless_tolerated() {
    let o = run(&scenario(ZONES, "{}", 12, "  []\n"), 1).unwrap();
    assert!(used(&o).iter().all(|s| !s.starts_with("gpu")), "{:?}", used(&o));
    let tolerate = "{ node_selector: { pool: gpu }, tolerations: [ { key: dedicated, value: gpu, effect: NoSchedule } ] }";
    let o = run(&scenario(ZONES, tolerate, 4, "  []\n"), 1).unwrap();
    assert!(used(&o).iter().all(|s| s.starts_with("gpu")), "{:?}", used(&o));
    assert_eq!(o.pending_pods.max, 0);
}

#[test]
fn anti_affinity_on_the_hostname_leaves_the_extra_replicas_pending() {
    let anti = "{ anti_affinity: [ { selector: { match_labels: { app: api } }, topology_key: kubernetes.io/hostname } ] }";
    let o = run(&scenario(ZONES, anti, 6, "  []\n"), 1).unwrap();
    assert_eq!(o.servers.len(), 4, "one per untainted server: {:?}", used(&o));
    assert!(o.servers.iter().all(|s| s.max_pods == 1));
    assert_eq!(o.pending_pods.max, 2);
    // A node loss frees its server's slot only with the node: the replacement stays Pending,
    // and a new server lets it run.
    let o = run(&scenario(ZONES, anti, 4, "  - { at_s: 5, node_loss: a-001 }\n"), 1).unwrap();
    assert_eq!(o.pending_pods.last, 1, "no fifth untainted server");
}

#[test]
fn topology_spread_evens_out_zones() {
    let spread = "{ spread: [ { max_skew: 1, topology_key: topology.kubernetes.io/zone, selector: { match_labels: { app: api } } } ] }";
    let o = run(&scenario(ZONES, spread, 6, "  []\n"), 1).unwrap();
    let per_zone =
        |z: &str| -> u32 { o.servers.iter().filter(|s| s.name.starts_with(z)).map(|s| s.max_pods).sum() };
    assert_eq!((per_zone("a"), per_zone("b")), (3, 3), "{:?}", used(&o));
}

/// A what-if starts from the twin: a manifests twin's rules (a DaemonSet, Argo CD's
/// anti-affinity) reach the simulator, which keeps them while it scales and replaces pods.
#[test]
fn a_twin_s_rules_reach_the_simulator() {
    use twintop::source::manifests::{Datacenter, ReadOptions, load_paths};
    use twintop::twin::TwinStore;
    let data =
        |r: &str| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/manifests").join(r);
    let mut dc = Datacenter::demo(twintop::demo::DemoPreset::Dc);
    dc.servers.truncate(6);
    let events = load_paths(
        &[data("argocd/namespace-install-ha.yaml"), data("kubernetes-website/daemonset.yaml")],
        &ReadOptions::default(),
        dc,
        chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    )
    .unwrap();
    let mut st = TwinStore::default();
    st.apply_all(events);
    let snap = st.snapshot();
    let mut sc = twintop::sim::from_snapshot::scenario_from_snapshot(&snap, &Default::default());
    sc.duration_s = Some(30.0);
    let proxy = sc.services.iter().position(|s| s.name == "default/argocd-redis-ha-haproxy").unwrap();
    assert_eq!(sc.services[proxy].scheduling.anti_affinity.len(), 1);
    // Ask for more proxies than servers: the anti-affinity keeps one per server.
    sc.services[proxy].replicas = 8;
    let ds = sc.services.iter().position(|s| s.name == "kube-system/fluentd-elasticsearch").unwrap();
    assert_eq!(sc.services[ds].replicas, 6);
    let o = run(&sc, 1).unwrap();
    assert_eq!(o.replicas["default/argocd-redis-ha-haproxy"].max, 8, "created");
    assert!(o.pending_pods.last >= 2, "two proxies find no server of their own: {:?}", o.pending_pods);
    assert_eq!(o.replicas["kube-system/fluentd-elasticsearch"].last, 6);
}
