//! Where traffic enters a twin, and the call tree it follows from there. A load generator is a
//! traffic source, not a service: calls into it are ignored and the workloads it calls are
//! where users' requests arrive. Entries are workloads no one calls, the ones a source calls,
//! the ones that answer more requests than their callers send (traffic from outside, e.g.
//! through an ingress the twin does not see), and the ones marked `twintop.io/entry` (by a
//! label, by an Ingress or Gateway route in the manifests, or by `--entry`).

use super::scenario::{Balancer, CallSpec};
use crate::twin::{Snapshot, Workload};

/// Label naming what a workload is; `load-generator` makes it a traffic source.
pub const ROLE_LABEL: &str = "twintop.io/role";
pub const LOAD_GENERATOR: &str = "load-generator";
/// Label marking a workload where users' requests enter (`"true"`).
pub const ENTRY_LABEL: &str = "twintop.io/entry";
/// Label choosing how callers spread requests over the workload's pods: `random` (kube-proxy's
/// iptables mode, the default), `round-robin`, `least-request`.
pub const BALANCER_LABEL: &str = "twintop.io/balancer";

/// Calls of one workload to another per request, at most (beyond: a measurement error).
const MAX_CALLS_PER_REQUEST: f64 = 20.0;
/// Steps in one call tree, at most.
const MAX_TREE_STEPS: usize = 10_000;
/// Names load generators commonly go by, when no label says so.
const GENERATOR_NAMES: &[&str] = &[
    "loadgenerator",
    "load-generator",
    "loadgen",
    "locust",
    "k6",
    "jmeter",
    "vegeta",
    "fortio",
    "hey",
    "wrk",
];

/// Whether a workload generates traffic rather than serving it.
pub fn is_traffic_source(w: &Workload) -> bool {
    if let Some(role) = w.labels.get(ROLE_LABEL) {
        return role == LOAD_GENERATOR;
    }
    let name = w.name.to_ascii_lowercase();
    GENERATOR_NAMES.iter().any(|g| name == *g || name.starts_with(&format!("{g}-")))
}

/// How callers balance over a workload's pods (its `twintop.io/balancer` label).
pub fn balancer(w: &Workload) -> Balancer {
    match w.labels.get(BALANCER_LABEL).map(|v| v.to_ascii_lowercase()).as_deref() {
        Some("round-robin" | "round_robin" | "roundrobin") => Balancer::RoundRobin,
        Some("least-request" | "least_request" | "least-outstanding") => Balancer::LeastOutstanding,
        _ => Balancer::Random,
    }
}

/// Why traffic enters at a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A load generator: the workflow starts at it and its calls carry the users' requests.
    Source,
    /// No workload calls it.
    Uncalled,
    /// It answers more requests than its callers send: the rest comes from outside.
    Ingress,
    /// Marked `twintop.io/entry`.
    Marked,
}

/// An entry and the users' request rate there, when measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    pub workload: usize,
    pub kind: EntryKind,
    pub rps: Option<f64>,
}

/// The call graph between the twin's workloads: calls (with their measured rate, 0 when
/// unknown) and whether anyone calls a workload; calls into traffic sources are left out.
#[derive(Debug, Clone)]
pub struct CallGraph {
    pub callees: Vec<Vec<(usize, f64)>>,
    pub called: Vec<bool>,
    pub source: Vec<bool>,
    /// Calls per second into each workload, from all its callers.
    pub incoming: Vec<f64>,
}

impl CallGraph {
    pub fn of(snap: &Snapshot) -> CallGraph {
        let n = snap.workloads.len();
        let source: Vec<bool> = snap.workloads.iter().map(is_traffic_source).collect();
        let mut g = CallGraph {
            callees: vec![Vec::new(); n],
            called: vec![false; n],
            source,
            incoming: vec![0.0; n],
        };
        for e in &snap.edges {
            let (Some(a), Some(b)) = (snap.workload_index(&e.from), snap.workload_index(&e.to)) else {
                continue;
            };
            if a == b || g.source[b] {
                continue;
            }
            g.callees[a].push((b, e.rps.max(0.0)));
            g.called[b] = true;
            g.incoming[b] += e.rps.max(0.0);
        }
        g
    }
}

