use super::baselines::{hba, sm};
use super::*;
use crate::twin::{LatencyModel, Location, Resources};
use proptest::prelude::*;

fn server(name: &str, rack: &str, cap: f64) -> PlanServer {
    PlanServer {
        name: name.into(),
        capacity: Resources::new(cap, cap, cap),
        location: Location::new("dc", "z", rack),
        cordoned: false,
    }
}

fn workload(name: &str, size: f64) -> PlanWorkload {
    PlanWorkload {
        name: name.into(),
        demand: Resources::new(size, size, size),
        forecast: Resources::new(size, size, size),
        work_ms: 100.0,
        deadline_ms: None,
        group: None,
    }
}

fn problem(servers: Vec<PlanServer>, workloads: Vec<PlanWorkload>, deps: Vec<Dependency>) -> Problem {
    Problem { servers, workloads, deps, latency: LatencyModel::racks(1.0, 20.0), calls_per_dependency: 5.0 }
}

#[test]
fn metrics_by_hand() {
    let mut ws = vec![workload("w0", 10.0), workload("w1", 20.0), workload("w2", 30.0), workload("w3", 10.0)];
    ws[0].deadline_ms = Some(140.0);
    ws[1].deadline_ms = Some(300.0);
    let dep = |a, b, weight| Dependency { a, b, weight };
    let p = problem(
        vec![server("s0", "a", 100.0), server("s1", "a", 100.0), server("s2", "b", 100.0)],
        ws,
        vec![dep(0, 1, 1.0), dep(1, 2, 3.0), dep(0, 3, 4.0)],
    );
    let m = evaluate(&p, &vec![Some(0), Some(1), Some(2), Some(0)]);
    assert_eq!(m.accuracy, 1.0);
    // (1 × 1 ms + 3 × 20 ms) / 4 over the pairs on different servers; 4 of 8 co-located.
    assert!((m.mean_latency_ms - 15.25).abs() < 1e-12, "{m:?}");
    // Every dependency: (1 × 1 + 3 × 20 + 4 × 0 ms on one server) / 8.
    assert!((m.mean_dependency_latency_ms - 7.625).abs() < 1e-12, "{m:?}");
    // The objective's latency term is that mean over the largest latency (20 ms).
    let o = objective(&p, &vec![Some(0), Some(1), Some(2), Some(0)], Weights::default());
    assert!((o.latency_term - 7.625 / 20.0).abs() < 1e-12, "{o:?}");
    assert!((m.colocated_share - 0.5).abs() < 1e-12);
    assert!((m.bandwidth_util - 70.0 / 300.0).abs() < 1e-12);
    // utilisations 0.2, 0.2, 0.3: mean 0.2333, population std 0.04714
    let (mean, std) =
        (0.7 / 3.0, (((0.2f64 - 0.7 / 3.0).powi(2) * 2.0 + (0.3f64 - 0.7 / 3.0).powi(2)) / 3.0).sqrt());
    assert!((m.rub - (1.0 - std / mean)).abs() < 1e-12);
    assert!((m.rub - 0.79797).abs() < 1e-4);
    // w0: 100 / (1 − 0.2) + 5 × 2 × 1 ms (w1) + 0 (w3 on its server) = 135 ≤ 140: met.
    // w1: 125 + 10 + 5 × 2 × 20 ms = 335 > 300: missed.
    assert_eq!(m.completion, Some(0.5));
    let f = metrics::finish_times_ms(&p, &vec![Some(0), Some(1), Some(2), Some(0)]);
    assert!((f[0].unwrap() - 135.0).abs() < 1e-9 && (f[1].unwrap() - 335.0).abs() < 1e-9);
}

#[test]
fn hba_overfills_by_its_static_rule_and_is_not_counted_accurate() {
    // 7 on an empty server; the second 7 sees the server at 70 % < 80 % and goes there too.
    let p = problem(
        vec![server("s0", "a", 10.0), server("s1", "a", 10.0)],
        vec![workload("a", 7.0), workload("b", 7.0)],
        vec![],
    );
    let a = hba(&p);
    assert_eq!(a, vec![Some(0), Some(0)]);
    let m = evaluate(&p, &a);
    assert_eq!(m.accuracy, 0.0);
    assert_eq!(m.overloaded_servers, 1);
    assert_eq!(m.completion, None);
    // twintop keeps capacities: one per server.
    let t = optimize(&p, &OptimizeOptions::seeded(1));
    assert_ne!(t[0], t[1]);
    assert_eq!(evaluate(&p, &t).accuracy, 1.0);
}

