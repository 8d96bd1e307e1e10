//! The reflectors: one watcher + store per resource, each a task that records which objects
//! changed and how its watch is doing. The sync task (`sync.rs`) reads that record.

use super::config::{Scope, Target};
use super::slim::SlimPod;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// The resources twintop watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    Node,
    Pod,
    Deployment,
    StatefulSet,
    ReplicaSet,
    Hpa,
    Service,
    EndpointSlice,
}

impl Kind {
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Node,
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::ReplicaSet,
        Kind::Hpa,
        Kind::Service,
        Kind::EndpointSlice,
    ];

    /// The resource name RBAC speaks of.
    pub(crate) fn plural(self) -> &'static str {
        match self {
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::ReplicaSet => "replicasets",
            Kind::Hpa => "horizontalpodautoscalers",
            Kind::Service => "services",
            Kind::EndpointSlice => "endpointslices",
        }
    }

    /// What the operator loses without it.
    pub(crate) fn loss(self) -> &'static str {
        match self {
            Kind::Node => "servers not shown",
            Kind::Pod => "pods not shown",
            Kind::Deployment => "Deployments not shown",
            Kind::StatefulSet => "StatefulSets not shown",
            Kind::ReplicaSet => "pod owners guessed from names",
            Kind::Hpa => "HPAs not shown",
            Kind::Service => "call graph from env vars not shown",
            Kind::EndpointSlice => "selector-less Services not resolved",
        }
    }

    pub(crate) fn namespaced(self) -> bool {
        self != Kind::Node
    }
}

/// How one resource's watch is doing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Health {
    /// Initial list not complete yet.
    Listing,
    Ready,
    /// RBAC said no (403): shown as a notice, the rest runs.
    Forbidden,
    /// The API server does not serve this resource (404).
    Missing,
    /// Errors; the watcher is backing off and will retry.
    Failing {
        last: Instant,
        error: String,
    },
}

impl Health {
    /// Initial state known: listed, or known to be unavailable.
    pub(crate) fn settled(&self) -> bool {
        matches!(self, Health::Ready | Health::Forbidden | Health::Missing)
    }
}

/// Metrics from metrics.k8s.io, waiting for the sync task.
#[derive(Debug, Default)]
pub(crate) struct MetricsRound {
    pub nodes: Vec<(String, crate::twin::Resources)>,
    /// (namespace, pod, usage).
    pub pods: Vec<(String, String, crate::twin::Resources)>,
}

/// What happened since the sync task last looked.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub touched: BTreeMap<Kind, HashSet<String>>,
    /// Kinds that completed a (re-)list: their whole store is compared with what was sent.
    pub relisted: HashSet<Kind>,
    pub notices: Vec<String>,
    pub metrics: Option<MetricsRound>,
    /// Problem of the metrics poll, for the feed detail (None when fine or not polled).
    pub metrics_error: Option<String>,
    /// A history sample is due although no metrics round came (no metrics.k8s.io).
    pub tick: bool,
}

pub(crate) struct Shared {
    pub pending: Mutex<Pending>,
    pub health: Mutex<BTreeMap<Kind, Health>>,
    pub notify: Notify,
    pub scope: Scope,
    pub server: String,
}

impl Shared {
    pub(crate) fn new(scope: Scope, server: String) -> Shared {
        Shared {
            pending: Mutex::default(),
            health: Mutex::new(Kind::ALL.iter().map(|k| (*k, Health::Listing)).collect()),
            notify: Notify::new(),
            scope,
            server,
        }
    }

    pub(crate) fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn health(&self) -> BTreeMap<Kind, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn with_pending(&self, f: impl FnOnce(&mut Pending)) {
        f(&mut self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        self.notify.notify_one();
    }

    fn set_health(&self, kind: Kind, h: Health) {
        self.health.lock().unwrap_or_else(|e| e.into_inner()).insert(kind, h);
    }

    fn where_(&self, kind: Kind) -> String {
        if kind.namespaced() { self.scope.describe() } else { "at cluster scope".into() }
    }

    fn record<K: Resource>(&self, kind: Kind, ev: Result<watcher::Event<K>, watcher::Error>) {
        use watcher::Event as E;
        match ev {
            Ok(E::Apply(o) | E::Delete(o)) => {
                self.set_health(kind, Health::Ready);
                self.with_pending(|p| {
                    p.touched.entry(kind).or_default().insert(key_of(o.meta()));
                });
            }
            Ok(E::InitDone) => {
                self.set_health(kind, Health::Ready);
                self.with_pending(|p| {
                    p.relisted.insert(kind);
                });
            }
            Ok(E::Init | E::InitApply(_)) => {}
            Err(e) => {
                let status = api_status(&e);
                let (health, notice) = match status.map(|s| s.code) {
                    Some(403) => (
                        Health::Forbidden,
                        Some(format!("cannot list {} {}: {}", kind.plural(), self.where_(kind), kind.loss())),
                    ),
                    Some(404) => (
                        Health::Missing,
                        Some(format!("the API server does not serve {}: {}", kind.plural(), kind.loss())),
                    ),
                    _ => (Health::Failing { last: Instant::now(), error: error_text(&e) }, None),
                };
                tracing::debug!(kind = kind.plural(), error = %e, "watch error");
                self.set_health(kind, health);
                self.with_pending(|p| p.notices.extend(notice));
            }
        }
    }
}

fn api_status(e: &watcher::Error) -> Option<&kube::core::Status> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s),
        watcher::Error::WatchError(s) => Some(s),
        _ => None,
    }
}

