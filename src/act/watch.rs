//! After an applied change, watch the target's SLO for a window. A breach that persists
//! (not one noisy sample) turns into the rollback to the recorded prior state — proposed to
//! the operator, or applied through the flow where they enabled automatic rollback.

use crate::change::Change;
use crate::twin::Snapshot;
use crate::twin::kpi::{SloState, slo_state};
use chrono::{DateTime, Duration, Utc};

/// Consecutive breached snapshots that count as a violation.
pub const BREACHES_TO_ROLL_BACK: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    /// The workload whose SLO is watched (key `namespace/name`).
    pub workload: String,
    pub applied: Change,
    /// The change that restores the state before `applied`.
    pub rollback: Change,
    pub until: DateTime<Utc>,
    pub auto_rollback: bool,
    breaches: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
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
pub fn no_rollback(change: &Change) -> Option<&'static str> {
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
    pub fn after(
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
            auto_rollback: auto,
            breaches: 0,
        })
    }

    /// Feeds one snapshot; call on every new snapshot until the verdict is not `Watching`.
    pub fn observe(&mut self, snap: &Snapshot) -> Verdict {
        let state = snap.workload_index(&self.workload).map(|w| slo_state(snap, w));
        if state == Some(SloState::Breach) {
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
        Watch::after(&applied, &serde_json::json!({"replicas": 2}), t0, Duration::seconds(60), auto).unwrap()
    }

    #[test]
    fn sustained_breach_proposes_rollback_to_prior_state() {
        let mut w = watch(false);
        assert_eq!(w.observe(&snap_with(150.0, 1)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(150.0, 2)), Verdict::Watching);
        match w.observe(&snap_with(150.0, 3)) {
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
        assert_eq!(w.observe(&snap_with(150.0, 1)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(50.0, 2)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(150.0, 3)), Verdict::Watching);
        assert_eq!(w.observe(&snap_with(50.0, 61)), Verdict::Healthy);
    }
}