#[test]
fn sm_goes_least_loaded_by_forecast() {
    let mut ws = vec![workload("a", 3.0), workload("b", 3.0), workload("c", 1.0)];
    ws[0].forecast = Resources::new(1.0, 1.0, 1.0); // forecast says small: s0 looks least loaded for b
    let p =
        problem(vec![server("s0", "a", 10.0), server("s1", "a", 10.0), server("s2", "a", 10.0)], ws, vec![]);
    assert_eq!(sm(&p), vec![Some(0), Some(1), Some(2)]);
}

#[test]
fn twintop_puts_dependent_workloads_together_and_respects_cordons_and_groups() {
    let mut servers = vec![
        server("s0", "a", 100.0),
        server("s1", "a", 100.0),
        server("s2", "b", 100.0),
        server("s3", "b", 100.0),
    ];
    servers[3].cordoned = true;
    let mut ws: Vec<PlanWorkload> = (0..6).map(|i| workload(&format!("w{i}"), 20.0)).collect();
    ws[4].group = Some(1);
    ws[5].group = Some(1);
    let p = problem(
        servers,
        ws,
        vec![Dependency { a: 0, b: 1, weight: 5.0 }, Dependency { a: 2, b: 3, weight: 5.0 }],
    );
    let a = optimize(&p, &OptimizeOptions::seeded(7));
    let topo = Topology::new(&p);
    assert!(a.iter().all(|s| s.is_some() && *s != Some(3)), "{a:?}");
    assert!(topo.latency(a[0].unwrap(), a[1].unwrap()) <= 1.0, "{a:?}");
    assert!(topo.latency(a[2].unwrap(), a[3].unwrap()) <= 1.0, "{a:?}");
    assert_ne!(a[4], a[5]);
    let m = evaluate(&p, &a);
    assert_eq!((m.accuracy, m.spread_violations), (1.0, 0));
    assert_eq!(a, optimize(&p, &OptimizeOptions::seeded(7)), "same seed, same placement");
}

#[test]
fn paper_scenario_matches_the_description() {
    let p = generate(&ScenarioSpec::paper(3));
    assert_eq!((p.servers.len(), p.workloads.len()), (50, 100));
    let mut dependent = std::collections::HashSet::new();
    for d in &p.deps {
        dependent.insert(d.a);
        dependent.insert(d.b);
    }
    assert_eq!(dependent.len(), 30);
    for w in &p.workloads {
        assert!(
            (1000.0..=16000.0).contains(&w.demand.cpu_m) && (2048.0..=32768.0).contains(&w.demand.mem_mib)
        );
        assert!((10.0..=200.0).contains(&w.demand.bw_mbps) && w.deadline_ms.is_some());
    }
    assert_eq!(p, generate(&ScenarioSpec::paper(3)));
}

#[test]
fn twintop_meets_the_targets_on_a_paper_scenario() {
    for seed in [1, 2] {
        let p = generate(&ScenarioSpec::paper(seed));
        let m = evaluate(&p, &Method::Twintop.place(&p, seed));
        assert_eq!(m.accuracy, 1.0);
        assert!(m.mean_latency_ms < 5.3, "{m:?}");
        assert!(m.rub > 0.92, "{m:?}");
        let h = evaluate(&p, &Method::Hba.place(&p, seed));
        assert!(m.mean_latency_ms < h.mean_latency_ms && m.rub > h.rub);
    }
}

/// The proven optimal costs of DIRA-LDT's scenario, seeds 1–10, of the objective as it stands
/// (deadlines aside), from an independent column-generation model (issue 19).
const DIRA_OPTIMUM: [f64; 10] =
    [0.03913, 0.02783, 0.03044, 0.03176, 0.03054, 0.03479, 0.03454, 0.03266, 0.03545, 0.03213];

#[test]
fn the_default_effort_reaches_the_proven_optimum_on_dira_seeds() {
    for seed in 1..=10u64 {
        let p = generate(&ScenarioSpec::paper(seed));
        let mut o = OptimizeOptions::seeded(seed);
        o.weights.deadline = 0.0;
        let a = optimize(&p, &o);
        let cost = objective(&p, &a, Weights::default()).cost;
        let opt = DIRA_OPTIMUM[seed as usize - 1];
        assert!(cost <= opt * 1.02, "seed {seed}: {cost:.5} is more than 2 % above the optimum {opt:.5}");
        // The optimum is a bound, up to the rounding of the published figures.
        assert!(cost >= opt - 5e-6, "seed {seed}: {cost:.6} below the optimum {opt}");
    }
}

