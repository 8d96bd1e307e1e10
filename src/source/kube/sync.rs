//! Turns what the reflectors recorded into `TwinEvent`s: maps only the objects that changed
//! (whole kinds after a re-list), remembers what it sent, and sends only differences, so a
//! status-only pod update costs nothing downstream.

use super::map;
use super::watch::{Health, Kind, Pending, Shared, Stores};
use crate::source::k8s_map::{self, MapError, ORIGIN_ANNOTATION, ORIGIN_ENV};
use crate::twin::{Edge, Feed, FeedState, Hpa, Measured, PodSpec, Resources, Server, TwinEvent, Workload};
use chrono::Utc;
use kube::runtime::reflector::ObjectRef;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// A watch erroring for longer than the watcher's longest back-off without another error has
/// recovered (the watcher reports failures, not quiet successes).
const RECOVERED_AFTER: Duration = Duration::from_secs(40);

pub(crate) struct Mapper {
    stores: Stores,
    servers: HashMap<String, Server>,
    pods: HashMap<String, PodSpec>,
    workloads: HashMap<String, Workload>,
    /// `ns/replicaset` → its Deployment.
    rs_owner: HashMap<String, Option<String>>,
    /// `ns/hpa` → (target workload key, HPA).
    hpas: HashMap<String, (String, Hpa)>,
    edges: Vec<Edge>,
    feed: Option<(FeedState, String)>,
    metrics_error: Option<String>,
}

fn obj_ref<K: kube::Resource<DynamicType = ()>>(key: &str) -> ObjectRef<K> {
    match key.split_once('/') {
        Some((ns, name)) => ObjectRef::new(name).within(ns),
        None => ObjectRef::new(key),
    }
}

/// An object that does not map is left out of the twin, with a notice naming it and the field.
fn mapped<T>(r: Option<Result<T, MapError>>, out: &mut Vec<TwinEvent>) -> Option<T> {
    match r? {
        Ok(v) => Some(v),
        Err(e) => {
            out.push(TwinEvent::Notice(format!("left out of the twin: {e}")));
            None
        }
    }
}

fn keys_of<K: kube::Resource<DynamicType = ()> + Clone>(
    s: &kube::runtime::reflector::Store<K>,
) -> Vec<String> {
    s.state().iter().map(|o| super::watch::key_of(o.meta())).collect()
}

impl Mapper {
    pub(crate) fn new(stores: Stores) -> Mapper {
        Mapper {
            stores,
            servers: HashMap::new(),
            pods: HashMap::new(),
            workloads: HashMap::new(),
            rs_owner: HashMap::new(),
            hpas: HashMap::new(),
            edges: Vec::new(),
            feed: None,
            metrics_error: None,
        }
    }

    /// The keys to re-map for `kind`: touched ones, or everything known after a re-list.
    fn dirty(&self, p: &mut Pending, kind: Kind) -> HashSet<String> {
        let mut set = p.touched.remove(&kind).unwrap_or_default();
        if p.relisted.contains(&kind) {
            let st = &self.stores;
            set.extend(match kind {
                Kind::Node => keys_of(&st.nodes),
                Kind::Pod => keys_of(&st.pods),
                Kind::Deployment => keys_of(&st.deployments),
                Kind::StatefulSet => keys_of(&st.statefulsets),
                Kind::ReplicaSet => keys_of(&st.replicasets),
                Kind::Hpa => keys_of(&st.hpas),
                Kind::Service => keys_of(&st.services),
                Kind::EndpointSlice => keys_of(&st.slices),
            });
            set.extend(match kind {
                Kind::Node => self.servers.keys().cloned().collect::<Vec<_>>(),
                Kind::Pod => self.pods.keys().cloned().collect(),
                Kind::Deployment | Kind::StatefulSet => self.workloads.keys().cloned().collect(),
                Kind::ReplicaSet => self.rs_owner.keys().cloned().collect(),
                Kind::Hpa => self.hpas.keys().cloned().collect(),
                Kind::Service | Kind::EndpointSlice => Vec::new(),
            });
        }
        set
    }

