//! The rules against hand-worked cases, with kube-scheduler's messages.

use super::*;

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
    Taint { key: key.into(), value: value.into(), effect }
}

fn tol(key: &str, exists: bool, value: &str, effect: Option<TaintEffect>) -> Toleration {
    Toleration { key: key.into(), exists, value: value.into(), effect }
}

#[test]
fn tolerations_follow_the_api_rules() {
    let t = taint("dedicated", "gpu", TaintEffect::NoSchedule);
    assert!(tol("dedicated", false, "gpu", None).tolerates(&t));
    assert!(!tol("dedicated", false, "cpu", None).tolerates(&t), "Equal needs the value");
    assert!(tol("dedicated", true, "", None).tolerates(&t), "Exists: any value");
    assert!(!tol("dedicated", true, "", Some(TaintEffect::NoExecute)).tolerates(&t), "other effect");
    assert!(tol("", true, "", None).tolerates(&t), "empty key with Exists: every taint");
    assert!(!tol("", false, "", None).tolerates(&t), "empty key needs Exists");
    assert!(!tol("other", true, "", None).tolerates(&t));
}

#[test]
fn node_filter_order_and_messages() {
    let l = labels(&[("disk", "ssd"), ("kubernetes.io/os", "linux")]);
    let taints = [taint("node-role.kubernetes.io/control-plane", "", TaintEffect::NoSchedule)];
    let mut node = Node { name: "cp-1", labels: &l, taints: &taints, schedulable: false };
    let mut pod = Scheduling { node_selector: labels(&[("disk", "hdd")]), ..Default::default() };
    // Cordon first, then the taint, then the selector.
    assert_eq!(node_filter(&pod, &node), Err(Unfit::Unschedulable));
    node.schedulable = true;
    let e = node_filter(&pod, &node).unwrap_err();
    assert_eq!(e.to_string(), "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }");
    pod.tolerations.push(tol(
        "node-role.kubernetes.io/control-plane",
        true,
        "",
        Some(TaintEffect::NoSchedule),
    ));
    assert_eq!(node_filter(&pod, &node), Err(Unfit::NodeAffinity));
    pod.node_selector = labels(&[("disk", "ssd")]);
    assert_eq!(node_filter(&pod, &node), Ok(()));
    // PreferNoSchedule only scores.
    let soft = [taint("spot", "true", TaintEffect::PreferNoSchedule)];
    assert_eq!(node_filter(&Scheduling::default(), &Node { taints: &soft, ..node }), Ok(()));
    // DaemonSet pods tolerate the cordon.
    let ds = Scheduling { tolerations: Toleration::daemonset_defaults(), ..Default::default() };
    assert_eq!(node_filter(&ds, &Node { taints: &[], schedulable: false, ..node }), Ok(()));
}

