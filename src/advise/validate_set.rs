//! Validation of the changes one advisor proposes together (one LLM answer, one built-in run)
//! as a set: each change must pass `validate` on its own, and then fit beside the changes
//! before it in the set — cordons, evictions and replica changes counted together against the
//! guardrails. Twelve cordons that each leave 19 % of the servers cordoned are not twelve valid
//! proposals: the set would leave far more cordoned, so the ones past the guardrail are rejected
//! naming the earlier ones.

use super::validate::{Guardrails, free_capacity, place_pods, validate};
use crate::change::Change;
use crate::twin::{Resources, Snapshot};
use std::collections::BTreeMap;

/// At most this many pods are evicted by one set: nobody approves moving everything at once
/// (the built-in placement advisor proposes up to as many).
pub(crate) const MAX_EVICTIONS_PER_SET: usize = 3;

/// What the accepted changes of a set use up so far.
struct SetState {
    /// Free CPU and memory per server after the accepted changes.
    free: Vec<Resources>,
    /// Servers cordoned now or by the set.
    cordoned: Vec<bool>,
    /// Requests of the pods on servers the set cordons (they need room elsewhere if drained).
    drained: Resources,
    /// Target (workload key, server, or pod's workload key) → index of the change that took it.
    taken: BTreeMap<String, usize>,
    evictions: usize,
    /// Requests the set's scale-ups add so far (the quota headroom guardrail holds for the sum).
    added: Resources,
}

/// Checks `changes` in order as one set; each result is the normalised change or the reason it
/// cannot be proposed beside the ones before it. A change rejected alone takes nothing from
/// the set, so the ones after it are judged as if it had not been proposed.
pub(crate) fn validate_set(
    snap: &Snapshot,
    changes: &[&Change],
    g: &Guardrails,
) -> Vec<Result<Change, String>> {
    let mut st = SetState {
        free: free_capacity(snap),
        cordoned: snap.servers.iter().map(|s| !s.schedulable).collect(),
        drained: Resources::ZERO,
        taken: BTreeMap::new(),
        evictions: 0,
        added: Resources::ZERO,
    };
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ok = validate(snap, c, g)?;
            st.admit(snap, i, &ok, g)?;
            Ok(ok)
        })
        .collect()
}

impl SetState {
    /// Checks `c` (already valid alone) against the set so far and, if it fits, records what it
    /// uses.
    fn admit(&mut self, snap: &Snapshot, i: usize, c: &Change, g: &Guardrails) -> Result<(), String> {
        let key = set_key(snap, c);
        if let Some(&j) = self.taken.get(&key) {
            return Err(format!(
                "action {} of the same answer already changes {key}: one change per target at a time",
                j + 1
            ));
        }
        match c {
            Change::Scale { workload, replicas } => {
                let w = snap.workload_index(workload).ok_or("the workload vanished")?;
                let wl = &snap.workloads[w];
                let extra = replicas.saturating_sub(wl.replicas);
                self.place(snap, w, extra, workload, g)?;
            }
            Change::HpaBounds { workload, min, max } => {
                let w = snap.workload_index(workload).ok_or("the workload vanished")?;
                let wl = &snap.workloads[w];
                let effective = wl.replicas.clamp(*min, *max);
                let extra = effective.saturating_sub(wl.replicas);
                self.place(snap, w, extra, workload, g)?;
            }
            Change::Cordon { server, cordon } => {
                let s = snap.server_index(server).ok_or("the server vanished")?;
                if *cordon {
                    let after = self.cordoned.iter().filter(|c| **c).count() + 1;
                    let share = after as f64 / snap.servers.len().max(1) as f64;
                    if share > g.max_cordoned_share {
                        return Err(format!(
                            "with the cordons before it in this answer, cordoning {server} would leave {after} of {} \
                             servers cordoned ({:.0} %, guardrail {:.0} %)",
                            snap.servers.len(),
                            share * 100.0,
                            g.max_cordoned_share * 100.0
                        ));
                    }
                    let drained = self.drained.add(&snap.server_status[s].requested);
                    let mut room = self.free.clone();
                    room[s] = Resources::ZERO;
                    let room = room.iter().fold(Resources::ZERO, |a, f| a.add(f));
                    if !drained.fits_in(&room) {
                        return Err(format!(
                            "with the changes before it in this answer, the other servers have no room for the pods \
                             of {server} and of the servers cordoned before it if they are drained"
                        ));
                    }
                    self.cordoned[s] = true;
                    self.drained = drained;
                    self.free[s] = Resources::ZERO;
                } else {
                    self.cordoned[s] = false;
                }
            }
            Change::Evict { pod, to, .. } => {
                if self.evictions >= MAX_EVICTIONS_PER_SET {
                    return Err(format!(
                        "this answer already evicts {MAX_EVICTIONS_PER_SET} pods, the most one set may move at once"
                    ));
                }
                let p = snap.pod_index(pod).ok_or("the pod vanished")?;
                if let Some(t) = to.as_deref().and_then(|t| snap.server_index(t)) {
                    if self.cordoned[t] {
                        return Err(format!(
                            "{t} is cordoned by an earlier action of this answer",
                            t = snap.servers[t].name
                        ));
                    }
                    let req = snap.pods[p].requests;
                    if !req.fits_in(&self.free[t]) {
                        return Err(format!(
                            "with the changes before it in this answer, {} has no room for the pod's requests",
                            snap.servers[t].name
                        ));
                    }
                    self.free[t] = self.free[t].sub(&req);
                }
                self.evictions += 1;
            }
        }
        self.taken.insert(key, i);
        Ok(())
    }

