//! What a valid change's prediction means before it is scored. A change the twin predicts
//! makes its target or the system worse is rejected with the figures, unless the advisor
//! stated a motive (cost, a freed server) that the prediction bears out and no SLO suffers for
//! it. A change predicted to change nothing that matters is not shown either: fewer, better
//! proposals — but a cordon of a hot server the scheduler would still fill (motive
//! `hot_server`) is: it changes nothing now, and keeps new pods off a server that cannot run
//! them. Also the server-side figures of an eviction when the evaluator gives none.

use super::builtin::HOT_SERVER_CPU;
use super::proposal::{BeforeAfter, Motive, Prediction, Spread};
use super::rebalance;
use crate::change::Change;
use crate::twin::Snapshot;
use crate::twin::kpi::ServerUtil;

/// A target p99 this much above its baseline (and at least `HARM_MIN_MS` more) is worse.
const HARM_P99: f64 = 0.10;
const HARM_MIN_MS: f64 = 1.0;
/// Workloads over their SLO, mean over seeds: this many more is worse (a quarter of the seeds
/// with one more breach; baseline and change run on the same seeds, so noise mostly cancels).
const HARM_SLO: f64 = 0.25;
/// The servers' imbalance (RUB) this much higher is worse.
const HARM_RUB: f64 = 0.02;
/// An eviction must take at least this share of allocatable CPU off its server to matter.
const MIN_RELIEF: f64 = 0.02;

/// What the advisor claims for a change besides the change itself.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Claim {
    /// Why, when not to fix an SLO or a hot server.
    pub motive: Option<Motive>,
    /// A forecast peak motivates it (its effect is beyond what the twin simulates now).
    pub forecast: bool,
    /// For an eviction: the CPU share its server is left with after all the evictions the same
    /// advisor proposes off it (moves that cool a server only together).
    pub together: Option<f64>,
}

