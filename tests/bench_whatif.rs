//! `twintop bench whatif` as the lead runs it to measure issue 15's targets. It once stopped
//! working unnoticed (a manifests twin without traffic is refused), so a small case — two
//! copies of Online Boutique, a 10-second horizon — checks that it still runs and prints the
//! figures the issue names, with sane values.

mod common;

#[test]
fn whatif_bench_on_a_manifests_twin_prints_its_figures() {
    let out = common::twintop()
        .args(["bench", "whatif", "--workloads", "20", "--horizon", "10", "--json"])
        .env("KUBECONFIG", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = v.as_array().expect("a list of cases");
    assert_eq!(cases.len(), 1, "{v}");
    let b = &cases[0];
    // 20 workloads round up to two copies of the app's 12.
    assert_eq!(b["workloads"], 24, "{b}");
    assert_eq!(b["namespaces"], 2, "{b}");
    assert_eq!(b["horizon_s"], 10, "{b}");
    assert_eq!(b["first_horizon_s"], 10.0, "{b}");
    let num = |k: &str| b[k].as_f64().unwrap_or_else(|| panic!("{k} is not a number: {b}"));
    for k in ["load_ms", "first_results_ms", "full_results_ms"] {
        let ms = num(k);
        assert!(ms > 0.0 && ms < 600_000.0, "{k} = {ms}");
    }
    // CPU time of the process (getrusage) is measured for both.
    assert!(num("full_results_cpu_s") > 0.0 && num("first_results_cpu_s") > 0.0, "{b}");
    // Linux reports the peak resident memory: more than the binary, less than the machine.
    let rss = num("peak_rss_mb");
    assert!(rss > 5.0 && rss < 24_000.0, "peak_rss_mb = {rss}");
    // The console took keys while its worker ran the script.
    assert!(num("keys") >= 1.0 && num("key_p50_ms") > 0.0, "{b}");
}