    /// Everything that changed since the last call, as events (empty when nothing did).
    pub(crate) fn flush(&mut self, mut p: Pending, shared: &Shared) -> Vec<TwinEvent> {
        let mut out: Vec<TwinEvent> = Vec::new();
        let edges_dirty = [Kind::Deployment, Kind::StatefulSet, Kind::Service, Kind::EndpointSlice]
            .iter()
            .any(|k| p.relisted.contains(k) || p.touched.get(k).is_some_and(|s| !s.is_empty()));

        let mut pods = self.dirty(&mut p, Kind::Pod);
        let rs_changed = self.sync_replicasets(&mut p);
        if !rs_changed.is_empty() {
            for pod in self.stores.pods.state() {
                let owner =
                    pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
                if let (Some(o), Some(ns)) = (owner, &pod.metadata.namespace)
                    && rs_changed.contains(&format!("{ns}/{}", o.name))
                {
                    pods.insert(super::watch::key_of(&pod.metadata));
                }
            }
        }
        let mut workloads = self.dirty(&mut p, Kind::Deployment);
        workloads.extend(self.dirty(&mut p, Kind::StatefulSet));
        workloads.extend(self.sync_hpas(&mut p, &mut out));

        for key in self.dirty(&mut p, Kind::Node) {
            let server = self.stores.nodes.get(&obj_ref(&key)).map(|n| k8s_map::node_to_server(&n));
            match mapped(server, &mut out) {
                Some(s) if self.servers.get(&key) != Some(&s) => {
                    self.servers.insert(key, s.clone());
                    out.push(TwinEvent::Server(s));
                }
                Some(_) => {}
                None => {
                    if self.servers.remove(&key).is_some() {
                        out.push(TwinEvent::ServerGone(key));
                    }
                }
            }
        }
        for key in workloads {
            match mapped(self.map_workload(&key), &mut out) {
                Some(w) if self.workloads.get(&key) != Some(&w) => {
                    self.workloads.insert(key, w.clone());
                    out.push(TwinEvent::Workload(w));
                }
                Some(_) => {}
                None => {
                    if self.workloads.remove(&key).is_some() {
                        out.push(TwinEvent::WorkloadGone(key));
                    }
                }
            }
        }
        for key in pods {
            let rs_owner = |ns: &str, rs: &str| self.rs_owner.get(&format!("{ns}/{rs}")).cloned();
            let spec = self.stores.pods.get(&obj_ref(&key)).map(|p| map::pod_to_spec(&p, rs_owner));
            match mapped(spec, &mut out) {
                Some(s) if self.pods.get(&key) != Some(&s) => {
                    self.pods.insert(key, s.clone());
                    out.push(TwinEvent::Pod(s));
                }
                Some(_) => {}
                None => {
                    if self.pods.remove(&key).is_some() {
                        out.push(TwinEvent::PodGone(key));
                    }
                }
            }
        }
        if edges_dirty {
            let edges = self.declared_edges();
            if edges != self.edges {
                self.edges = edges.clone();
                for origin in [ORIGIN_ENV, ORIGIN_ANNOTATION] {
                    let edges = edges.iter().filter(|e| e.origin == origin).cloned().collect();
                    out.push(TwinEvent::Edges { origin: origin.into(), edges });
                }
            }
        }
        if let Some(m) = p.metrics.take() {
            self.metrics_error = None;
            out.extend(self.metrics_events(m));
        } else if p.tick {
            out.push(TwinEvent::Tick(Utc::now()));
        }
        if let Some(e) = p.metrics_error {
            self.metrics_error = Some(e);
        }
        out.extend(p.notices.into_iter().map(TwinEvent::Notice));
        if let Some(feed) = self.feed(shared) {
            out.push(TwinEvent::Feed(feed));
        }
        out
    }

