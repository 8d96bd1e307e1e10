//! Fuzzing every parser of hostile input: scenario YAML (parsed, validated and run), the what-if
//! language (parsed, checked, planned and run), CSV series, config and themes, manifests,
//! Prometheus answers, LLM answers (whole and streamed) and audit lines (with their seal).
//! Each target runs its committed seeds (`tests/fuzz/corpus/TARGET/`, regressions included),
//! then mutations of them, for a fixed budget and seed: CI runs `TWINTOP_FUZZ_EXECS` (default
//! below) per target; `scripts/fuzz` runs 100,000 or more. The report line of each target
//! (`--nocapture`) gives executions, panics, aborts and hangs; any of them fails the test.

mod common;
#[path = "fuzz/engine.rs"]
mod engine;

use engine::{CHILD_ENV, Target};
use std::path::Path;
use std::sync::Arc;
use twintop::twin::Snapshot;

/// Executions per target in CI (debug build, two targets at a time: about a minute in all).
const CI_EXECS: u64 = 1500;

fn corpus_dir(target: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus").join(target)
}

/// The committed seeds of `target`, then `extra` files (cut to their first `cut` bytes at a
/// line end, so big real files seed without slowing every execution).
fn seeds(target: &str, extra: &[&str], cut: usize) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir(target))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let mut out: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    for e in extra {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(e);
        let mut b = std::fs::read(&p).unwrap_or_else(|err| panic!("{}: {err}", p.display()));
        if b.len() > cut {
            let end = b[..cut].iter().rposition(|c| *c == b'\n').map_or(cut, |i| i + 1);
            b.truncate(end);
        }
        out.push(b);
    }
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn demo_snapshot() -> Arc<Snapshot> {
    use twintop::demo::{DemoPreset, DemoTwin};
    DemoTwin::new(DemoPreset::Dc, 1).warm_snapshot(2)
}

