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

/// Every row of the table reads true: its delta is that of the two figures it shows (no
/// "120.1 120.1 ▲0.1"), with the arrow of its sign, and no figure reads -0.
#[test]
fn the_table_s_deltas_are_those_of_the_figures_shown() {
    let out = run(&["whatif", "--demo", "--seeds", "2", "--text", "scale checkoutservice to 8\nhorizon 30s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!table.contains(" -0.") && !table.contains(" -0 "), "{table}");
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.contains("baseline") || !l.contains("delta"))
        .skip(1)
        .take_while(|l| !l.starts_with("p99 spread"))
        .collect();
    assert!(rows.len() >= 10, "{table}");
    for row in rows {
        let t: Vec<&str> = row.split_whitespace().collect();
        let n = t.len();
        let d: f64 = t[n - 1].parse().unwrap_or_else(|_| panic!("{row}"));
        let arrow = if t[n - 2] == "▲" || t[n - 2] == "▼" { t[n - 2] } else { "" };
        let at = if arrow.is_empty() { n - 3 } else { n - 4 };
        let (b, s): (f64, f64) = (t[at].parse().unwrap(), t[at + 1].parse().unwrap());
        let decimals = t[n - 1].split('.').nth(1).map_or(0, str::len);
        let scale = 10f64.powi(decimals as i32);
        assert_eq!((d * scale).round(), ((s - b).abs() * scale).round(), "{row}");
        let want = if s > b {
            "▲"
        } else if s < b {
            "▼"
        } else {
            ""
        };
        assert_eq!(arrow, want, "{row}");
    }
}

/// Where users' requests enter a twin without measured traffic comes from the manifests (a
/// load generator's calls, an Ingress) and from `--entry`; the refusal names them all.
#[test]
fn entries_come_from_ingresses_and_the_entry_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ingress = dir.path().join("ingress.yaml");
    std::fs::write(
        &ingress,
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: ads}\nspec:\n  rules:\n  - http:\n      \
         paths:\n      - {path: /ads, pathType: Prefix, backend: {service: {name: adservice, port: {number: 9555}}}}\n",
    )
    .unwrap();
    let app = "tests/data/manifests/online-boutique/kubernetes-manifests.yaml";
    let refusal = |args: &[&str]| {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // The entries the refusal names, in any order.
    let entries = |err: &str| {
        let list = err.split("where requests enter: ").nth(1).and_then(|r| r.split(')').next()).unwrap_or("");
        let mut v: Vec<String> = list.split(", ").map(str::to_string).collect();
        v.sort();
        v
    };
    let err = refusal(&["whatif", "--manifests", app, "--text", "scale frontend to 5"]);
    assert_eq!(entries(&err), ["frontend"], "{err}");
    let both = format!("{app},{}", ingress.display());
    let err = refusal(&["whatif", "--manifests", &both, "--text", "scale frontend to 5"]);
    assert_eq!(entries(&err), ["adservice", "frontend"], "{err}");
    let err =
        refusal(&["whatif", "--manifests", app, "--entry", "cartservice", "--text", "scale frontend to 5"]);
    assert_eq!(entries(&err), ["cartservice", "frontend"], "{err}");
    let out = run(&["whatif", "--manifests", app, "--entry", "nosuch", "--text", "scale frontend to 5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--entry nosuch: no workload of that name"));
}
