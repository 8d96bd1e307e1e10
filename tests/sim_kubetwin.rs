//! The KubeTwin paper's two experiments, qualitatively: exp1's sweep finds 9 ± 2 replicas
//! for a 60 ms p99; exp2's autoscalers scale both services up after the surge and back down,
//! placing pods in the Local DC first, then Tier-1.

use twintop::sim::{Scenario, SweepParam, run, sweep};

fn exp(text: &str) -> Scenario {
    Scenario::from_yaml(text, "shipped scenario").unwrap()
}

#[test]
fn exp1_sweep_finds_nine_replicas_give_or_take_two() {
    let sc = exp(include_str!("../assets/scenarios/kubetwin-exp1.yaml"));
    // 4..14 covers the answer and the floor; 1..3 are unstable and only slow the test.
    let p = SweepParam::parse("replicas=4..14").unwrap();
    let res = sweep(&sc, &p, 1, &|_, _| {}).unwrap();
    let best = res.best.expect("some replica count meets the SLO");
    assert!((7..=11).contains(&best), "fewest replicas meeting p99 ≤ 60 ms: {best}");
    let p99 = |v: u32| res.points.iter().find(|q| q.value == v).unwrap().ttr_ms.p99;
    // p99 falls with replicas toward a floor just under the target.
    assert!(p99(4) > p99(8) && p99(8) > p99(12), "{} {} {}", p99(4), p99(8), p99(12));
    assert!(p99(14) < 60.0 && p99(14) > 50.0, "floor {}", p99(14));
    assert!(res.points.iter().filter(|q| q.value >= best).all(|q| q.slo_met));
}

#[test]
fn exp2_autoscaler_scales_up_after_the_surge_and_down_after_it() {
    let sc = exp(include_str!("../assets/scenarios/kubetwin-exp2.yaml"));
    let o = run(&sc, 1).unwrap();
    assert_eq!(o.requests, 130_000);
    let t = &o.series.t_s;
    for svc in ["ms1", "ms2"] {
        let r = &o.series.replicas[svc];
        let at = |s: f64| r[t.iter().position(|&x| x >= s).unwrap()];
        assert_eq!(at(25.0), 10, "{svc} before the surge");
        assert!(o.replicas[svc].max > 12, "{svc} scaled up to {}", o.replicas[svc].max);
        let peak_t = t[r.iter().position(|&x| x == o.replicas[svc].max).unwrap()];
        assert!(peak_t > 30.0 && peak_t < 170.0, "{svc} peaks during the surge, at {peak_t} s");
        assert_eq!(o.replicas[svc].last, 10, "{svc} back to min after the surge");
    }
    assert!(o.replicas["ms1"].max >= o.replicas["ms2"].max, "MS1, the entry point, needs more");
    // MEC-first: nothing beyond Tier-1, and Tier-1 only once the Local DC is full (2 per node).
    let tiers = &o.peak_placement.pods_by_tier;
    assert!(tiers.keys().all(|k| k == "local-dc" || k == "tier-1"), "{tiers:?}");
    if tiers.contains_key("tier-1") {
        assert_eq!(tiers["local-dc"], 50, "{tiers:?}");
    }
    assert_eq!(o.drops.total(), 0);
}

#[test]
fn exp2_with_the_kubernetes_hpa_is_rate_limited_and_stabilised() {
    let text =
        include_str!("../assets/scenarios/kubetwin-exp2.yaml").replace("mode: kubetwin", "mode: kubernetes");
    let o = run(&exp(&text), 1).unwrap();
    let r = &o.series.replicas["ms1"];
    // Scale-up limit: at most max(4 pods, 100 %) per 15 s period, so 10 → 20 → 40.
    for w in r.windows(2) {
        assert!(w[1] <= (w[0] * 2).max(w[0] + 4), "{} → {} in one 15 s sample", w[0], w[1]);
    }
    assert!(o.replicas["ms1"].max >= 20);
    // Scale-down waits 5 minutes after the last high recommendation.
    let t = &o.series.t_s;
    let first_down = (1..r.len()).find(|&i| r[i] < r[i - 1]).map(|i| t[i]).unwrap();
    let last_up = (1..r.len()).filter(|&i| r[i] > r[i - 1]).map(|i| t[i]).next_back().unwrap();
    assert!(first_down >= last_up + 300.0 - 15.0, "down at {first_down} s, last up at {last_up} s");
}