    /// Places `extra` more pods of workload `w` on what the set left free.
    fn place(
        &mut self,
        snap: &Snapshot,
        w: usize,
        extra: u32,
        name: &str,
        g: &Guardrails,
    ) -> Result<(), String> {
        if extra == 0 {
            return Ok(());
        }
        let req = snap.workloads[w].requests;
        let mut free = self.free.clone();
        let placed = place_pods(&mut free, &req, extra).len() as u32;
        if placed < extra {
            return Err(format!(
                "with the changes before it in this answer, the cluster has room for only {placed} of {extra} more {name} pods"
            ));
        }
        // Each change alone passed the quota headroom guardrail; the set's sum must too.
        let added = self.added.add(&req.scale(extra as f64));
        let alloc =
            snap.servers.iter().filter(|s| s.schedulable).fold(Resources::ZERO, |a, s| a.add(&s.allocatable));
        let requested = snap.server_status.iter().fold(Resources::ZERO, |a, s| a.add(&s.requested));
        let after = requested.add(&added);
        let limit = 1.0 - g.quota_headroom;
        if self.added != Resources::ZERO
            && (after.cpu_m > alloc.cpu_m * limit || after.mem_mib > alloc.mem_mib * limit)
        {
            return Err(format!(
                "with the scale-ups before it in this answer, requests would reach {:.0} % CPU / {:.0} % memory of \
                 allocatable (guardrail quota-headroom: {:.0} % must stay free)",
                after.cpu_m / alloc.cpu_m.max(1.0) * 100.0,
                after.mem_mib / alloc.mem_mib.max(1.0) * 100.0,
                g.quota_headroom * 100.0
            ));
        }
        self.free = free;
        self.added = added;
        Ok(())
    }
}

