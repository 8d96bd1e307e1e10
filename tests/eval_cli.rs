//! `twintop eval placement|forecast|advisor --json`: the documents other tools read, field by field.

mod common;

use common::{data, twintop};

fn run(args: &[&str]) -> serde_json::Value {
    let out = twintop().args(args).output().expect("run twintop");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn eval_placement_json_has_the_methods_and_fields() {
    let v = run(&["eval", "placement", "--seeds", "2", "--json"]);
    let methods = v["methods"].as_array().unwrap();
    let names: Vec<&str> = methods.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hba", "sm", "twintop"]);
    for m in methods {
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "accuracy",
                "bandwidth_util",
                "completion",
                "cost",
                "decision_us_per_workload",
                "gap",
                "lower_bound",
                "mean_dependency_latency_ms",
                "mean_latency_ms",
                "name",
                "rub"
            ]
        );
        let acc = m["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
        // twintop's own lower bound: positive, below every method's cost, and the proven gap
        // is cost / bound − 1 (here over two seeds, so compared on the means' side only).
        let (lb, cost, gap) =
            (m["lower_bound"].as_f64().unwrap(), m["cost"].as_f64().unwrap(), m["gap"].as_f64().unwrap());
        assert!(lb > 0.0 && lb <= cost, "{m}");
        assert!(gap >= 0.0, "{m}");
    }
    let twintop = &methods[2];
    assert_eq!(twintop["accuracy"].as_f64(), Some(1.0));
    assert!(twintop["mean_latency_ms"].as_f64().unwrap() < methods[0]["mean_latency_ms"].as_f64().unwrap());
    // Seeds 1–2 of DIRA-LDT's scenario have proven optima: twintop's gap is listed.
    let reference = v["reference"].as_array().unwrap();
    assert_eq!(reference.len(), 2);
    for r in reference {
        assert_eq!(r["proven_optimal"].as_bool(), Some(true));
        assert!(r["gap"].as_f64().unwrap() < 0.02, "{r}");
        // The proven optimum is no lower than the bound (up to the optima's rounding).
        let lb = r["lower_bound"].as_f64().unwrap();
        assert!(lb <= r["reference"].as_f64().unwrap() + 5e-6, "{r}");
        assert!(r["reference_gap_to_bound"].as_f64().unwrap() >= -1e-3, "{r}");
    }
}

#[test]
fn eval_placement_exports_each_instance_for_an_external_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args =
        ["eval", "placement", "--servers", "6", "--workloads", "12", "--seeds", "2", "--export", d, "--json"];
    run(&args);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["dira-6x12-seed-1.json", "dira-6x12-seed-2.json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("dira-6x12-seed-2.json")).unwrap()).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["deps", "latency_ms", "max_ms", "methods", "name", "servers", "spec", "weights", "workloads"]
    );
    assert_eq!(v["spec"]["seed"], 2);
    assert_eq!((v["spec"]["servers"].as_u64(), v["spec"]["workloads"].as_u64()), (Some(6), Some(12)));
    let server_keys: Vec<&String> = v["servers"][0].as_object().unwrap().keys().collect();
    assert_eq!(server_keys, ["bw_mbps", "cordoned", "cpu_m", "mem_mib", "name", "rack", "region", "zone"]);
    let workload_keys: Vec<&String> = v["workloads"][0].as_object().unwrap().keys().collect();
    assert_eq!(workload_keys, ["bw_mbps", "cpu_m", "deadline_ms", "group", "mem_mib", "name", "work_ms"]);
    let lat = v["latency_ms"].as_array().unwrap();
    assert_eq!(lat.len(), 6);
    assert!(lat.iter().all(|row| row.as_array().unwrap().len() == 6));
    let w = &v["weights"];
    assert_eq!((w["latency"].as_f64(), w["balance"].as_f64()), (Some(1.0), Some(4.0)));
    // Recompute twintop's objective from the document alone, as an external checker would.
    let t = &v["methods"]["twintop"];
    let a: Vec<usize> =
        t["assignment"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
    let wl = v["workloads"].as_array().unwrap();
    let sv = v["servers"].as_array().unwrap();
    let share = |x: &serde_json::Value, c: &serde_json::Value, k: &str| {
        x[k].as_f64().unwrap() / c[k].as_f64().unwrap()
    };
    let mut util = vec![0.0; sv.len()];
    for (j, &s) in a.iter().enumerate() {
        util[s] += (share(&wl[j], &sv[s], "cpu_m")
            + share(&wl[j], &sv[s], "mem_mib")
            + share(&wl[j], &sv[s], "bw_mbps"))
            / 3.0;
    }
    let n = util.len() as f64;
    let (s1, s2) = (util.iter().sum::<f64>(), util.iter().map(|u| u * u).sum::<f64>());
    let (mut lw, mut wsum) = (0.0, 0.0);
    for d in v["deps"].as_array().unwrap() {
        let (x, y, wt) = (
            d["a"].as_u64().unwrap() as usize,
            d["b"].as_u64().unwrap() as usize,
            d["weight"].as_f64().unwrap(),
        );
        if x != y {
            lw += wt * lat[a[x]][a[y]].as_f64().unwrap();
            wsum += wt;
        }
    }
    let cost = lw / wsum / v["max_ms"].as_f64().unwrap() + 4.0 * (n * s2 / (s1 * s1) - 1.0);
    let o = &t["objective"];
    assert!((o["cost"].as_f64().unwrap() - cost).abs() < 1e-9, "{o} vs {cost}");
    let objective_keys: Vec<&String> = o.as_object().unwrap().keys().collect();
    assert_eq!(objective_keys, ["balance_term", "cost", "latency_term", "overflow", "unplaced"]);
    for m in ["hba", "sm", "twintop"] {
        let r = &v["methods"][m];
        assert_eq!(r["assignment"].as_array().unwrap().len(), 12, "{m}");
        assert!(r["metrics"]["mean_dependency_latency_ms"].as_f64().is_some(), "{m}");
        assert!(r["wall_s"].as_f64().unwrap() >= 0.0, "{m}");
    }
}

