//! After an applied change, watch the target's SLO for a window. A breach that persists
//! (not one noisy sample) turns into the rollback to the recorded prior state — proposed to
//! the operator, or applied through the flow where they enabled automatic rollback. The
//! target's p99 samples seen during the window are kept for the advisor's track record.

use crate::change::Change;
use crate::twin::Snapshot;
use crate::twin::kpi::{SloState, slo_state};
use chrono::{DateTime, Duration, Utc};

/// Consecutive breached snapshots that count as a violation.
pub(crate) const BREACHES_TO_ROLL_BACK: u32 = 3;

/// Breaches this soon after the change do not count: new pods take a while to start and be
/// ready, and a p99 over a window lags the change. Without it, scaling out of a breach would
/// be rolled back before the new pods served a request.
pub const SETTLE_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Watch {
    /// The workload whose SLO is watched (key `namespace/name`).
    pub workload: String,
    pub applied: Change,
    /// The change that restores the state before `applied`.
    pub rollback: Change,
    pub until: DateTime<Utc>,
    /// Breaches count from this time on (`SETTLE_SECS` after the change).
    pub settled: DateTime<Utc>,
    pub auto_rollback: bool,
    breaches: u32,
    /// The target's p99 in each snapshot observed (ms), for judging the change afterwards.
    samples: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    Watching,
    /// The window passed without a sustained breach.
    Healthy,
    /// A sustained breach: roll back (automatically when `auto`).
    RollBack {
        change: Change,
        auto: bool,
        why: String,
    },
}

/// Why a change gets no rollback at all, to tell the operator when it is applied.
pub(crate) fn no_rollback(change: &Change) -> Option<&'static str> {
    match change {
        Change::Evict { .. } => Some(
            "no rollback: an eviction cannot be undone (the pod is gone and its replacement is the controller's), so there is no SLO watch",
        ),
        _ => None,
    }
}

impl Watch {
    /// A watch for `applied`, with the rollback derived from the prior state recorded in the
    /// audit log (`before`). None when the change has nothing to roll back to: an eviction
    /// cannot be undone (see `no_rollback`), and no change is invented to stand for it.
    pub(crate) fn after(
        applied: &Change,
        before: &serde_json::Value,
        now: DateTime<Utc>,
        window: Duration,
        auto: bool,
    ) -> Option<Watch> {
        let (workload, rollback) = match applied {
            Change::Scale { workload, .. } => {
                let n = before.get("replicas")?.as_u64()? as u32;
                (workload.clone(), Change::Scale { workload: workload.clone(), replicas: n })
            }
            Change::HpaBounds { workload, .. } => {
                let min = before.get("min")?.as_u64()? as u32;
                let max = before.get("max")?.as_u64()? as u32;
                (workload.clone(), Change::HpaBounds { workload: workload.clone(), min, max })
            }
            Change::Cordon { .. } | Change::Evict { .. } => return None,
        };
        Some(Watch {
            workload,
            applied: applied.clone(),
            rollback,
            until: now + window,
            settled: now + Duration::seconds(SETTLE_SECS).min(window),
            auto_rollback: auto,
            breaches: 0,
            samples: Vec::new(),
        })
    }

    /// Feeds one snapshot; call on every new snapshot until the verdict is not `Watching`.
    pub(crate) fn observe(&mut self, snap: &Snapshot) -> Verdict {
        let w = snap.workload_index(&self.workload);
        self.samples.extend(w.and_then(|w| snap.workload_status[w].p99_ms));
        let state = w.map(|w| slo_state(snap, w));
        if state == Some(SloState::Breach) && snap.time >= self.settled {
            self.breaches += 1;
        } else {
            self.breaches = 0;
        }
        if self.breaches >= BREACHES_TO_ROLL_BACK {
            return Verdict::RollBack {
                change: self.rollback.clone(),
                auto: self.auto_rollback,
                why: format!(
                    "{} breached its SLO {} times in a row after: {}",
                    self.workload, self.breaches, self.applied
                ),
            };
        }
        if snap.time >= self.until { Verdict::Healthy } else { Verdict::Watching }
    }

    /// The target's p99 samples observed so far, ms.
    pub(crate) fn samples(&self) -> &[f64] {
        &self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twin::{Resources, TwinEvent, TwinStore, Workload};

    fn snap_with(p99: f64, t: i64) -> std::sync::Arc<Snapshot> {
        let mut st = TwinStore::default();
        let mut w = Workload::new("checkout", "shop", 4, Resources::new(100.0, 64.0, 0.0));
        w.slo_p99_ms = Some(100.0);
        st.apply(TwinEvent::Workload(w));
        st.apply(TwinEvent::WorkloadMetrics {
            key: "shop/checkout".into(),
            rps: None,
            p50_ms: None,
            p99_ms: Some(p99),
            usage: None,
        });
        st.apply(TwinEvent::Tick(DateTime::<Utc>::from_timestamp(t, 0).unwrap()));
        st.snapshot()
    }

    fn watch(auto: bool) -> Watch {
        let applied = Change::Scale { workload: "shop/checkout".into(), replicas: 4 };
        let t0 = DateTime::<Utc>::from_timestamp(0, 0).unwrap();
        let window = Duration::seconds(SETTLE_SECS + 60);
        Watch::after(&applied, &serde_json::json!({"replicas": 2}), t0, window, auto).unwrap()
    }

    #[test]
    fn sustained_breach_proposes_rollback_to_prior_state() {
        let mut w = watch(false);
        let t = SETTLE_SECS;
        assert_eq!(w.observe(&snap_with(150.0, t)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(150.0, t + 1)), Verdict::Watching);
        match w.observe(&snap_with(150.0, t + 2)) {
            Verdict::RollBack { change, auto, .. } => {
                assert_eq!(change, Change::Scale { workload: "shop/checkout".into(), replicas: 2 });
                assert!(!auto);
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_noisy_sample_does_not_roll_back_and_the_window_ends_healthy() {
        let mut w = watch(true);
        let t = SETTLE_SECS;
        assert_eq!(w.observe(&snap_with(150.0, t + 1)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(50.0, t + 2)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(150.0, t + 3)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(50.0, t + 60)), Verdict::Healthy);
        assert_eq!(w.samples(), [150.0, 50.0, 150.0, 50.0], "every p99 seen, for the track record");
    }

    #[test]
    fn breaches_while_the_change_settles_do_not_roll_back() {
        let mut w = watch(false);
        for t in 1..SETTLE_SECS {
            assert_eq!(w.observe(&snap_with(150.0, t)), Verdict::Watching, "at {t}s");
        }
        assert_eq!(w.observe(&snap_with(150.0, SETTLE_SECS)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(150.0, SETTLE_SECS + 1)), Verdict::Watching);
        assert!(matches!(w.observe(&snap_with(150.0, SETTLE_SECS + 2)), Verdict::RollBack { .. }));
    }
}
