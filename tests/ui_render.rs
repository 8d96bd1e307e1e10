//! Render and key-handling tests of the console: every view drawn into ratatui's TestBackend,
//! asserting on what the operator would read in the cells.

mod common;

use chrono::{DateTime, Utc};
use common::{command, draw, key, lines, screen, typed};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::buffer::Buffer;
use std::sync::Arc;
use twintop::demo::{DemoPreset, DemoTwin};
use twintop::twin::{
    Feed, FeedState, Location, PodPhase, PodSpec, Resources, Server, Snapshot, SourceInfo, SourceKind,
    TwinEvent, TwinStore, Workload,
};
use twintop::ui::app::Mode;
use twintop::ui::theme::Theme;
use twintop::ui::{Action, App, AppOptions, View};

fn demo_snapshot() -> Arc<Snapshot> {
    DemoTwin::new(DemoPreset::Dc, 1).warm_snapshot(60)
}

fn app(snap: Arc<Snapshot>) -> App {
    App::new(snap, AppOptions::default())
}

/// A small twin with one hot server, one cold one and one in between.
fn three_servers() -> Arc<Snapshot> {
    let mut st = TwinStore::default();
    let cap = Resources::new(10_000.0, 10_000.0, 1000.0);
    st.apply(TwinEvent::Source(SourceInfo {
        kind: SourceKind::Live,
        name: "prod-eu".into(),
        context: "admin@prod-eu".into(),
    }));
    for (name, rack, cpu) in
        [("cold", "rack-a", 500.0), ("hot", "rack-a", 9700.0), ("warm", "rack-b", 5000.0)]
    {
        st.apply(TwinEvent::Server(Server::new(name, Location::new("eu", "eu-1", rack), cap)));
        st.apply(TwinEvent::ServerUsage {
            server: name.into(),
            usage: Resources::new(cpu, 4000.0, 100.0).into(),
        });
    }
    let mut w = Workload::new("checkout", "shop", 2, Resources::new(500.0, 256.0, 10.0));
    w.slo_p99_ms = Some(50.0);
    st.apply(TwinEvent::Workload(w));
    st.apply(TwinEvent::Workload(Workload::new("cart", "shop", 1, Resources::new(200.0, 128.0, 5.0))));
    for (pod, wl, server) in
        [("checkout-1", "checkout", "hot"), ("checkout-2", "checkout", "hot"), ("cart-1", "cart", "warm")]
    {
        st.apply(TwinEvent::Pod(PodSpec {
            name: pod.into(),
            namespace: "shop".into(),
            workload: Some(wl.into()),
            server: Some(server.into()),
            requests: Resources::new(500.0, 256.0, 10.0),
            limits: None,
            phase: PodPhase::Running,
            reason: None,
        }));
    }
    st.apply(TwinEvent::WorkloadMetrics {
        key: "shop/checkout".into(),
        rps: Some(120.0),
        p50_ms: Some(20.0),
        p99_ms: Some(80.0),
        usage: None,
    });
    st.apply(TwinEvent::WorkloadMetrics {
        key: "shop/cart".into(),
        rps: Some(40.0),
        p50_ms: Some(3.0),
        p99_ms: Some(9.0),
        usage: None,
    });
    st.apply(TwinEvent::Feed(Feed {
        name: "kube".into(),
        state: FeedState::Ok,
        detail: String::new(),
        updated: None,
    }));
    st.apply(TwinEvent::Feed(Feed {
        name: "vm".into(),
        state: FeedState::Stale,
        detail: String::new(),
        updated: None,
    }));
    st.apply(TwinEvent::Feed(Feed {
        name: "llm".into(),
        state: FeedState::Off,
        detail: String::new(),
        updated: None,
    }));
    st.apply(TwinEvent::Tick(common::fixed_time()));
    st.snapshot()
}

#[test]
fn header_shows_source_context_time_feeds_rub_and_breaches() {
    let mut a = app(three_servers());
    let s = screen(&mut a, 160, 48);
    let header = s.lines().next().unwrap();
    assert!(header.contains("live:prod-eu"), "{header}");
    assert!(header.contains("ctx admin@prod-eu"), "{header}");
    assert!(header.contains("22:13:20Z"), "{header}");
    assert!(header.contains("kube ●") && header.contains("vm ◐") && header.contains("llm ○"), "{header}");
    assert!(header.contains("RUB 0."), "{header}");
    assert!(header.contains("1 SLO breach"), "{header}");
}