/// A short, single-line error with its innermost cause (the useful part of hyper errors).
pub(crate) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    let mut last = None;
    while let Some(s) = src {
        last = Some(s.to_string());
        src = s.source();
    }
    if let Some(l) = last.filter(|l| !msg.contains(l.as_str())) {
        msg = format!("{msg}: {l}");
    }
    msg.replace('\n', " ")
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub(crate) fn key_of(m: &ObjectMeta) -> String {
    match &m.namespace {
        Some(ns) => format!("{ns}/{}", m.name.as_deref().unwrap_or("")),
        None => m.name.clone().unwrap_or_default(),
    }
}

/// The readers of every reflector.
#[derive(Clone)]
pub(crate) struct Stores {
    pub nodes: Store<Node>,
    pub pods: Store<SlimPod>,
    pub deployments: Store<Deployment>,
    pub statefulsets: Store<StatefulSet>,
    pub replicasets: Store<ReplicaSet>,
    pub hpas: Store<HorizontalPodAutoscaler>,
    pub services: Store<Service>,
    pub slices: Store<EndpointSlice>,
}

fn api<K>(t: &Target) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match &t.scope {
        Scope::All => Api::all(t.client.clone()),
        Scope::Namespace(ns) => Api::namespaced(t.client.clone(), ns),
    }
}

/// Saves memory in big clusters: fields twintop never reads.
fn strip_meta(m: &mut ObjectMeta) {
    m.managed_fields = None;
    if let Some(a) = m.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

pub(super) fn strip_pod(p: &mut SlimPod) {
    let m = &mut p.metadata;
    strip_meta(m);
    m.annotations = None;
    m.uid = None;
    m.generate_name = None;
    m.creation_timestamp = None;
    if let Some(refs) = m.owner_references.as_mut() {
        refs.retain(|r| r.controller == Some(true));
    }
    // Only the template hash is read (the owner naming rule); a label map costs a B-tree node.
    p.template_hash = m.labels.take().and_then(|mut l| l.remove("pod-template-hash"));
}

pub(super) fn strip_node(n: &mut Node) {
    strip_meta(&mut n.metadata);
    if let Some(s) = n.status.as_mut() {
        s.images = None;
        s.conditions = None;
        s.volumes_attached = None;
        s.volumes_in_use = None;
    }
}

pub(super) fn strip_replicaset(r: &mut ReplicaSet) {
    strip_meta(&mut r.metadata);
    if let Some(s) = r.spec.as_mut() {
        s.template = None;
    }
}

pub(super) fn strip_deployment(d: &mut Deployment) {
    strip_meta(&mut d.metadata);
}

/// Starts one reflector task per resource; returns their stores.
pub(crate) fn spawn_all(t: &Target, shared: &Arc<Shared>, tasks: &mut JoinSet<()>) -> Stores {
    Stores {
        nodes: spawn(Api::all(t.client.clone()), Kind::Node, shared, tasks, strip_node),
        pods: spawn(api(t), Kind::Pod, shared, tasks, strip_pod),
        deployments: spawn(api(t), Kind::Deployment, shared, tasks, strip_deployment),
        statefulsets: spawn(api(t), Kind::StatefulSet, shared, tasks, |o: &mut StatefulSet| {
            strip_meta(&mut o.metadata)
        }),
        replicasets: spawn(api(t), Kind::ReplicaSet, shared, tasks, strip_replicaset),
        hpas: spawn(api(t), Kind::Hpa, shared, tasks, |o: &mut HorizontalPodAutoscaler| {
            strip_meta(&mut o.metadata)
        }),
        services: spawn(api(t), Kind::Service, shared, tasks, |o: &mut Service| strip_meta(&mut o.metadata)),
        slices: spawn(api(t), Kind::EndpointSlice, shared, tasks, |o: &mut EndpointSlice| {
            strip_meta(&mut o.metadata)
        }),
    }
}

fn spawn<K>(
    api: Api<K>,
    kind: Kind,
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    strip: fn(&mut K),
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default()).default_backoff().modify(strip).reflect(writer);
    let shared = shared.clone();
    tasks.spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            shared.record(kind, ev);
        }
    });
    reader
}
