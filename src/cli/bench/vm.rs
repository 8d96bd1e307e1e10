//! `twintop bench vm`: one VictoriaMetrics poll cycle for a large twin against a real server
//! this benchmark starts and fills (node_exporter series for every server, cAdvisor series
//! for every pod, Istio histograms for every workload).

use crate::source::victoria::server::VmServer;
use crate::source::victoria::{Targets, VmConfig, VmSource};
use crate::twin::TwinStore;
use std::fmt::Write as _;
use std::time::Instant;

pub(crate) struct VmBench {
    pub servers: usize,
    pub pods: usize,
    pub series: usize,
    pub import_s: f64,
    /// Per cycle: (targets ms, queries+mapping ms, apply+snapshot ms).
    pub cycles: Vec<(f64, f64, f64)>,
    pub servers_measured: usize,
    pub workloads_measured: usize,
    pub rss_mib: f64,
    pub vm_rss_mib: Option<f64>,
    /// (metric, series returned, ms, ms of `count(query)` — the server's compute alone).
    pub per_query: Vec<(String, usize, f64, f64)>,
}

const POINTS: i64 = 6;
const STEP_MS: i64 = 60_000;

pub(crate) fn run(servers: usize, pods_per_server: usize, cycles: usize) -> anyhow::Result<VmBench> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let vm = VmServer::start().await?;
        let mut store: TwinStore = super::synthetic_store(servers, pods_per_server);
        let snap = store.snapshot();
        let now_ms = chrono::Utc::now().timestamp_millis() / STEP_MS * STEP_MS;
        let t0 = Instant::now();
        let mut series = 0;
        // Import in slices of ~250 servers so no request body is huge.
        for chunk in snap.servers.chunks(250) {
            let mut text = String::with_capacity(chunk.len() * 4096);
            for s in chunk {
                series += node_series(&mut text, &s.name, now_ms);
            }
            vm.import_prometheus(text).await?;
        }
        for chunk in snap.pods.chunks(5000) {
            let mut text = String::with_capacity(chunk.len() * 1024);
            for p in chunk {
                series += pod_series(&mut text, &p.namespace, &p.name, now_ms);
            }
            vm.import_prometheus(text).await?;
        }
        let mut text = String::new();
        for w in &snap.workloads {
            series += mesh_series(&mut text, &w.namespace, &w.name, now_ms);
        }
        vm.import_prometheus(text).await?;
        let import_s = t0.elapsed().as_secs_f64();

        let src = VmSource::new(VmConfig::with_url(&vm.url), false)?;
        let at = chrono::DateTime::from_timestamp_millis(now_ms).expect("valid time");
        let mut out = Vec::new();
        let (mut sm, mut wm) = (0, 0);
        for _ in 0..cycles.max(1) {
            let t = Instant::now();
            let targets = Targets::from_snapshot(&store.snapshot());
            let t_targets = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            let o = src.poll_once(&targets, Some(at)).await;
            if let Some(e) = o.errors.first() {
                anyhow::bail!("poll failed: {e}");
            }
            let t_poll = t.elapsed().as_secs_f64() * 1000.0;
            let t = Instant::now();
            (sm, wm) = (o.servers_measured, o.workloads_measured);
            store.apply_all(o.events);
            std::hint::black_box(store.snapshot());
            out.push((t_targets, t_poll, t.elapsed().as_secs_f64() * 1000.0));
        }
        // Each query alone, to show where a cycle's time goes.
        let mut per_query = Vec::new();
        for (metric, q) in src.jobs() {
            let t = Instant::now();
            let n = src.client.query(q, Some(now_ms as f64 / 1000.0)).await.map(|v| v.len()).unwrap_or(0);
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            // The same query reduced to one number: the server's share of the time.
            let t = Instant::now();
            let _ = src.client.query(&format!("count({q})"), Some(now_ms as f64 / 1000.0)).await;
            per_query.push((format!("{metric:?}"), n, ms, t.elapsed().as_secs_f64() * 1000.0));
        }
        Ok(VmBench {
            per_query,
            servers,
            pods: snap.pods.len(),
            series,
            import_s,
            cycles: out,
            servers_measured: sm,
            workloads_measured: wm,
            rss_mib: rss_mib(std::process::id()).unwrap_or(f64::NAN),
            vm_rss_mib: rss_mib(vm.pid()),
        })
    })
}

/// Resident memory of a process from /proc/<pid>/status (VmRSS), in MiB.
pub(crate) fn rss_mib(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn samples(text: &mut String, name: &str, labels: &str, now_ms: i64, rate: f64) {
    for k in 0..POINTS {
        let t = now_ms - (POINTS - 1 - k) * STEP_MS;
        let _ = writeln!(text, "{name}{{{labels}}} {} {t}", rate * (k * STEP_MS / 1000) as f64);
    }
}

fn node_series(text: &mut String, node: &str, now_ms: i64) -> usize {
    let h = node.bytes().fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    let idle = 0.2 + (h % 70) as f64 / 100.0;
    for cpu in 0..4 {
        samples(
            text,
            "node_cpu_seconds_total",
            &format!(r#"instance="{node}:9100",cpu="{cpu}",mode="idle""#),
            now_ms,
            idle,
        );
    }
    let inst = format!(r#"instance="{node}:9100""#);
    for k in 0..POINTS {
        let t = now_ms - (POINTS - 1 - k) * STEP_MS;
        let _ = writeln!(text, "node_memory_MemTotal_bytes{{{inst}}} {} {t}", 256u64 << 30);
        let _ =
            writeln!(text, "node_memory_MemAvailable_bytes{{{inst}}} {} {t}", (64 + (h % 128) as u64) << 30);
    }
    for dir in ["receive", "transmit"] {
        samples(
            text,
            &format!("node_network_{dir}_bytes_total"),
            &format!(r#"instance="{node}:9100",device="eth0""#),
            now_ms,
            1e6 + (h % 1000) as f64 * 1e3,
        );
    }
    7
}

fn pod_series(text: &mut String, ns: &str, pod: &str, now_ms: i64) -> usize {
    let l = format!(r#"namespace="{ns}",pod="{pod}",container="app",image="app:1""#);
    samples(text, "container_cpu_usage_seconds_total", &l, now_ms, 0.25);
    for k in 0..POINTS {
        let t = now_ms - (POINTS - 1 - k) * STEP_MS;
        let _ = writeln!(text, "container_memory_working_set_bytes{{{l}}} {} {t}", 300u64 << 20);
    }
    2
}

fn mesh_series(text: &mut String, ns: &str, w: &str, now_ms: i64) -> usize {
    let base =
        format!(r#"reporter="destination",destination_workload_namespace="{ns}",destination_workload="{w}""#);
    for (le, r) in [("5", 20.0), ("10", 60.0), ("25", 90.0), ("50", 98.0), ("100", 100.0), ("+Inf", 100.0)] {
        samples(
            text,
            "istio_request_duration_milliseconds_bucket",
            &format!("{base},le=\"{le}\""),
            now_ms,
            r,
        );
    }
    samples(text, "istio_requests_total", &base, now_ms, 100.0);
    7
}
