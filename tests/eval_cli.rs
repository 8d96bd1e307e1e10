//! `twintop eval placement|forecast --json`: the documents other tools read, field by field.

use std::process::Command;

fn run(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_twintop")).args(args).output().expect("run twintop");
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
                "decision_us_per_workload",
                "mean_latency_ms",
                "name",
                "rub"
            ]
        );
        let acc = m["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }
    let twintop = &methods[2];
    assert_eq!(twintop["accuracy"].as_f64(), Some(1.0));
    assert!(twintop["mean_latency_ms"].as_f64().unwrap() < methods[0]["mean_latency_ms"].as_f64().unwrap());
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
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/series/nab/ec2_cpu_utilization_825cc2.csv");
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
    let out = Command::new(env!("CARGO_BIN_EXE_twintop"))
        .args(["eval", "forecast", "/nonexistent/x.csv"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.csv"));
}