#[test]
fn demo_header_and_no_kubeconfig_notice() {
    let mut demo = DemoTwin::new(DemoPreset::Dc, 1);
    demo.add_notice("no kubeconfig found: showing the embedded demo".into());
    let mut a = app(demo.warm_snapshot(30));
    let s = screen(&mut a, 160, 48);
    let l: Vec<&str> = s.lines().collect();
    assert!(l[0].contains("demo:dc") && l[0].contains("ctx demo") && l[0].contains("demo ●"), "{}", l[0]);
    assert!(l[1].contains("no kubeconfig found: showing the embedded demo"), "{}", l[1]);
}

#[test]
fn overview_shows_totals_worst_and_sparklines() {
    let snap = demo_snapshot();
    let mut a = app(snap.clone());
    let s = screen(&mut a, 160, 48);
    assert!(s.contains(&format!("servers {}", snap.servers.len())), "{s}");
    assert!(s.contains(&format!("pods {}", snap.pods.len())));
    for text in [
        "RUB",
        "mean cpu",
        "dependency latency",
        "hottest servers",
        "worst workloads",
        "SLO breaches",
        "total rps",
    ] {
        assert!(s.contains(text), "overview lacks {text:?}:\n{s}");
    }
    assert!(s.chars().any(|c| ('▁'..='█').contains(&c)), "sparklines drawn");
}

#[test]
fn heatmap_title_names_metric_and_legend_has_scale() {
    let mut a = app(demo_snapshot());
    command(&mut a, "heatmap");
    assert_eq!(a.view(), View::Heatmap);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("heatmap · CPU utilisation · 50 servers in 5 groups"), "{s}");
    assert!(s.contains("legend: 0%") && s.contains("100%"), "{s}");
    assert!(s.contains("rack-1") && s.contains("rack-5"), "group labels");
    let expected = [
        ("memory utilisation", "100%"),
        ("bandwidth utilisation", "100%"),
        ("latency (mean p99", " ms"),
        ("RUB contribution", "under −50 pts"),
        ("CPU utilisation", "0%"),
    ];
    for (title, legend) in expected {
        key(&mut a, KeyCode::Char('m'));
        let s = screen(&mut a, 160, 48);
        assert!(s.contains(title) && s.contains(legend), "metric {title}:\n{s}");
    }
}

#[test]
fn hot_server_cell_and_detail_carry_its_numbers() {
    let mut a = app(three_servers());
    key(&mut a, KeyCode::Tab);
    assert!(a.select_server("hot"));
    let buf = draw(&mut a, 160, 48);
    let s = lines(&buf).join("\n");
    assert!(s.contains("│hot ") && s.contains("│eu/eu-1/rack-a "), "{s}");
    assert!(s.contains("cpu 97%"), "{s}");
    assert!(s.contains("checkout ×2"), "{s}");
    assert!(s.contains("p99 80 ms"), "{s}");
    // The cursor sits on the hot cell; the cell's colour is the top of the palette.
    let theme = Theme::default();
    let (x, y) = find(&buf, "◀").expect("cursor marker");
    assert_eq!(buf[(x - 1, y)].fg, *theme.sequential.last().unwrap());
    let number: String = (x - 4..x).map(|cx| buf[(cx, y + 1)].symbol().to_string()).collect();
    assert_eq!(number, " 97%", "a roomy heatmap prints the figure under the swatch");
    let (cx, cy) = find(&buf, "┌ eu/eu-1/rack-a ").unwrap();
    assert_eq!(buf[(cx + 1, cy + 1)].fg, *theme.sequential.first().unwrap(), "cold server is at the bottom");
}

fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    lines(buf)
        .iter()
        .enumerate()
        .find_map(|(y, l)| l.find(needle).map(|b| (l[..b].chars().count() as u16, y as u16)))
}

