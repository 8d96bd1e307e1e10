//! `twintop twin`: the twin as a table or JSON — the same snapshot the console draws.

use crate::source::{self, SourceArgs};
use crate::text::escape;
use crate::twin::export::twin_doc;
use clap::Args;

#[derive(Debug, Args)]
pub struct TwinArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(src: &SourceArgs, a: &TwinArgs) -> anyhow::Result<i32> {
    let snap = source::load_snapshot(src)?;
    let doc = twin_doc(&snap);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    println!(
        "{} {} (context {}) at {}",
        doc.source.kind.as_str(),
        escape(&doc.source.name),
        escape(&doc.source.context),
        doc.time
    );
    for n in &doc.notices {
        println!("note: {}", escape(n));
    }
    let k = &doc.kpis;
    println!(
        "servers {}  workloads {}  pods {} ({} pending)  RUB {:.3}  cpu {:.0}%  mem {:.0}%  bw {:.0}%  dep-latency {:.2} ms  SLO breaches {}",
        k.servers,
        k.workloads,
        k.pods,
        k.pending_pods,
        k.rub,
        k.cpu_util * 100.0,
        k.mem_util * 100.0,
        k.bw_util * 100.0,
        k.dependency_latency_ms,
        k.slo_breaches
    );
    println!();
    println!(
        "{:<24} {:<28} {:>5} {:>5} {:>5} {:>10} {:>5}",
        "SERVER", "LOCATION", "CPU%", "MEM%", "BW%", "NET Mbps", "PODS"
    );
    for s in &doc.servers {
        println!(
            "{:<24} {:<28} {:>5.0} {:>5.0} {:>5.0} {:>10.1} {:>5}",
            escape(&s.name),
            escape(&location(&s.region, &s.zone, &s.rack)),
            s.cpu_util * 100.0,
            s.mem_util * 100.0,
            s.bw_util * 100.0,
            s.net_bps / 1e6,
            s.pods
        );
    }
    println!();
    println!(
        "{:<20} {:<28} {:>4}/{:<4} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "NAMESPACE", "WORKLOAD", "RDY", "REP", "CPU(m)", "MEM(Mi)", "RPS", "P99 ms", "SLO"
    );
    for w in &doc.workloads {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        println!(
            "{:<20} {:<28} {:>4}/{:<4} {:>8.0} {:>8.0} {:>8} {:>8} {:>6}",
            escape(&w.namespace),
            escape(&w.name),
            w.ready,
            w.replicas,
            w.cpu_request_m,
            w.mem_request_mib,
            opt(w.rps),
            opt(w.p99_ms),
            w.slo.as_str()
        );
    }
    let pending: Vec<_> = doc.workloads.iter().flat_map(|w| w.pending.iter().map(move |p| (w, p))).collect();
    if !pending.is_empty() {
        println!();
        println!("PENDING");
        for (w, p) in pending {
            println!(
                "  {}/{}: {}",
                escape(&w.namespace),
                escape(&p.pod),
                escape(p.reason.as_deref().unwrap_or("no reason known"))
            );
        }
    }
    if !doc.edges.is_empty() {
        println!();
        println!("CALL GRAPH");
        for e in &doc.edges {
            println!(
                "  {} → {}{}",
                escape(&e.from),
                escape(&e.to),
                if e.dangling { "  (dangling: no such workload)" } else { "" }
            );
        }
    }
    Ok(0)
}

/// `region/zone/rack` without empty parts; `-` for a server without topology labels.
fn location(region: &str, zone: &str, rack: &str) -> String {
    let parts: Vec<&str> = [region, zone, rack].into_iter().filter(|p| !p.is_empty()).collect();
    if parts.is_empty() { "-".into() } else { parts.join("/") }
}