#[test]
fn every_deadline_is_met_at_the_optimum_where_the_optimum_allows_it() {
    for seed in 1..=10u64 {
        let p = generate(&ScenarioSpec::paper(seed));
        let a = Method::Twintop.place(&p, seed);
        let m = evaluate(&p, &a);
        assert_eq!(m.completion, Some(1.0), "seed {seed}: {m:?}");
        assert_eq!((m.accuracy, m.overloaded_servers, m.spread_violations), (1.0, 0, 0));
        let cost = objective(&p, &a, Weights::default()).cost;
        let opt = DIRA_OPTIMUM[seed as usize - 1];
        match seed {
            // The optimum co-locates a dependent pair whose CPU alone makes one of them miss
            // its deadline (55 and 80; 32 and 53): meeting it costs that co-location.
            5 | 8 => {
                let (x, y) = if seed == 5 { (55, 80) } else { (32, 53) };
                let (wx, wy) = (&p.workloads[x], &p.workloads[y]);
                let rho = (wx.demand.cpu_m + wy.demand.cpu_m) / p.servers[0].capacity.cpu_m;
                let alone = |w: &PlanWorkload| w.work_ms / (1.0 - rho) > w.deadline_ms.unwrap();
                assert!(alone(wx) || alone(wy), "seed {seed}: {x} and {y} could share a server");
                assert_ne!(a[x], a[y], "seed {seed}");
                assert!(cost <= opt * 1.15, "seed {seed}: {cost:.5}");
            }
            _ => assert!(cost <= opt * 1.02, "seed {seed}: {cost:.5} vs the optimum {opt:.5}"),
        }
    }
}

#[test]
fn the_larger_scenario_reaches_the_best_known_placements() {
    // 50 servers × 200 workloads, seeds 1–3: best known .00110 / .00076 / .00101 (issue 19).
    for (seed, best) in (1u64..).zip(LARGE_BEST_KNOWN) {
        let p = generate(&ScenarioSpec::sized(50, 200, seed));
        let a = Method::Twintop.place(&p, seed);
        let cost = objective(&p, &a, Weights::default()).cost;
        assert!(cost <= best * 1.02, "seed {seed}: {cost:.5} vs best known {best:.5}");
        assert_eq!(evaluate(&p, &a).completion, Some(1.0));
    }
}

#[test]
fn improve_moves_a_pod_off_an_overloaded_server_within_k() {
    let p = problem(
        vec![server("s0", "a", 10.0), server("s1", "a", 10.0), server("s2", "b", 10.0)],
        vec![workload("a", 6.0), workload("b", 6.0), workload("c", 2.0)],
        vec![],
    );
    let current = vec![Some(0), Some(0), Some(1)];
    let imp = improve(&p, &current, 1, 1);
    assert_eq!(imp.moves.len(), 1);
    assert_eq!(imp.moves[0].from, Some(0));
    assert_eq!(imp.before.accuracy, 1.0 / 3.0);
    assert_eq!(imp.after.accuracy, 1.0);
    let mut applied = current.clone();
    for mv in &imp.moves {
        applied[mv.workload] = Some(mv.to);
    }
    assert_eq!(applied, imp.assignment);
    assert!(improve(&p, &current, 0, 1).moves.is_empty());
}

#[test]
fn improve_on_the_demo_twin_stays_within_k_and_never_overfills() {
    let snap = crate::demo::DemoTwin::new(crate::demo::DemoPreset::Dc, 1).warm_snapshot(30);
    let tp = from_snapshot(&snap);
    assert_eq!(tp.problem.workloads.len(), tp.current.len());
    assert!(!tp.problem.workloads.is_empty() && !tp.problem.deps.is_empty());
    let imp = improve(&tp.problem, &tp.current, 5, 1);
    assert!(imp.moves.len() <= 5);
    assert!(imp.after.overloaded_servers <= imp.before.overloaded_servers);
    for mv in &imp.moves {
        assert!(!tp.problem.servers[mv.to].cordoned);
        assert_eq!(tp.current[mv.workload], mv.from);
    }
}