fn rps_of(snap: &Snapshot, w: usize) -> Option<f64> {
    snap.workload_status.get(w).and_then(|st| st.rps).filter(|r| *r > 0.0 && r.is_finite())
}

/// The rate a workload handles requests at: measured, else what it sends its callees (a
/// source), else none.
pub fn own_rate(snap: &Snapshot, g: &CallGraph, w: usize) -> Option<f64> {
    rps_of(snap, w).or_else(|| {
        let out: f64 = g.callees[w].iter().map(|c| c.1).sum();
        (g.source[w] && out > 0.0).then_some(out)
    })
}

/// Every entry of the twin, with the users' rate where it is measured.
pub fn entries(snap: &Snapshot, g: &CallGraph) -> Vec<Entry> {
    let mut out = Vec::new();
    for (w, wl) in snap.workloads.iter().enumerate() {
        let rps = own_rate(snap, g, w);
        if g.source[w] {
            if !g.callees[w].is_empty() {
                out.push(Entry { workload: w, kind: EntryKind::Source, rps });
            }
            continue;
        }
        if !g.called[w] {
            if !g.callees[w].is_empty() || rps.is_some() || marked(wl) {
                out.push(Entry { workload: w, kind: EntryKind::Uncalled, rps });
            }
            continue;
        }
        let extra = rps.map(|r| r - g.incoming[w]).filter(|x| rps.is_some_and(|r| *x > (0.1 * r).max(0.5)));
        if extra.is_some() {
            out.push(Entry { workload: w, kind: EntryKind::Ingress, rps: extra });
        } else if marked(wl) {
            out.push(Entry { workload: w, kind: EntryKind::Marked, rps: None });
        }
    }
    out
}

fn marked(w: &Workload) -> bool {
    w.labels.get(ENTRY_LABEL).is_some_and(|v| v == "true")
}

/// Where users' requests would enter, for a message asking to declare the load: the
/// workloads sources call, marked ones, then uncalled ones with callees (at most `max`).
pub fn entry_names(snap: &Snapshot, max: usize) -> Vec<String> {
    let g = CallGraph::of(snap);
    let mut v: Vec<String> = Vec::new();
    let mut push = |w: usize| {
        let name = snap.workloads[w].name.clone();
        if !v.contains(&name) {
            v.push(name);
        }
    };
    for e in entries(snap, &g) {
        match e.kind {
            EntryKind::Source => g.callees[e.workload].iter().for_each(|c| push(c.0)),
            EntryKind::Marked => push(e.workload),
            _ => {}
        }
    }
    for e in entries(snap, &g) {
        if matches!(e.kind, EntryKind::Uncalled | EntryKind::Ingress) {
            push(e.workload);
        }
    }
    v.truncate(max);
    v
}

/// The call tree below `w`: a callee called k times per request (edge rate / caller rate) is
/// k calls, the last with the fraction of k as its probability; with no rates, each once.
pub fn call_tree(snap: &Snapshot, g: &CallGraph, w: usize) -> CallSpec {
    let names: Vec<String> = snap.workloads.iter().map(|w| w.key()).collect();
    let mut budget = MAX_TREE_STEPS;
    tree(snap, g, &names, w, &mut Vec::new(), 1.0, &mut budget)
}