#[test]
fn required_node_affinity_terms_are_ored_and_requirements_anded() {
    let l = labels(&[("topology.kubernetes.io/zone", "eu-1a"), ("cores", "16")]);
    let node = Node { name: "n1", labels: &l, taints: &[], schedulable: true };
    let req = |key: &str, op: Operator, values: &[&str]| Requirement {
        key: key.into(),
        operator: op,
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    let term = |r: Vec<Requirement>| NodeSelectorTerm { match_expressions: r, match_fields: Vec::new() };
    let pod = |terms: Vec<NodeSelectorTerm>| Scheduling { node_affinity: terms, ..Default::default() };
    let zone_b = term(vec![req("topology.kubernetes.io/zone", Operator::In, &["eu-1b"])]);
    assert!(!pod(vec![zone_b.clone()]).matches_node_affinity(&node));
    let big = term(vec![req("cores", Operator::Gt, &["8"]), req("gpu", Operator::DoesNotExist, &[])]);
    assert!(pod(vec![zone_b, big]).matches_node_affinity(&node), "second term matches");
    assert!(!pod(vec![term(vec![req("cores", Operator::Lt, &["8"])])]).matches_node_affinity(&node));
    assert!(!pod(vec![term(Vec::new())]).matches_node_affinity(&node), "an empty term matches nothing");
    let by_name = NodeSelectorTerm {
        match_expressions: Vec::new(),
        match_fields: vec![req("metadata.name", Operator::In, &["n1"])],
    };
    assert!(pod(vec![by_name]).matches_node_affinity(&node));
    assert!(req("zone", Operator::NotIn, &["x"]).matches(&l), "NotIn holds when the label is absent");
}

#[test]
fn fit_error_reads_like_kubectl_describe() {
    let per_node = vec![
        vec![Unfit::Taint { key: "node-role.kubernetes.io/control-plane".into(), value: String::new() }],
        vec![Unfit::Insufficient("cpu"), Unfit::Insufficient("memory")],
        vec![Unfit::Insufficient("cpu")],
    ];
    assert_eq!(
        fit_error(3, &per_node),
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint \
         {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."
    );
}

fn nodes<'a>(ls: &'a [BTreeMap<String, String>], names: &'a [String]) -> Vec<Node<'a>> {
    ls.iter().zip(names).map(|(l, n)| Node { name: n, labels: l, taints: &[], schedulable: true }).collect()
}

fn group(app: &str, scheduling: Scheduling) -> GroupSpec {
    GroupSpec { namespace: "shop".into(), labels: labels(&[("app", app)]), scheduling }
}

fn selector(app: &str) -> Option<LabelSelector> {
    Some(LabelSelector { match_labels: labels(&[("app", app)]), match_expressions: Vec::new() })
}

/// Places pods of `g` one by one on the first node the rules admit.
fn place(p: &mut Placement, g: usize, n: usize, count: usize) -> Vec<Result<usize, Vec<Unfit>>> {
    (0..count)
        .map(|_| {
            let rules = p.for_pod(g);
            let mut why = Vec::new();
            for node in 0..n {
                match rules.check(node) {
                    Ok(()) => {
                        drop(rules);
                        p.add(g, node);
                        return Ok(node);
                    }
                    Err(e) => why.push(e),
                }
            }
            Err(why)
        })
        .collect()
}

#[test]
fn anti_affinity_on_hostname_and_zone() {
    let ls: Vec<_> = ["a", "a", "b"].iter().map(|z| labels(&[("topology.kubernetes.io/zone", z)])).collect();
    let names: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
    let ns = nodes(&ls, &names);
    let term = |key: &str| PodAffinityTerm {
        selector: selector("zk"),
        topology_key: key.into(),
        ..Default::default()
    };
    // Hostname: the kubelet label is absent here, so the node name stands in for it.
    let zk = group("zk", Scheduling { anti_affinity: vec![term(HOSTNAME_LABEL)], ..Default::default() });
    let mut p = Placement::new(&ns, std::slice::from_ref(&zk));
    let got = place(&mut p, 0, 3, 4);
    assert_eq!(got[..3], [Ok(0), Ok(1), Ok(2)]);
    assert_eq!(got[3], Err(vec![Unfit::AntiAffinity; 3]));
    // Zone: one per zone.
    let zk = group(
        "zk",
        Scheduling { anti_affinity: vec![term("topology.kubernetes.io/zone")], ..Default::default() },
    );
    let mut p = Placement::new(&ns, &[zk]);
    let got = place(&mut p, 0, 3, 3);
    assert_eq!(got[..2], [Ok(0), Ok(2)]);
    assert!(got[2].is_err());
    // Removing a pod frees its domain again.
    p.remove(0, 0);
    assert_eq!(p.for_pod(0).check(1), Ok(()));
}

#[test]
fn existing_pods_anti_affinity_keeps_others_out() {
    let ls = vec![BTreeMap::new(), BTreeMap::new()];
    let names: Vec<String> = vec!["n0".into(), "n1".into()];
    let ns = nodes(&ls, &names);
    // `db` refuses to share a node with `cache`; `cache` says nothing.
    let db = group(
        "db",
        Scheduling {
            anti_affinity: vec![PodAffinityTerm {
                selector: selector("cache"),
                topology_key: HOSTNAME_LABEL.into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let cache = group("cache", Scheduling::default());
    let mut p = Placement::new(&ns, &[db, cache]);
    assert!(p.constrained(1), "cache is selected by db's term");
    p.add(0, 0);
    let rules = p.for_pod(1);
    assert_eq!(rules.check(0), Err(Unfit::ExistingAntiAffinity));
    assert_eq!(rules.check(1), Ok(()));
    // Another namespace is not selected.
    let other = GroupSpec { namespace: "other".into(), ..group("cache", Scheduling::default()) };
    let p = Placement::new(&ns, &[group("db", Scheduling::default()), other]);
    assert!(!p.constrained(1));
}

#[test]
fn topology_spread_do_not_schedule() {
    let zone = |z: &str| labels(&[("zone", z)]);
    let ls = vec![zone("a"), zone("a"), zone("b"), BTreeMap::new()];
    let names: Vec<String> = (0..4).map(|i| format!("n{i}")).collect();
    let ns = nodes(&ls, &names);
    let spread = |max_skew, min_domains| SpreadConstraint {
        max_skew,
        topology_key: "zone".into(),
        selector: selector("web"),
        min_domains,
    };
    let web = group("web", Scheduling { spread: vec![spread(1, None)], ..Default::default() });
    let mut p = Placement::new(&ns, &[web]);
    // First-fit order: n0 (a), then a is ahead by one so b (n2), then a again.
    let got = place(&mut p, 0, 4, 3);
    assert_eq!(got, [Ok(0), Ok(2), Ok(0)]);
    let rules = p.for_pod(0);
    assert_eq!(rules.check(1), Err(Unfit::Spread), "zone a has 2, b has 1: skew would be 2");
    assert_eq!(rules.check(3), Err(Unfit::SpreadMissingLabel));
    assert_eq!(rules.check(2), Ok(()));
    // minDomains 3 with only 2 zones: the global minimum counts as 0, so each zone takes one.
    let web = group("web", Scheduling { spread: vec![spread(1, Some(3))], ..Default::default() });
    let mut p = Placement::new(&ns, &[web]);
    let got = place(&mut p, 0, 3, 3);
    assert_eq!(got[..2], [Ok(0), Ok(2)]);
    assert_eq!(got[2], Err(vec![Unfit::Spread; 3]));
}

#[test]
fn spread_counts_only_nodes_the_pod_may_use() {
    // Zone c exists only on a node the pod's selector excludes: it does not hold the minimum at 0.
    let ls = vec![
        labels(&[("zone", "a"), ("pool", "web")]),
        labels(&[("zone", "b"), ("pool", "web")]),
        labels(&[("zone", "c"), ("pool", "batch")]),
    ];
    let names: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
    let ns = nodes(&ls, &names);
    let web = group(
        "web",
        Scheduling {
            node_selector: labels(&[("pool", "web")]),
            spread: vec![SpreadConstraint {
                max_skew: 1,
                topology_key: "zone".into(),
                selector: selector("web"),
                min_domains: None,
            }],
            ..Default::default()
        },
    );
    let mut p = Placement::new(&ns, &[web]);
    let got = place(&mut p, 0, 2, 4);
    assert_eq!(got, [Ok(0), Ok(1), Ok(0), Ok(1)]);
}