fn arb_problem() -> impl Strategy<Value = Problem> {
    (1usize..6, 0usize..14, any::<u64>()).prop_map(|(ns, nw, seed)| {
        use rand::rngs::SmallRng;
        use rand::{RngExt, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(seed);
        let servers = (0..ns)
            .map(|i| PlanServer {
                cordoned: rng.random::<f64>() < 0.2,
                ..server(&format!("s{i}"), &format!("r{}", i / 2), rng.random_range(5.0..20.0))
            })
            .collect();
        let workloads = (0..nw)
            .map(|i| {
                let mut w = workload(&format!("w{i}"), rng.random_range(1.0..9.0));
                w.forecast = w.demand.scale(rng.random_range(0.5..1.5));
                w.group = (rng.random::<f64>() < 0.3).then_some(0);
                w.deadline_ms = Some(rng.random_range(50.0..500.0));
                w
            })
            .collect();
        let deps = if nw >= 2 {
            (0..nw / 2)
                .map(|_| Dependency { a: rng.random_range(0..nw), b: rng.random_range(0..nw), weight: 1.0 })
                .collect()
        } else {
            Vec::new()
        };
        problem(servers, workloads, deps)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_method_counts_an_over_capacity_placement_accurate(p in arb_problem(), seed in 0u64..4) {
        for m in Method::ALL {
            let a = m.place(&p, seed);
            prop_assert_eq!(a.len(), p.workloads.len());
            let used = p.loads(&a);
            let accurate = a.iter().filter(|s| matches!(s, Some(s) if used[*s].fits_in(&p.servers[*s].capacity))).count();
            let metrics = evaluate(&p, &a);
            prop_assert!((metrics.accuracy * p.workloads.len() as f64 - accurate as f64).abs() < 1e-9);
            if metrics.overloaded_servers > 0 {
                prop_assert!(metrics.accuracy < 1.0);
            }
            if m == Method::Twintop {
                prop_assert_eq!(metrics.overloaded_servers, 0);
                prop_assert_eq!(metrics.spread_violations, 0);
                prop_assert!(a.iter().flatten().all(|&s| !p.servers[s].cordoned));
            }
        }
    }
}

#[test]
fn incremental_cost_and_deadlines_agree_with_a_recomputation() {
    use super::state::State;
    use rand::rngs::SmallRng;
    use rand::{RngExt, SeedableRng};
    let mut spec = ScenarioSpec::sized(12, 40, 5);
    spec.spread_groups = 3;
    spec.rack_size = 4;
    let p = generate(&spec);
    let topo = Topology::new(&p);
    let adj = p.adjacency();
    let mut rng = SmallRng::seed_from_u64(9);
    let start: Assignment = (0..40).map(|_| Some(rng.random_range(0..12))).collect();
    let mut st = State::new(&p, &topo, &adj, Weights::default(), &start);
    for _ in 0..3000 {
        let j = rng.random_range(0..40);
        if rng.random::<f64>() < 0.5 {
            let to = rng.random_range(0..12);
            if st.assign[j] == Some(to) {
                continue;
            }
            let (before, d) = (st.cost(), st.delta_move(j, to));
            st.apply(j, Some(to));
            assert!((st.cost() - before - d).abs() < 1e-9, "move: {} vs {d}", st.cost() - before);
        } else if rng.random::<f64>() < 0.9 {
            let k = rng.random_range(0..40);
            if st.assign[j].is_some() && st.assign[k].is_some() && st.assign[j] != st.assign[k] {
                let (before, d) = (st.cost(), st.delta_swap(j, k));
                let (a, b) = (st.assign[j], st.assign[k]);
                st.apply(j, b);
                st.apply(k, a);
                assert!((st.cost() - before - d).abs() < 1e-9, "swap: {} vs {d}", st.cost() - before);
            }
        } else if rng.random::<f64>() < 0.5 {
            st.apply(j, None);
        } else {
            // Several at once (a group, a component, a server's contents).
            let moves: Vec<(usize, usize)> = (0..rng.random_range(1..5))
                .map(|_| (rng.random_range(0..40), rng.random_range(0..12)))
                .fold(Vec::new(), |mut v, m| {
                    if !v.iter().any(|x: &(usize, usize)| x.0 == m.0) && st.assign[m.0] != Some(m.1) {
                        v.push(m);
                    }
                    v
                });
            if let Some(d) = st.delta_moves(&moves) {
                let before = st.cost();
                for &(j, s) in &moves {
                    st.apply(j, Some(s));
                }
                assert!(
                    (st.cost() - before - d).abs() < 1e-9,
                    "moves {moves:?}: {} vs {d}",
                    st.cost() - before
                );
            }
        }
        let fresh = State::new(&p, &topo, &adj, Weights::default(), &st.assign);
        assert!((fresh.cost() - st.cost()).abs() < 1e-9);
        let m = evaluate(&p, &st.assign);
        let with_deadline = p.workloads.iter().filter(|w| w.deadline_ms.is_some()).count();
        let missed = with_deadline - (m.completion.unwrap() * with_deadline as f64).round() as usize;
        assert_eq!(st.dl.misses, missed, "{:?}", st.assign);
        assert_eq!(fresh.dl.misses, missed);
    }
}

#[test]
fn the_lower_bound_is_below_the_optima_and_every_placement() {
    for seed in 1..=10u64 {
        let p = generate(&ScenarioSpec::paper(seed));
        let lb = lower_bound(&p, Weights::default()).expect("DIRA-LDT's servers are alike");
        let opt = DIRA_OPTIMUM[seed as usize - 1];
        // The published optima are rounded to 5 decimals.
        assert!(lb <= opt + 5e-6, "seed {seed}: bound {lb:.6} above the proven optimum {opt}");
        for m in Method::ALL {
            let cost = objective(&p, &m.place(&p, seed), Weights::default()).cost;
            assert!(lb <= cost + 1e-12, "seed {seed}: bound {lb:.6} above {}'s cost {cost:.6}", m.name());
        }
        eprintln!("seed {seed}: bound {lb:.5}, optimum {opt:.5}, gap {:+.1} %", (opt / lb - 1.0) * 100.0);
        assert!(lb > 0.0, "seed {seed}: the bound says nothing");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_placement_costs_less_than_the_lower_bound(seed in 0u64..1000, picks in proptest::collection::vec(0usize..6, 9)) {
        // Alike servers in two racks; random workloads, a chain and a pair; any assignment
        // (over capacity too) costs at least the bound.
        let servers: Vec<PlanServer> = (0..6).map(|i| server(&format!("s{i}"), if i < 3 { "a" } else { "b" }, 100.0)).collect();
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(seed);
        let ws: Vec<PlanWorkload> = (0..9).map(|j| workload(&format!("w{j}"), rand::RngExt::random_range(&mut rng, 5.0..60.0))).collect();
        let dep = |a, b, weight| Dependency { a, b, weight };
        let p = problem(servers, ws, vec![dep(0, 1, 3.0), dep(1, 2, 1.0), dep(2, 3, 5.0), dep(4, 5, 2.0)]);
        let lb = lower_bound(&p, Weights::default()).unwrap();
        let a: Assignment = picks.iter().map(|&s| Some(s)).collect();
        let cost = objective(&p, &a, Weights::default()).cost;
        prop_assert!(lb <= cost + 1e-12, "bound {} above cost {} of {:?}", lb, cost, a);
        let best = objective(&p, &optimize(&p, &OptimizeOptions::seeded(seed)), Weights::default()).cost;
        prop_assert!(lb <= best + 1e-12);
    }
}

#[test]
fn cordoned_servers_are_no_servers_to_balance_over() {
    // Two open servers in two racks, eight cordoned ones (draining, empty). A dependent pair
    // a–b (40 + 40) and c, d (20 + 20): together a and b leave the servers at 80 % and 40 %
    // (balance 4 × CV² = 0.444, no latency); apart (a+c, b+d) the servers are even but the
    // pair talks across racks (latency term 1.0). Counting the eight cordoned servers as idle
    // ones to balance over made the spread look 5× as costly (2.22) and split the pair.
    let mut servers = vec![server("s0", "a", 100.0), server("s1", "b", 100.0)];
    for i in 2..10 {
        let mut s = server(&format!("s{i}"), "a", 100.0);
        s.cordoned = true;
        servers.push(s);
    }
    let ws = vec![workload("a", 40.0), workload("b", 40.0), workload("c", 20.0), workload("d", 20.0)];
    let p = problem(servers, ws, vec![Dependency { a: 0, b: 1, weight: 1.0 }]);
    let even = objective(&p, &vec![Some(0), Some(1), Some(0), Some(1)], Weights::default());
    assert!(even.balance_term.abs() < 1e-12, "{even:?}");
    assert!((even.latency_term - 1.0).abs() < 1e-12, "{even:?}");
    let together = objective(&p, &vec![Some(0), Some(0), Some(1), Some(1)], Weights::default());
    assert!((together.balance_term - 4.0 / 9.0).abs() < 1e-12, "{together:?}");
    let a = optimize(&p, &OptimizeOptions::seeded(1));
    assert_eq!(a[0], a[1], "the pair is split: {a:?}");
    assert!((objective(&p, &a, Weights::default()).cost - 4.0 / 9.0).abs() < 1e-12);
    // A pod left on a cordoned server is not balanced over either: the open servers' CV² only.
    let draining = objective(&p, &vec![Some(0), Some(0), Some(1), Some(5)], Weights::default());
    let (u0, u1) = (0.8, 0.2);
    let cv2 = 2.0 * (u0 * u0 + u1 * u1) / ((u0 + u1) * (u0 + u1)) - 1.0;
    assert!((draining.balance_term - 4.0 * cv2).abs() < 1e-12, "{draining:?}");
}
