//! Snapshot tests of the console: each view of the demo twin at a fixed seed and time drawn into
//! ratatui's TestBackend, compared with the reviewed text in `tests/snapshots/`. A change to
//! what a view draws shows as a diff to review (`cargo insta review`, or `INSTA_UPDATE=always`
//! and `git diff`); nothing here reads the wall clock, so the same code draws the same text.

mod common;

use common::{assessed, command, demo_at_fixed_time, fixed_time, key, screen, surge, typed};
use crossterm::event::KeyCode;
use std::path::Path;
use std::sync::Arc;
use twintop::act::audit::{AuditLog, Record};
use twintop::act::operator::OperatorOptions;
use twintop::advise::builtin;
use twintop::twin::Snapshot;
use twintop::ui::{App, AppOptions};

/// The console on `snap` with its files in `data` (nothing from the machine's data dir).
fn console(snap: Arc<Snapshot>, data: &Path) -> App {
    App::new(
        snap,
        AppOptions {
            data_dir: Some(data.to_path_buf()),
            operator: OperatorOptions { data_dir: Some(data.to_path_buf()), ..Default::default() },
            ..AppOptions::default()
        },
    )
}

/// The screen with the temp dir's path replaced, so the text is the same on every run.
fn shown(app: &mut App, w: u16, h: u16, data: &Path) -> String {
    screen(app, w, h).replace(&data.display().to_string(), "$DATA")
}

#[test]
fn overview() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    insta::assert_snapshot!("overview_120x36", shown(&mut a, 120, 36, data.path()));
    insta::assert_snapshot!("overview_80x24", shown(&mut a, 80, 24, data.path()));
}

#[test]
fn heatmap_each_metric() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    command(&mut a, "heatmap");
    insta::assert_snapshot!("heatmap_cpu_120x36", shown(&mut a, 120, 36, data.path()));
    key(&mut a, KeyCode::Char('m'));
    key(&mut a, KeyCode::Char('m'));
    key(&mut a, KeyCode::Char('m'));
    key(&mut a, KeyCode::Char('m'));
    key(&mut a, KeyCode::Char('l'));
    insta::assert_snapshot!("heatmap_rub_cursor_moved_120x36", shown(&mut a, 120, 36, data.path()));
    insta::assert_snapshot!("heatmap_rub_80x24", shown(&mut a, 80, 24, data.path()));
}

#[test]
fn servers_sorted_and_filtered() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    command(&mut a, "servers");
    insta::assert_snapshot!("servers_120x36", shown(&mut a, 120, 36, data.path()));
    typed(&mut a, "ssj");
    insta::assert_snapshot!("servers_by_cpu_120x36", shown(&mut a, 120, 36, data.path()));
    typed(&mut a, "/rack-2");
    key(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("servers_filtered_rack2_120x36", shown(&mut a, 120, 36, data.path()));
}

#[test]
fn workloads_sorted_and_narrow() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    command(&mut a, "workloads");
    insta::assert_snapshot!("workloads_120x36", shown(&mut a, 120, 36, data.path()));
    typed(&mut a, "sssssssS");
    insta::assert_snapshot!("workloads_by_p99_reversed_120x36", shown(&mut a, 120, 36, data.path()));
    insta::assert_snapshot!("workloads_80x24", shown(&mut a, 80, 24, data.path()));
    key(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("workloads_detail_120x36", shown(&mut a, 120, 36, data.path()));
}

#[test]
fn whatif_editor_and_its_footers() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    command(&mut a, "whatif");
    insta::assert_snapshot!("whatif_empty_120x36", shown(&mut a, 120, 36, data.path()));
    typed(&mut a, "scale checkoutservce to 6");
    insta::assert_snapshot!("whatif_error_as_typed_120x36", shown(&mut a, 120, 36, data.path()));
    key(&mut a, KeyCode::Esc);
    insta::assert_snapshot!("whatif_left_editor_120x36", shown(&mut a, 120, 36, data.path()));
}

#[test]
fn whatif_results_of_a_short_run() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    let mut rx = a.take_worker_rx().unwrap();
    command(&mut a, "whatif");
    typed(&mut a, "scale checkoutservice to 6");
    key(&mut a, KeyCode::Enter);
    typed(&mut a, "horizon 30s");
    common::ctrl(&mut a, 'r');
    while a.whatif().is_running() {
        let msg = rx.blocking_recv().expect("the worker reports");
        a.on_worker(msg);
    }
    insta::assert_snapshot!("whatif_results_160x48", shown(&mut a, 160, 48, data.path()));
}

#[test]
fn recs_queue_of_reactive_proposals() {
    let data = tempfile::tempdir().unwrap();
    let snap = surge();
    let mut a = console(snap.clone(), data.path());
    a.set_proposals(assessed(&snap, builtin::reactive(&snap, &Default::default())));
    command(&mut a, "recs");
    insta::assert_snapshot!("recs_120x36", shown(&mut a, 120, 36, data.path()));
    insta::assert_snapshot!("recs_80x24", shown(&mut a, 80, 24, data.path()));
    key(&mut a, KeyCode::Char('r'));
    typed(&mut a, "not now");
    insta::assert_snapshot!("recs_reject_prompt_120x36", shown(&mut a, 120, 36, data.path()));
}

#[test]
fn audit_log_with_entries() {
    let data = tempfile::tempdir().unwrap();
    let mut log = AuditLog::open_in(data.path()).unwrap();
    for (outcome, reason) in [("approved", None), ("applied", None), ("rejected", Some("not now"))] {
        log.append(Record {
            time: fixed_time().to_rfc3339(),
            user: "sre".into(),
            context: "demo".into(),
            target: "boutique/checkoutservice".into(),
            action: "scale boutique/checkoutservice to 6 replicas".into(),
            before: serde_json::json!({"replicas": 2}),
            after: serde_json::json!({"replicas": 6}),
            proposal_id: Some("p-1".into()),
            confidence: Some(72.0),
            source: Some("builtin:reactive".into()),
            llm_exchange_sha256: None,
            outcome: outcome.into(),
            reason: reason.map(String::from),
        })
        .unwrap();
    }
    drop(log);
    let mut a = console(demo_at_fixed_time(60), data.path());
    command(&mut a, "audit");
    insta::assert_snapshot!("audit_120x36", shown(&mut a, 120, 36, data.path()));
}

#[test]
fn help_of_each_view() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    for view in ["overview", "heatmap", "servers", "workloads", "recs", "audit"] {
        command(&mut a, view);
        key(&mut a, KeyCode::Char('?'));
        insta::assert_snapshot!(format!("help_{view}_120x40"), shown(&mut a, 120, 40, data.path()));
        key(&mut a, KeyCode::Esc);
    }
    command(&mut a, "whatif");
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('?'));
    insta::assert_snapshot!("help_whatif_130x30", shown(&mut a, 130, 30, data.path()));
}

#[test]
fn command_line_and_status() {
    let data = tempfile::tempdir().unwrap();
    let mut a = console(demo_at_fixed_time(60), data.path());
    typed(&mut a, ":w");
    key(&mut a, KeyCode::Tab);
    insta::assert_snapshot!("cmdline_candidates_100x20", shown(&mut a, 100, 20, data.path()));
    key(&mut a, KeyCode::Esc);
    command(&mut a, "frobnicate");
    insta::assert_snapshot!("cmdline_error_status_100x20", shown(&mut a, 100, 20, data.path()));
}