#[test]
fn colorblind_theme_uses_intensity_glyphs() {
    let (theme, err) = Theme::load("colorblind", None);
    assert!(err.is_none());
    let mut a = App::new(three_servers(), AppOptions { theme, ..Default::default() });
    key(&mut a, KeyCode::Tab);
    a.select_server("warm");
    let s = screen(&mut a, 160, 48);
    assert!(s.contains('█') && s.contains('░'), "hot and cold cells differ in glyph:\n{s}");
    assert!(s.contains("(theme: colorblind)"));
}

#[test]
fn servers_table_sorts_and_filters() {
    let mut a = app(three_servers());
    command(&mut a, "servers");
    let rows = |a: &mut App| {
        let s = screen(a, 160, 48);
        s.lines()
            .filter(|l| l.contains("eu/eu-1"))
            .map(|l| l.trim_start_matches(['│', '▶', ' ']).split_whitespace().next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&mut a), ["cold", "hot", "warm"], "by name first");
    typed(&mut a, "ss");
    assert_eq!(rows(&mut a), ["hot", "warm", "cold"], "by cpu, highest first");
    assert!(screen(&mut a, 160, 48).contains("cpu ▼"));
    typed(&mut a, "S");
    assert_eq!(rows(&mut a), ["cold", "warm", "hot"], "reversed");
    typed(&mut a, "/rack-a");
    assert!(matches!(a.mode(), Mode::Filter { .. }));
    key(&mut a, KeyCode::Enter);
    assert_eq!(rows(&mut a), ["cold", "hot"]);
    assert!(screen(&mut a, 160, 48).contains("servers · 2 of 3 · /rack-a"));
    key(&mut a, KeyCode::Esc);
    typed(&mut a, "/!rack-a");
    key(&mut a, KeyCode::Enter);
    assert_eq!(rows(&mut a), ["warm"], "! negates");
    typed(&mut a, "/checkout");
    key(&mut a, KeyCode::Enter);
    assert_eq!(rows(&mut a), ["hot"], "servers match the workloads they host");
}

#[test]
fn workloads_table_shows_slo_state_and_filters() {
    let mut a = app(three_servers());
    command(&mut a, "workloads");
    let s = screen(&mut a, 160, 48);
    let checkout = s.lines().find(|l| l.contains("checkout")).unwrap();
    for cell in ["shop", "2/2", "500m", "256Mi", "120.0", "80.0ms", "50ms", "BREACH"] {
        assert!(checkout.contains(cell), "{cell} missing in {checkout}");
    }
    typed(&mut a, "/cart");
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("9.0ms") && !s.lines().any(|l| l.contains("checkout")), "{s}");
    key(&mut a, KeyCode::Esc);
    // sort by p99 (column 8 of 10: seven presses of s)
    typed(&mut a, "sssssss");
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("p99 ▼"));
    let order: Vec<&str> = s.lines().filter(|l| l.contains("shop")).collect();
    assert!(order[0].contains("checkout") && order[1].contains("cart"), "{order:?}");
}

#[test]
fn help_lists_the_views_keys_and_quit() {
    let mut a = app(demo_snapshot());
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Char('?'));
    assert_eq!(a.view(), View::Help);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("help: heatmap"), "{s}");
    assert!(s.contains("next heatmap metric") || s.contains("metric"));
    assert!(
        s.lines().any(|l| l.trim_start_matches('│').trim_start().starts_with("q ") && l.contains("quit")),
        "{s}"
    );
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.view(), View::Heatmap, "esc goes back");
}

#[test]
fn too_small_terminal_says_so() {
    let mut a = app(demo_snapshot());
    let s = screen(&mut a, 50, 12);
    assert!(s.starts_with("terminal too small: need ≥ 60×16 (have 50×12)"), "{s}");
}

#[test]
fn every_view_works_at_80x24() {
    let mut a = app(demo_snapshot());
    for (view, text) in [
        ("overview", "hottest servers"),
        ("heatmap", "heatmap · CPU"),
        ("servers", "servers · 50 of 50"),
        ("workloads", "workloads · "),
        ("help", "help: workloads"),
    ] {
        command(&mut a, view);
        let s = screen(&mut a, 80, 24);
        assert!(s.contains(text), "{view} at 80×24:\n{s}");
        assert!(s.lines().next().unwrap().contains("demo:dc"));
        assert!(!s.contains("terminal too small"));
    }
    command(&mut a, "heatmap");
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("cpu ") && s.contains("legend"), "{s}");
}