fn target(name: &str) -> Target {
    match name {
        "scenario" => Target {
            name: "scenario",
            seeds: seeds(
                "scenario",
                &["assets/scenarios/kubetwin-exp1.yaml", "assets/scenarios/kubetwin-exp2.yaml"],
                1 << 20,
            ),
            dict: &[
                "count: ",
                "replicas: ",
                "\n  - ",
                "{ type: normal, mean: 5, std: 1e18 }",
                "start_s: ",
                "duration_s: ",
                "sample_s: ",
                "at_s: ",
                "&a ",
                "*a",
                "[",
                "{",
                "calls: [",
                "root: {",
                "limits: {",
                "hold_caller: true",
                "probability: ",
                "- { at_s: 1, pod_crash: { service: ",
                "type: mixture",
                "components: [",
                "~",
                "null",
                "!!binary",
                "<<: *a",
            ],
            run: Box::new(|b| {
                let Ok(mut sc) = twintop::sim::Scenario::from_yaml(&text(b), "fuzz.yaml") else {
                    return false;
                };
                // Run it, on small limits so each execution stays short.
                let l = &mut sc.limits;
                l.max_events = l.max_events.min(20_000);
                l.max_in_flight = l.max_in_flight.min(5_000);
                l.max_pods = l.max_pods.min(2_000);
                l.max_servers = l.max_servers.min(2_000);
                l.max_sim_s = l.max_sim_s.min(3_600.0);
                l.max_series_points = l.max_series_points.min(200_000);
                let _ = twintop::sim::run(&sc, 1);
                true
            }),
        },
        "whatif" => {
            let snap = demo_snapshot();
            let names = twintop::whatif::check::Names::of(&snap);
            Target {
                name: "whatif",
                seeds: seeds("whatif", &[], 0),
                dict: &[
                    "scale ",
                    "fail server ",
                    "drain rack ",
                    "cordon server ",
                    "traffic ",
                    "latency ",
                    "hpa ",
                    "move ",
                    "horizon ",
                    "slo p99 < ",
                    "sweep ",
                    " at ",
                    " from ",
                    " until ",
                    " to ",
                    " x",
                    " +",
                    "%",
                    "ms",
                    "s",
                    "m",
                    "h",
                    "checkoutservice",
                    "frontend",
                    "r3-07",
                    "rack-1",
                    "..",
                    " replicas ",
                    " min ",
                    " max ",
                    " target ",
                    "\n",
                ],
                run: Box::new(move |b| {
                    use twintop::whatif::{check, lang, run};
                    let Ok(lines) = lang::parse(&text(b)) else { return false };
                    if !check::check(&lines, &names).is_empty() {
                        return false;
                    }
                    let opts = run::RunOptions { seed: 1, seeds: 1, horizon_override_s: Some(2.0) };
                    let Ok(plan) = run::plan(&snap, &lines, &opts) else { return false };
                    if plan.sweep.is_none() {
                        let cancel = std::sync::atomic::AtomicBool::new(false);
                        let p = run::Progress { cancel: &cancel, on_progress: &|_| {} };
                        let _ = run::run(&snap, &lines, &opts, &p);
                    }
                    true
                }),
            }
        }
        "csv" => Target {
            name: "csv",
            seeds: seeds(
                "csv",
                &[
                    "tests/data/series/nab/nyc_taxi.csv",
                    "tests/data/series/nab/ec2_cpu_utilization_5f5533.csv",
                    "tests/data/series/nab/elb_request_count_8c0756.csv",
                ],
                3000,
            ),
            dict: &[
                "timestamp,value\n",
                "\n2014-05-14 01:14:00,",
                "2014-05-14T01:14:00Z",
                "1715686833",
                ",",
                "\"",
                "\r\n",
                "1e308",
                "9999-12-31 23:59:59",
                "1970-01-01 00:00:00",
            ],
            run: Box::new(|b| {
                let t = text(b);
                let ok = twintop::forecast::csv::parse(&t, "fuzz.csv", None).is_ok();
                let _ = twintop::forecast::csv::parse(&t, "fuzz.csv", Some("value"));
                let _ = twintop::sim::validate::parse_rate_csv(&t, None);
                ok
            }),
        },
        "config" => Target {
            name: "config",
            seeds: seeds(
                "config",
                &["themes/dark.toml", "themes/light.toml", "themes/colorblind.toml"],
                1 << 20,
            ),
            dict: &[
                "[vm]\n",
                "[guardrails]\n",
                "[colors]\n",
                "[heatmap]\n",
                "[vm.queries]\n",
                "interval_s = ",
                "timeout_s = ",
                "quota_headroom = ",
                "cooldown_secs = ",
                "max_cordoned_share = ",
                "theme = ",
                "metric = ",
                "\"#ff00ff\"",
                "[[",
                "]]",
                "= {",
                "inf",
                "nan",
                "-inf",
            ],
            run: Box::new(|b| {
                use twintop::source::victoria::VmConfig;
                let t = text(b);
                let path = Path::new("fuzz.toml");
                let ok = twintop::ui::config::parse_config(&t).is_ok();
                let _ = VmConfig::from_toml(&t);
                let _ = twintop::ui::theme::Theme::parse(path, &t);
                let _ = twintop::guardrails::parse(path, &t);
                ok
            }),
        },
        "manifests" => Target {
            name: "manifests",
            seeds: seeds(
                "manifests",
                &[
                    "tests/data/manifests/istio-bookinfo/bookinfo.yaml",
                    "tests/data/manifests/online-boutique/istio-manifests.yaml",
                    "tests/data/api/k9s/dp.json",
                    "tests/data/api/k9s/sts.json",
                    "tests/data/api/k9s/hpa_v2.json",
                    "tests/data/api/k9s/no.json",
                ],
                1 << 20,
            ),
            dict: &[
                "\n---\n",
                "replicas: ",
                "cpu: ",
                "memory: ",
                "1e308",
                "999999999Ei",
                "-1m",
                "kind: Deployment",
                "kind: HorizontalPodAutoscaler",
                "maxReplicas: ",
                "apiVersion: apps/v1",
                "containers:",
                "- name: ",
                "resources:",
                "requests:",
                "limits:",
                "value: \"http://",
                "{",
                "[",
            ],
            run: Box::new(|b| {
                use twintop::source::manifests::{self, Datacenter, read};
                let t = text(b);
                let _ = manifests::nodes::parse_nodes(&t, "fuzz.yaml");
                let mut objs = read::Objects::default();
                if read::parse_text(&t, "fuzz.yaml", &mut objs).is_err() {
                    return false;
                }
                let dc = Datacenter::demo(twintop::demo::DemoPreset::Dc);
                let Ok(events) = manifests::build_events(objs, "fuzz.yaml", dc, chrono::Utc::now()) else {
                    return false;
                };
                let mut store = twintop::twin::TwinStore::default();
                store.apply_all(events);
                let _ = store.snapshot();
                true
            }),
        },
        "prometheus" => Target {
            name: "prometheus",
            seeds: seeds("prometheus", &["tests/data/api/victoriametrics/range_response.json"], 1 << 20),
            dict: &[
                "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[",
                "\"metric\":{",
                "\"value\":[",
                "\"values\":[[",
                "\"NaN\"",
                "\"+Inf\"",
                "\"1e308\"",
                "]}",
                "}]",
                "\"instance\":\"",
            ],
            run: Box::new(|b| {
                use twintop::source::victoria::client;
                let t = text(b);
                let bare = client::parse_vector_result(&t).is_ok();
                // The envelope, whatever its resultType (decoded in full before the kind is checked).
                let whole = client::parse_range_response(&t);
                let ok = bare || whole.is_ok() || whole.is_err_and(|e| e.starts_with("status "));
                for l in t.lines().take(64) {
                    let _ = client::parse_value(l);
                }
                ok
            }),
        },
        "llm" => {
            let snap = demo_snapshot();
            Target {
                name: "llm",
                seeds: llm_seeds(),
                dict: &[
                    "{\"actions\":[",
                    "{\"action\":\"scale\",\"workload\":\"boutique/checkoutservice\",\"replicas\":",
                    "\"cordon\"",
                    "\"evict\"",
                    "\"hpa\"",
                    "\"at\":\"",
                    "\"confidence\":",
                    "```json\n",
                    "```",
                    "data: ",
                    "\n\n",
                    "data: [DONE]\n\n",
                    "{\"choices\":[{\"delta\":{\"content\":\"",
                    "\"}}]}",
                ],
                run: Box::new(move |b| {
                    use twintop::advise::llm::{parse, sse};
                    let t = text(b);
                    let _ = parse::message_content(&t);
                    let mut d = sse::Decoder::default();
                    let mid = b.len() / 3;
                    let _ = d.feed(&b[..mid]).and_then(|_| d.feed(&b[mid..])).and_then(|_| d.finish());
                    let Ok(cands) = parse::candidates(&t, "llm:fuzz", snap.time) else { return false };
                    let g = twintop::guardrails::Guardrails::default();
                    for c in &cands {
                        if let Some(a) = &c.action {
                            let _ = twintop::advise::validate::validate(&snap, a, &g);
                        }
                    }
                    true
                }),
            }
        }
        "audit" => {
            // A real log and its seal, written with a key the target knows.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("audit.jsonl");
            let mut log = twintop::act::audit::AuditLog::open(&path).unwrap();
            for n in 1..=3u32 {
                log.append(common::audit_record(n)).unwrap();
            }
            drop(log);
            let key = twintop::act::audit_seal::read_key(&path.with_extension("verify-key")).unwrap();
            let seal = std::fs::read(path.with_extension("seal")).unwrap();
            let mut s = seeds("audit", &[], 0);
            s.push(std::fs::read(&path).unwrap());
            s.push(seal.clone());
            let log_bytes = std::fs::read(&path).unwrap();
            Target {
                name: "audit",
                seeds: s,
                dict: &[
                    "{\"seq\":",
                    "\"prev\":\"",
                    "\"hash\":\"",
                    "\"seal\":\"",
                    "\"outcome\":\"torn-write\"",
                    "\"torn_lines\":[",
                    "\"before\":{",
                    "\"next_key\":\"",
                    "\"link\":\"",
                    "\n",
                    "0000000000000000",
                ],
                run: Box::new(move |b| {
                    use twintop::act::audit_verify::{verify_bytes, verify_texts};
                    let ok = verify_bytes(b).ok();
                    let _ = verify_texts(b, Some(&seal), Some(&key));
                    let _ = verify_texts(&log_bytes, Some(b), Some(&key));
                    ok
                }),
            }
        }
        other => panic!("no fuzz target {other}"),
    }
}

