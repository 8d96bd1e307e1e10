//! `twintop bench whatif`: time to first What-if results for a 15-minute horizon (the
//! console's short first pass, then the full run over 3 seeds), input latency while a run is
//! going (a key handled and the console redrawn off-screen while the worker thread simulates),
//! and peak resident memory — on the demo presets, or with `--workloads N` on a twin of N
//! workloads loaded from real manifests (Online Boutique copied into namespaces), whose load
//! time is measured too.

use crate::demo::{DemoPreset, DemoTwin};
use crate::source::SourceArgs;
use crate::twin::Snapshot;
use crate::ui::{App, AppOptions};
use crate::whatif::run::{self, Progress, RunOptions};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub const SCRIPT: &str = "scale checkoutservice +3\nhorizon 15m";
/// The real app the large twin is made of, and the script run on it.
const BOUTIQUE: &str =
    include_str!("../../../tests/data/manifests/online-boutique/kubernetes-manifests.yaml");
const BOUTIQUE_SCRIPT: &str = "scale shop-01/checkoutservice +3\nhorizon 15m";

#[derive(Debug, Serialize)]
pub struct WhatifBench {
    pub preset: String,
    /// Workloads in the twin, and the namespaces they came in (manifests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workloads: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<usize>,
    /// Reading the manifests folder into a snapshot (manifests only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<f64>,
    pub script: String,
    /// The console's first pass (60 s simulated, 1 seed, baseline + scenario).
    pub first_results_ms: f64,
    /// The whole 15-minute horizon over 3 seeds, baseline + scenario.
    pub full_results_ms: f64,
    /// Keys handled + redrawn (160×48) while the worker ran.
    pub keys: usize,
    pub key_p50_ms: f64,
    pub key_p99_ms: f64,
    pub key_max_ms: f64,
    /// The process's peak resident memory over this case (Linux), MB.
    pub peak_rss_mb: Option<f64>,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Resets the process's peak resident memory to what it holds now (Linux ≥ 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// VmHWM in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

pub fn run(preset: DemoPreset) -> anyhow::Result<WhatifBench> {
    reset_peak_rss();
    let snap = DemoTwin::new(preset, 1).warm_snapshot(crate::source::DEMO_WARMUP_TICKS);
    let mut b = run_on(snap, SCRIPT)?;
    b.preset = format!("{preset:?}").to_lowercase();
    b.peak_rss_mb = peak_rss_mb();
    Ok(b)
}

/// Online Boutique (12 Deployments) copied into ⌈n/12⌉ namespaces `shop-01`…, each object
/// given its namespace, one file per namespace, in `dir`. Returns the namespaces.
pub fn write_boutiques(dir: &Path, n: usize) -> anyhow::Result<usize> {
    let per_copy = BOUTIQUE.lines().filter(|l| *l == "kind: Deployment").count().max(1);
    let copies = n.div_ceil(per_copy).max(1);
    std::fs::create_dir_all(dir)?;
    for k in 1..=copies {
        let ns = format!("shop-{k:02}");
        let text: String =
            BOUTIQUE
                .lines()
                .map(|l| {
                    if l == "metadata:" {
                        format!("metadata:\n  namespace: {ns}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
        std::fs::write(dir.join(format!("{ns}.yaml")), text)?;
    }
    Ok(copies)
}

/// The what-if benchmark on a twin of about `n` workloads read from manifests.
pub fn run_manifests(n: usize) -> anyhow::Result<WhatifBench> {
    let dir = std::env::temp_dir().join(format!("twintop-bench-whatif-manifests-{}", std::process::id()));
    let namespaces = write_boutiques(&dir, n)?;
    reset_peak_rss();
    let t = Instant::now();
    let src = SourceArgs { manifests: Some(dir.clone()), ..Default::default() };
    let snap = crate::source::load_snapshot(&src);
    let load_ms = ms(t);
    let _ = std::fs::remove_dir_all(&dir);
    let snap = snap?;
    let workloads = snap.workloads.len();
    let mut b = run_on(snap, BOUTIQUE_SCRIPT)?;
    b.preset = "manifests".into();
    b.workloads = Some(workloads);
    b.namespaces = Some(namespaces);
    b.load_ms = Some(load_ms);
    b.peak_rss_mb = peak_rss_mb();
    Ok(b)
}

fn run_on(snap: Arc<Snapshot>, script: &str) -> anyhow::Result<WhatifBench> {
    let lines =
        crate::whatif::parse_checked(script, &snap).map_err(|e| anyhow::anyhow!("bench script: {}", e[0]))?;
    let cancel = AtomicBool::new(false);
    let p = Progress { cancel: &cancel, on_progress: &|_| {} };
    let t = Instant::now();
    let opt = RunOptions {
        seeds: 1,
        horizon_override_s: Some(crate::ui::views::whatif::PARTIAL_S),
        ..Default::default()
    };
    run::run(&snap, &lines, &opt, &p).map_err(|e| anyhow::anyhow!("{e}"))?;
    let first = ms(t);
    let t = Instant::now();
    run::run(&snap, &lines, &RunOptions::default(), &p).map_err(|e| anyhow::anyhow!("{e}"))?;
    let full = ms(t);

    // Input latency while the console's worker runs the same script.
    // History goes to a scratch dir, not the operator's.
    let data: PathBuf = std::env::temp_dir().join(format!("twintop-bench-whatif-{}", std::process::id()));
    let mut app = App::new(snap, AppOptions { data_dir: Some(data.clone()), ..Default::default() });
    let mut rx = app.take_worker_rx().expect("a new app");
    let mut term = Terminal::new(TestBackend::new(160, 48))?;
    let key =
        |app: &mut App, code: KeyCode, m: KeyModifiers| app.handle_event(Event::Key(KeyEvent::new(code, m)));
    key(&mut app, KeyCode::Char(':'), KeyModifiers::NONE);
    for c in "whatif".chars() {
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
    for (i, l) in script.lines().enumerate() {
        if i > 0 {
            key(&mut app, KeyCode::Enter, KeyModifiers::NONE);
        }
        for c in l.chars() {
            key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
        }
    }
    key(&mut app, KeyCode::Char('r'), KeyModifiers::CONTROL);
    let mut lat = Vec::new();
    let mut k = 0;
    while app.whatif().is_running() && lat.len() < 2000 {
        while let Ok(msg) = rx.try_recv() {
            app.on_worker(msg);
        }
        // Cursor moves: the editor handles them without changing the script.
        let code = if k % 2 == 0 { KeyCode::Left } else { KeyCode::Right };
        k += 1;
        let t = Instant::now();
        key(&mut app, code, KeyModifiers::NONE);
        term.draw(|f| app.draw(f))?;
        lat.push(ms(t));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = std::fs::remove_dir_all(&data);
    lat.sort_by(f64::total_cmp);
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0.0)
    };
    Ok(WhatifBench {
        preset: String::new(),
        workloads: None,
        namespaces: None,
        load_ms: None,
        script: script.replace('\n', "; "),
        first_results_ms: first,
        full_results_ms: full,
        keys: lat.len(),
        key_p50_ms: q(0.5),
        key_p99_ms: q(0.99),
        key_max_ms: lat.last().copied().unwrap_or(0.0),
        peak_rss_mb: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn boutiques_load_as_that_many_namespaced_workloads() {
        let dir = tempfile::tempdir().unwrap();
        let ns = super::write_boutiques(dir.path(), 30).unwrap();
        assert_eq!(ns, 3);
        let src = crate::source::SourceArgs { manifests: Some(dir.path().into()), ..Default::default() };
        let snap = crate::source::load_snapshot(&src).unwrap();
        assert_eq!(snap.workloads.len(), 36);
        for k in ["shop-01/frontend", "shop-03/checkoutservice"] {
            assert!(snap.workload_index(k).is_some(), "{k}");
        }
        // Each copy's calls stay in its namespace: no edge crosses namespaces, none dangles.
        assert!(snap.edges.len() >= 3 * 10, "{} edges", snap.edges.len());
        for e in &snap.edges {
            assert_eq!(e.from.split('/').next(), e.to.split('/').next(), "{} → {}", e.from, e.to);
        }
    }
}
