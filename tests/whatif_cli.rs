//! `twintop whatif` as a user runs it: a script on the demo, JSON out, errors with their line
//! and column.

mod common;

/// `twintop ARGS` with no kubeconfig.
fn run(args: &[&str]) -> std::process::Output {
    common::twintop().args(args).env("KUBECONFIG", "").output().unwrap()
}

#[test]
fn json_has_baseline_scenario_and_delta() {
    let out = run(&[
        "whatif",
        "--demo",
        "--seeds",
        "2",
        "--json",
        "--text",
        "scale checkoutservice to 8\nhorizon 30s",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for side in ["baseline", "scenario", "delta"] {
        for q in ["p50", "p95", "p99", "mean"] {
            assert!(v[side]["ttr_ms"][q].is_number(), "{side}.ttr_ms.{q}");
        }
        for k in ["slo_violations", "drops", "rub", "bandwidth", "cost_per_hour"] {
            assert!(v[side][k].is_number(), "{side}.{k}");
        }
    }
    assert_eq!(v["scenario"]["replicas"]["boutique/checkoutservice"], 8.0);
    assert_eq!(v["delta"]["replicas"]["boutique/checkoutservice"], 6.0);
    let d =
        v["scenario"]["ttr_ms"]["p99"].as_f64().unwrap() - v["baseline"]["ttr_ms"]["p99"].as_f64().unwrap();
    assert!((v["delta"]["ttr_ms"]["p99"].as_f64().unwrap() - d).abs() < 1e-6);
    // What the twin measures now where users enter (past the load generator, which has no
    // latency of its own), beside which the baseline's p99 is judged.
    assert_eq!(v["measured"]["workload"], "boutique/frontend", "{v}");
    assert!(v["measured"]["p99_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn script_errors_name_line_and_column_and_exit_2() {
    let out = run(&["whatif", "--demo", "--text", "horizon 1m\nscale checkoutservce to 8"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2, column 1: no workload named `checkoutservce`"), "{err}");
    assert!(err.contains("did you mean `checkoutservice`"), "{err}");
    let out = run(&["whatif", "--demo", "--text", "fail server r3-07 at 2q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1, column 22:"));
}