/// Why the proposal should not be shown, or `Ok` when it may be.
pub(crate) fn judge(snap: &Snapshot, change: &Change, p: &Prediction, claim: &Claim) -> Result<(), String> {
    let (motive, forecast) = (claim.motive, claim.forecast);
    let target = change.target();
    let (b, a) = (p.p99_ms.before.mean, p.p99_ms.after.mean);
    let (vb, va) = (p.slo_violations.before.mean, p.slo_violations.after.mean);
    let p99_worse = a > b * (1.0 + HARM_P99) && a - b > HARM_MIN_MS;
    let slo_worse = va > vb + HARM_SLO;
    // A less even spread is a cost worth paying for a target that gets materially faster or
    // back within its SLO; without that it is harm.
    let helps = (b > 0.0 && a <= b * (1.0 - HARM_P99)) || va < vb - HARM_SLO;
    let rub_worse = p.rub.after.mean > p.rub.before.mean + HARM_RUB && !helps;
    let figures = || {
        let mut f = Vec::new();
        if b > 0.0 || a > 0.0 {
            let pct = if b > 0.0 { format!(" ({:+.0} %)", (a - b) / b * 100.0) } else { String::new() };
            f.push(format!("p99 of {target} {b:.0} → {a:.0} ms{pct}"));
        }
        f.push(format!("workloads over their SLO {vb:.1} → {va:.1}"));
        if rub_worse {
            f.push(format!("RUB {:.2} → {:.2}", p.rub.before.mean, p.rub.after.mean));
        }
        format!("{} (mean of {} seeds)", f.join(", "), p.seeds)
    };
    let (cb, ca) = (p.cost_per_hour.before.mean, p.cost_per_hour.after.mean);
    // A motive counts only when the change serves it.
    let serves = |m: Motive| match m {
        Motive::Cost => ca < cb,
        Motive::FreeServer => matches!(change, Change::Cordon { cordon: true, .. } | Change::Evict { .. }),
        Motive::HotServer => hot_cordon(snap, change).is_ok(),
    };
    if p99_worse || slo_worse || rub_worse {
        let Some(m) = motive else {
            return Err(format!(
                "the twin predicts this makes things worse: {}; no motive stated (cost, a freed server)",
                figures()
            ));
        };
        if !serves(m) {
            let why = match m {
                Motive::Cost => format!("the twin predicts no saving (cost {cb:.2} → {ca:.2} per hour)"),
                Motive::FreeServer => "this change frees no server".to_string(),
                Motive::HotServer => hot_cordon(snap, change).err().unwrap_or_default(),
            };
            return Err(format!("stated motive {}, but {why}, while {}", m.as_str(), figures()));
        }
        if slo_worse {
            return Err(format!(
                "stated motive {} does not excuse more SLO breaches: {}",
                m.as_str(),
                figures()
            ));
        }
        let slo = snap.workload_index(target).and_then(|w| snap.workloads[w].slo_p99_ms);
        if let Some(slo) = slo.filter(|s| a > *s) {
            return Err(format!(
                "stated motive {}, but {target}'s p99 would break its {slo:.0} ms SLO: {}",
                m.as_str(),
                figures()
            ));
        }
        return Ok(());
    }
    if motive == Some(Motive::HotServer) {
        // Served, or why not: the one motive whose premise is checked here and not in the
        // prediction (a cordon changes nothing the simulator runs now).
        hot_cordon(snap, change)?;
    }
    if motive.is_some_and(serves) || forecast {
        // A saving or a freed server is the point; a forecast peak is not in the simulated
        // window: neither is judged by what the twin shows now.
        return Ok(());
    }
    match change {
        Change::Scale { .. } | Change::HpaBounds { .. } => {
            // Material: some seed with the SLO or p99 clearly better, or the mean p99 at least
            // 10 % lower (a busy service made faster before it breaches).
            if p.improved_seeds == 0 && !(b > 0.0 && a <= b * (1.0 - HARM_P99)) {
                return Err(format!(
                    "the twin predicts no material effect (improved in 0 of {} seeds): {}",
                    p.seeds,
                    figures()
                ));
            }
        }
        Change::Evict { server, .. } => {
            let (b, a) = p.server_cpu.map(|c| (c.before.mean, c.after.mean)).unwrap_or((0.0, 0.0));
            if b - a < MIN_RELIEF {
                return Err(format!(
                    "the twin predicts moving this pod takes only {:.1} % of CPU off {server}: no material effect",
                    (b - a) * 100.0
                ));
            }
            // A hot server these moves leave hot is still hot: the outcome does not change.
            let together = claim.together.unwrap_or(a).min(a);
            if b >= HOT_SERVER_CPU && together >= HOT_SERVER_CPU {
                let with = if together < a {
                    format!(", {:.0} % with the advisor's other moves off it", together * 100.0)
                } else {
                    String::new()
                };
                return Err(format!(
                    "the twin predicts {server} stays hot ({:.0} % → {:.0} % CPU{with}; hot from {:.0} %): \
                     no material effect",
                    b * 100.0,
                    a * 100.0,
                    HOT_SERVER_CPU * 100.0
                ));
            }
        }
        Change::Cordon { server, cordon: true } => {
            return Err(format!(
                "a cordon moves no pod: the twin predicts no change now ({server} only stops taking new pods); \
                 propose it with the motive hot_server when {server} runs hot, so nothing new lands on it, \
                 or free_server to take {server} out of service"
            ));
        }
        Change::Cordon { server, cordon: false } => {
            let waiting = snap.pods.iter().any(|p| p.server.is_none());
            if !waiting {
                return Err(format!("no pod is waiting for room: uncordoning {server} changes nothing now"));
            }
        }
    }
    Ok(())
}

