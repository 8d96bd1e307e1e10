//! Hostile numbers in a scenario: each is refused before anything is allocated, naming the
//! field and the limit, or (when only running shows it) the run stops at a limit.

use crate::sim::{Scenario, SimError};

fn yaml(replicas: &str, service_time: &str, steps: &str, start: &str, extra: &str) -> String {
    format!(
        "name: t\n{extra}servers:\n  - {{ name: s, count: 2, region: r, cpu_m: 1000, mem_mib: 1000 }}\n\
         services:\n  - name: a\n    replicas: {replicas}\n    pod: {{ cpu_m: 1, mem_mib: 1, service_time: {service_time} }}\n\
         \x20 - name: b\n    pod: {{ cpu_m: 1, mem_mib: 1, service_time: {{ type: exponential, mean: 5 }} }}\n\
         workflows:\n  - name: w\n    steps: {steps}\n    hold_caller: true\n\
         load:\n  - {{ name: u, workflow: w, rate: 10, requests: 100, start_s: {start} }}\n"
    )
}

const EXP: &str = "{ type: exponential, mean: 5 }";

fn refused(text: &str) -> String {
    Scenario::from_yaml(text, "t.yaml").expect_err("must be refused").to_string()
}

#[test]
fn hostile_numbers_are_refused_with_field_and_limit() {
    assert!(Scenario::from_yaml(&yaml("1", EXP, "[a, b]", "0", ""), "t.yaml").is_ok());
    let e = refused(&yaml("4294967295", EXP, "[a, b]", "0", ""));
    assert!(e.contains("services") && e.contains("limits.max_pods = 200000"), "{e}");
    let e = refused(&yaml("1", EXP, "[a, b]", "1e12", ""));
    assert!(e.contains("load[0].start_s") && e.contains("limits.max_sim_s"), "{e}");
    let e = refused(&yaml("1", "{ type: normal, mean: 5, std: 1e18 }", "[a, b]", "0", ""));
    assert!(e.contains("services[0].pod.service_time") && e.contains("limits.max_sim_s"), "{e}");
    let e = refused(&yaml("1", EXP, "[a, b]", "0", "duration_s: 2000000\nsample_s: 0.001\n"));
    assert!(e.contains("sample_s") && e.contains("limits.max_series_points"), "{e}");
    let servers = yaml("1", EXP, "[a, b]", "0", "").replace("count: 2", "count: 4294967295");
    let e = refused(&servers);
    assert!(e.contains("4294967295 servers exceed limits.max_servers"), "{e}");
    let crash = yaml(
        "1",
        EXP,
        "[a, b]",
        "0",
        "events:\n  - { at_s: 1, pod_crash: { service: a, count: 4294967295 } }\n",
    );
    assert!(refused(&crash).contains("limits.max_pods"));
    let far = yaml("1", EXP, "[a, b]", "0", "events:\n  - { at_s: 1e300, cordon: s-001 }\n");
    assert!(refused(&far).contains("events[0].at_s"));
    let inf = yaml("1", EXP, "[a, b]", "0", "warmup_s: .inf\n");
    assert!(refused(&inf).contains("warmup_s"));
}

#[test]
fn limits_can_be_raised() {
    let late = yaml("1", EXP, "[a, b]", "3000000", "");
    assert!(refused(&late).contains("limits.max_sim_s"));
    let raised = yaml("1", EXP, "[a, b]", "3000000", "limits: { max_sim_s: 4000000 }\n");
    assert!(Scenario::from_yaml(&raised, "t.yaml").is_ok());
}

#[test]
fn a_run_that_never_ends_stops_at_the_time_limit() {
    // `a` holds its only worker while calling itself: every request waits for ever.
    let text = yaml("1", EXP, "[a, a]", "0", "limits: { max_sim_s: 3600 }\n");
    let sc = Scenario::from_yaml(&text, "t.yaml").unwrap();
    match crate::sim::run(&sc, 1) {
        Err(SimError::TimeCap { max_sim_s, .. }) => assert_eq!(max_sim_s, 3600.0),
        other => panic!("expected the time cap, got {other:?}"),
    }
}

#[test]
fn a_run_that_samples_too_much_stops_at_the_series_limit() {
    // Series keep at most `series.max_points` points (merging as the run goes on); a caller
    // asking for a million of them meets the limit on values kept.
    let text = yaml(
        "1",
        EXP,
        "[a, a]",
        "0",
        "sample_s: 0.01\nseries: { max_points: 1000000 }\nlimits: { max_series_points: 100000 }\n",
    );
    let sc = Scenario::from_yaml(&text, "t.yaml").unwrap();
    let e = crate::sim::run(&sc, 1).unwrap_err();
    assert!(matches!(e, SimError::SeriesCap { max_series_points: 100_000, .. }), "{e}");
    assert!(e.to_string().contains("limits.max_series_points = 100000"));
}
