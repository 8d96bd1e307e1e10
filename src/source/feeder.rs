//! The feeder: the one task that owns the `TwinStore`. Sources send batches of events; after
//! each batch it publishes a snapshot on a watch channel, so readers see whole updates only
//! and the UI wakes exactly when something changed.

use crate::act::cluster::ClusterControl;
use crate::change::Change;
use crate::demo::DemoTwin;
use crate::twin::{Snapshot, TwinEvent, TwinStore};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What the console holds of a running source.
#[derive(Clone)]
pub struct TwinHandle {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub cluster: Arc<dyn ClusterControl>,
    /// The feeder's input, for a second source (VictoriaMetrics) laid over the first.
    pub events: mpsc::Sender<Vec<TwinEvent>>,
}

/// Starts the feeder task: applies event batches from the returned sender to a store and
/// publishes a snapshot after each batch.
pub(crate) fn spawn_feeder(
    store: TwinStore,
) -> (mpsc::Sender<Vec<TwinEvent>>, watch::Receiver<Arc<Snapshot>>) {
    let mut store = store;
    let (tx, mut rx) = mpsc::channel::<Vec<TwinEvent>>(64);
    let (snap_tx, snap_rx) = watch::channel(store.snapshot());
    tokio::spawn(async move {
        while let Some(batch) = rx.recv().await {
            store.apply_all(batch);
            // Coalesce whatever else is already queued into this snapshot.
            while let Ok(more) = rx.try_recv() {
                store.apply_all(more);
            }
            if snap_tx.send(store.snapshot()).is_err() {
                break;
            }
        }
    });
    (tx, snap_rx)
}

struct DemoControl(Arc<Mutex<DemoTwin>>);

impl ClusterControl for DemoControl {
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String> {
        self.0.lock().map_err(|_| "demo cluster poisoned".to_string())?.apply_change(change, dry_run)
    }
}

/// Runs the demo on tokio: first `history` seconds of its past at once (off the UI thread, as
/// a cluster's metrics store would hold them: the calibration tells service from queueing by
/// quieter moments than the present), then one step per `tick` of wall time.
pub fn spawn_demo(demo: DemoTwin, tick: Duration, history: u32) -> TwinHandle {
    let (tx, snapshots) = spawn_feeder(TwinStore::default());
    let demo = Arc::new(Mutex::new(demo));
    let stepper = demo.clone();
    let events = tx.clone();
    tokio::spawn(async move {
        let past = match stepper.lock() {
            Ok(mut d) => d.history(history),
            Err(_) => return,
        };
        if history > 0 && tx.send(past).await.is_err() {
            return;
        }
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let events = match stepper.lock() {
                Ok(mut d) => d.step(),
                Err(_) => break,
            };
            if tx.send(events).await.is_err() {
                break;
            }
        }
    });
    TwinHandle { snapshots, cluster: Arc::new(DemoControl(demo)), events }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::DemoPreset;

    #[tokio::test(start_paused = true)]
    async fn demo_publishes_snapshots_and_accepts_changes() {
        let h = spawn_demo(DemoTwin::new(DemoPreset::Dc, 1), Duration::from_secs(1), 0);
        let mut rx = h.snapshots.clone();
        rx.changed().await.unwrap();
        rx.changed().await.unwrap();
        let seq1 = rx.borrow().seq;
        h.cluster
            .apply(&Change::Scale { workload: "boutique/cartservice".into(), replicas: 5 }, false)
            .unwrap();
        rx.changed().await.unwrap();
        let s = rx.borrow().clone();
        assert!(s.seq > seq1);
        assert_eq!(s.workloads[s.workload_index("cartservice").unwrap()].replicas, 5);
    }
}