#[test]
fn hostile_names_are_escaped_everywhere() {
    let mut st = TwinStore::default();
    st.apply(TwinEvent::Source(SourceInfo {
        kind: SourceKind::Live,
        name: "prod\x1b]0;pwned\x07".into(),
        context: "ctx\x1b[2J".into(),
    }));
    st.apply(TwinEvent::Notice("notice \x1b[31mred".into()));
    st.apply(TwinEvent::Feed(Feed {
        name: "kube\x1b[5m".into(),
        state: FeedState::Down,
        detail: String::new(),
        updated: None,
    }));
    let mut s = Server::new(
        "evil\x1b[31m",
        Location::new("re\u{202e}gion", "z\x1b", "rack\n1"),
        Resources::new(1000.0, 1000.0, 100.0),
    );
    s.hardware = "hw\x1b[0m".into();
    st.apply(TwinEvent::Server(s));
    st.apply(TwinEvent::Workload(Workload::new(
        "bad\x1b[1m",
        "ns\x07",
        1,
        Resources::new(100.0, 100.0, 1.0),
    )));
    st.apply(TwinEvent::Pod(PodSpec {
        name: "p\x1b".into(),
        namespace: "ns\x07".into(),
        workload: Some("bad\x1b[1m".into()),
        server: Some("evil\x1b[31m".into()),
        requests: Resources::new(100.0, 100.0, 1.0),
        limits: None,
        phase: PodPhase::Running,
        reason: None,
    }));
    st.apply(TwinEvent::Tick(DateTime::<Utc>::UNIX_EPOCH));
    let mut a = app(st.snapshot());
    let mut seen_escaped = false;
    for view in ["overview", "heatmap", "servers", "workloads"] {
        command(&mut a, view);
        for detail in [false, true] {
            if detail {
                key(&mut a, KeyCode::Enter);
            }
            let buf = draw(&mut a, 160, 48);
            for cell in buf.content() {
                assert!(
                    !cell.symbol().chars().any(|c| c.is_control() || c == '\u{202e}'),
                    "raw control in {view}: {:?}",
                    cell.symbol()
                );
            }
            seen_escaped |= lines(&buf).join("").contains("evil\\u{1b}[31m");
            key(&mut a, KeyCode::Esc);
        }
    }
    assert!(seen_escaped, "the name is shown, escaped");
}

#[test]
fn command_line_completes_and_switches_views() {
    let mut a = app(demo_snapshot());
    typed(&mut a, ":hea");
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.mode(), &Mode::Command { line: "heatmap".into(), candidates: vec![] });
    let s = screen(&mut a, 160, 48);
    assert!(s.lines().last().unwrap().starts_with(":heatmap"), "the command line is drawn");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view(), View::Heatmap);
    assert_eq!(a.mode(), &Mode::Normal);
    typed(&mut a, ":w");
    key(&mut a, KeyCode::Tab);
    assert_eq!(
        a.mode(),
        &Mode::Command { line: "w".into(), candidates: vec!["workloads".into(), "whatif".into()] }
    );
    typed(&mut a, "o");
    key(&mut a, KeyCode::Tab);
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.view(), View::Workloads);
    command(&mut a, "frobnicate");
    assert!(a.status().unwrap().contains("unknown command :frobnicate"));
    assert!(screen(&mut a, 160, 48).contains("unknown command :frobnicate"));
    command(&mut a, "theme light");
    assert_eq!(a.theme().name, "light");
    typed(&mut a, ":help");
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.view(), View::Workloads, "esc cancels the command line");
    assert_eq!(command(&mut a, "q"), Action::Quit);
}