/// Whether a cordon keeps new pods off a server running hot: the server must be hot (CPU at
/// least `HOT_SERVER_CPU` of allocatable, as measured) and the scheduler — which places by
/// requests, not by use — must still have room there for the smallest pod the twin runs, or
/// the cordon keeps nothing off it. The reason otherwise.
pub(crate) fn hot_cordon(snap: &Snapshot, change: &Change) -> Result<(), String> {
    let Change::Cordon { server, cordon: true } = change else {
        return Err("only a cordon keeps new pods off a hot server".into());
    };
    let s = snap.server_index(server).ok_or_else(|| format!("{server} is not in the twin"))?;
    let cpu = server_cpu(snap, s);
    if cpu < HOT_SERVER_CPU {
        return Err(format!(
            "{server} is not hot ({:.0} % CPU of allocatable; hot from {:.0} %)",
            cpu * 100.0,
            HOT_SERVER_CPU * 100.0
        ));
    }
    let free = snap.servers[s].allocatable.sub(&snap.server_status[s].requested);
    let smallest = snap
        .pods
        .iter()
        .map(|p| p.requests)
        .filter(|r| r.cpu_m > 0.0 || r.mem_mib > 0.0)
        .min_by(|a, b| a.cpu_m.total_cmp(&b.cpu_m).then(a.mem_mib.total_cmp(&b.mem_mib)));
    let takes_pods = snap.servers[s].schedulable && smallest.is_some_and(|r| r.fits_in(&free));
    if !takes_pods {
        return Err(format!(
            "the scheduler would place no new pod on {server} anyway (its requests leave no room): \
             the cordon keeps nothing off it"
        ));
    }
    Ok(())
}

/// An eviction's effect on its server's CPU (share of allocatable), the pod taking its share of
/// use to where the twin expects it; `None` for other changes or pods the twin does not have.
pub(crate) fn eviction_cpu(snap: &Snapshot, change: &Change) -> Option<BeforeAfter> {
    let Change::Evict { pod, to, .. } = change else { return None };
    let i = snap.pod_index(pod)?;
    let from = snap.pods[i].server?;
    let to = rebalance::expected_server(snap, i, to.as_deref())?;
    let (b, a) = rebalance::figures_after(snap, &[rebalance::PodMove { pod: i, from, to }]);
    let before = b.cpu[from];
    let after = cpu_after_moves(snap, from, before, a.cpu[from]);
    Some(BeforeAfter { before: Spread::of(&[before]), after: Spread::of(&[after]) })
}

/// Server `s`'s measured CPU as a share of its allocatable (one server's, not the whole table).
fn server_cpu(snap: &Snapshot, s: usize) -> f64 {
    ServerUtil::of(&snap.servers[s], &snap.server_status[s].effective_usage()).cpu
}

/// A cordon's effect on its server's CPU: none (it moves no pod; what it keeps off is not
/// there yet). `None` for other changes.
pub(crate) fn cordon_cpu(snap: &Snapshot, change: &Change) -> Option<BeforeAfter> {
    let Change::Cordon { server, cordon: true } = change else { return None };
    let cpu = server_cpu(snap, snap.server_index(server)?);
    Some(BeforeAfter { before: Spread::of(&[cpu]), after: Spread::of(&[cpu]) })
}

/// Server `s`'s CPU share after pods move off it, `after` as the pods' figures have it. A
/// saturated server shows its capacity, not its demand: load no pod explains there (a runaway
/// process) may take whatever CPU the moved pods free, so no relief is predicted.
pub(crate) fn cpu_after_moves(snap: &Snapshot, s: usize, before: f64, after: f64) -> f64 {
    if before >= SATURATED_CPU && server_explained_share(snap, s) < FULLY_EXPLAINED { before } else { after }
}

/// A server's CPU at or above this share of its allocatable is saturated.
const SATURATED_CPU: f64 = 0.97;
/// Pods accounting for this share of a server's CPU explain it (the kubelet and daemons the rest).
const FULLY_EXPLAINED: f64 = 0.9;

/// The share of a server's measured CPU that its pods account for (1 without measurements).
/// Load no pod explains — system daemons, a runaway process — does not move with a pod, so an
/// eviction's predicted relief is only as sure as this share.
pub(crate) fn explained_share(snap: &Snapshot, change: &Change) -> Option<f64> {
    let Change::Evict { pod, .. } = change else { return None };
    let s = snap.pods[snap.pod_index(pod)?].server?;
    Some(server_explained_share(snap, s))
}

