//! The guardrails' rules, each by name, on the demo twin; the config table and its limits.

use super::*;
use crate::demo::{DemoPreset, DemoTwin};
use crate::twin::Feed;

#[test]
fn values_no_rule_can_mean_are_refused_with_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    for (text, key, line) in [
        ("[guardrails]\nreadonly = false\nquota_headroom = nan\n", "quota_headroom", 3),
        ("[guardrails]\nquota_headroom = inf\n", "quota_headroom", 2),
        ("[guardrails]\nquota_headroom = 1.5\n", "quota_headroom", 2),
        ("[guardrails]\nmax_cordoned_share = -0.1\n", "max_cordoned_share", 2),
        ("theme = \"dark\"\n[guardrails]\ncooldown_secs = -5\n", "cooldown_secs", 3),
        ("[guardrails]\ncooldown_secs = 9223372036854775807\n", "cooldown_secs", 2),
    ] {
        std::fs::write(&cfg, text).unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(
            e.contains(&format!("config.toml: line {line}, key `guardrails.{key}`: must be")),
            "{text}: {e}"
        );
    }
    std::fs::write(&cfg, "[guardrails]\nquota_headroom = 0.2\ncooldown_secs = 0\n").unwrap();
    assert_eq!(load(dir.path()).unwrap().quota_headroom, 0.2);
}

fn demo() -> std::sync::Arc<Snapshot> {
    DemoTwin::starting_at(DemoPreset::Dc, 1, DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap())
        .warm_snapshot(3)
}

fn rules(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|x| x.rule.name()).collect()
}

#[test]
fn a_modest_scale_passes() {
    let s = demo();
    let g = Guardrails::default();
    let c = Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 4 };
    assert!(g.check(&c, &s, "demo", &[], s.time).is_empty());
}

#[test]
fn each_rule_names_itself() {
    let s = demo();
    let g = Guardrails { readonly_contexts: vec!["prod".into()], ..Guardrails::default() };
    let now = s.time;
    let scale = |w: &str, n| Change::Scale { workload: w.into(), replicas: n };
    assert_eq!(rules(&g.check(&scale("checkoutservice", 4), &s, "prod", &[], now)), ["readonly"]);
    assert_eq!(
        rules(&g.check(&scale("checkoutservice", 40), &s, "demo", &[], now)),
        ["max-change", "max-change-per-hour"]
    );
    assert!(rules(&g.check(&scale("frontend", 8), &s, "demo", &[], now)).contains(&"hpa-owned"));
    assert_eq!(rules(&g.check(&scale("nope", 3), &s, "demo", &[], now)), ["target"]);
    let past = [PastAction {
        time: now - chrono::Duration::seconds(60),
        target: "boutique/checkoutservice".into(),
        replica_delta: 2,
    }];
    assert_eq!(rules(&g.check(&scale("checkoutservice", 4), &s, "demo", &past, now)), ["cooldown"]);
    let hpa = Change::HpaBounds { workload: "frontend".into(), min: 1, max: 20 };
    assert_eq!(rules(&g.check(&hpa, &s, "demo", &[], now)), ["critical-min"]);
    let tight = Guardrails { quota_headroom: 0.99, ..Guardrails::default() };
    assert_eq!(rules(&tight.check(&scale("checkoutservice", 4), &s, "demo", &[], now)), ["quota-headroom"]);
    let deny = Guardrails { deny_namespaces: vec!["boutique".into()], ..Guardrails::default() };
    assert_eq!(rules(&deny.check(&scale("checkoutservice", 4), &s, "demo", &[], now)), ["namespace"]);
}

#[test]
fn stale_feed_blocks_actions() {
    let mut s = (*demo()).clone();
    s.feeds.push(Feed { name: "vm".into(), state: FeedState::Stale, detail: String::new(), updated: None });
    let c = Change::Scale { workload: "checkoutservice".into(), replicas: 4 };
    assert_eq!(rules(&Guardrails::default().check(&c, &s, "demo", &[], s.time)), ["stale-feed"]);
}

#[test]
fn config_parses_from_toml_with_defaults() {
    let g: Guardrails = toml::from_str("readonly = true\nmax_replica_change = 3").unwrap();
    assert!(g.readonly);
    assert_eq!(g.max_replica_change, 3);
    assert_eq!(g.cooldown_secs, 300);
    let e = toml::from_str::<Guardrails>("max_replicas_change = 3").unwrap_err().to_string();
    assert!(e.contains("max_replicas_change"), "{e}");
}

#[test]
fn the_config_table_parses_and_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(load(dir.path()), Ok(Default::default()));
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "theme = \"dark\"\n[guardrails]\nreadonly = true\nmax_replica_change = 3\nmax_replicas = 40\n",
    )
    .unwrap();
    let g = load(dir.path()).unwrap();
    assert!(g.readonly && g.max_replica_change == 3 && g.cooldown_secs == 300);
    assert_eq!(g.max_replicas, 40, "validation's limits are in the same table");
    std::fs::write(&cfg, "[guardrails]\nreadonly = true\ncooldown = 5\n").unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(e.contains("config.toml: line 3") && e.contains("cooldown"), "{e}");
}
