//! The console's benchmarks, which `main` runs (the headless `cli` does not depend on `ui`):
//! `twintop bench render` times drawing the heatmap of an N-server twin into a TestBackend;
//! `twintop bench whatif` times the first What-if results for a 15-minute horizon (or the one
//! given) on the demo presets — or with `--workloads N` on a twin of N workloads read from real manifests
//! (Online Boutique copied into namespaces), whose load time is measured too — the console's
//! short first pass, then the full run over 3 seeds; input latency while a run is going (a
//! key handled and the console redrawn off-screen while the worker thread simulates); and the
//! peak resident memory.

use super::app::{App, AppOptions};
use super::derived::Derived;
use super::views::View;
use crate::demo::{DemoPreset, DemoTwin};
use crate::measure::{
    peak_rss_mb, percentile, process_cpu_s, reset_peak_rss, synthetic_store, write_boutiques,
};
use crate::source::SourceArgs;
use crate::twin::Snapshot;
use crate::whatif::run::{self, Progress, RunOptions};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// `twintop bench render`: prints the figures (JSON with `json`); returns the exit code.
pub fn render(servers: usize, frames: usize, json: bool) -> anyhow::Result<i32> {
    let r = bench_render(servers, frames, 160, 48)?;
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "heatmap of {} servers / {} pods at {}×{}: frame p50 {:.2} ms, p99 {:.2} ms ({} frames); snapshot {:.1} ms, derived figures {:.1} ms",
            r.servers,
            r.pods,
            r.width,
            r.height,
            r.frame_ms_p50,
            r.frame_ms_p99,
            r.frames,
            r.snapshot_ms,
            r.derive_ms
        );
    }
    Ok(0)
}

