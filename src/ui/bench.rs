//! `twintop bench render`: time drawing the heatmap of an N-server twin into a TestBackend.

use super::app::{App, AppOptions, View};
use super::derived::Derived;
use crate::cli::bench::{percentile, synthetic_store};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct RenderBench {
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
pub fn bench_render(servers: usize, frames: usize, width: u16, height: u16) -> anyhow::Result<RenderBench> {
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