#[test]
fn tab_cycles_views_and_quit_keys() {
    let mut a = app(demo_snapshot());
    let mut seen = vec![a.view()];
    for _ in 0..4 {
        key(&mut a, KeyCode::Tab);
        seen.push(a.view());
    }
    assert_eq!(seen, [View::Overview, View::Heatmap, View::Servers, View::Workloads, View::Whatif]);
    // The What-if editor takes Tab (completion) until Esc leaves it.
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.view(), View::Whatif);
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.view(), View::Recs);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.view(), View::Audit);
    key(&mut a, KeyCode::Tab);
    assert_eq!(a.view(), View::Overview);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.view(), View::Audit);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.view(), View::Recs);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.view(), View::Whatif);
    key(&mut a, KeyCode::BackTab);
    assert_eq!(a.view(), View::Workloads);
    assert_eq!(key(&mut a, KeyCode::Char('q')), Action::Quit);
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(a.handle_event(ctrl_c), Action::Quit);
    typed(&mut a, "/");
    assert_eq!(key(&mut a, KeyCode::Char('q')), Action::Render, "q while filtering is text");
}

#[test]
fn heatmap_keys_move_the_cursor_and_filter_hides_servers() {
    let snap = demo_snapshot();
    let mut a = app(snap.clone());
    key(&mut a, KeyCode::Tab);
    draw(&mut a, 160, 48);
    let first = a.heatmap().cursor_server().unwrap();
    key(&mut a, KeyCode::Char('l'));
    assert_eq!(a.heatmap().cursor_server(), Some(first + 1));
    key(&mut a, KeyCode::Char('h'));
    assert_eq!(a.heatmap().cursor_server(), Some(first));
    typed(&mut a, "/rack-3");
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("10 servers in 1 groups · filter /rack-3"), "{s}");
    assert!(snap.servers[a.heatmap().cursor_server().unwrap()].name.starts_with("r3-"));
    key(&mut a, KeyCode::Enter);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("esc closes"), "details popup:\n{s}");
}

#[test]
fn mouse_click_selects_cells_and_rows() {
    let snap = demo_snapshot();
    let mut a = app(snap.clone());
    key(&mut a, KeyCode::Tab);
    let buf = draw(&mut a, 160, 48);
    let (x, y) = find(&buf, "◀").unwrap();
    let before = a.heatmap().cursor_server().unwrap();
    let click = |col, row| {
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: col,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // 50 servers leave room for large cells: a four-wide swatch, a gap (the cursor's ◀) and,
    // on the line below, the cell's number; clicking the second cell on's number selects it.
    assert_eq!(a.handle_event(click(x + 1 + 5 + 2, y + 1)), Action::Render);
    assert_eq!(a.heatmap().cursor_server(), Some(before + 2), "one cell right is five columns on");
    command(&mut a, "servers");
    let buf = draw(&mut a, 160, 48);
    let (_, y) = find(&buf, &snap.servers[3].name).unwrap();
    a.handle_event(click(10, y));
    assert_eq!(a.servers().nav.selected_item(), Some(3));
    a.handle_event(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: y,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(a.servers().nav.selected_item(), Some(6), "wheel scrolls");
}

#[test]
fn new_snapshot_keeps_the_selection() {
    let mut demo = DemoTwin::new(DemoPreset::Dc, 1);
    let mut store = TwinStore::default();
    for _ in 0..5 {
        store.apply_all(demo.step());
    }
    let mut a = app(store.snapshot());
    key(&mut a, KeyCode::Tab);
    assert!(a.select_server("r4-07"));
    store.apply(TwinEvent::ServerGone("r1-01".into()));
    store.apply_all(demo.step());
    a.set_snapshot(store.snapshot());
    assert_eq!(a.snapshot().servers.len(), 49, "indices shifted");
    let s = a.snapshot().clone();
    assert_eq!(s.servers[a.heatmap().cursor_server().unwrap()].name, "r4-07");
}

#[test]
fn many_servers_group_scroll_and_follow_the_cursor() {
    let snap = twintop::measure::synthetic_store(3000, 1).snapshot();
    let mut a = app(snap.clone());
    key(&mut a, KeyCode::Tab);
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("3000 servers in 75 groups"), "{s}");
    assert!(s.contains("┌ region-0/zone-0/rack-0 "), "{s}");
    assert!(a.select_server("node-02999"));
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("rack-74"), "scrolled to the last rack:\n{s}");
    assert!(s.contains("node-02999"));
    assert!(!s.contains("┌ region-0/zone-0/rack-0 "), "the first rack scrolled away:\n{s}");
}