    /// Updates ReplicaSet owners; returns the ReplicaSets whose owner changed.
    fn sync_replicasets(&mut self, p: &mut Pending) -> HashSet<String> {
        let mut changed = HashSet::new();
        for key in self.dirty(p, Kind::ReplicaSet) {
            let now = self
                .stores
                .replicasets
                .get(&obj_ref(&key))
                .map(|r| k8s_map::replicaset_owner(&r).map(|(_, deployment)| deployment));
            let before = match &now {
                Some(o) => self.rs_owner.insert(key.clone(), o.clone()),
                None => self.rs_owner.remove(&key),
            };
            if before != now {
                changed.insert(key);
            }
        }
        changed
    }

    /// Updates HPAs; returns the workload keys whose HPA changed.
    fn sync_hpas(&mut self, p: &mut Pending, out: &mut Vec<TwinEvent>) -> HashSet<String> {
        let mut targets = HashSet::new();
        for key in self.dirty(p, Kind::Hpa) {
            let now = mapped(self.stores.hpas.get(&obj_ref(&key)).and_then(|h| map::hpa_to_twin(&h)), out);
            let before = match &now {
                Some(v) => self.hpas.insert(key.clone(), v.clone()),
                None => self.hpas.remove(&key),
            };
            if before != now {
                targets.extend(before.map(|b| b.0));
                targets.extend(now.map(|n| n.0));
            }
        }
        targets
    }