fn server_explained_share(snap: &Snapshot, s: usize) -> f64 {
    let used = snap.server_status[s].effective_usage().cpu_m;
    if used <= 0.0 {
        return 1.0;
    }
    let pods: f64 = (0..snap.pods.len())
        .filter(|&i| snap.pods[i].server == Some(s))
        .map(|i| rebalance::pod_usage(snap, i).cpu_m)
        .sum();
    (pods / used).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::testkit::small_twin;

    fn pred(b: f64, a: f64, vb: f64, va: f64, improved: usize) -> Prediction {
        let ba = |b: f64, a: f64| BeforeAfter { before: Spread::of(&[b]), after: Spread::of(&[a]) };
        Prediction {
            model: "sim".into(),
            seeds: 8,
            horizon_s: 60,
            p99_ms: ba(b, a),
            measured_p99_ms: None,
            slo_violations: ba(vb, va),
            cost_per_hour: ba(2.0, 1.5),
            rub: ba(0.1, 0.1),
            server_cpu: None,
            improved_seeds: improved,
        }
    }

    fn claim(motive: Option<Motive>, forecast: bool) -> Claim {
        Claim { motive, forecast, together: None }
    }

    fn flat_cost() -> BeforeAfter {
        BeforeAfter { before: Spread::of(&[2.0]), after: Spread::of(&[2.5]) }
    }

    fn scale(w: &str, n: u32) -> Change {
        Change::Scale { workload: w.into(), replicas: n }
    }

    #[test]
    fn a_change_that_makes_the_target_worse_is_rejected_with_the_figures() {
        let snap = small_twin();
        // emailservice 2 → 1 in the demo: p99 31 → 39 ms.
        let err = judge(&snap, &scale("shop/api", 1), &pred(31.0, 39.0, 0.0, 0.0, 0), &claim(None, false))
            .unwrap_err();
        assert!(err.contains("makes things worse") && err.contains("31 → 39 ms (+26 %)"), "{err}");
        assert!(err.contains("no motive stated"), "{err}");
        let slo = judge(&snap, &scale("shop/db", 3), &pred(100.0, 100.0, 0.0, 1.0, 0), &claim(None, false))
            .unwrap_err();
        assert!(slo.contains("over their SLO 0.0 → 1.0"), "{slo}");
        // RUB up with the target no faster is harm; with it back within its SLO it is the price.
        let rub = |p: Prediction| Prediction {
            rub: BeforeAfter { before: Spread::of(&[0.41]), after: Spread::of(&[0.47]) },
            ..p
        };
        let err =
            judge(&snap, &scale("shop/api", 3), &rub(pred(60.0, 59.0, 1.0, 1.0, 8)), &claim(None, false))
                .unwrap_err();
        assert!(err.contains("RUB 0.41 → 0.47"), "{err}");
        assert!(
            judge(&snap, &scale("shop/api", 3), &rub(pred(60.0, 45.0, 1.0, 0.0, 8)), &claim(None, false))
                .is_ok()
        );
    }

    #[test]
    fn a_cost_motive_excuses_a_slower_target_only_within_its_slo_and_with_a_saving() {
        let snap = small_twin();
        let slower = pred(30.0, 45.0, 0.0, 0.0, 0);
        assert!(judge(&snap, &scale("shop/db", 1), &slower, &claim(Some(Motive::Cost), false)).is_ok());
        // api's SLO is 50 ms.
        let over = pred(30.0, 60.0, 0.0, 0.0, 0);
        let err = judge(&snap, &scale("shop/api", 1), &over, &claim(Some(Motive::Cost), false)).unwrap_err();
        assert!(err.contains("break its 50 ms SLO"), "{err}");
        // A motive the change does not serve exempts nothing: a scale-up "for cost" that does
        // nothing is still not shown.
        let up = Prediction { cost_per_hour: flat_cost(), ..pred(31.0, 29.0, 0.0, 0.0, 0) };
        let err = judge(&snap, &scale("shop/api", 3), &up, &claim(Some(Motive::Cost), false)).unwrap_err();
        assert!(err.contains("no material effect"), "{err}");
        let breach = pred(30.0, 45.0, 0.0, 1.0, 0);
        let err = judge(&snap, &scale("shop/db", 1), &breach, &claim(Some(Motive::Cost), false)).unwrap_err();
        assert!(err.contains("does not excuse more SLO breaches"), "{err}");
        let flat = BeforeAfter { before: Spread::of(&[2.0]), after: Spread::of(&[2.0]) };
        let no_saving = Prediction { cost_per_hour: flat, ..slower };
        let err =
            judge(&snap, &scale("shop/db", 1), &no_saving, &claim(Some(Motive::Cost), false)).unwrap_err();
        assert!(err.contains("no saving"), "{err}");
    }

    #[test]
    fn a_change_that_changes_nothing_is_not_shown() {
        let snap = small_twin();
        let err = judge(&snap, &scale("shop/api", 3), &pred(31.0, 29.0, 0.2, 0.2, 0), &claim(None, false))
            .unwrap_err();
        assert!(err.contains("no material effect") && err.contains("0 of 8 seeds"), "{err}");
        // 18 % faster on average, though no seed is 20 % faster: shown.
        assert!(
            judge(&snap, &scale("shop/api", 3), &pred(75.0, 62.0, 0.0, 0.0, 0), &claim(None, false)).is_ok()
        );
        assert!(
            judge(&snap, &scale("shop/api", 4), &pred(90.0, 40.0, 1.0, 0.0, 8), &claim(None, false)).is_ok()
        );
        // A forecast-motivated change acts on a peak the twin does not simulate.
        assert!(
            judge(&snap, &scale("shop/api", 3), &pred(31.0, 29.0, 0.2, 0.2, 0), &claim(None, true)).is_ok()
        );
        let cordon = Change::Cordon { server: "s1".into(), cordon: true };
        let err = judge(&snap, &cordon, &pred(0.0, 0.0, 0.0, 0.0, 0), &claim(None, false)).unwrap_err();
        assert!(err.contains("moves no pod"), "{err}");
        assert!(
            judge(&snap, &cordon, &pred(0.0, 0.0, 0.0, 0.0, 0), &claim(Some(Motive::FreeServer), false))
                .is_ok()
        );
    }

    /// The SRE's first move on a server a runaway process pegs: cordon it so nothing new lands
    /// there. Valid with the motive hot_server only where it is true — the server is hot and
    /// the scheduler (which places by requests) would still put pods on it — and never when
    /// the twin predicts more SLO breaches.
    #[test]
    fn a_cordon_keeps_new_pods_off_a_hot_server_only_with_the_motive_and_only_where_it_is_true() {
        let mut snap = small_twin();
        let s2 = snap.server_index("s2").unwrap();
        let cap = snap.servers[s2].allocatable;
        let cordon = Change::Cordon { server: "s2".into(), cordon: true };
        let hot = claim(Some(Motive::HotServer), false);
        let idle = pred(0.0, 0.0, 0.0, 0.0, 0);
        // Not hot: the motive is not served, and the cordon alone changes nothing.
        let err = judge(&snap, &cordon, &idle, &hot).unwrap_err();
        assert!(err.contains("s2 is not hot"), "{err}");
        std::sync::Arc::make_mut(&mut snap).server_status[s2].usage =
            Some(crate::twin::Resources::new(cap.cpu_m * 0.99, cap.mem_mib * 0.5, 0.0));
        assert!(judge(&snap, &cordon, &idle, &hot).is_ok());
        let cpu = cordon_cpu(&snap, &cordon).unwrap();
        assert!((cpu.before.mean - 0.99).abs() < 1e-9 && cpu.after.mean == cpu.before.mean, "{cpu:?}");
        // Without the motive it is still "moves no pod", and the message names the motive.
        let err = judge(&snap, &cordon, &idle, &claim(None, false)).unwrap_err();
        assert!(err.contains("moves no pod") && err.contains("hot_server"), "{err}");
        // The harm checks stand: more SLO breaches are not excused.
        let err = judge(&snap, &cordon, &pred(30.0, 30.0, 0.0, 1.0, 0), &hot).unwrap_err();
        assert!(err.contains("does not excuse more SLO breaches"), "{err}");
        // Another change with the motive is not served by it.
        let evict = Change::Evict { pod: "shop/api-0".into(), server: "s2".into(), to: Some("s4".into()) };
        assert!(hot_cordon(&snap, &evict).is_err());
        // Requests fill the server: the scheduler would put nothing there; the cordon keeps
        // nothing off it.
        std::sync::Arc::make_mut(&mut snap).server_status[s2].requested = cap;
        let err = judge(&snap, &cordon, &idle, &hot).unwrap_err();
        assert!(err.contains("keeps nothing off it"), "{err}");
    }

    /// A runaway process takes whatever CPU is free: on a saturated server that its pods do not
    /// explain, moving a pod is predicted to relieve nothing, and is not shown.
    #[test]
    fn no_relief_is_predicted_off_a_saturated_server_its_pods_do_not_explain() {
        let mut snap = small_twin();
        let evict = Change::Evict { pod: "shop/api-0".into(), server: "s2".into(), to: Some("s4".into()) };
        let s2 = snap.server_index("s2").unwrap();
        let cap = snap.servers[s2].allocatable;
        let explained = eviction_cpu(&snap, &evict).unwrap();
        assert!(explained.after.mean < explained.before.mean, "{explained:?}");
        std::sync::Arc::make_mut(&mut snap).server_status[s2].usage =
            Some(crate::twin::Resources::new(cap.cpu_m * 0.99, cap.mem_mib * 0.5, 0.0));
        assert!(explained_share(&snap, &evict).unwrap() < FULLY_EXPLAINED);
        let cpu = eviction_cpu(&snap, &evict).unwrap();
        assert!((cpu.before.mean - 0.99).abs() < 1e-9 && cpu.after.mean == cpu.before.mean, "{cpu:?}");
        let p = Prediction { server_cpu: Some(cpu), ..pred(90.0, 90.0, 1.0, 1.0, 0) };
        let err = judge(&snap, &evict, &p, &claim(None, false)).unwrap_err();
        assert!(err.contains("no material effect"), "{err}");
    }

    #[test]
    fn an_eviction_matters_by_the_cpu_it_takes_off_its_server() {
        let snap = small_twin();
        let evict = Change::Evict { pod: "shop/api-0".into(), server: "s2".into(), to: Some("s4".into()) };
        let cpu = eviction_cpu(&snap, &evict).expect("the pod is in the twin");
        assert!(cpu.after.mean < cpu.before.mean, "{cpu:?}");
        let share = explained_share(&snap, &evict).unwrap();
        assert!((0.0..=1.0).contains(&share));
        let p = Prediction { server_cpu: Some(cpu), ..pred(90.0, 90.0, 1.0, 1.0, 0) };
        let relief = cpu.before.mean - cpu.after.mean;
        let stays_hot = cpu.before.mean >= HOT_SERVER_CPU && cpu.after.mean >= HOT_SERVER_CPU;
        assert_eq!(
            judge(&snap, &evict, &p, &claim(None, false)).is_ok(),
            relief >= MIN_RELIEF && !stays_hot,
            "{relief}"
        );
        // A hot server left hot by the move: not shown.
        let ba = |b: f64, a: f64| BeforeAfter { before: Spread::of(&[b]), after: Spread::of(&[a]) };
        let hot = Prediction { server_cpu: Some(ba(0.97, 0.93)), ..p.clone() };
        let err = judge(&snap, &evict, &hot, &claim(None, false)).unwrap_err();
        assert!(err.contains("stays hot") && err.contains("97 % → 93 %"), "{err}");
        // … unless the advisor's other moves off the same server cool it together.
        let with_others = Claim { together: Some(0.85), ..Claim::default() };
        assert!(judge(&snap, &evict, &hot, &with_others).is_ok());
        let not_enough = Claim { together: Some(0.91), ..Claim::default() };
        let err = judge(&snap, &evict, &hot, &not_enough).unwrap_err();
        assert!(err.contains("91 % with the advisor's other moves"), "{err}");
        let cooled = Prediction { server_cpu: Some(ba(0.97, 0.85)), ..p };
        assert!(judge(&snap, &evict, &cooled, &claim(None, false)).is_ok());
    }
}
