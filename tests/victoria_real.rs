//! twintop's VictoriaMetrics client and poller against the real server (Debian's
//! `victoria-metrics`, started here on a free loopback port with a temp dir): node_exporter and
//! cAdvisor series, Istio histograms, gaps, NaN, a stale series and hostile label values are
//! imported, then read back into a twin.

mod common;

use chrono::{DateTime, Utc};
use std::fmt::Write as _;
use std::time::Duration;
use twintop::source::victoria::server::{VmServer, free_port};
use twintop::source::victoria::{Targets, VmClient, VmConfig, VmError, VmSource, spawn_poller};
use twintop::text::escape;
use twintop::twin::{
    FeedState, Location, PodPhase, PodSpec, Resources, Server, Snapshot, TwinEvent, TwinStore, Workload,
};

const EVIL: &str = "evil\u{1b}[2J\u{7}node";
const STEP_MS: i64 = 15_000;
const SPAN_MS: i64 = 30 * 60_000;

/// Prometheus text for the last 30 minutes ending at `now_ms`, one sample every 15 s.
fn exposition(now_ms: i64) -> String {
    let mut out = String::new();
    let mut line = |name: &str, labels: &str, v: f64, t: i64| {
        let v = if v.is_nan() { "NaN".to_string() } else { format!("{v}") };
        writeln!(out, "{name}{{{labels}}} {v} {t}").unwrap();
    };
    let start = now_ms - SPAN_MS;
    let mut t = start;
    while t <= now_ms {
        let s = (t - start) as f64 / 1000.0;
        // node-a by IP: 2 cpus idle 75% of the time → 25% busy.
        for cpu in ["0", "1"] {
            line(
                "node_cpu_seconds_total",
                &format!(r#"instance="10.0.0.1:9100",cpu="{cpu}",mode="idle""#),
                0.75 * s,
                t,
            );
        }
        line("node_memory_MemTotal_bytes", r#"instance="10.0.0.1:9100""#, 8.0 * 1073741824.0, t);
        line("node_memory_MemAvailable_bytes", r#"instance="10.0.0.1:9100""#, 6.0 * 1073741824.0, t);
        line("node_network_receive_bytes_total", r#"instance="10.0.0.1:9100",device="eth0""#, 1e6 * s, t);
        line("node_network_transmit_bytes_total", r#"instance="10.0.0.1:9100",device="eth0""#, 0.25e6 * s, t);
        line("node_network_receive_bytes_total", r#"instance="10.0.0.1:9100",device="lo""#, 5e7 * s, t);
        line("node_network_transmit_bytes_total", r#"instance="10.0.0.1:9100",device="lo""#, 5e7 * s, t);
        // node-b by name, with a 10-minute gap in the middle: 60% busy, 75% memory.
        let in_gap = t > now_ms - 20 * 60_000 && t < now_ms - 10 * 60_000;
        if !in_gap {
            line("node_cpu_seconds_total", r#"instance="node-b:9100",cpu="0",mode="idle""#, 0.4 * s, t);
            line("node_memory_MemTotal_bytes", r#"instance="node-b:9100""#, 8.0 * 1073741824.0, t);
            line("node_memory_MemAvailable_bytes", r#"instance="node-b:9100""#, 2.0 * 1073741824.0, t);
        }
        // node-c went silent 25 minutes ago: stale, no usage now.
        if t < now_ms - 25 * 60_000 {
            line("node_cpu_seconds_total", r#"instance="node-c:9100",cpu="0",mode="idle""#, 0.9 * s, t);
            line("node_memory_MemTotal_bytes", r#"instance="node-c:9100""#, 8.0 * 1073741824.0, t);
            line("node_memory_MemAvailable_bytes", r#"instance="node-c:9100""#, 7.0 * 1073741824.0, t);
        }
        // node-d reports NaN memory: half-measured, so no usage rather than "0 % memory".
        line("node_cpu_seconds_total", r#"instance="node-d:9100",cpu="0",mode="idle""#, 0.5 * s, t);
        line("node_memory_MemTotal_bytes", r#"instance="node-d:9100""#, f64::NAN, t);
        line("node_memory_MemAvailable_bytes", r#"instance="node-d:9100""#, f64::NAN, t);
        // A node whose name carries a terminal escape sequence and a bell.
        let evil = format!("instance=\"{EVIL}:9100\"");
        line("node_cpu_seconds_total", &format!("{evil},cpu=\"0\",mode=\"idle\""), 0.5 * s, t);
        line("node_memory_MemTotal_bytes", &evil, 8.0 * 1073741824.0, t);
        line("node_memory_MemAvailable_bytes", &evil, 4.0 * 1073741824.0, t);
        // cAdvisor: two cart pods (0.2 + 0.3 cores, 100 + 50 MiB) and the pod-level cgroup
        // series (container="") that the standard query must not double count.
        for (pod, cpu, mem) in [("cart-7d4b578979-x2k9p", 0.2, 100.0), ("cart-7d4b578979-abcde", 0.3, 50.0)] {
            let l = format!(r#"namespace="shop",pod="{pod}",container="server",image="cart:1""#);
            line("container_cpu_usage_seconds_total", &l, cpu * s, t);
            line("container_memory_working_set_bytes", &l, mem * 1048576.0, t);
            let l = format!(r#"namespace="shop",pod="{pod}",container="",image="""#);
            line("container_cpu_usage_seconds_total", &l, 10.0 * s, t);
        }
        // Istio: cart serves 100 req/s; cumulative bucket rates 20, 60, 90, 98, 100, 100.
        for (le, r) in
            [("5", 20.0), ("10", 60.0), ("25", 90.0), ("50", 98.0), ("100", 100.0), ("+Inf", 100.0)]
        {
            let l = format!(
                r#"reporter="destination",destination_workload_namespace="shop",destination_workload="cart",le="{le}""#
            );
            line("istio_request_duration_milliseconds_bucket", &l, r * s, t);
            // web received no requests at all: its quantiles are NaN.
            let l = format!(
                r#"reporter="destination",destination_workload_namespace="shop",destination_workload="web",le="{le}""#
            );
            line("istio_request_duration_milliseconds_bucket", &l, 0.0, t);
        }
        line(
            "istio_requests_total",
            r#"reporter="destination",destination_workload_namespace="shop",destination_workload="cart""#,
            100.0 * s,
            t,
        );
        // The mesh's own view of the call graph: web → cart at 40 calls/s.
        line(
            "istio_requests_total",
            r#"reporter="source",source_workload_namespace="shop",source_workload="web",destination_workload_namespace="shop",destination_workload="cart""#,
            40.0 * s,
            t,
        );
        t += STEP_MS;
    }
    out
}

fn base_twin() -> TwinStore {
    let mut st = TwinStore::default();
    for name in ["node-a", "node-b", "node-c", "node-d", EVIL] {
        st.apply(TwinEvent::Server(Server::new(
            name,
            Location::default(),
            Resources::new(4000.0, 8192.0, 1000.0),
        )));
    }
    for w in ["cart", "web"] {
        st.apply(TwinEvent::Workload(Workload::new(w, "shop", 2, Resources::new(100.0, 64.0, 0.0))));
    }
    st.apply(TwinEvent::Pod(PodSpec {
        name: "cart-7d4b578979-x2k9p".into(),
        namespace: "shop".into(),
        workload: Some("cart".into()),
        server: Some("node-a".into()),
        requests: Resources::new(100.0, 64.0, 0.0),
        limits: None,
        phase: PodPhase::Running,
        reason: None,
    }));
    st
}

fn targets(st: &mut TwinStore) -> Targets {
    let mut t = Targets::from_snapshot(&st.snapshot());
    t.alias("10.0.0.1", "node-a");
    t
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

async fn loaded_server() -> (VmServer, DateTime<Utc>) {
    let vm = VmServer::start()
        .await
        .expect("victoria-metrics must be installed (Debian package victoria-metrics)");
    let now_ms = Utc::now().timestamp_millis() / STEP_MS * STEP_MS;
    vm.import_prometheus(exposition(now_ms)).await.unwrap();
    (vm, DateTime::from_timestamp_millis(now_ms).unwrap())
}

fn snapshot_after(mut st: TwinStore, events: Vec<TwinEvent>) -> std::sync::Arc<Snapshot> {
    st.apply_all(events);
    st.snapshot()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_server_round_trip_into_the_twin() {
    let (vm, now) = loaded_server().await;
    let src = VmSource::new(VmConfig::with_url(&vm.url), false).unwrap();
    let mut st = base_twin();
    let t = targets(&mut st);
    let out = src.poll_once(&t, Some(now)).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    let s = snapshot_after(st, out.events);

    let usage = |name: &str| s.server_status[s.server_index(name).unwrap()].usage;
    let a = usage("node-a").expect("node-a measured by its InternalIP");
    assert!(close(a.cpu_m, 1000.0) && close(a.mem_mib, 2048.0), "{a:?}");
    assert!(close(a.bw_mbps, 10.0), "eth0 rx+tx = 1.25 MB/s = 10 Mbit/s; lo excluded: {a:?}");
    let b = usage("node-b").expect("node-b measured despite its gap");
    assert!(close(b.cpu_m, 2400.0) && close(b.mem_mib, 6144.0) && b.bw_mbps == 0.0, "{b:?}");
    assert_eq!(usage("node-c"), None, "stale series give no usage");
    assert_eq!(usage("node-d"), None, "NaN memory: not measured");
    let e = usage(EVIL).expect("hostile names still map");
    assert!(close(e.cpu_m, 2000.0), "{e:?}");

    let w = s.workload_index("shop/cart").unwrap();
    let ws = &s.workload_status[w];
    let u = ws.usage.unwrap();
    assert!(close(u.cpu_m, 500.0) && close(u.mem_mib, 150.0), "container=\"\" not counted: {u:?}");
    assert!(close(ws.rps.unwrap(), 100.0), "{ws:?}");
    assert!(close(ws.p50_ms.unwrap(), 8.75), "{ws:?}");
    assert!(close(ws.p99_ms.unwrap(), 75.0), "{ws:?}");
    let web = &s.workload_status[s.workload_index("shop/web").unwrap()];
    // VictoriaMetrics drops NaN results (web's quantiles, node-d's memory) from the vector.
    assert_eq!((web.p50_ms, web.p99_ms), (None, None));
    assert_eq!(out.servers_measured, 3);

    assert_eq!(s.edges.len(), 1, "{:?}", s.edges);
    let e = &s.edges[0];
    assert_eq!((e.from.as_str(), e.to.as_str(), e.origin.as_str()), ("shop/web", "shop/cart", "mesh"));
    assert!(close(e.rps, 40.0), "{e:?}");

    let feed = s.feed("vm").unwrap();
    assert_eq!(feed.state, FeedState::Ok);
    assert!(feed.detail.starts_with("3 of 5 servers, 1 workloads measured"), "{}", feed.detail);
    assert_eq!(s.time, now);
    // The hostile name survives as data and is escaped when printed.
    assert!(s.servers.iter().any(|x| x.name == EVIL));
    assert_eq!(escape(EVIL), "evil\\u{1b}[2J\\u{7}node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fills_history_and_errors_name_the_query() {
    let (vm, now) = loaded_server().await;
    let src = VmSource::new(VmConfig::with_url(&vm.url), false).unwrap();
    let mut st = base_twin();
    let t = targets(&mut st);
    let batches = src.backfill(&t, now - chrono::Duration::minutes(10), now, 60.0).await.unwrap();
    assert_eq!(batches.len(), 11, "one batch per minute over 10 minutes, both ends included");
    for b in &batches {
        assert!(matches!(b.last(), Some(TwinEvent::Tick(_))));
    }
    let s = snapshot_after(st, batches.into_iter().flatten().collect());
    let h = s.server_history[s.server_index("node-a").unwrap()].cpu.to_vec();
    assert!(h.len() >= 11 && h[h.len() - 11..].iter().all(|v| close(*v, 0.25)), "{h:?}");

    let client = VmClient::new(&VmConfig::with_url(&vm.url)).unwrap();
    let err = client.query("sum(rate(node_cpu_seconds_total[5m]", None).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, VmError::BadResponse { .. }), "{msg}");
    assert!(msg.contains("sum(rate(node_cpu_seconds_total[5m]") && msg.contains("422"), "{msg}");
    // The raw label value comes back byte for byte.
    let samples =
        client.query(&format!("node_memory_MemTotal_bytes{{instance=\"{EVIL}:9100\"}}"), None).await.unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].labels["instance"], format!("{EVIL}:9100"));
    drop(vm);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_path_and_overridden_query() {
    let (vm, now) = loaded_server().await;
    // Single-node VictoriaMetrics has no /select/<tenant>/ paths: the tenant must show in the URL
    // the error names.
    let mut cfg = VmConfig::with_url(&vm.url);
    cfg.tenant = Some("7:3".into());
    let client = VmClient::new(&cfg).unwrap();
    assert_eq!(client.base_url(), format!("{}/select/7:3/prometheus/", vm.url));
    // An overridden query replaces the standard one.
    let mut cfg = VmConfig::with_url(&vm.url);
    cfg.queries.node_cpu = "0.5 + 0 * count by (instance)(node_memory_MemTotal_bytes)".into();
    let src = VmSource::new(cfg, false).unwrap();
    let mut st = base_twin();
    let t = targets(&mut st);
    let s = snapshot_after(st, src.poll_once(&t, Some(now)).await.events);
    let a = s.server_status[s.server_index("node-a").unwrap()].usage.unwrap();
    assert!(close(a.cpu_m, 2000.0), "{a:?}");
}

/// The poller marks the feed down while nothing listens, backs off, and recovers by itself
/// once the server comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poller_recovers_when_the_server_comes_up() {
    let port = free_port().unwrap();
    let mut cfg = VmConfig::with_url(&format!("http://127.0.0.1:{port}"));
    cfg.interval_s = 0.5;
    cfg.max_backoff_s = 1.0;
    cfg.timeout_s = 2.0;
    cfg.backfill_s = 120.0;
    let src = VmSource::new(cfg, false).unwrap();
    let mut st = base_twin();
    let (_snap_tx, snap_rx) = tokio::sync::watch::channel(st.snapshot());
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let task = spawn_poller(src, snap_rx, tx);
    let feed_state = |batch: &[TwinEvent]| {
        batch
            .iter()
            .find_map(|e| if let TwinEvent::Feed(f) = e { Some((f.state, f.detail.clone())) } else { None })
    };
    let first = tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.unwrap().unwrap();
    let (state, detail) = feed_state(&first).unwrap();
    assert_eq!(state, FeedState::Down, "{detail}");
    assert!(detail.contains(&format!("127.0.0.1:{port}")) && detail.contains("retry in"), "{detail}");

    let vm = VmServer::start_on(port).await.unwrap();
    let now_ms = Utc::now().timestamp_millis() / STEP_MS * STEP_MS;
    vm.import_prometheus(exposition(now_ms)).await.unwrap();
    let recovered = tokio::time::timeout(Duration::from_secs(30), async {
        let mut ticks = 0;
        loop {
            let batch = rx.recv().await.unwrap();
            ticks += batch.iter().filter(|e| matches!(e, TwinEvent::Tick(_))).count();
            if let Some((FeedState::Ok, _)) = feed_state(&batch) {
                return (batch, ticks);
            }
        }
    })
    .await
    .expect("feed back to ok within 30 s");
    assert!(
        recovered.0.iter().any(|e| matches!(e, TwinEvent::ServerUsage { server, .. } if server == "node-b"))
    );
    assert!(recovered.1 > 2, "back-fill batches arrived before the first good round");
    task.abort();
}

/// `twintop twin --manifests … --vm-url … --json`: the offline twin enriched with real metrics
/// (no cluster needed), through the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_command_enriches_manifests_with_vm() {
    let vm = VmServer::start().await.unwrap();
    let now_ms = Utc::now().timestamp_millis() / STEP_MS * STEP_MS;
    let mut text = String::new();
    for k in 0..=20 {
        let t = now_ms - (20 - k) * STEP_MS;
        let s = (k * STEP_MS) as f64 / 1000.0;
        // r1-01 of the demo datacenter: 25% busy; 64 of 256 GiB used; 2 MB/s received, no transmit series.
        writeln!(
            text,
            "node_cpu_seconds_total{{instance=\"r1-01:9100\",cpu=\"0\",mode=\"idle\"}} {} {t}",
            0.75 * s
        )
        .unwrap();
        writeln!(text, "node_memory_MemTotal_bytes{{instance=\"r1-01:9100\"}} {} {t}", 256.0 * 1073741824.0)
            .unwrap();
        writeln!(
            text,
            "node_memory_MemAvailable_bytes{{instance=\"r1-01:9100\"}} {} {t}",
            192.0 * 1073741824.0
        )
        .unwrap();
        writeln!(
            text,
            "node_network_receive_bytes_total{{instance=\"r1-01:9100\",device=\"eth0\"}} {} {t}",
            2e6 * s
        )
        .unwrap();
        writeln!(
            text,
            "container_cpu_usage_seconds_total{{namespace=\"default\",pod=\"cartservice-6d4b5c-q2x7z\",container=\"server\",image=\"c\"}} {} {t}",
            0.35 * s
        )
        .unwrap();
    }
    vm.import_prometheus(text).await.unwrap();
    let manifests = common::data("manifests/online-boutique");
    let out = tokio::process::Command::from(common::twintop())
        .args(["twin", "--manifests", &manifests, "--vm-url", &vm.url, "--json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r1 = doc["servers"].as_array().unwrap().iter().find(|s| s["name"] == "r1-01").unwrap();
    assert!(close(r1["cpu_util"].as_f64().unwrap(), 0.25), "{r1}");
    assert!(close(r1["mem_util"].as_f64().unwrap(), 0.25), "{r1}");
    assert!(close(r1["net_bps"].as_f64().unwrap(), 16e6), "{r1}");
    assert_eq!(r1["measured"], true);
    let vm_feed = doc["feeds"].as_array().unwrap().iter().find(|f| f["name"] == "vm").unwrap();
    assert_eq!(vm_feed["state"], "ok", "{vm_feed}");
    assert!(
        vm_feed["detail"].as_str().unwrap().starts_with("1 of 50 servers, 1 workloads measured"),
        "{vm_feed}"
    );
    let w = doc["workloads"].as_array().unwrap().iter().find(|w| w["name"] == "cartservice").unwrap();
    assert_eq!((&w["replicas"], &w["cpu_request_m"]), (&1.into(), &200.0.into()), "manifest figures stay");
}

/// The console's demo with `--vm-url`: the poller feeds the demo's own feeder, the header's `vm`
/// feed says Ok, Down once the server is stopped, and Ok again when it is back; the demo keeps
/// the clock (the poller sends no Ticks of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_vm_feed_goes_down_and_recovers() {
    use twintop::demo::{DemoPreset, DemoTwin};
    use twintop::source::feeder::spawn_demo;
    let vm = VmServer::start().await.unwrap();
    let port: u16 = vm.url.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap();
    let handle = spawn_demo(DemoTwin::new(DemoPreset::Dc, 1), Duration::from_millis(200), 0);
    let mut cfg = VmConfig::with_url(&vm.url);
    cfg.interval_s = 0.5;
    cfg.max_backoff_s = 1.0;
    cfg.timeout_s = 2.0;
    cfg.backfill_s = 0.0;
    let src = VmSource::new(cfg, false).unwrap().without_ticks();
    let task = spawn_poller(src, handle.snapshots.clone(), handle.events.clone());
    let mut rx = handle.snapshots.clone();
    let mut wait_vm = async |want: FeedState| {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                rx.changed().await.unwrap();
                let s = rx.borrow_and_update().clone();
                if s.feed("vm").map(|f| f.state) == Some(want) {
                    return s;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("vm feed {want:?} within 30 s"))
    };
    let ok = wait_vm(FeedState::Ok).await;
    assert!(!ok.servers.is_empty(), "the demo's servers are still there");
    assert!(ok.feeds.len() >= 2, "the demo's feeds and vm side by side: {:?}", ok.feeds);
    drop(vm);
    let down = wait_vm(FeedState::Down).await;
    let detail = &down.feed("vm").unwrap().detail;
    assert!(detail.contains(&format!("127.0.0.1:{port}")), "{detail}");
    let _vm = VmServer::start_on(port).await.unwrap();
    wait_vm(FeedState::Ok).await;
    task.abort();
}