    fn map_workload(&self, key: &str) -> Option<Result<Workload, MapError>> {
        let w = match self.stores.deployments.get(&obj_ref(key)) {
            Some(d) => k8s_map::deployment_to_workload(&d),
            None => k8s_map::statefulset_to_workload(&*self.stores.statefulsets.get(&obj_ref(key))?),
        };
        let mut w = match w {
            Ok(w) => w,
            Err(e) => return Some(Err(e)),
        };
        // Several HPAs on one target is a misconfiguration; the first by name is shown.
        w.hpa = self
            .hpas
            .iter()
            .filter(|(_, (t, _))| t == key)
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, (_, h))| h.clone());
        Some(Ok(w))
    }

    /// Edges from env vars and `twintop.io/calls` annotations (objects that do not map were
    /// already named in a notice when their workload was mapped).
    fn declared_edges(&self) -> Vec<Edge> {
        let mut templates = Vec::new();
        templates.extend(
            self.stores.deployments.state().iter().filter_map(|d| k8s_map::template_of_deployment(d).ok()),
        );
        templates.extend(
            self.stores.statefulsets.state().iter().filter_map(|s| k8s_map::template_of_statefulset(s).ok()),
        );
        let services: Vec<_> =
            self.stores.services.state().iter().filter_map(|s| k8s_map::service_info(s).ok()).collect();
        map::call_graph(templates, &services, |ns, svc| self.slice_workloads(ns, svc))
    }

    /// Workloads behind a Service without a selector, from its EndpointSlices' pod references.
    fn slice_workloads(&self, ns: &str, svc: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for slice in self.stores.slices.state() {
            let labels = slice.metadata.labels.as_ref();
            if slice.metadata.namespace.as_deref() != Some(ns)
                || labels.and_then(|l| l.get("kubernetes.io/service-name")).map(String::as_str) != Some(svc)
            {
                continue;
            }
            for ep in &slice.endpoints {
                let Some(r) = ep.target_ref.as_ref().filter(|r| r.kind.as_deref() == Some("Pod")) else {
                    continue;
                };
                let pod_key = format!("{ns}/{}", r.name.as_deref().unwrap_or(""));
                if let Some(w) = self.pods.get(&pod_key).and_then(|p| p.workload.as_ref()) {
                    let k = format!("{ns}/{w}");
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
        }
        keys
    }

    fn metrics_events(&self, m: super::watch::MetricsRound) -> Vec<TwinEvent> {
        let mut out: Vec<TwinEvent> = m
            .nodes
            .into_iter()
            .filter(|(n, _)| self.servers.contains_key(n))
            // metrics-server has no network figures: leave VictoriaMetrics' in place.
            .map(|(server, u)| TwinEvent::ServerUsage {
                server,
                usage: Measured::cpu_mem(u.cpu_m, u.mem_mib),
            })
            .collect();
        let mut per_workload: BTreeMap<String, Resources> = BTreeMap::new();
        for (ns, pod, usage) in m.pods {
            if let Some(w) = self.pods.get(&format!("{ns}/{pod}")).and_then(|p| p.workload.as_ref()) {
                let e = per_workload.entry(format!("{ns}/{w}")).or_default();
                *e = e.add(&usage);
            }
        }
        out.extend(per_workload.into_iter().map(|(key, usage)| TwinEvent::WorkloadMetrics {
            key,
            rps: None,
            p50_ms: None,
            p99_ms: None,
            usage: Some(Measured::cpu_mem(usage.cpu_m, usage.mem_mib)),
        }));
        out.push(TwinEvent::Tick(Utc::now()));
        out
    }

    /// The `kube` feed, when its state or detail changed.
    fn feed(&mut self, shared: &Shared) -> Option<Feed> {
        let (state, detail) = feed_state(
            &shared.health(),
            &shared.scope.describe(),
            &shared.server,
            self.metrics_error.clone(),
        );
        if self.feed.as_ref() == Some(&(state, detail.clone())) {
            return None;
        }
        self.feed = Some((state, detail.clone()));
        Some(Feed { name: "kube".into(), state, detail, updated: Some(Utc::now()) })
    }
}

/// Ok when every watch is listed (or known to be unavailable), Stale while listing or while
/// some watches fail, Down when every watch that could work fails.
pub(crate) fn feed_state(
    health: &BTreeMap<Kind, Health>,
    scope: &str,
    server: &str,
    metrics_error: Option<String>,
) -> (FeedState, String) {
    let mut failing: Vec<String> = Vec::new();
    let mut listing: Vec<&str> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let mut usable = 0;
    for (k, h) in health {
        match h {
            Health::Failing { last, error } if last.elapsed() < RECOVERED_AFTER => {
                failing.push(format!("{}: {error}", k.plural()))
            }
            Health::Failing { .. } | Health::Ready => usable += 1,
            Health::Listing => listing.push(k.plural()),
            Health::Forbidden | Health::Missing => missing.push(k.plural()),
        }
    }
    let unavailable =
        if missing.is_empty() { String::new() } else { format!("; unavailable: {}", missing.join(", ")) };
    if !failing.is_empty() {
        let state = if usable == 0 && listing.is_empty() { FeedState::Down } else { FeedState::Stale };
        let what =
            if state == FeedState::Down { format!("cannot reach {server}") } else { "retrying".into() };
        return (state, format!("{what}: {}{unavailable}", failing.join("; ")));
    }
    if !listing.is_empty() {
        return (FeedState::Stale, format!("listing {} from {server}", listing.join(", ")));
    }
    let metrics = metrics_error.map(|e| format!("; metrics.k8s.io: {e}")).unwrap_or_default();
    (FeedState::Ok, format!("watching {usable} resources {scope}{unavailable}{metrics}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::{self, store::Writer};
    use kube::runtime::watcher::Event;
    use serde_json::json;
    use std::time::Instant;

    fn fill<K>(w: &mut Writer<K>, objs: Vec<serde_json::Value>)
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned,
    {
        w.apply_watcher_event(&Event::Init);
        for o in objs {
            w.apply_watcher_event(&Event::InitApply(serde_json::from_value(o).unwrap()));
        }
        w.apply_watcher_event(&Event::InitDone);
    }

    fn deployment(name: &str, env: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": {
                   "metadata": {"labels": {"app": name}},
                   "spec": {"containers": [{"name": "c", "env": env,
                       "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})
    }

    #[test]
    fn hpas_attach_edges_resolve_and_unchanged_objects_send_nothing() {
        let (deps, mut dw) = reflector::store();
        let (hpas, mut hw) = reflector::store();
        let (svcs, mut sw) = reflector::store();
        let (slices, mut slw) = reflector::store();
        let (pods, mut pw) = reflector::store();
        fill(
            &mut dw,
            vec![
                deployment(
                    "frontend",
                    json!([{"name": "CART_ADDR", "value": "cart:7070"},
                                          {"name": "LEGACY_URL", "value": "http://legacy.shop:80/"}]),
                ),
                deployment("cart", json!([])),
                deployment("legacy-v1", json!([])),
            ],
        );
        fill(
            &mut hw,
            vec![json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "cart", "apiVersion": "apps/v1"},
                     "minReplicas": 2, "maxReplicas": 9}})],
        );
        fill(
            &mut sw,
            vec![
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cart", "namespace": "shop"},
                   "spec": {"selector": {"app": "cart"}}}),
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "legacy", "namespace": "shop"}, "spec": {}}),
            ],
        );
        fill(
            &mut slw,
            vec![json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "legacy-abc", "namespace": "shop", "labels": {"kubernetes.io/service-name": "legacy"}},
            "endpoints": [{"addresses": ["10.0.0.9"], "targetRef": {"kind": "Pod", "name": "legacy-v1-7d4b578979-x1", "namespace": "shop"}}]})],
        );
        fill(
            &mut pw,
            vec![json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "legacy-v1-7d4b578979-x1", "namespace": "shop", "labels": {"pod-template-hash": "7d4b578979"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "legacy-v1-7d4b578979", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "c"}], "nodeName": "n1"}, "status": {"phase": "Running"}})],
        );
        let stores = Stores {
            nodes: reflector::store().0,
            pods,
            deployments: deps,
            statefulsets: reflector::store().0,
            replicasets: reflector::store().0,
            hpas,
            services: svcs,
            slices,
        };
        let shared = Shared::new(crate::source::kube::Scope::All, "https://k".into());
        let mut m = Mapper::new(stores);
        let all = || {
            let mut p = Pending::default();
            p.relisted.extend(Kind::ALL);
            p
        };
        let ev = m.flush(all(), &shared);
        let cart = ev.iter().find_map(|e| match e {
            TwinEvent::Workload(w) if w.name == "cart" => Some(w.clone()),
            _ => None,
        });
        let hpa = cart.expect("cart workload").hpa.expect("cart's HPA");
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (2, 9));
        let edges = ev.iter().find_map(|e| match e {
            TwinEvent::Edges { edges, .. } => Some(edges.clone()),
            _ => None,
        });
        let pairs: Vec<(String, String)> = edges.unwrap().into_iter().map(|e| (e.from, e.to)).collect();
        assert_eq!(
            pairs,
            [
                ("shop/frontend".to_string(), "shop/cart".to_string()),
                ("shop/frontend".to_string(), "shop/legacy-v1".to_string()),
            ]
        );
        let again = m.flush(all(), &shared);
        assert!(again.is_empty(), "nothing changed, nothing sent: {again:?}");
    }

    #[test]
    fn feed_states() {
        let mut h: BTreeMap<Kind, Health> = Kind::ALL.iter().map(|k| (*k, Health::Ready)).collect();
        h.insert(Kind::Hpa, Health::Forbidden);
        let (s, d) = feed_state(&h, "in namespace shop", "https://k", None);
        assert_eq!(s, FeedState::Ok);
        assert_eq!(d, "watching 7 resources in namespace shop; unavailable: horizontalpodautoscalers");
        h.insert(Kind::Pod, Health::Failing { last: Instant::now(), error: "connection refused".into() });
        assert_eq!(feed_state(&h, "", "https://k", None).0, FeedState::Stale);
        for k in Kind::ALL {
            if k != Kind::Hpa {
                h.insert(k, Health::Failing { last: Instant::now(), error: "connection refused".into() });
            }
        }
        let (s, d) = feed_state(&h, "", "https://k", None);
        assert_eq!(s, FeedState::Down);
        assert!(d.starts_with("cannot reach https://k: "), "{d}");
        h.insert(Kind::Node, Health::Listing);
        assert_eq!(feed_state(&h, "", "https://k", None).0, FeedState::Stale);
    }
}
