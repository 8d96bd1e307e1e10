//! Validation of a proposed change against the twin and the guardrails: the target exists,
//! the size is within bounds, the cluster has room, and an HPA-owned workload is changed through
//! its HPA; then the guardrails' standing rules, from the same configuration the approval flow
//! reads (a proposal shown as valid is not refused at approval for what it is, only for the
//! moment: read-only, a stale feed, a cooldown). Whatever an advisor (or an attacker steering an
//! LLM) says, only changes that pass here are ever marked valid.

use crate::change::Change;
use crate::twin::{Resources, Snapshot};

pub(crate) use crate::guardrails::Guardrails;

/// The cluster's own namespaces: no advisor proposes a change there (the approval flow's deny
/// list refuses them too, but a proposal that can never be approved is not valid either).
pub(crate) const SYSTEM_NAMESPACES: [&str; 3] = ["kube-system", "kube-public", "kube-node-lease"];

fn check_namespace(ns: &str, what: &str) -> Result<(), String> {
    if SYSTEM_NAMESPACES.contains(&ns) {
        return Err(format!("{what} is in the system namespace {ns}: advisors never change it"));
    }
    Ok(())
}

/// Checks `change` and returns it with its target normalised to the twin's key, or the reason
/// it cannot be proposed.
pub fn validate(snap: &Snapshot, change: &Change, g: &Guardrails) -> Result<Change, String> {
    let change = check(snap, change, g)?;
    match g.standing(&change, snap).first() {
        Some(v) => Err(format!("guardrail {}: {}", v.rule, v.message)),
        None => Ok(change),
    }
}