fn tree(
    snap: &Snapshot,
    g: &CallGraph,
    names: &[String],
    w: usize,
    path: &mut Vec<usize>,
    p: f64,
    budget: &mut usize,
) -> CallSpec {
    path.push(w);
    *budget = budget.saturating_sub(1);
    let mut calls = Vec::new();
    if path.len() <= 16 {
        let rate = own_rate(snap, g, w);
        for &(c, rps) in &g.callees[w] {
            if path.contains(&c) {
                continue;
            }
            let k = match rate {
                Some(r) if rps > 0.0 => (rps / r).clamp(0.0, MAX_CALLS_PER_REQUEST),
                _ => 1.0,
            };
            let whole = k.floor() as usize;
            let frac = k - whole as f64;
            for i in 0..whole + usize::from(frac > 1e-3) {
                if *budget == 0 {
                    break;
                }
                let prob = if i < whole { 1.0 } else { frac };
                calls.push(tree(snap, g, names, c, path, prob, budget));
            }
        }
    }
    path.pop();
    CallSpec { service: names[w].clone(), probability: p, calls }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::{Edge, Resources, TwinEvent, TwinStore};

    fn twin(
        workloads: &[(&str, Option<&str>)],
        edges: &[(&str, &str, f64)],
        rps: &[(&str, f64)],
    ) -> Snapshot {
        let mut s = TwinStore::default();
        for (name, role) in workloads {
            let mut w = Workload::new(name, "shop", 1, Resources::new(100.0, 64.0, 0.0));
            if let Some(r) = role {
                w.labels.insert(ROLE_LABEL.into(), r.to_string());
            }
            s.apply(TwinEvent::Workload(w));
        }
        let edges = edges
            .iter()
            .map(|(a, b, r)| Edge {
                from: format!("shop/{a}"),
                to: format!("shop/{b}"),
                rps: *r,
                origin: String::new(),
            })
            .collect();
        s.apply(TwinEvent::Edges { origin: "env".into(), edges });
        for (w, r) in rps {
            s.apply(TwinEvent::WorkloadMetrics {
                key: format!("shop/{w}"),
                rps: Some(*r),
                p50_ms: None,
                p99_ms: None,
                usage: None,
            });
        }
        (*s.snapshot()).clone()
    }

    #[test]
    fn a_load_generator_is_a_source_even_when_the_frontend_calls_it() {
        // The manifests' env vars say each calls the other: without the source rule nobody is
        // uncalled and traffic would enter nowhere (or at the leaves).
        let s = twin(
            &[("loadgenerator", None), ("frontend", None), ("cart", None)],
            &[
                ("loadgenerator", "frontend", 0.0),
                ("frontend", "loadgenerator", 0.0),
                ("frontend", "cart", 0.0),
            ],
            &[],
        );
        let g = CallGraph::of(&s);
        let e = entries(&s, &g);
        let lg = s.workload_index("loadgenerator").unwrap();
        assert_eq!(e, vec![Entry { workload: lg, kind: EntryKind::Source, rps: None }]);
        assert_eq!(entry_names(&s, 3), vec!["frontend".to_string()]);
        let tree = call_tree(&s, &g, lg);
        assert_eq!(tree.calls[0].service, "shop/frontend");
        assert_eq!(tree.calls[0].calls[0].service, "shop/cart");
    }

    #[test]
    fn traffic_from_outside_makes_an_entry_and_calls_per_request_repeat() {
        // web answers 100 rps but api sends it 30: 70 come from outside. web calls db twice
        // and cache on one request in two.
        let s = twin(
            &[("api", None), ("web", None), ("db", None), ("cache", None)],
            &[("api", "web", 30.0), ("web", "db", 200.0), ("web", "cache", 50.0)],
            &[("api", 30.0), ("web", 100.0)],
        );
        let g = CallGraph::of(&s);
        let web = s.workload_index("web").unwrap();
        let e = entries(&s, &g);
        assert!(e.contains(&Entry { workload: web, kind: EntryKind::Ingress, rps: Some(70.0) }), "{e:?}");
        let t = call_tree(&s, &g, web);
        let probs: Vec<(String, f64)> = t.calls.iter().map(|c| (c.service.clone(), c.probability)).collect();
        assert_eq!(probs, vec![("shop/db".into(), 1.0), ("shop/db".into(), 1.0), ("shop/cache".into(), 0.5)]);
    }

    #[test]
    fn labels_choose_role_and_balancer() {
        let mut w = Workload::new("traffic", "x", 1, Resources::ZERO);
        assert!(!is_traffic_source(&w));
        w.labels.insert(ROLE_LABEL.into(), LOAD_GENERATOR.into());
        assert!(is_traffic_source(&w));
        let mut named = Workload::new("locust-master", "x", 1, Resources::ZERO);
        assert!(is_traffic_source(&named));
        named.labels.insert(ROLE_LABEL.into(), "service".into());
        assert!(!is_traffic_source(&named), "a label says otherwise");
        w.labels.insert(BALANCER_LABEL.into(), "round-robin".into());
        assert_eq!(balancer(&w), Balancer::RoundRobin);
    }
}