/// `twintop bench whatif`: one preset or both, or a manifest twin of about `workloads`
/// workloads; prints the figures (JSON with `json`).
pub fn whatif(
    preset: Option<DemoPreset>,
    workloads: Option<usize>,
    horizon_s: u32,
    json: bool,
) -> anyhow::Result<i32> {
    let mut all = Vec::new();
    if let Some(n) = workloads {
        all.push(bench_whatif_manifests(n, horizon_s)?);
    } else {
        let presets = match preset {
            Some(p) => vec![p],
            None => vec![DemoPreset::Dc, DemoPreset::Mec],
        };
        for p in presets {
            all.push(bench_whatif(p, horizon_s)?);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(0);
    }
    for b in &all {
        let what = match (b.workloads, b.namespaces, b.load_ms) {
            (Some(w), Some(n), Some(l)) => {
                format!("{w} workloads in {n} namespaces from manifests (loaded in {l:.0} ms)")
            }
            _ => b.preset.clone(),
        };
        println!(
            "whatif {what} ({}): first results {:.0} ms ({:.2} s CPU; {} s simulated, 1 seed), full {} s × 3 seeds \
             {:.0} ms ({:.2} s CPU); input while running: {} keys, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; peak RSS {}",
            b.script,
            b.first_results_ms,
            b.first_results_cpu_s,
            b.first_horizon_s,
            b.horizon_s,
            b.full_results_ms,
            b.full_results_cpu_s,
            b.keys,
            b.key_p50_ms,
            b.key_p99_ms,
            b.key_max_ms,
            b.peak_rss_mb.map_or("n/a".into(), |m| format!("{m:.0} MB"))
        );
    }
    Ok(0)
}

#[derive(Debug, Serialize)]
pub(crate) struct RenderBench {
    pub servers: usize,
    pub pods: usize,
    pub width: u16,
    pub height: u16,
    pub frames: usize,
    /// Building the N-server snapshot (10 pods per server).
    pub snapshot_ms: f64,
    /// Deriving the console's figures from it (once per snapshot).
    pub derive_ms: f64,
    pub frame_ms_p50: f64,
    pub frame_ms_p99: f64,
}

/// Renders the heatmap `frames` times, moving the cursor each frame as an operator would.
pub(crate) fn bench_render(
    servers: usize,
    frames: usize,
    width: u16,
    height: u16,
) -> anyhow::Result<RenderBench> {
    let mut store = synthetic_store(servers, 10);
    let t0 = Instant::now();
    let snap = store.snapshot();
    let snapshot_ms = t0.elapsed().as_secs_f64() * 1e3;
    let t1 = Instant::now();
    std::hint::black_box(Derived::new(&snap));
    let derive_ms = t1.elapsed().as_secs_f64() * 1e3;
    let pods = snap.pods.len();
    let mut app = App::new(snap, AppOptions::default());
    app.switch(View::Heatmap);
    let mut term = Terminal::new(TestBackend::new(width, height))?;
    term.draw(|f| app.draw(f))?;
    let mut times = Vec::with_capacity(frames);
    for _ in 0..frames.max(1) {
        app.step_heatmap_cursor();
        let t = Instant::now();
        term.draw(|f| app.draw(f))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(RenderBench {
        servers,
        pods,
        width,
        height,
        frames: times.len(),
        snapshot_ms,
        derive_ms,
        frame_ms_p50: percentile(&times, 0.5),
        frame_ms_p99: percentile(&times, 0.99),
    })
}

/// The script run on the demo presets.
fn demo_script(horizon_s: u32) -> String {
    format!("scale checkoutservice +3\nhorizon {horizon_s}s")
}

/// The script run on the manifest twin: manifests measure no traffic, so each copy's users
/// are declared at its frontend (10 requests/s, what its load generator sends).
fn boutique_script(namespaces: usize, horizon_s: u32) -> String {
    let mut s: String = (1..=namespaces).map(|k| format!("load shop-{k:02}/frontend 10 rps\n")).collect();
    s.push_str(&format!("scale shop-01/checkoutservice +3\nhorizon {horizon_s}s"));
    s
}

#[derive(Debug, Serialize)]
pub(crate) struct WhatifBench {
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
    /// Simulated seconds of the full results (15 minutes unless asked), and of the first.
    pub horizon_s: u32,
    pub first_horizon_s: f64,
    /// The console's first pass (its first 60 s simulated, 1 seed, baseline + scenario).
    pub first_results_ms: f64,
    /// The whole horizon over 3 seeds, baseline + scenario.
    pub full_results_ms: f64,
    /// CPU time of the process (all threads, getrusage) for the first and the full results:
    /// fairer than wall time on a busy machine (on 2 idle cores, full ≈ CPU / 2).
    pub first_results_cpu_s: f64,
    pub full_results_cpu_s: f64,
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

/// Times one preset: the first pass, the full run, and keys while the console's worker runs.
pub(crate) fn bench_whatif(preset: DemoPreset, horizon_s: u32) -> anyhow::Result<WhatifBench> {
    reset_peak_rss();
    let snap = DemoTwin::new(preset, 1).warm_snapshot(crate::source::DEMO_WARMUP_TICKS);
    let mut b = run_on(snap, &demo_script(horizon_s), horizon_s)?;
    b.preset = format!("{preset:?}").to_lowercase();
    b.peak_rss_mb = peak_rss_mb();
    Ok(b)
}

/// The what-if benchmark on a twin of about `n` workloads read from manifests.
pub(crate) fn bench_whatif_manifests(n: usize, horizon_s: u32) -> anyhow::Result<WhatifBench> {
    let dir = std::env::temp_dir().join(format!("twintop-bench-whatif-manifests-{}", std::process::id()));
    let namespaces = write_boutiques(&dir, n)?;
    reset_peak_rss();
    let t = Instant::now();
    let src = SourceArgs { manifests: vec![dir.clone()], ..Default::default() };
    let snap = crate::source::load_snapshot(&src);
    let load_ms = ms(t);
    let _ = std::fs::remove_dir_all(&dir);
    let snap = snap?;
    let workloads = snap.workloads.len();
    let mut b = run_on(snap, &boutique_script(namespaces, horizon_s), horizon_s)?;
    b.script = format!(
        "load shop-NN/frontend 10 rps (×{namespaces}); scale shop-01/checkoutservice +3; horizon {horizon_s}s"
    );
    b.preset = "manifests".into();
    b.workloads = Some(workloads);
    b.namespaces = Some(namespaces);
    b.load_ms = Some(load_ms);
    b.peak_rss_mb = peak_rss_mb();
    Ok(b)
}

fn run_on(snap: Arc<Snapshot>, script: &str, horizon_s: u32) -> anyhow::Result<WhatifBench> {
    let lines =
        crate::whatif::parse_checked(script, &snap).map_err(|e| anyhow::anyhow!("bench script: {}", e[0]))?;
    let cancel = AtomicBool::new(false);
    let p = Progress { cancel: &cancel, on_progress: &|_| {} };
    let (t, c) = (Instant::now(), process_cpu_s());
    let first_horizon_s = super::views::whatif::PARTIAL_S.min(horizon_s as f64);
    let opt = RunOptions { seeds: 1, horizon_override_s: Some(first_horizon_s), ..Default::default() };
    run::run(&snap, &lines, &opt, &p).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (first, first_cpu) = (ms(t), process_cpu_s() - c);
    let (t, c) = (Instant::now(), process_cpu_s());
    run::run(&snap, &lines, &RunOptions::default(), &p).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (full, full_cpu) = (ms(t), process_cpu_s() - c);

    // Input latency while the console's worker runs the same script.
    // History goes to a scratch dir, not the operator's.
    let data = std::env::temp_dir().join(format!("twintop-bench-whatif-{}", std::process::id()));
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
        horizon_s,
        first_horizon_s,
        first_results_ms: first,
        full_results_ms: full,
        first_results_cpu_s: first_cpu,
        full_results_cpu_s: full_cpu,
        keys: lat.len(),
        key_p50_ms: q(0.5),
        key_p99_ms: q(0.99),
        key_max_ms: lat.last().copied().unwrap_or(0.0),
        peak_rss_mb: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boutiques_load_as_that_many_namespaced_workloads() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(write_boutiques(dir.path(), 30).unwrap(), 3);
        let src = SourceArgs { manifests: vec![dir.path().into()], ..Default::default() };
        let snap = crate::source::load_snapshot(&src).unwrap();
        assert_eq!(snap.workloads.len(), 36);
        for k in ["shop-01/frontend", "shop-03/checkoutservice"] {
            assert!(snap.workload_index(k).is_some(), "{k}");
        }
        // Each copy's calls stay in its namespace.
        assert!(snap.edges.len() >= 3 * 10, "{} edges", snap.edges.len());
        for e in &snap.edges {
            assert_eq!(e.from.split('/').next(), e.to.split('/').next(), "{} → {}", e.from, e.to);
        }
    }
}
