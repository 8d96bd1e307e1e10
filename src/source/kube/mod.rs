//! The live Kubernetes source: reflectors on the cluster's objects, metrics.k8s.io polls, and
//! the task that turns both into debounced `TwinEvent` batches for the feeder. Headless
//! commands take one snapshot after the initial lists (`load_snapshot`); the console keeps
//! it running (`spawn_live`).

mod config;
pub(crate) mod map;
mod metrics;
mod slim;
mod sync;
mod synth;
mod watch;

pub(crate) use config::{Scope, in_cluster_env};
pub(crate) use synth::kube_map;

use crate::act::cluster::{ApplyError, ClusterControl};
use crate::change::Change;
use crate::source::SourceArgs;
use crate::source::feeder::{TwinHandle, spawn_feeder};
use crate::twin::WorkloadKind;
use crate::twin::{Feed, FeedState, Snapshot, SourceInfo, SourceKind, TwinEvent, TwinStore};
use anyhow::anyhow;
use chrono::Utc;
use config::{Located, Target};
use std::sync::Arc;
use std::time::Duration;
use sync::Mapper;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use watch::{Health, Shared};

/// A burst of watch events within this window becomes one snapshot.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(200);
/// How long the initial list of every resource may take.
pub(crate) const INITIAL_LIST_TIMEOUT: Duration = Duration::from_secs(20);
/// Feed health is re-evaluated at least this often, even when no watch event arrives.
const HEALTH_EVERY: Duration = Duration::from_secs(5);

/// The running reflectors of one cluster.
struct Live {
    target: Target,
    shared: Arc<Shared>,
    mapper: Mapper,
    tasks: JoinSet<()>,
}

fn start(target: Target) -> Live {
    let shared = Arc::new(Shared::new(target.scope.clone(), target.server.clone()));
    let mut tasks = JoinSet::new();
    let stores = watch::spawn_all(&target, &shared, &mut tasks);
    Live { target, shared, mapper: Mapper::new(stores), tasks }
}

fn source_info(cluster: &str, context: &str) -> SourceInfo {
    SourceInfo { kind: SourceKind::Live, name: cluster.into(), context: context.into() }
}

/// Waits until every resource is listed or known to be unavailable. Fails at once when every
/// watch fails (the API server is unreachable), or after `timeout`.
async fn wait_settled(shared: &Shared, timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let health = shared.health();
        if health.values().all(Health::settled) {
            return Ok(());
        }
        let failing: Vec<String> = health
            .iter()
            .filter_map(|(k, h)| match h {
                Health::Failing { error, .. } => Some(format!("{}: {error}", k.plural())),
                _ => None,
            })
            .collect();
        if failing.len() == health.len() {
            return Err(format!("cannot reach the API server: {}", failing[0]));
        }
        tokio::select! {
            _ = shared.notify.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {
                let waiting: Vec<&str> = health.iter().filter(|(_, h)| !h.settled()).map(|(k, _)| k.plural()).collect();
                let why = if failing.is_empty() { String::new() } else { format!(" ({})", failing.join("; ")) };
                return Err(format!(
                    "no complete list of {} within {} s{why}",
                    waiting.join(", "),
                    timeout.as_secs()
                ));
            }
        }
    }
}

/// One snapshot of a live cluster, for headless commands.
pub(crate) fn load_snapshot(args: &SourceArgs) -> anyhow::Result<Arc<Snapshot>> {
    crate::source::init_tls();
    let loc = config::locate(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let r = rt.block_on(snapshot_of(&loc));
    rt.shutdown_background();
    r
}

async fn snapshot_of(loc: &Located) -> anyhow::Result<Arc<Snapshot>> {
    let target = config::connect(loc).await?;
    let mut live = start(target);
    let t = &live.target;
    wait_settled(&live.shared, INITIAL_LIST_TIMEOUT)
        .await
        .map_err(|e| anyhow!("context {} ({}): {e}", t.context, t.server))?;
    if metrics::available(t).await {
        let r = tokio::time::timeout(Duration::from_secs(10), metrics::poll_once(t))
            .await
            .unwrap_or_else(|_| Err("no answer within 10 s".into()));
        live.shared.with_pending(|p| match r {
            Ok(m) => p.metrics = Some(m),
            Err(e) => p.metrics_error = Some(e),
        });
    }
    let events = live.mapper.flush(live.shared.take(), &live.shared);
    let mut store = TwinStore::default();
    store.apply(TwinEvent::Source(source_info(&t.cluster, &t.context)));
    let ticked = events.iter().any(|e| matches!(e, TwinEvent::Tick(_)));
    store.apply_all(events);
    if !ticked {
        store.apply(TwinEvent::Tick(Utc::now()));
    }
    live.tasks.abort_all();
    Ok(store.snapshot())
}

/// Changes to the live cluster through `act::kube_apply`: the object's resourceVersion read
/// at approval, RBAC (a SelfSubjectAccessReview at the dry run), then the server-side dry run,
/// then the apply, both pinned to that version. `ClusterControl` is sync (the approval flow is
/// a plain state machine), so this blocks the calling worker thread on the async client with
/// `block_in_place`; on a current-thread runtime it refuses instead of panicking.
struct KubeControl {
    context: String,
    /// Set once the source has connected.
    client: Arc<std::sync::Mutex<Option<kube::Client>>>,
    snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
}

impl KubeControl {
    fn client(&self) -> Result<kube::Client, String> {
        self.client
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .ok_or_else(|| format!("not connected to context {} yet; nothing was sent", self.context))
    }

    fn kind(&self, change: &Change) -> Result<WorkloadKind, String> {
        Ok(match change {
            Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => {
                let snap = self.snapshots.borrow().clone();
                match snap.workload_index(workload) {
                    Some(w) if snap.workloads[w].kind == WorkloadKind::DaemonSet => {
                        return Err(format!(
                            "{workload} is a DaemonSet: it runs one pod per node and has no replicas to change"
                        ));
                    }
                    Some(w) => snap.workloads[w].kind,
                    None => return Err(format!("no workload {workload} in the twin")),
                }
            }
            // Not workload objects: the kind is unused.
            Change::Cordon { .. } | Change::Evict { .. } => WorkloadKind::Deployment,
        })
    }

    /// Runs `f` on the async client from this sync call.
    fn block<T, F: std::future::Future<Output = Result<T, ApplyError>>>(
        &self,
        f: impl FnOnce(kube::Client, WorkloadKind) -> F,
        change: &Change,
    ) -> Result<T, ApplyError> {
        let client = self.client().map_err(ApplyError::Failed)?;
        let kind = self.kind(change).map_err(ApplyError::Failed)?;
        let handle = tokio::runtime::Handle::try_current().map_err(|e| ApplyError::Failed(e.to_string()))?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(ApplyError::Failed(
                "applying to a live cluster needs the multi-threaded runtime".into(),
            ));
        }
        tokio::task::block_in_place(|| handle.block_on(f(client, kind)))
    }
}

