//! The fidelity lab's small version (`scripts/lab --quick`), as scripts/test runs it: real
//! processes on loopback scraped by a real vmagent into a real VictoriaMetrics; twintop's twin,
//! built from the app's manifests and those metrics, must reproduce the chain's measured p99
//! where it was fitted and predict a change (one more `back` process) before it is made.

use std::process::Command;

/// The machine is shared and busy: a p99 measured over twenty seconds of real requests moves by
/// this much between identical runs. Beyond it the twin is wrong, not the measurement noisy.
const BOUND: f64 = 0.35;

#[test]
fn the_twin_reproduces_the_lab_and_predicts_a_change() {
    let out = Command::new(env!("CARGO_BIN_EXE_twintop-lab"))
        .args(["run", "--quick", "--json", "--twintop", env!("CARGO_BIN_EXE_twintop")])
        .env("KUBECONFIG", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let configs = v["configurations"].as_array().unwrap();
    assert!(
        configs.iter().any(|c| c["held_out"] == false) && configs.iter().any(|c| c["held_out"] == true),
        "{v}"
    );
    for c in configs {
        for k in ["name", "held_out", "measured_p99_ms", "twin_p99_ms", "error"] {
            assert!(!c[k].is_null(), "{k} in {c}");
        }
        let (m, t) = (c["measured_p99_ms"].as_f64().unwrap(), c["twin_p99_ms"].as_f64().unwrap());
        assert!(m > 20.0, "back sleeps 20 ms (median) per request: {c}");
        assert!((t / m - 1.0).abs() <= BOUND, "{c}\n{v}");
    }
    for k in ["median_abs_error", "worst_abs_error"] {
        assert!(v[k].is_number(), "{k}");
    }
    let ch = &v["change"];
    assert!(ch["action"].as_str().unwrap().contains("back"), "{ch}");
    let (p, m) = (ch["predicted_p99_ms"].as_f64().unwrap(), ch["measured_p99_ms"].as_f64().unwrap());
    assert!((p / m - 1.0).abs() <= BOUND, "predicted {p} ms before, measured {m} ms after\n{v}");
}