fn check(snap: &Snapshot, change: &Change, g: &Guardrails) -> Result<Change, String> {
    match change {
        Change::Scale { workload, replicas } => {
            let w = find_workload(snap, workload)?;
            let wl = &snap.workloads[w];
            let key = wl.key();
            check_namespace(&wl.namespace, &key)?;
            if wl.kind == crate::twin::WorkloadKind::DaemonSet {
                return Err(format!(
                    "{key} is a DaemonSet: it runs one pod per server and has no replicas to scale"
                ));
            }
            if wl.hpa.is_some() {
                return Err(format!(
                    "an HPA owns {key}: propose HPA bounds (min/max), not replicas, or the HPA will undo it"
                ));
            }
            if *replicas == 0 {
                return Err(format!("scaling {key} to 0 replicas is never proposed"));
            }
            check_size(snap, w, *replicas, g)?;
            Ok(Change::Scale { workload: key, replicas: *replicas })
        }
        Change::HpaBounds { workload, min, max } => {
            let w = find_workload(snap, workload)?;
            let wl = &snap.workloads[w];
            let key = wl.key();
            check_namespace(&wl.namespace, &key)?;
            let Some(hpa) = &wl.hpa else {
                return Err(format!("{key} has no HPA: propose replicas instead"));
            };
            if *min == 0 || min > max {
                return Err(format!("HPA bounds min {min} max {max} are invalid (need 1 ≤ min ≤ max)"));
            }
            if *max > g.max_replicas {
                return Err(format!("HPA max {max} exceeds the guardrail of {} replicas", g.max_replicas));
            }
            if (*min, *max) == (hpa.min_replicas, hpa.max_replicas) {
                return Err(format!("{key}'s HPA already has min {min} max {max}"));
            }
            // The replicas the HPA would settle on right away.
            let current = wl.replicas;
            let effective = current.clamp(*min, *max);
            if effective != current {
                check_size(snap, w, effective, g)?;
            } else if wl.critical && *min < g.critical_min_replicas {
                return Err(format!(
                    "{key} is critical: HPA min {min} is below the floor of {}",
                    g.critical_min_replicas
                ));
            }
            Ok(Change::HpaBounds { workload: key, min: *min, max: *max })
        }
        Change::Cordon { server, cordon } => {
            let s =
                snap.server_index(server).ok_or_else(|| format!("no server named `{server}` in the twin"))?;
            let cordoned_now = !snap.servers[s].schedulable;
            if !cordon {
                if !cordoned_now {
                    return Err(format!("{server} is not cordoned"));
                }
                return Ok(change.clone());
            }
            if cordoned_now {
                return Err(format!("{server} is already cordoned"));
            }
            let cordoned_after = snap.servers.iter().filter(|x| !x.schedulable).count() + 1;
            let share = cordoned_after as f64 / snap.servers.len() as f64;
            if share > g.max_cordoned_share {
                return Err(format!(
                    "cordoning {server} would leave {cordoned_after} of {} servers cordoned (guardrail {:.0} %)",
                    snap.servers.len(),
                    g.max_cordoned_share * 100.0
                ));
            }
            let mut free = free_capacity(snap);
            free[s] = Resources::ZERO;
            let needed = snap.server_status[s].requested;
            let room = free.iter().fold(Resources::ZERO, |a, f| a.add(f));
            if !needed.fits_in(&room) {
                return Err(format!("the other servers have no room for {server}'s pods if it is drained"));
            }
            Ok(change.clone())
        }
        Change::Evict { pod, server, to } => {
            let shown: String = pod.chars().take(80).collect();
            let i = snap.pod_index(pod).ok_or_else(|| format!("no pod `{shown}` in the twin"))?;
            let p = &snap.pods[i];
            check_namespace(&p.namespace, &format!("pod {shown}"))?;
            let on = p.server.map(|s| snap.servers[s].name.as_str());
            if on != Some(server.as_str()) {
                return Err(format!(
                    "pod {shown} runs on {}, not on {}",
                    on.unwrap_or("no server"),
                    server.chars().take(80).collect::<String>()
                ));
            }
            crate::guardrails::evictable(snap, i)?;
            if let Some(to) = to {
                let shown_to: String = to.chars().take(80).collect();
                let t = snap
                    .server_index(to)
                    .ok_or_else(|| format!("no server named `{shown_to}` in the twin"))?;
                if to == server {
                    return Err(format!("pod {shown} already runs on {shown_to}"));
                }
                if !snap.servers[t].schedulable {
                    return Err(format!("{shown_to} is cordoned: the replacement cannot land there"));
                }
                if !p.requests.fits_in(&free_capacity(snap)[t]) {
                    return Err(format!(
                        "{shown_to} has no room for the pod's requests ({:.0}m CPU, {:.0} MiB)",
                        p.requests.cpu_m, p.requests.mem_mib
                    ));
                }
            }
            Ok(change.clone())
        }
    }
}

/// Finds a workload by key or unambiguous name, with a reason when it is not in the twin.
pub(crate) fn find_workload(snap: &Snapshot, key_or_name: &str) -> Result<usize, String> {
    snap.workload_index(key_or_name).ok_or_else(|| {
        let shown: String = key_or_name.chars().take(80).collect();
        format!("no workload `{shown}` in the twin")
    })
}

fn check_size(snap: &Snapshot, w: usize, replicas: u32, g: &Guardrails) -> Result<(), String> {
    let wl = &snap.workloads[w];
    let key = wl.key();
    let current = wl.replicas;
    if replicas == current {
        return Err(format!("{key} already has {current} replicas"));
    }
    if wl.critical && replicas < g.critical_min_replicas {
        return Err(format!(
            "{key} is critical: {replicas} replicas is below the floor of {}",
            g.critical_min_replicas
        ));
    }
    if let Some(h) = &wl.hpa
        && (replicas < h.min_replicas || replicas > h.max_replicas)
    {
        return Err(format!(
            "{replicas} replicas is outside {key}'s HPA bounds {}–{}",
            h.min_replicas, h.max_replicas
        ));
    }
    if replicas > g.max_replicas {
        return Err(format!("{replicas} replicas exceeds the guardrail of {}", g.max_replicas));
    }
    if replicas > g.max_step_up(current) {
        return Err(format!(
            "{current} → {replicas} replicas is too large a step (at most {} at once)",
            g.max_step_up(current)
        ));
    }
    if replicas < g.min_step_down(current) {
        return Err(format!(
            "{current} → {replicas} replicas removes more than half of {key} at once (at least {})",
            g.min_step_down(current)
        ));
    }
    if replicas > current {
        let extra = replicas - current;
        let placed = place_pods(&mut free_capacity(snap), &wl.requests, extra).len() as u32;
        if placed < extra {
            return Err(format!(
                "the cluster has room for only {placed} of {extra} more {key} pods ({:.0}m CPU, {:.0} MiB each)",
                wl.requests.cpu_m, wl.requests.mem_mib
            ));
        }
    }
    Ok(())
}