#[test]
fn eval_placement_export_names_a_directory_it_cannot_make() {
    let out = twintop()
        .args(["eval", "placement", "--seeds", "1", "--export", "/proc/version/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/proc/version/x"));
}

#[test]
fn eval_placement_on_the_demo_twin() {
    let v = run(&["eval", "placement", "--demo", "--json"]);
    let names: Vec<&str> =
        v["methods"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["current", "hba", "sm", "twintop", "improve-10"]);
}

#[test]
fn eval_forecast_json_on_a_real_series() {
    let file = &data("series/nab/ec2_cpu_utilization_825cc2.csv");
    let v = run(&["eval", "forecast", file, "--json"]);
    let methods = v["methods"].as_array().unwrap();
    let names: Vec<&str> = methods.iter().map(|m| m["name"].as_str().unwrap()).collect();
    for n in ["twintop", "mean+2sd", "p95"] {
        assert!(names.contains(&n), "{names:?}");
    }
    for m in methods {
        for k in [
            "mae",
            "rmse",
            "efficiency_median",
            "wastage",
            "utilization",
            "over_provisioning",
            "under_provisioned_share",
        ] {
            assert!(m[k].as_f64().is_some(), "{k} in {m}");
        }
    }
}

#[test]
fn eval_forecast_names_a_missing_file() {
    let out = twintop().args(["eval", "forecast", "/nonexistent/x.csv"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.csv"));
}

/// The forecasting targets on one real series: lower MAE and RMSE than both baselines, at most
/// 10 % of steps under-provisioned, and median efficiency ≥ 0.9 wherever the noise check says
/// the series allows it. Returns (twintop's efficiency, the noise check's share).
fn forecast_targets(file: &str) -> (f64, f64) {
    let path = data(&format!("series/nab/{file}"));
    let v = run(&["eval", "forecast", &path, "--json"]);
    consistent(file, &v);
    let method = |name: &str| {
        v["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    let (ours, b1, b2) = (method("twintop"), method("mean+2sd"), method("p95"));
    let f = |m: &serde_json::Value, k: &str| m[k].as_f64().unwrap();
    for k in ["mae", "rmse"] {
        assert!(f(&ours, k) < f(&b1, k).min(f(&b2, k)), "{file}: {k} {ours} vs {b1} / {b2}");
    }
    assert!(f(&ours, "under_provisioned_share") <= 0.10, "{file}: {ours}");
    let share = v["noise"]["best_window_share"].as_f64().expect("noise.best_window_share");
    let eff = f(&ours, "efficiency_median");
    if v["noise"]["reachable"] == true {
        assert!(eff >= 0.9, "{file}: efficiency {eff} where the noise check allows it ({share})");
    }
    assert!(eff >= f(&b1, "efficiency_median").max(f(&b2, "efficiency_median")), "{file}: {ours}");
    (eff, share)
}

#[test]
fn forecast_targets_asg() {
    forecast_targets("cpu_utilization_asg_misconfiguration.csv");
}

#[test]
fn forecast_targets_ec2_cpu() {
    forecast_targets("ec2_cpu_utilization_5f5533.csv");
    forecast_targets("ec2_cpu_utilization_825cc2.csv");
}

#[test]
fn forecast_targets_ec2_network() {
    forecast_targets("ec2_network_in_257a54.csv");
}

#[test]
fn forecast_targets_nyc_taxi() {
    forecast_targets("nyc_taxi.csv");
}

#[test]
fn forecast_targets_elb_whose_noise_rules_out_the_efficiency_target() {
    // Request counts that jump by several times from one 5-minute step to the next: even an
    // allocation that knew the neighbouring steps could not reach the efficiency target.
    let (_, share) = forecast_targets("elb_request_count_8c0756.csv");
    assert!(share < 0.1, "noise check share {share}");
}

/// The noise check never rules out what a method achieves: a method that meets the target
/// (median efficiency ≥ 0.9, ≤ 10 % under-provisioned) means the check says it is reachable,
/// and the `target` the table prints agrees with the methods' figures.
fn consistent(file: &str, v: &serde_json::Value) {
    let met: Vec<&str> = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["efficiency_median"].as_f64().unwrap() >= 0.9
                && m["under_provisioned_share"].as_f64().unwrap() <= 0.1
        })
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let listed: Vec<&str> =
        v["target"]["met_by"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(met, listed, "{file}");
    if !met.is_empty() {
        assert_eq!(
            v["noise"]["reachable"], true,
            "{file}: {met:?} meet the target the noise check rules out: {}",
            v["noise"]
        );
    }
}

/// NAB's road-speed series has 1,497 of 2,622 steps missing. Only observed test steps are
/// scored, and the table says how many were filled.
#[test]
fn forecast_scores_the_observed_steps_of_a_gapped_series() {
    let path = data("series/nab/speed_7578.csv");
    let v = run(&["eval", "forecast", &path, "--json"]);
    consistent("speed_7578.csv", &v);
    let series = twintop::forecast::csv::parse(&std::fs::read_to_string(&path).unwrap(), "s", None).unwrap();
    let n_train = (0.8 * series.values.len() as f64) as usize;
    let filled = series.observed[n_train..].iter().filter(|o| !**o).count();
    assert!(filled > 100, "{filled}");
    assert_eq!(v["test_filled"], filled);
    assert_eq!(v["scored"], series.values.len() - n_train - filled);
    let out = twintop().args(["eval", "forecast", &path]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&format!("({filled} filled by interpolation and not scored")), "{table}");
}

/// An autoscaling group's metric whose test part is about half zeros, each amid load: every
/// method's median efficiency is about 0.01, and the noise check now says the target is out of
/// reach, and the table says it is ruled out.
#[test]
fn forecast_on_a_zero_heavy_series_rules_the_target_out() {
    let path = data("series/nab/grok_asg_anomaly.csv");
    let v = run(&["eval", "forecast", &path, "--json"]);
    consistent("grok_asg_anomaly.csv", &v);
    let zeros = v["noise"]["zero_steps"].as_f64().unwrap() / v["noise"]["steps"].as_f64().unwrap();
    assert!(zeros > 0.4, "{}", v["noise"]);
    assert_eq!(v["noise"]["reachable"], false, "{}", v["noise"]);
    assert!(v["methods"].as_array().unwrap().iter().all(|m| m["efficiency_median"].as_f64().unwrap() < 0.1));
    let out = twintop().args(["eval", "forecast", &path]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("ruled out by the noise check on this series; no method meets it"), "{table}");
}

/// Hostile CSVs end in an error naming the file and line, and `--max-steps` raises the bound.
#[test]
fn forecast_csv_limits_are_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("jump.csv");
    std::fs::write(&f, "timestamp,value\n0,1\n60,2\n120,3\n10000000000,4\n").unwrap();
    let out = twintop().args(["eval", "forecast"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:5: timestamp 10000000000", f.display())) && err.contains("--max-steps"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    std::fs::write(&f, "timestamp,value\n0,1\n1e308,2\n").unwrap();
    let out = twintop().args(["eval", "forecast"]).arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3: timestamp \"1e308\" is outside", f.display())), "{err}");
    let rows: String = (0..200).map(|i| format!("{},{}\n", i * 60, i % 5)).collect();
    std::fs::write(&f, format!("timestamp,value\n{rows}")).unwrap();
    let out = twintop().args(["eval", "forecast", "--max-steps", "100"]).arg(&f).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:102: more than 100 rows", f.display())), "{err}");
    let out = twintop().args(["eval", "forecast", "--max-steps", "1000"]).arg(&f).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Answers of Gemma 3 270M recorded by `scripts/llm-e2e --eval 10 FILE` (tests/data/llm/README.md),
/// replayed at the first 2 seeds: the model is scored like the built-in advisors, its answers at the 2 × 8 moments
/// counted, and none of its proposals that were shown made things worse.
#[test]
fn eval_advisor_replays_recorded_llm_answers() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/llm/eval/gemma3-270m-dc-seeds1-10.json");
    let v = run(&["eval", "advisor", "--demo", "--incidents", "2", "--llm-answers", file, "--json"]);
    let llm = &v["llm"];
    assert_eq!(llm["source"], "llm:gemma3-270m", "{llm}");
    assert_eq!(llm["answers"].as_array().map(Vec::len), Some(16), "{llm}");
    assert_eq!(llm["missing"], 0, "every moment has a recorded answer: {llm}");
    assert_eq!(llm["elapsed_s"].as_array().map(Vec::len), Some(16));
    // Where a runaway process pegs a server (ticks 190 and 230), the model chooses the twin's
    // cordon of it, offered with the motive hot_server: a valid action at every such moment.
    let answers = llm["answers"].as_array().unwrap();
    let hot: Vec<&serde_json::Value> =
        answers.iter().filter(|a| a["tick"] == 190 || a["tick"] == 230).collect();
    assert_eq!(hot.len(), 4, "{llm}");
    assert!(hot.iter().all(|a| a["valid"].as_u64() >= Some(1)), "{hot:?}");
    // Seed 1, tick 280: recommendationservice scaled to 1 written twice, then checkoutservice:
    // two actions, the repeat counted once.
    let quiet = answers.iter().find(|a| a["seed"] == 1 && a["tick"] == 280).unwrap();
    assert_eq!(quiet["actions"], 2, "{quiet}");
    let trials = v["trials"].as_array().expect("trials");
    assert!(!trials.is_empty());
    let cordons: Vec<&serde_json::Value> =
        trials.iter().filter(|t| t["action"].as_str().unwrap().starts_with("cordon")).collect();
    assert_eq!(cordons.len(), 4, "one cordon of the pegged server per hot moment: {cordons:?}");
    for c in &cordons {
        assert_eq!(c["harmful"], false, "{c}");
        assert!(
            c["endorsed_by"].as_array().unwrap().iter().any(|s| s == "llm:gemma3-270m"),
            "the model chose it: {c}"
        );
        // It keeps new pods off; it does not cool the server, and is not counted a success.
        assert_eq!(c["slo_restored"], false, "{c}");
    }
    for t in trials {
        let from_llm = t["source"].as_str().unwrap().starts_with("llm:")
            || t["endorsed_by"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().starts_with("llm:"));
        if from_llm {
            assert_eq!(t["harmful"], false, "a harmful LLM proposal was shown: {t}");
        }
        let ok =
            t["slo_restored"].as_bool().unwrap() && (0.0..=0.2).contains(&t["after_error"].as_f64().unwrap());
        assert_eq!(t["success"].as_bool(), Some(ok), "{t}");
    }
    let buckets = v["buckets"].as_array().expect("buckets");
    let n: u64 = buckets.iter().map(|b| b["proposals"].as_u64().unwrap()).sum();
    assert_eq!(n as usize, trials.len());
}
