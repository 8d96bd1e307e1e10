use super::*;
use proptest::prelude::*;

fn one(s: &str) -> Step {
    let mut v = parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
    assert_eq!(v.len(), 1);
    v.remove(0).step
}

#[test]
fn the_issue_examples_parse() {
    assert_eq!(
        one("scale checkoutservice to 8"),
        Step::Scale { workload: "checkoutservice".into(), change: ReplicaChange::Set(8) }
    );
    assert_eq!(
        one("scale checkoutservice +3"),
        Step::Scale { workload: "checkoutservice".into(), change: ReplicaChange::Add(3) }
    );
    assert_eq!(one("fail server r3-07 at 2m"), Step::FailServer { server: "r3-07".into(), at: 120.0 });
    assert_eq!(one("drain zone eu-west-3"), Step::Drain { scope: Scope::Zone("eu-west-3".into()), at: 0.0 });
    assert_eq!(
        one("traffic frontend x2 from 1m"),
        Step::Traffic { workload: "frontend".into(), factor: 2.0, from: 60.0, until: None }
    );
    assert_eq!(
        one("latency eu-south-1..eu-central-1 +20ms"),
        Step::Latency { a: "eu-south-1".into(), b: "eu-central-1".into(), add_ms: 20.0, at: 0.0 }
    );
    assert_eq!(
        one("hpa checkoutservice min 5 max 30"),
        Step::Hpa { workload: "checkoutservice".into(), min: Some(5), max: Some(30), target_pct: None }
    );
    assert_eq!(
        one("move cartservice to rack-2"),
        Step::Move { workload: "cartservice".into(), to: Scope::Any("rack-2".into()) }
    );
    assert_eq!(one("horizon 15m"), Step::Horizon { secs: 900.0 });
    assert_eq!(one("slo p99 < 60ms"), Step::Slo { quantile: 99, below_ms: 60.0, workload: None });
    assert_eq!(
        one("sweep checkoutservice replicas 2..20"),
        Step::Sweep { workload: "checkoutservice".into(), from: 2, to: 20 }
    );
}

#[test]
fn declared_load_and_service_times_parse() {
    assert_eq!(one("load frontend 200 rps"), Step::Load { workload: "frontend".into(), rps: 200.0 });
    assert_eq!(one("load frontend 12.5rps"), Step::Load { workload: "frontend".into(), rps: 12.5 });
    assert_eq!(one("load frontend 50/s"), Step::Load { workload: "frontend".into(), rps: 50.0 });
    assert_eq!(
        one("service checkoutservice 20ms"),
        Step::Service { workload: "checkoutservice".into(), mean_ms: 20.0, workers: None }
    );
    assert_eq!(
        one("service checkoutservice 1.5s workers 8"),
        Step::Service { workload: "checkoutservice".into(), mean_ms: 1500.0, workers: Some(8) }
    );
    let e = parse(
        "load frontend 200
load frontend -3 rps
service cart 0ms
service cart 5ms workers 0",
    )
    .unwrap_err();
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[0].message.contains("`rps`"), "{}", e[0]);
    assert!(e[1].message.contains("200 rps"), "{}", e[1]);
    assert!(e[2].message.contains("20ms"), "{}", e[2]);
    assert!(e[3].message.contains("between 1"), "{}", e[3]);
}

#[test]
fn comments_blank_lines_and_case() {
    let v = parse("# incident 42\n\nSCALE cart TO 3   # more carts\n  horizon 1h30m\n").unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].line, 3);
    assert_eq!(v[1].step, Step::Horizon { secs: 5400.0 });
}

#[test]
fn traffic_windows() {
    assert_eq!(
        one("traffic frontend +50% from 1m for 2m"),
        Step::Traffic { workload: "frontend".into(), factor: 1.5, from: 60.0, until: Some(180.0) }
    );
    assert_eq!(
        one("traffic frontend x0.5 until 5m"),
        Step::Traffic { workload: "frontend".into(), factor: 0.5, from: 0.0, until: Some(300.0) }
    );
}

#[test]
fn errors_point_at_line_and_column() {
    let e = parse("scale cart to 3\nscale cart by 3\nfrobnicate x").unwrap_err();
    assert_eq!(e.len(), 2);
    assert_eq!((e[0].line, e[0].col), (2, 12), "{}", e[0]);
    assert!(e[0].message.contains("`by`"));
    assert_eq!((e[1].line, e[1].col), (3, 1));
    assert!(e[1].message.contains("unknown verb"));

    let e = parse("fail server r1 at soon").unwrap_err();
    assert_eq!(e[0].col, 19);
    assert!(e[0].message.contains("duration"));
    let e = parse("scale cart").unwrap_err();
    assert_eq!(e[0].col, 11, "points past the end");
    assert!(parse("hpa cart min 9 max 3").unwrap_err()[0].message.contains("above max"));
    assert!(parse("sweep cart replicas 5..2").is_err());
    assert!(parse("slo p99 < -5ms").is_err());
    assert!(parse("scale cart to 3 now").unwrap_err()[0].message.contains("unexpected `now`"));
    assert!(parse("scale c\u{1b}[31m to 3").unwrap_err()[0].message.contains("U+001B"));
}

#[test]
fn durations() {
    assert_eq!(parse_duration("90s"), Some(90.0));
    assert_eq!(parse_duration("1h30m"), Some(5400.0));
    assert_eq!(parse_duration("1.5m"), Some(90.0));
    assert_eq!(parse_duration("12"), Some(12.0));
    assert_eq!(parse_duration("5x"), None);
    assert_eq!(parse_duration("m"), None);
    assert_eq!(parse_duration("3m2"), None);
    assert_eq!(parse_duration("-1"), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn never_panics_on_arbitrary_input(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_verb_shaped_input(
        verb in proptest::sample::select(VERBS.to_vec()),
        rest in "[a-z0-9 .+%x<>:-]{0,40}",
    ) {
        let _ = parse(&format!("{verb} {rest}"));
    }

    #[test]
    fn errors_are_within_the_line(s in "[a-z0-9 .+%x<>:#-]{0,60}") {
        if let Err(es) = parse(&s) {
            for e in es {
                prop_assert!(e.line == 1);
                prop_assert!(e.col >= 1 && e.col <= s.chars().count() + 1, "{e:?} for {s:?}");
            }
        }
    }
}