/// Allocatable minus requested on every schedulable server (zero on cordoned ones).
pub(crate) fn free_capacity(snap: &Snapshot) -> Vec<Resources> {
    snap.servers
        .iter()
        .zip(&snap.server_status)
        .map(|(s, st)| if s.schedulable { s.allocatable.sub(&st.requested) } else { Resources::ZERO })
        .collect()
}

/// Places `n` pods of `req` on the servers with the most free CPU and memory, as a spreading
/// scheduler does; returns the chosen servers (fewer than `n` when the cluster is full).
pub(crate) fn place_pods(free: &mut [Resources], req: &Resources, n: u32) -> Vec<usize> {
    let mut chosen = Vec::new();
    for _ in 0..n {
        let best = free
            .iter()
            .enumerate()
            .filter(|(_, f)| req.fits_in(f))
            .max_by(|(_, a), (_, b)| (a.cpu_m + a.mem_mib).total_cmp(&(b.cpu_m + b.mem_mib)));
        let Some((i, _)) = best else { break };
        free[i] = free[i].sub(req);
        chosen.push(i);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::testkit::small_twin;

    fn ok(c: Change) -> Result<Change, String> {
        validate(&small_twin(), &c, &Guardrails::default())
    }

    #[test]
    fn scale_within_bounds_is_valid_and_normalised() {
        let c = ok(Change::Scale { workload: "api".into(), replicas: 4 }).unwrap();
        assert_eq!(c, Change::Scale { workload: "shop/api".into(), replicas: 4 });
    }

    #[test]
    fn rejections_name_the_rule() {
        let cases = [
            (Change::Scale { workload: "shop/nope".into(), replicas: 3 }, "no workload"),
            (Change::Scale { workload: "shop/api".into(), replicas: 0 }, "to 0"),
            (Change::Scale { workload: "shop/api".into(), replicas: 40 }, "too large a step"),
            (Change::Scale { workload: "shop/api".into(), replicas: 2 }, "already has"),
            (Change::Scale { workload: "shop/db".into(), replicas: 1 }, "critical"),
            (Change::Scale { workload: "shop/web".into(), replicas: 5 }, "HPA owns"),
            (Change::HpaBounds { workload: "shop/api".into(), min: 2, max: 4 }, "no HPA"),
            (Change::HpaBounds { workload: "shop/web".into(), min: 5, max: 3 }, "invalid"),
            (Change::HpaBounds { workload: "shop/web".into(), min: 2, max: 900 }, "guardrail"),
            (Change::Cordon { server: "s9".into(), cordon: true }, "no server"),
            (Change::Cordon { server: "s1".into(), cordon: false }, "not cordoned"),
            (Change::Scale { workload: "shop/big".into(), replicas: 3 }, "room for only"),
        ];
        for (c, want) in cases {
            let err = ok(c.clone()).expect_err(&format!("{c} must be rejected"));
            assert!(err.contains(want), "{c}: {err}");
        }
    }

    #[test]
    fn the_system_namespaces_are_never_changed() {
        let snap = crate::advise::testkit::small_twin_with_coredns();
        let g = Guardrails::default();
        let scale = Change::Scale { workload: "kube-system/coredns".into(), replicas: 3 };
        let err = validate(&snap, &scale, &g).unwrap_err();
        assert!(err.contains("system namespace kube-system"), "{err}");
        let evict = Change::Evict { pod: "kube-system/coredns-0".into(), server: "s2".into(), to: None };
        assert!(validate(&snap, &evict, &g).unwrap_err().contains("system namespace"));
        // The same change in another namespace passes.
        let api = Change::Scale { workload: "shop/api".into(), replicas: 3 };
        assert!(validate(&snap, &api, &g).is_ok());
    }

    #[test]
    fn hpa_bounds_and_cordon_are_valid_when_they_fit() {
        assert!(ok(Change::HpaBounds { workload: "shop/web".into(), min: 3, max: 6 }).is_ok());
        // one cordoned server of four is within the 20 % guardrail? no: 25 %.
        let err = ok(Change::Cordon { server: "s1".into(), cordon: true }).unwrap_err();
        assert!(err.contains("guardrail"), "{err}");
        let g = Guardrails { max_cordoned_share: 0.5, ..Guardrails::default() };
        assert!(validate(&small_twin(), &Change::Cordon { server: "s1".into(), cordon: true }, &g).is_ok());
    }

    #[test]
    fn an_eviction_needs_the_pod_where_it_is_a_replica_to_spare_and_room_where_it_goes() {
        let evict = |pod: &str, server: &str, to: Option<&str>| Change::Evict {
            pod: pod.into(),
            server: server.into(),
            to: to.map(String::from),
        };
        assert!(ok(evict("shop/api-0", "s2", Some("s4"))).is_ok());
        assert!(ok(evict("shop/api-0", "s2", None)).is_ok());
        let cases = [
            (evict("shop/ghost", "s2", None), "no pod `shop/ghost`"),
            (evict("shop/api-0", "s3", Some("s4")), "runs on s2, not on s3"),
            (evict("shop/api-0", "s2", Some("s9")), "no server named `s9`"),
            (evict("shop/api-0", "s2", Some("s2")), "already runs on s2"),
            (evict("shop/big-6", "s1", Some("s4")), "only replica of Deployment shop/big"),
        ];
        for (c, want) in cases {
            let err = ok(c.clone()).expect_err(&format!("{c} must be rejected"));
            assert!(err.contains(want), "{c}: {err}");
        }
        let sts = crate::advise::testkit::small_twin_with(|w| {
            if w.name == "big" {
                w.kind = crate::twin::WorkloadKind::StatefulSet;
            }
        });
        let err = validate(&sts, &evict("shop/big-6", "s1", None), &Guardrails::default()).unwrap_err();
        assert!(err.contains("only replica of StatefulSet"), "{err}");
        let mut full = (*small_twin()).clone();
        full.server_status[3].requested = full.servers[3].allocatable;
        let err =
            validate(&full, &evict("shop/api-0", "s2", Some("s4")), &Guardrails::default()).unwrap_err();
        assert!(err.contains("s4 has no room"), "{err}");
    }

    #[test]
    fn the_users_guardrails_reach_validation_and_name_their_rule() {
        let api = Change::Scale { workload: "shop/api".into(), replicas: 4 };
        assert!(ok(api.clone()).is_ok());
        let deny = Guardrails { deny_namespaces: vec!["shop".into()], ..Guardrails::default() };
        let err = validate(&small_twin(), &api, &deny).unwrap_err();
        assert_eq!(err, "guardrail namespace: namespace shop is on the deny list");
        let small_steps = Guardrails { max_replica_change: 1, ..Guardrails::default() };
        let err = validate(&small_twin(), &api, &small_steps).unwrap_err();
        assert!(err.starts_with("guardrail max-change: "), "{err}");
        // The rules of the moment are the approval's: a read-only console still shows proposals.
        let readonly = Guardrails { readonly: true, ..Guardrails::default() };
        assert!(validate(&small_twin(), &api, &readonly).is_ok());
    }
}