/// The committed seeds, then the answers recorded in tests/data/llm (their `content`).
fn llm_seeds() -> Vec<Vec<u8>> {
    let mut out = seeds("llm", &[], 0);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/llm");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        if let Some(c) = v.get("content").and_then(|c| c.as_str()) {
            out.push(c.as_bytes().to_vec());
        }
    }
    out
}

/// The child: fuzzes the target its parent names.
#[test]
fn fuzz_child() {
    let Ok(name) = std::env::var(CHILD_ENV) else { return };
    engine::fuzz(target(&name));
}

#[test]
fn fuzz_scenario_yaml() {
    engine::run_in_child("scenario", CI_EXECS);
}

#[test]
fn fuzz_whatif_language() {
    engine::run_in_child("whatif", CI_EXECS);
}

#[test]
fn fuzz_csv_series() {
    engine::run_in_child("csv", CI_EXECS);
}

#[test]
fn fuzz_config_and_themes() {
    engine::run_in_child("config", CI_EXECS);
}

#[test]
fn fuzz_manifests() {
    engine::run_in_child("manifests", CI_EXECS);
}

#[test]
fn fuzz_prometheus_answers() {
    engine::run_in_child("prometheus", CI_EXECS);
}

#[test]
fn fuzz_llm_answers() {
    engine::run_in_child("llm", CI_EXECS);
}

#[test]
fn fuzz_audit_lines() {
    engine::run_in_child("audit", CI_EXECS);
}
