//! What a mesh sidecar and cAdvisor would export for one process, in Prometheus text:
//! `istio_requests_total` and `istio_request_duration_milliseconds` (reporter="destination"
//! for requests served, reporter="source" for calls made) with source and destination
//! workload labels, and `container_cpu_usage_seconds_total` / `container_memory_working_set_bytes`
//! for the pod, read from /proc.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the latency buckets, ms: 10 % apart from 0.5 ms to 60 s, so a percentile
/// interpolated inside a bucket is within a few per cent.
pub fn bucket_bounds() -> Vec<f64> {
    let mut v = Vec::new();
    let mut b = 0.5;
    while b < 60_000.0 {
        v.push((b * 1000.0_f64).round() / 1000.0);
        b *= 1.1;
    }
    v
}

#[derive(Default, Clone)]
struct Hist {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Hist {
    fn record(&mut self, bounds: &[f64], ms: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        if let Some(i) = bounds.iter().position(|b| ms <= *b) {
            self.counts[i] += 1;
        }
        self.sum += ms;
        self.count += 1;
    }
}

/// Who this process is, as the labels say it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub namespace: String,
    pub workload: String,
    pub pod: String,
}

#[derive(Default)]
struct Inner {
    /// Requests served, by calling workload.
    inbound: BTreeMap<String, Hist>,
    /// Calls made, by called workload: (latency, failures).
    outbound: BTreeMap<String, (Hist, u64)>,
}

pub struct Registry {
    pub me: Identity,
    bounds: Vec<f64>,
    inner: Mutex<Inner>,
}

impl Registry {
    pub fn new(me: Identity) -> Registry {
        Registry { me, bounds: bucket_bounds(), inner: Mutex::new(Inner::default()) }
    }

    pub fn served(&self, source: &str, ms: f64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.inbound.entry(source.to_string()).or_default().record(&self.bounds, ms);
    }

    pub fn called(&self, destination: &str, ms: f64, ok: bool) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let e = g.outbound.entry(destination.to_string()).or_default();
        e.0.record(&self.bounds, ms);
        if !ok {
            e.1 += 1;
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let ns = &self.me.namespace;
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE istio_requests_total counter");
        let _ = writeln!(out, "# TYPE istio_request_duration_milliseconds histogram");
        let mut series = |reporter: &str, src: &str, dst: &str, h: &Hist, failed: u64| {
            let labels = format!(
                "reporter=\"{reporter}\",source_workload=\"{src}\",source_workload_namespace=\"{ns}\",\
                 destination_workload=\"{dst}\",destination_workload_namespace=\"{ns}\""
            );
            let ok = h.count - failed.min(h.count);
            let _ = writeln!(out, "istio_requests_total{{{labels},response_code=\"200\"}} {ok}");
            if failed > 0 {
                let _ = writeln!(out, "istio_requests_total{{{labels},response_code=\"503\"}} {failed}");
            }
            let mut acc = 0;
            for (i, b) in self.bounds.iter().enumerate() {
                acc += h.counts.get(i).copied().unwrap_or(0);
                let _ =
                    writeln!(out, "istio_request_duration_milliseconds_bucket{{{labels},le=\"{b}\"}} {acc}");
            }
            let _ = writeln!(
                out,
                "istio_request_duration_milliseconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "istio_request_duration_milliseconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "istio_request_duration_milliseconds_count{{{labels}}} {}", h.count);
        };
        for (src, h) in &g.inbound {
            series("destination", src, &self.me.workload, h, 0);
        }
        for (dst, (h, failed)) in &g.outbound {
            series("source", &self.me.workload, dst, h, *failed);
        }
        let pod = format!(
            "namespace=\"{ns}\",pod=\"{}\",container=\"{}\",image=\"twintop-lab\"",
            self.me.pod, self.me.workload
        );
        let (cpu_s, rss) = proc_self();
        let _ = writeln!(out, "# TYPE container_cpu_usage_seconds_total counter");
        let _ = writeln!(out, "container_cpu_usage_seconds_total{{{pod}}} {cpu_s}");
        let _ = writeln!(out, "# TYPE container_memory_working_set_bytes gauge");
        let _ = writeln!(out, "container_memory_working_set_bytes{{{pod}}} {rss}");
        out
    }
}

/// CPU seconds (user + system) and resident bytes of this process.
fn proc_self() -> (f64, f64) {
    // SAFETY: sysconf has no preconditions.
    let (tck, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let cpu = (ticks(11) + ticks(12)) / tck.max(1) as f64;
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let rss_pages = statm.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (cpu, rss_pages * page.max(1) as f64)
}
