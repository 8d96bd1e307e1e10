//! `twintop bench …`: benchmarks that print measured figures (build with --release).

mod manifests;
mod map;
mod vm;

use crate::source::SourceArgs;
// The synthetic twin and percentiles are shared with the console's benchmarks (`ui::bench`).
use crate::measure::{percentile, synthetic_store};
use clap::{Args, Subcommand};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Time building a snapshot of a synthetic twin of N servers with 10 pods each.
    Snapshot {
        #[arg(long, default_value_t = 5000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        servers: usize,
        #[arg(long, default_value_t = 10, value_parser = crate::bounds::int(1usize, 10_000_000))]
        pods_per_server: usize,
        #[arg(long, default_value_t = 20, value_parser = crate::bounds::int(1usize, 10_000_000))]
        iterations: usize,
        #[arg(long)]
        json: bool,
    },
    /// Time placement: decision µs per workload on DIRA-LDT's scenario over K seeds; twintop's
    /// cost, gap to the reference (DIRA-LDT seeds 1–10: proven optima; 50×200 seeds 1–3: best
    /// known) and ms per placement; and the wall time of one large scenario.
    Placement {
        #[arg(long, default_value_t = 30, value_parser = crate::bounds::int(1u64, 10_000))]
        seeds: u64,
        #[arg(long, default_value_t = 1000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        large_servers: usize,
        #[arg(long, default_value_t = 10_000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        large_workloads: usize,
        /// twintop's effort in the reference table: moves its search evaluates per workload at
        /// two workloads per server, scaled by the density above that (the default is the
        /// product's; smaller trades the gap for time).
        #[arg(long, value_name = "N", default_value_t = crate::plan::optimize::MOVES_PER_WORKLOAD,
              value_parser = crate::bounds::int(0usize, 1_000_000))]
        moves_per_workload: usize,
        #[arg(long)]
        json: bool,
    },
    /// Time drawing the Heatmap view of a synthetic N-server twin (10 pods per server) into
    /// an off-screen 160×48 terminal.
    Render {
        #[arg(long, default_value_t = 5000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        servers: usize,
        #[arg(long, default_value_t = 200, value_parser = crate::bounds::int(1usize, 10_000_000))]
        frames: usize,
        #[arg(long)]
        json: bool,
    },
    /// A twin from Kubernetes YAML at scale: W Deployments of R replicas in a call chain,
    /// parsed, placed on N servers by the spreading scheduler, snapshotted, its KPIs computed.
    Manifests {
        /// Servers (64 cores, 256 GiB) in 5 zones of 50-server racks.
        #[arg(long, default_value_t = 5000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        servers: usize,
        /// Deployments, each calling the next.
        #[arg(long, default_value_t = 100, value_parser = crate::bounds::int(1usize, 10_000_000))]
        workloads: usize,
        /// Replicas of each Deployment (500m CPU, 1 GiB each).
        #[arg(long, default_value_t = 500, value_parser = crate::bounds::int(1u32, 1_000_000))]
        replicas: u32,
        /// Instead: a folder of one app (Online Boutique's 12 workloads) copied into this many
        /// namespaces, one directory each, read as `--manifests DIR` reads it and placed on the
        /// demo datacenter (84 copies: 1,008 workloads; target ≤ 1 s).
        #[arg(long, value_name = "N")]
        folder_namespaces: Option<usize>,
    },
    /// Map N Kubernetes Nodes and M Pods (typed objects) into the twin and snapshot it.
    Map {
        #[arg(long, default_value_t = 5000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        servers: usize,
        #[arg(long, default_value_t = 50000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        pods: usize,
    },
    /// One VictoriaMetrics poll cycle for N servers (10 pods each) against a real
    /// `victoria-metrics` this benchmark starts and fills; prints timings and resident memory.
    Vm {
        #[arg(long, default_value_t = 5000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        servers: usize,
        #[arg(long, default_value_t = 10, value_parser = crate::bounds::int(1usize, 10_000_000))]
        pods_per_server: usize,
        #[arg(long, default_value_t = 3, value_parser = crate::bounds::int(1usize, 10_000_000))]
        cycles: usize,
        #[arg(long)]
        json: bool,
    },
    /// Simulated requests per second on one core (KubeTwin exp2, 130,000 requests), a
    /// 20-point sweep (exp1) on one thread vs all threads, and peak resident memory of exp2
    /// with K/10 and K times the requests (a run 10× longer should need no more).
    Sim {
        #[arg(long, default_value_t = 5, value_parser = crate::bounds::int(1usize, 10_000_000))]
        iterations: usize,
        /// K for the long runs (0: none).
        #[arg(long, default_value_t = 100, value_name = "K", value_parser = crate::bounds::int(0u64, 10_000))]
        long: u64,
        #[arg(long)]
        json: bool,
    },
    /// Time mapping a synthetic cluster's list pages (realistic Node/Pod JSON) through the live
    /// Kubernetes source into the twin and a snapshot; print resident memory.
    KubeMap {
        #[arg(long, default_value_t = 5000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        nodes: usize,
        #[arg(long, default_value_t = 50000, value_parser = crate::bounds::int(1usize, 10_000_000))]
        pods: usize,
        #[arg(long)]
        json: bool,
    },
    /// What-if: time to first results for a 15-minute horizon on the demo (dc and mec), input
    /// latency while a run is going, peak resident memory.
    Whatif {
        /// One preset only (both by default).
        #[arg(long)]
        preset: Option<crate::demo::DemoPreset>,
        /// Instead of the demo: a twin of about N workloads read from manifests (Online
        /// Boutique copied into ⌈N/12⌉ namespaces); its load time is measured too.
        #[arg(long, value_name = "N", value_parser = crate::bounds::int(1usize, 100_000))]
        workloads: Option<usize>,
        /// Simulated horizon of the full results, seconds (the first results simulate its
        /// first 60 s, or all of it when shorter).
        #[arg(long, value_name = "SECONDS", default_value_t = 900, value_parser = crate::bounds::int(1u32, 86_400))]
        horizon: u32,
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(_src: &SourceArgs, a: &BenchArgs) -> anyhow::Result<i32> {
    match &a.what {
        Bench::Snapshot { servers, pods_per_server, iterations, json } => {
            let (events_ms, p50, p99) = bench_snapshot(*servers, *pods_per_server, *iterations);
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"servers": servers, "pods": servers * pods_per_server,
                        "apply_events_ms": events_ms, "snapshot_ms_p50": p50, "snapshot_ms_p99": p99})
                );
            } else {
                println!(
                    "snapshot of {servers} servers / {} pods: apply events {events_ms:.1} ms, snapshot p50 {p50:.1} ms, p99 {p99:.1} ms ({iterations} runs)",
                    servers * pods_per_server
                );
            }
            Ok(0)
        }
        Bench::Placement { seeds, large_servers, large_workloads, moves_per_workload, json } => {
            bench_placement(*seeds, *large_servers, *large_workloads, *moves_per_workload, *json)
        }
        Bench::Manifests { folder_namespaces: Some(n), .. } => {
            let b = manifests::run_folder(*n)?;
            println!(
                "manifests folder: {} files, {} workloads in {n} namespaces: read {:.0} ms, build (map, place {} pods, \
                 {} pending) {:.0} ms, apply+snapshot {:.0} ms, total {:.0} ms (target ≤ 1000 ms)",
                b.files,
                b.workloads,
                b.read_ms,
                b.pods,
                b.pending,
                b.build_ms,
                b.snapshot_ms,
                b.read_ms + b.build_ms + b.snapshot_ms
            );
            Ok(0)
        }
        Bench::Manifests { servers, workloads, replicas, .. } => {
            let b = manifests::run(*servers, *workloads, *replicas)?;
            println!(
                "manifests: {workloads} Deployments × {replicas} replicas on {servers} servers: parse {:.0} ms, \
                 place {} pods ({} pending) {:.0} ms, apply+snapshot {:.0} ms, KPIs {:.0} ms (dependency latency \
                 {:.2} ms), total {:.0} ms",
                b.parse_ms,
                b.pods,
                b.pending,
                b.place_ms,
                b.snapshot_ms,
                b.kpis_ms,
                b.dependency_latency_ms,
                b.parse_ms + b.place_ms + b.snapshot_ms + b.kpis_ms
            );
            Ok(0)
        }
        Bench::Map { servers, pods } => {
            let (n, p, s) = map::run(*servers, *pods)?;
            println!(
                "map {servers} nodes / {pods} pods: nodes {n:.0} ms, pods {p:.0} ms, apply+snapshot {s:.0} ms, total {:.0} ms (target ≤ 1000 ms)",
                n + p + s
            );
            Ok(0)
        }
        Bench::Vm { servers, pods_per_server, cycles, json } => {
            let b = vm::run(*servers, *pods_per_server, *cycles)?;
            let total: Vec<f64> = b.cycles.iter().map(|c| c.0 + c.1 + c.2).collect();
            let mut sorted = total.clone();
            sorted.sort_by(f64::total_cmp);
            let median = percentile(&sorted, 0.5);
            if *json {
                println!(
                    "{}",
                    serde_json::json!({"servers": b.servers, "pods": b.pods, "series": b.series,
                        "import_s": b.import_s, "cycles_ms": b.cycles.iter().map(|c| [c.0, c.1, c.2]).collect::<Vec<_>>(),
                        "cycle_ms_median": median, "servers_measured": b.servers_measured,
                        "workloads_measured": b.workloads_measured, "rss_mib": b.rss_mib, "vm_rss_mib": b.vm_rss_mib,
                        "queries_alone": b.per_query.iter().map(|(m, n, ms, c)| serde_json::json!({"metric": m, "series": n, "ms": ms, "count_ms": c})).collect::<Vec<_>>()})
                );
            } else {
                println!(
                    "vm poll of {} servers / {} pods ({} series imported in {:.1} s): {} of {} servers and {} workloads measured",
                    b.servers,
                    b.pods,
                    b.series,
                    b.import_s,
                    b.servers_measured,
                    b.servers,
                    b.workloads_measured
                );
                for (i, c) in b.cycles.iter().enumerate() {
                    println!(
                        "  cycle {}: {:.0} ms (targets {:.0} ms, queries+mapping {:.0} ms, apply+snapshot {:.0} ms)",
                        i + 1,
                        c.0 + c.1 + c.2,
                        c.0,
                        c.1,
                        c.2
                    );
                }
                let q: Vec<String> = b
                    .per_query
                    .iter()
                    .filter(|q| q.1 > 0)
                    .map(|(m, n, ms, c)| format!("{m} {n} series {ms:.0} ms (server alone {c:.0} ms)"))
                    .collect();
                println!("  queries alone: {}", q.join(", "));
                println!(
                    "  median cycle {median:.0} ms (target ≤ 2000 ms); twintop resident memory {:.0} MiB (target ≤ 300 MiB); victoria-metrics {}",
                    b.rss_mib,
                    b.vm_rss_mib.map_or("n/a".to_string(), |m| format!("{m:.0} MiB"))
                );
            }
            Ok(0)
        }
        Bench::Sim { iterations, long, json } => {
            let b = bench_sim(*iterations, *long)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                println!(
                    "sim exp2: {} requests in {:.1} ms (best of {iterations}; median {:.1} ms) = {:.0} requests/s on one core, {} events, max in flight {}",
                    b.requests, b.best_ms, b.median_ms, b.requests_per_s, b.events, b.max_in_flight
                );
                if let (Some(c), Some(r)) = (b.cpu_ms, b.requests_per_cpu_s) {
                    println!("  thread CPU time {c:.1} ms = {r:.0} requests per CPU-second");
                }
                println!(
                    "sweep exp1 replicas=1..20: {:.3} s on 1 thread, {:.3} s on {} threads (speed-up {:.2}×); \
                     process CPU {:.3} s and {:.3} s",
                    b.sweep_1_thread_s,
                    b.sweep_all_threads_s,
                    b.threads,
                    b.sweep_1_thread_s / b.sweep_all_threads_s,
                    b.sweep_1_thread_cpu_s,
                    b.sweep_all_threads_cpu_s
                );
                for r in &b.long_runs {
                    println!(
                        "exp2 ×{}: {} requests, {} events in {:.2} s CPU ({:.0} requests per CPU-second), {} points per series; peak RSS {}",
                        r.scale,
                        r.requests,
                        r.events,
                        r.cpu_s,
                        r.requests as f64 / r.cpu_s,
                        r.points,
                        r.peak_rss_mb.map_or("n/a".into(), |m| format!("{m:.1} MB"))
                    );
                }
                if let [a, b] = b.long_runs.as_slice()
                    && let (Some(x), Some(y)) = (a.peak_rss_mb, b.peak_rss_mb)
                {
                    println!(
                        "  {}× longer run: {:.2}× the peak resident memory (target ≤ 1.5×)",
                        b.scale / a.scale,
                        y / x
                    );
                }
            }
            Ok(0)
        }
        Bench::KubeMap { nodes, pods, json } => {
            let f = crate::source::kube::kube_map(*nodes, *pods)?;
            if *json {
                println!("{}", serde_json::to_string(&f)?);
            } else {
                let mb = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.0} MB"));
                println!(
                    "kube-map {} nodes / {} pods / {} workloads ({:.0} MB of list JSON): parse+store {:.0} ms, \
map {:.0} ms + snapshot {:.0} ms = {:.0} ms wall, {} CPU ({} events); VmRSS {} listed, {} with the twin, peak {}",
                    f.nodes,
                    f.pods,
                    f.workloads,
                    f.json_mb,
                    f.parse_ms,
                    f.map_ms,
                    f.snapshot_ms,
                    f.map_and_snapshot_ms(),
                    f.map_snapshot_cpu_ms.map_or("n/a".to_string(), |v| format!("{v:.0} ms")),
                    f.events,
                    mb(f.rss_listed_mb),
                    mb(f.vm_rss_mb),
                    mb(f.vm_hwm_mb)
                );
            }
            Ok(0)
        }
        Bench::Render { .. } | Bench::Whatif { .. } => {
            anyhow::bail!("this benchmark measures the console: `main` runs it through `ui::bench`")
        }
    }
}

