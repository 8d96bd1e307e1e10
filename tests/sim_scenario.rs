//! Scenario files: bad input gives an error naming the file, the line and the field.

use twintop::sim::{Scenario, run};

const GOOD: &str = r#"name: t
servers:
  - { name: n, count: 2, region: r, cpu_m: 1000, mem_mib: 1000 }
services:
  - name: a
    pod: { service_time: { type: constant, value: 1 } }
  - name: b
    pod: { service_time: { type: exponential, mean: 2 } }
workflows:
  - name: w
    steps: [a, b]
load:
  - name: users
    workflow: w
    rate: 10
    requests: 100
"#;

fn err(text: &str) -> String {
    Scenario::from_yaml(text, "bad.yaml").unwrap_err().to_string()
}

#[test]
fn the_reference_file_parses_and_runs() {
    let sc = Scenario::from_yaml(GOOD, "good.yaml").unwrap();
    let o = run(&sc, 1).unwrap();
    assert_eq!(o.completed, 100);
    // 1 ms constant then exponential with mean 2 ms (100 draws), no network.
    assert!(o.ttr_ms.mean > 2.0 && o.ttr_ms.mean < 4.5, "{}", o.ttr_ms.mean);
    assert!((o.services["a"].ttp_ms.p50 - 1.0).abs() < 0.01, "{:?}", o.services["a"].ttp_ms);
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let e = err(&GOOD.replace("    rate: 10\n", "    rate: 10\n    rtae: 3\n"));
    assert!(e.starts_with("bad.yaml:16:"), "{e}");
    assert!(e.contains("rtae"), "{e}");
}

#[test]
fn dangling_workflow_reference_is_named_with_its_line() {
    let e = err(&GOOD.replace("steps: [a, b]", "steps: [a, c]"));
    assert!(e.starts_with("bad.yaml:11:"), "{e}");
    assert!(e.contains("workflows[0].steps[1]") && e.contains("no service named \"c\""), "{e}");
    let e = err(&GOOD.replace("workflow: w", "workflow: nope"));
    assert!(e.contains("load[0].workflow") && e.contains("nope"), "{e}");
}

#[test]
fn negative_rate_is_refused() {
    let e = err(&GOOD.replace("rate: 10", "rate: -5"));
    assert!(e.starts_with("bad.yaml:15:"), "{e}");
    assert!(e.contains("load[0].rate") && e.contains("≥ 0"), "{e}");
}

#[test]
fn impossible_distribution_is_refused() {
    let e = err(&GOOD.replace("{ type: exponential, mean: 2 }", "{ type: uniform, min: 5, max: 1 }"));
    assert!(e.contains("services[1].pod.service_time") && e.contains("min 5 > max 1"), "{e}");
    let e = err(&GOOD.replace("{ type: exponential, mean: 2 }", "{ type: exponential, mean: -2 }"));
    assert!(e.contains("mean must be > 0"), "{e}");
}

#[test]
fn syntax_and_type_errors_carry_a_position() {
    let e = err(&GOOD.replace("count: 2", "count: two"));
    assert!(e.starts_with("bad.yaml:3:"), "{e}");
    let e = err(&GOOD.replace("  - name: users\n", "  - name: users\n   oops: [\n"));
    assert!(e.starts_with("bad.yaml:"), "{e}");
}

#[test]
fn events_need_exactly_one_action_and_known_targets() {
    let e = err(&format!("{GOOD}events:\n  - {{ at_s: 1 }}\n"));
    assert!(e.contains("exactly one action"), "{e}");
    let e = err(&format!("{GOOD}events:\n  - {{ at_s: 1, node_loss: ghost }}\n"));
    assert!(e.contains("events[0].node_loss") && e.contains("ghost"), "{e}");
}