#[test]
fn whatif_view_runs_a_scenario_and_shows_baseline_scenario_and_delta() {
    let data = tempfile::tempdir().unwrap();
    let snap = demo_snapshot();
    let mut a =
        App::new(snap, AppOptions { data_dir: Some(data.path().to_path_buf()), ..Default::default() });
    let mut rx = a.take_worker_rx().unwrap();
    command(&mut a, "whatif");
    assert_eq!(a.view(), View::Whatif);
    typed(&mut a, "scale checkoutservce to 6");
    let s = screen(&mut a, 160, 48);
    assert!(
        s.contains("line 1, column 1: no workload named `checkoutservce`"),
        "errors show as you type:\n{s}"
    );
    for _ in 0.."checkoutservce to 6".len() {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "check");
    key(&mut a, KeyCode::Tab);
    typed(&mut a, " to 6");
    key(&mut a, KeyCode::Enter);
    typed(&mut a, "horizon 30s");
    assert_eq!(a.whatif().text(), "scale checkoutservice to 6\nhorizon 30s", "Tab completed the name");
    assert!(a.whatif().errors().is_empty());
    a.handle_event(Event::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)));
    assert!(a.whatif().is_running());
    assert!(screen(&mut a, 160, 48).contains("running"), "a progress bar while it runs");
    while a.whatif().is_running() {
        let msg = rx.blocking_recv().expect("the worker reports");
        a.on_worker(msg);
    }
    let r = a.whatif().report().expect("a finished run").clone();
    let s = screen(&mut a, 160, 48);
    assert!(s.contains("baseline  scenario     delta"), "{s}");
    let p99 = s.lines().find(|l| l.contains("p99 ms ")).expect("a p99 row");
    assert!(p99.contains(&format!("{:.1}", r.baseline.ttr_ms.p99)), "{p99}");
    assert!(p99.contains(&format!("{:.1}", r.scenario.ttr_ms.p99)), "{p99}");
    let row = s.lines().find(|l| l.contains("│ checkoutservice")).expect("a replicas row for checkout");
    assert!(row.contains("▲") && row.contains('6') && row.contains('4'), "2 → 6, ▲4: {row}");
    assert!(s.contains("scenario end: CPU"), "the scenario's heatmap beside the current one:\n{s}");
    let small = screen(&mut a, 140, 30);
    assert_eq!(
        small.matches("rack-5").count(),
        2,
        "both panes show every rack (they do not scroll):\n{small}"
    );
    assert!(s.contains("p99 ms over the horizon"));
    assert!(s.contains("measured now: p99 ") && s.contains("at boutique/frontend"), "{s}");
    // Esc leaves the editor; p saves the scenario and proposes its scale in :recs.
    key(&mut a, KeyCode::Esc);
    key(&mut a, KeyCode::Char('p'));
    assert!(a.status().unwrap().contains("proposed in :recs"), "{:?}", a.status());
    let proposed =
        a.recs().queue().iter().find(|p| p.source == "whatif").expect("the scenario's change in the queue");
    assert_eq!(
        proposed.action,
        Some(twintop::change::Change::Scale { workload: "boutique/checkoutservice".into(), replicas: 6 })
    );
    let saved = std::fs::read_to_string(data.path().join("whatif-proposals.jsonl")).unwrap();
    assert!(saved.contains("scale checkoutservice to 6"));
    let hist = std::fs::read_to_string(data.path().join("whatif-history.jsonl")).unwrap();
    assert!(hist.contains("horizon 30s"));
    // A new console recalls the scenario with Up at its empty editor.
    let mut b = App::new(
        demo_snapshot(),
        AppOptions { data_dir: Some(data.path().to_path_buf()), ..Default::default() },
    );
    command(&mut b, "whatif");
    key(&mut b, KeyCode::Up);
    assert_eq!(b.whatif().text(), "scale checkoutservice to 6\nhorizon 30s");
}