fn bench_placement(
    seeds: u64,
    servers: usize,
    workloads: usize,
    moves_per_workload: usize,
    json: bool,
) -> anyhow::Result<i32> {
    use super::eval_placement::timed;
    use crate::plan::{self, Method, ScenarioSpec, Weights};
    let per_workload = |secs: f64, m: usize| secs * 1e6 / m.max(1) as f64;
    let mut paper = Vec::new();
    for m in Method::ALL {
        let mut us: Vec<f64> = (1..=seeds.max(1))
            .map(|seed| per_workload(timed(m, &plan::generate(&ScenarioSpec::paper(seed)), seed).1, 100))
            .collect();
        let mean = us.iter().sum::<f64>() / us.len() as f64;
        us.sort_by(f64::total_cmp);
        paper.push(serde_json::json!({"name": m.name(), "decision_us_per_workload_mean": mean,
            "p50": percentile(&us, 0.5), "p95": percentile(&us, 0.95)}));
    }
    // twintop against the reference costs: DIRA-LDT seeds 1–10 (proven optima),
    // 20 × 60 seeds 1–3 (no published figure), 50 × 200 seeds 1–3 (best known).
    let mut reference = Vec::new();
    let cases = (1..=10u64)
        .map(|s| (50, 100, s))
        .chain((1..=3).map(|s| (20, 60, s)))
        .chain((1..=3).map(|s| (50, 200, s)));
    for (n, m, seed) in cases {
        let spec = ScenarioSpec::sized(n, m, seed);
        let p = plan::generate(&spec);
        let mut o = plan::OptimizeOptions::seeded(seed);
        o.moves_per_workload = moves_per_workload;
        let cpu0 = thread_cpu_ns();
        let t = Instant::now();
        let (a, evals) = plan::optimize::optimize_counted(&p, &o);
        let secs = t.elapsed().as_secs_f64();
        // CPU time of this thread too: on a busy machine wall time is mostly waiting.
        let cpu_ms = cpu0.zip(thread_cpu_ns()).map(|(a, b)| b.saturating_sub(a) as f64 / 1e6);
        let cost = plan::objective(&p, &a, Weights::default()).cost;
        let k = plan::evaluate(&p, &a);
        let r = plan::reference_cost(&spec);
        let lb = plan::lower_bound(&p, Weights::default()).filter(|&b| b > 0.0);
        // The same search with deadlines aside: the problem the reference optima solve.
        o.weights.deadline = 0.0;
        let t = Instant::now();
        let (free, free_evals) = plan::optimize::optimize_counted(&p, &o);
        let free_ms = t.elapsed().as_secs_f64() * 1e3;
        let free_cost = plan::objective(&p, &free, Weights::default()).cost;
        reference.push(serde_json::json!({"servers": n, "workloads": m, "seed": seed, "cost": cost,
            "reference": r.map(|r| r.0), "proven_optimal": r.map(|r| r.1), "gap": r.map(|r| cost / r.0 - 1.0),
            "cost_deadlines_aside": free_cost, "gap_deadlines_aside": r.map(|r| free_cost / r.0 - 1.0),
            "ms_deadlines_aside": free_ms, "ms": secs * 1e3, "evals": evals, "evals_deadlines_aside": free_evals,
            "lower_bound": lb, "proven_gap": lb.map(|b| cost / b - 1.0),
            "proven_gap_deadlines_aside": lb.map(|b| free_cost / b - 1.0), "cpu_ms": cpu_ms, "completion": k.completion, "rub": k.rub, "accuracy": k.accuracy}));
    }
    let p = plan::generate(&ScenarioSpec::sized(servers, workloads, 1));
    let mut large = Vec::new();
    for m in Method::ALL {
        let t = Instant::now();
        let a = m.place(&p, 1);
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let k = plan::evaluate(&p, &a);
        large.push(serde_json::json!({"name": m.name(), "wall_ms": ms, "accuracy": k.accuracy,
            "mean_latency_ms": k.mean_latency_ms, "rub": k.rub}));
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"paper_scenario": {"seeds": seeds, "methods": paper}, "reference": reference,
                "large": {"servers": servers, "workloads": workloads, "methods": large}})
        );
        return Ok(0);
    }
    println!("DIRA-LDT scenario (50 servers, 100 workloads), {seeds} seeds: decision time per workload");
    for r in &paper {
        println!(
            "  {:<8} mean {:>9.2} µs  p50 {:>9.2} µs  p95 {:>9.2} µs",
            r["name"].as_str().unwrap_or(""),
            r["decision_us_per_workload_mean"].as_f64().unwrap_or(f64::NAN),
            r["p50"].as_f64().unwrap_or(f64::NAN),
            r["p95"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "twintop ({moves_per_workload} moves per workload) against the reference costs (issue 19; optimum: proven, deadlines aside; best known: not proven):"
    );
    println!(
        "  {:<9} {:>4} {:>9} {:>9} {:<10} {:>8} {:>8} {:>8} {:>8} {:>10} {:>6} {:>8} {:>8}   {:>9} {:>8} {:>8} {:>8}",
        "instance",
        "seed",
        "cost",
        "reference",
        "",
        "gap",
        "ms",
        "cpu ms",
        "evals",
        "completion",
        "RUB",
        "bound",
        "≤ gap",
        "no-dl cost",
        "gap",
        "ms",
        "evals"
    );
    for r in &reference {
        let f = |k: &str| r[k].as_f64();
        println!(
            "  {:<9} {:>4} {:>9.5} {:>9} {:<10} {:>8} {:>8.2} {:>8} {:>8} {:>10} {:>6.3} {:>8} {:>8}   {:>9.5} {:>8} {:>8.2} {:>8}",
            format!("{}×{}", r["servers"], r["workloads"]),
            r["seed"].as_u64().unwrap_or(0),
            f("cost").unwrap_or(f64::NAN),
            f("reference").map_or("-".into(), |v| format!("{v:.5}")),
            match r["proven_optimal"].as_bool() {
                Some(true) => "optimum",
                Some(false) => "best known",
                None => "",
            },
            f("gap").map_or("-".into(), |g| format!("{:+.2}%", g * 100.0)),
            f("ms").unwrap_or(f64::NAN),
            f("cpu_ms").map_or("-".into(), |c| format!("{c:.2}")),
            r["evals"].as_u64().unwrap_or(0),
            f("completion").map_or("-".into(), |c| format!("{:.1}%", c * 100.0)),
            f("rub").unwrap_or(f64::NAN),
            f("lower_bound").map_or("-".into(), |b| format!("{b:.5}")),
            f("proven_gap").map_or("-".into(), |g| format!("{:+.1}%", g * 100.0)),
            f("cost_deadlines_aside").unwrap_or(f64::NAN),
            f("gap_deadlines_aside").map_or("-".into(), |g| format!("{:+.2}%", g * 100.0)),
            f("ms_deadlines_aside").unwrap_or(f64::NAN),
            r["evals_deadlines_aside"].as_u64().unwrap_or(0)
        );
    }
    println!(
        "  no-dl: the same search with deadlines aside (weight 0), the objective the reference optima minimise"
    );
    println!(
        "  evals: moves the search evaluated (machine-independent); bound: twintop's own lower bound on the cost (plan::lower_bound); ≤ gap: cost / bound − 1, the proven gap"
    );
    println!("{workloads} workloads on {servers} servers (demands scaled to the paper's load per server):");
    for r in &large {
        println!(
            "  {:<8} wall {:>9.1} ms  accuracy {:>6.1}%  latency {:>6.2} ms  RUB {:.3}",
            r["name"].as_str().unwrap_or(""),
            r["wall_ms"].as_f64().unwrap_or(f64::NAN),
            r["accuracy"].as_f64().unwrap_or(f64::NAN) * 100.0,
            r["mean_latency_ms"].as_f64().unwrap_or(f64::NAN),
            r["rub"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(0)
}

/// Returns (ms to apply the events, snapshot p50 ms, snapshot p99 ms).
pub(crate) fn bench_snapshot(servers: usize, pods_per_server: usize, iterations: usize) -> (f64, f64, f64) {
    let t0 = Instant::now();
    let mut st = synthetic_store(servers, pods_per_server);
    let events_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let mut times: Vec<f64> = (0..iterations.max(1))
        .map(|_| {
            let t = Instant::now();
            let s = st.snapshot();
            std::hint::black_box(&s);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (events_ms, percentile(&times, 0.5), percentile(&times, 0.99))
}

#[derive(Debug, serde::Serialize)]

pub(crate) struct SimBench {
    pub requests: u64,
    pub events: u64,
    pub best_ms: f64,
    pub median_ms: f64,
    pub requests_per_s: f64,
    /// This thread's CPU time for the best run (Linux), which a loaded machine does not inflate.
    pub cpu_ms: Option<f64>,
    pub requests_per_cpu_s: Option<f64>,
    pub max_in_flight: u32,
    pub sweep_1_thread_s: f64,
    pub sweep_all_threads_s: f64,
    /// Process CPU time of each sweep (user + system): with idle cores the speed-up is this
    /// ratio's complement; on a busy machine the wall times say little.
    pub sweep_1_thread_cpu_s: f64,
    pub sweep_all_threads_cpu_s: f64,
    pub threads: usize,
    pub long_runs: Vec<LongRun>,
}

/// exp2 with every generator's requests × `scale`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct LongRun {
    pub scale: u64,
    pub requests: u64,
    pub events: u64,
    pub cpu_s: f64,
    pub points: usize,
    /// Peak resident memory of the process over this run (reset before it), MB.
    pub peak_rss_mb: Option<f64>,
}

use crate::measure::process_cpu_s;

fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

pub(crate) fn bench_sim(iterations: usize, long: u64) -> anyhow::Result<SimBench> {
    use crate::sim::{Scenario, SweepParam, run, sweep};
    let exp2 =
        Scenario::from_yaml(include_str!("../../assets/scenarios/kubetwin-exp2.yaml"), "kubetwin-exp2.yaml")?;
    let exp1 =
        Scenario::from_yaml(include_str!("../../assets/scenarios/kubetwin-exp1.yaml"), "kubetwin-exp1.yaml")?;
    let warm = run(&exp2, 1)?;
    let mut cpu: Vec<f64> = Vec::new();
    let mut times: Vec<f64> = (0..iterations.max(1))
        .map(|i| {
            let c0 = thread_cpu_ns();
            let t = Instant::now();
            let out = run(&exp2, 1 + i as u64);
            std::hint::black_box(&out);
            let wall = t.elapsed().as_secs_f64() * 1000.0;
            if let (Some(a), Some(b)) = (c0, thread_cpu_ns()) {
                cpu.push((b - a) as f64 / 1e6);
            }
            wall
        })
        .collect();
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let p = SweepParam::parse("replicas=1..20").map_err(anyhow::Error::msg)?;
    let none = |_: usize, _: usize| {};
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (t, c) = (Instant::now(), process_cpu_s());
    one.install(|| sweep(&exp1, &p, 1, &none))?;
    let (sweep_1, sweep_1_cpu) = (t.elapsed().as_secs_f64(), process_cpu_s() - c);
    let (t, c) = (Instant::now(), process_cpu_s());
    sweep(&exp1, &p, 1, &none)?;
    let (sweep_all, sweep_all_cpu) = (t.elapsed().as_secs_f64(), process_cpu_s() - c);
    let mut long_runs = Vec::new();
    for scale in [long / 10, long].into_iter().filter(|&k| k > 0) {
        let mut sc = exp2.clone();
        for g in &mut sc.load {
            g.requests = g.requests.map(|r| r * scale);
        }
        crate::measure::reset_peak_rss();
        let c = process_cpu_s();
        let out = run(&sc, 1)?;
        let cpu_s = process_cpu_s() - c;
        long_runs.push(LongRun {
            scale,
            requests: out.requests,
            events: out.events,
            cpu_s,
            points: out.series.t_s.len(),
            peak_rss_mb: crate::measure::peak_rss_mb(),
        });
    }
    Ok(SimBench {
        requests: warm.requests,
        events: warm.events,
        best_ms: times[0],
        median_ms: percentile(&times, 0.5),
        requests_per_s: warm.requests as f64 / (times[0] / 1000.0),
        cpu_ms: cpu.first().copied(),
        requests_per_cpu_s: cpu.first().map(|c| warm.requests as f64 / (c / 1000.0)),
        max_in_flight: warm.in_flight.max,
        sweep_1_thread_s: sweep_1,
        sweep_all_threads_s: sweep_all,
        sweep_1_thread_cpu_s: sweep_1_cpu,
        sweep_all_threads_cpu_s: sweep_all_cpu,
        threads: rayon::current_num_threads(),
        long_runs,
    })
}