/// What a change occupies in a set: a workload (scaled, or one of its pods evicted) or a
/// server.
fn set_key(snap: &Snapshot, c: &Change) -> String {
    match c {
        Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => workload.clone(),
        Change::Cordon { server, .. } => format!("server {server}"),
        Change::Evict { pod, .. } => {
            snap.workload_of_pod(pod).map(|w| snap.workloads[w].key()).unwrap_or_else(|| pod.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::testkit::small_twin;
    use crate::demo::{DemoPreset, DemoTwin};

    fn cordon(s: &str) -> Change {
        Change::Cordon { server: s.into(), cordon: true }
    }

    #[test]
    fn twelve_cordons_are_judged_together_against_the_guardrail() {
        let snap = DemoTwin::starting_at(DemoPreset::Dc, 1, chrono::DateTime::UNIX_EPOCH).warm_snapshot(3);
        let n = snap.servers.len();
        let allowed = (n as f64 * 0.2).floor() as usize;
        let changes: Vec<Change> = snap.servers.iter().take(12).map(|s| cordon(&s.name)).collect();
        // Each alone is within the guardrail.
        for c in &changes {
            assert!(validate(&snap, c, &Guardrails::default()).is_ok(), "{c}");
        }
        let refs: Vec<&Change> = changes.iter().collect();
        let out = validate_set(&snap, &refs, &Guardrails::default());
        let ok = out.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, allowed.min(12), "{n} servers, 20 %: {out:?}");
        let err = out.iter().find_map(|r| r.as_ref().err()).expect("some are refused");
        assert!(err.contains("with the cordons before it") && err.contains("guardrail 20 %"), "{err}");
    }

    #[test]
    fn replica_changes_share_the_room_and_a_target_is_changed_once() {
        // Only s4 has room, 3,600 m CPU: enough for big's second pod (3,500 m) or for two more
        // api pods (100 m each), not for both.
        let mut snap = (*small_twin()).clone();
        for s in [0, 1, 2] {
            snap.server_status[s].requested = snap.servers[s].allocatable;
        }
        snap.server_status[3].requested = Resources::new(400.0, 0.0, 0.0);
        // The room on the servers is what this test is about, not the quota headroom.
        let g = Guardrails { quota_headroom: 0.0, ..Guardrails::default() };
        let big_alone = validate(&snap, &Change::Scale { workload: "shop/big".into(), replicas: 2 }, &g);
        assert!(big_alone.is_ok(), "{big_alone:?}");
        let changes = [
            Change::Scale { workload: "shop/api".into(), replicas: 4 },
            Change::Scale { workload: "shop/big".into(), replicas: 2 },
            Change::Scale { workload: "api".into(), replicas: 3 },
        ];
        let refs: Vec<&Change> = changes.iter().collect();
        let out = validate_set(&snap, &refs, &g);
        assert!(out[0].is_ok(), "{out:?}");
        let e1 = out[1].as_ref().unwrap_err();
        assert!(e1.contains("room for only 0 of 1"), "{e1}");
        let e2 = out[2].as_ref().unwrap_err();
        assert!(e2.contains("action 1 of the same answer already changes shop/api"), "{e2}");
    }

    #[test]
    fn the_quota_headroom_holds_for_the_sets_scale_ups_together() {
        // 16,000 m allocatable, 5,100 m requested: api +400 m and db +1,000 m each fit under a
        // 40 % limit alone (5,500 and 6,100 of 6,400 m), not together (6,500 m).
        let snap = small_twin();
        let g = Guardrails { quota_headroom: 0.6, max_replica_change: 10, ..Guardrails::default() };
        let api = Change::Scale { workload: "shop/api".into(), replicas: 6 };
        let db = Change::Scale { workload: "shop/db".into(), replicas: 4 };
        assert!(validate(&snap, &api, &g).is_ok() && validate(&snap, &db, &g).is_ok());
        let out = validate_set(&snap, &[&api, &db], &g);
        assert!(out[0].is_ok(), "{out:?}");
        let e = out[1].as_ref().unwrap_err();
        assert!(e.contains("with the scale-ups before it") && e.contains("quota-headroom"), "{e}");
    }

    #[test]
    fn evictions_are_capped_per_set_and_one_per_workload() {
        let snap = small_twin();
        let g = Guardrails::default();
        let ev = |pod: &str, server: &str| Change::Evict { pod: pod.into(), server: server.into(), to: None };
        let changes = [ev("shop/api-0", "s2"), ev("shop/api-1", "s3"), ev("shop/db-2", "s2")];
        let refs: Vec<&Change> = changes.iter().collect();
        let out = validate_set(&snap, &refs, &g);
        assert!(out[0].is_ok() && out[2].is_ok(), "{out:?}");
        assert!(out[1].as_ref().unwrap_err().contains("already changes shop/api"), "{out:?}");
    }

    #[test]
    fn a_rejected_change_takes_nothing_from_the_set() {
        let snap = small_twin();
        let changes = [
            Change::Scale { workload: "shop/api".into(), replicas: 0 },
            Change::Scale { workload: "shop/api".into(), replicas: 4 },
        ];
        let refs: Vec<&Change> = changes.iter().collect();
        let out = validate_set(&snap, &refs, &Guardrails::default());
        assert!(out[0].is_err() && out[1].is_ok(), "{out:?}");
    }
}