impl ClusterControl for KubeControl {
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String> {
        self.apply_versioned(change, dry_run, None).map_err(|e| e.to_string())
    }

    fn version(&self, change: &Change) -> Result<Option<String>, String> {
        use crate::act::kube_apply;
        self.block(
            |client, kind| async move {
                kube_apply::read_version(&client, change, kind).await.map_err(ApplyError::Failed)
            },
            change,
        )
        .map_err(|e| e.to_string())
    }

    fn apply_versioned(
        &self,
        change: &Change,
        dry_run: bool,
        version: Option<&str>,
    ) -> Result<String, ApplyError> {
        use crate::act::kube_apply;
        self.block(
            |client, kind| async move {
                if dry_run
                    && !kube_apply::can_apply(&client, change, kind).await.map_err(ApplyError::Failed)?
                {
                    return Err(ApplyError::Failed(format!(
                        "RBAC: context {} may not {change}",
                        self.context
                    )));
                }
                kube_apply::apply(&client, change, kind, dry_run, version).await
            },
            change,
        )
    }
}

/// Starts the live source for the console (call inside a tokio runtime). A wrong context or
/// unreadable kubeconfig fails here; an unreachable cluster shows as the `kube` feed Down.
pub fn spawn_live(args: &SourceArgs) -> anyhow::Result<TwinHandle> {
    crate::source::init_tls();
    let loc = config::locate(args)?;
    let mut store = TwinStore::default();
    store.apply(TwinEvent::Source(source_info(&loc.cluster, &loc.context)));
    store.apply(feed_event(FeedState::Stale, format!("connecting to {}", loc.server)));
    let (tx, snapshots) = spawn_feeder(store);
    let client = Arc::new(std::sync::Mutex::new(None));
    let control =
        KubeControl { context: loc.context.clone(), client: client.clone(), snapshots: snapshots.clone() };
    tokio::spawn(run(loc, tx.clone(), client));
    Ok(TwinHandle { snapshots, cluster: Arc::new(control), events: tx })
}

fn feed_event(state: FeedState, detail: String) -> TwinEvent {
    TwinEvent::Feed(Feed { name: "kube".into(), state, detail, updated: Some(Utc::now()) })
}

async fn run(
    loc: Located,
    tx: mpsc::Sender<Vec<TwinEvent>>,
    client: Arc<std::sync::Mutex<Option<kube::Client>>>,
) {
    let target = match config::connect(&loc).await {
        Ok(t) => {
            if let Ok(mut c) = client.lock() {
                *c = Some(t.client.clone());
            }
            t
        }
        Err(e) => {
            let msg = format!("context {}: {e:#}", loc.context);
            let _ = tx.send(vec![feed_event(FeedState::Down, msg.clone()), TwinEvent::Notice(msg)]).await;
            return;
        }
    };
    let mut live = start(target);
    let shared = live.shared.clone();
    live.tasks.spawn(metrics::run(live.target.clone(), shared.clone()));
    // Until every resource is listed, a flush would show half a cluster (pods before their
    // nodes): hold it back, up to the timeout, and keep only the feed moving.
    let initial = tokio::time::Instant::now() + INITIAL_LIST_TIMEOUT;
    let mut listed = false;
    let mut last_feed = None;
    loop {
        tokio::select! {
            _ = shared.notify.notified() => {}
            _ = tokio::time::sleep(HEALTH_EVERY) => {}
        }
        tokio::time::sleep(DEBOUNCE).await;
        if tx.is_closed() {
            break;
        }
        listed =
            listed || tokio::time::Instant::now() >= initial || shared.health().values().all(Health::settled);
        let events = if listed {
            live.mapper.flush(shared.take(), &shared)
        } else {
            let health = shared.health();
            let feed = sync::feed_state(&health, &shared.scope.describe(), &shared.server, None);
            if last_feed.as_ref() == Some(&feed) {
                continue;
            }
            last_feed = Some(feed.clone());
            vec![feed_event(feed.0, feed.1)]
        };
        if !events.is_empty() && tx.send(events).await.is_err() {
            break;
        }
    }
    live.tasks.abort_all();
}
