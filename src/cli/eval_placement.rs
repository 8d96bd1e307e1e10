//! `twintop eval placement`: HBA, SM and twintop on DIRA-LDT's scenario (or on the twin with
//! --demo/--manifests), DIRA-LDT's figures beside the paper's, the objective's cost beside the
//! proven optima where they are known, and with --export DIR each instance as a JSON document
//! that an external solver can check.

use crate::plan::export::{Instance, MethodResult};
use crate::plan::{self, Method, Metrics, Problem, ScenarioSpec, Weights};
use crate::source::SourceArgs;
use crate::text::escape;
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct PlacementArgs {
    #[arg(long, default_value_t = 50, value_parser = crate::bounds::int(1usize, 100_000))]
    pub servers: usize,
    #[arg(long, default_value_t = 100, value_parser = crate::bounds::int(1usize, 1_000_000))]
    pub workloads: usize,
    /// Scenarios (seeds 1..=K) to average over.
    #[arg(long, default_value_t = 30, value_parser = crate::bounds::int(1u64, 10_000))]
    pub seeds: u64,
    /// Moves the incremental re-placement may propose (twin only).
    #[arg(long, default_value_t = 10, value_parser = crate::bounds::int(0usize, 100_000))]
    pub max_moves: usize,
    /// Write each instance (servers, workloads, dependencies, latency matrix, weights, and each
    /// method's assignment, objective and figures) to DIR/<name>.json.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// One method's averaged figures (the JSON row).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlacementRow {
    pub name: String,
    pub accuracy: f64,
    pub mean_latency_ms: f64,
    pub mean_dependency_latency_ms: f64,
    pub bandwidth_util: f64,
    pub rub: f64,
    pub completion: Option<f64>,
    /// The objective (`1·latency + 4·CV² + 10·unplaced + 10·overflow`), averaged.
    pub cost: f64,
    /// twintop's own lower bound on the cost (`plan::lower_bound`), averaged; none where it
    /// does not apply (servers of different capacities).
    pub lower_bound: Option<f64>,
    /// The proven gap: cost / lower bound − 1, averaged over the instances (the placement is at
    /// most this far above the best possible).
    pub gap: Option<f64>,
    pub decision_us_per_workload: f64,
    #[serde(skip)]
    pub colocated_share: f64,
}

/// Averages of `Metrics` over runs, plus cost and decision time.
#[derive(Default)]
struct Acc {
    m: Vec<Metrics>,
    cost: Vec<f64>,
    bound: Vec<f64>,
    us: f64,
}

impl Acc {
    fn push(&mut self, m: Metrics, cost: f64, bound: Option<f64>, us: f64) {
        self.m.push(m);
        self.cost.push(cost);
        // A bound is averaged only when every instance has one.
        if let Some(b) = bound
            && self.bound.len() + 1 == self.cost.len()
        {
            self.bound.push(b);
        }
        self.us += us;
    }

    fn row(&self, name: &str) -> PlacementRow {
        let n = self.m.len().max(1) as f64;
        let mean = |f: &dyn Fn(&Metrics) -> f64| self.m.iter().map(f).sum::<f64>() / n;
        let comp: Vec<f64> = self.m.iter().filter_map(|m| m.completion).collect();
        PlacementRow {
            name: name.into(),
            accuracy: mean(&|m| m.accuracy),
            mean_latency_ms: mean(&|m| m.mean_latency_ms),
            mean_dependency_latency_ms: mean(&|m| m.mean_dependency_latency_ms),
            bandwidth_util: mean(&|m| m.bandwidth_util),
            rub: mean(&|m| m.rub),
            completion: (!comp.is_empty()).then(|| comp.iter().sum::<f64>() / comp.len() as f64),
            cost: self.cost.iter().sum::<f64>() / n,
            lower_bound: (self.bound.len() == self.cost.len()).then(|| self.bound.iter().sum::<f64>() / n),
            gap: (self.bound.len() == self.cost.len() && self.bound.iter().all(|&b| b > 0.0))
                .then(|| self.cost.iter().zip(&self.bound).map(|(c, b)| c / b - 1.0).sum::<f64>() / n),
            decision_us_per_workload: self.us / n,
            colocated_share: mean(&|m| m.colocated_share),
        }
    }
}

/// Places with `method` and times it: the assignment and the wall time in seconds.
pub(crate) fn timed(method: Method, p: &Problem, seed: u64) -> (plan::Assignment, f64) {
    let t = Instant::now();
    let a = method.place(p, seed);
    (a, t.elapsed().as_secs_f64())
}

fn per_workload_us(secs: f64, p: &Problem) -> f64 {
    secs * 1e6 / p.workloads.len().max(1) as f64
}

/// The objective's cost of `a`.
fn cost(p: &Problem, a: &plan::Assignment) -> f64 {
    plan::objective(p, a, Weights::default()).cost
}

pub(crate) fn run(src: &SourceArgs, a: &PlacementArgs) -> anyhow::Result<i32> {
    if let Some(dir) = &a.export {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("--export {}: {e}", dir.display()))?;
    }
    let twin_mode = src.demo.is_some() || !src.manifests.is_empty();
    let mut rows = Vec::new();
    let what;
    // Per twintop placement of a scenario with a reference: (seed, cost, reference, proven,
    // lower bound).
    let mut refs: Vec<(u64, f64, f64, bool, Option<f64>)> = Vec::new();
    if twin_mode {
        let snap = crate::source::load_snapshot(src)?;
        let tp = plan::from_snapshot(&snap);
        let p = &tp.problem;
        what = format!(
            "twin {} ({} servers, {} pods, {} pod dependencies)",
            escape(&snap.source.name),
            p.servers.len(),
            p.workloads.len(),
            p.deps.len()
        );
        // The bound holds for placements on open servers: none for one that keeps pods on a
        // cordoned server (the running cluster's, while it drains).
        let lb = plan::lower_bound(p, Weights::default());
        let lb_of =
            |asg: &plan::Assignment| lb.filter(|_| asg.iter().flatten().all(|&s| !p.servers[s].cordoned));
        let mut cur = Acc::default();
        cur.push(plan::evaluate(p, &tp.current), cost(p, &tp.current), lb_of(&tp.current), 0.0);
        rows.push(cur.row("current"));
        let mut inst = a.export.as_ref().map(|_| Instance::new("twin", src.seed, p, Weights::default()));
        for m in Method::ALL {
            let (asg, secs) = timed(m, p, src.seed);
            let mut acc = Acc::default();
            acc.push(plan::evaluate(p, &asg), cost(p, &asg), lb_of(&asg), per_workload_us(secs, p));
            rows.push(acc.row(m.name()));
            if let Some(i) = &mut inst {
                record(i, m, p, asg, secs);
            }
        }
        let t = Instant::now();
        let imp = plan::improve(p, &tp.current, a.max_moves, src.seed);
        let secs = t.elapsed().as_secs_f64();
        let mut acc = Acc::default();
        acc.push(imp.after, cost(p, &imp.assignment), lb_of(&imp.assignment), per_workload_us(secs, p));
        rows.push(acc.row(&format!("improve-{}", a.max_moves)));
        if let (Some(i), Some(dir)) = (&inst, &a.export) {
            write(dir, i)?;
        }
        if !a.json {
            println!("incremental re-placement: {} move(s)", imp.moves.len());
            for mv in &imp.moves {
                println!(
                    "  {}: {} → {}",
                    escape(&mv.name),
                    escape(mv.from_server.as_deref().unwrap_or("(unplaced)")),
                    escape(&mv.to_server)
                );
            }
        }
    } else {
        anyhow::ensure!(
            a.servers > 0 && a.workloads > 0 && a.seeds > 0,
            "--servers, --workloads and --seeds must be > 0"
        );
        what = format!(
            "DIRA-LDT scenario: {} servers, {} workloads, {} seed(s)",
            a.servers, a.workloads, a.seeds
        );
        let mut accs: Vec<Acc> = Method::ALL.iter().map(|_| Acc::default()).collect();
        for seed in 1..=a.seeds {
            let spec = ScenarioSpec::sized(a.servers, a.workloads, seed);
            let p = plan::generate(&spec);
            let name = format!("dira-{}x{}-seed-{seed}", a.servers, a.workloads);
            let mut inst = a.export.as_ref().map(|_| Instance::new(&name, seed, &p, Weights::default()));
            let lb = plan::lower_bound(&p, Weights::default());
            for (i, m) in Method::ALL.iter().enumerate() {
                let (asg, secs) = timed(*m, &p, seed);
                let c = cost(&p, &asg);
                accs[i].push(plan::evaluate(&p, &asg), c, lb, per_workload_us(secs, &p));
                if *m == Method::Twintop
                    && let Some((r, proven)) = plan::reference_cost(&spec)
                {
                    refs.push((seed, c, r, proven, lb));
                }
                if let Some(inst) = &mut inst {
                    record(inst, *m, &p, asg, secs);
                }
            }
            if let (Some(i), Some(dir)) = (&inst, &a.export) {
                write(dir, i)?;
            }
        }
        rows = Method::ALL.iter().zip(&accs).map(|(m, acc)| acc.row(m.name())).collect();
    }
    if a.json {
        let reference: Vec<_> = refs
            .iter()
            .map(|&(seed, cost, r, proven, lb)| {
                serde_json::json!({"seed": seed, "cost": cost, "reference": r, "proven_optimal": proven,
                    "gap": cost / r - 1.0, "lower_bound": lb,
                    "reference_gap_to_bound": lb.filter(|&b| b > 0.0).map(|b| r / b - 1.0)})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "methods": rows, "reference": reference }))?
        );
        return Ok(0);
    }
    print_table(&what, &rows);
    if !refs.is_empty() {
        let gaps: Vec<f64> = refs.iter().map(|r| r.1 / r.2 - 1.0).collect();
        let kind = if refs.iter().all(|r| r.3) { "proven optimum" } else { "best known" };
        println!(
            "twintop's cost vs the {kind} (issue 19, seeds {}–{}; deadlines aside there, met here): mean gap {:+.2} %, max {:+.2} %",
            refs[0].0,
            refs[refs.len() - 1].0,
            gaps.iter().sum::<f64>() / gaps.len() as f64 * 100.0,
            gaps.iter().copied().fold(f64::NEG_INFINITY, f64::max) * 100.0
        );
    }
    if let Some(dir) = &a.export {
        println!("instances written to {}", escape(&dir.display().to_string()));
    }
    Ok(0)
}

fn record(inst: &mut Instance, m: Method, p: &Problem, asg: plan::Assignment, secs: f64) {
    let objective = plan::objective(p, &asg, Weights::default());
    let metrics = plan::evaluate(p, &asg);
    inst.methods
        .insert(m.name().to_string(), MethodResult { assignment: asg, objective, metrics, wall_s: secs });
}

fn write(dir: &Path, inst: &Instance) -> anyhow::Result<()> {
    let path = dir.join(format!("{}.json", inst.name));
    let f = std::fs::File::create(&path).map_err(|e| anyhow::anyhow!("--export {}: {e}", path.display()))?;
    serde_json::to_writer(std::io::BufWriter::new(f), inst)
        .map_err(|e| anyhow::anyhow!("--export {}: {e}", path.display()))?;
    Ok(())
}

fn print_table(what: &str, rows: &[PlacementRow]) {
    println!("{what}");
    println!(
        "{:<12} {:>9} {:>11} {:>10} {:>12} {:>9} {:>6} {:>11} {:>8} {:>8} {:>8} {:>12}",
        "method",
        "accuracy",
        "latency ms",
        "co-located",
        "dep lat ms",
        "bw util",
        "RUB",
        "completion",
        "cost",
        "bound",
        "gap",
        "µs/workload"
    );
    for r in rows {
        println!(
            "{:<12} {:>8.1}% {:>11.2} {:>9.1}% {:>12.2} {:>8.1}% {:>6.3} {:>11} {:>8.5} {:>8} {:>8} {:>12.1}",
            r.name,
            r.accuracy * 100.0,
            r.mean_latency_ms,
            r.colocated_share * 100.0,
            r.mean_dependency_latency_ms,
            r.bandwidth_util * 100.0,
            r.rub,
            r.completion.map(|c| format!("{:.1}%", c * 100.0)).unwrap_or_else(|| "-".into()),
            r.cost,
            r.lower_bound.map_or("-".into(), |b| format!("{b:.5}")),
            r.gap.map_or("-".into(), |g| format!("{:+.1}%", g * 100.0)),
            r.decision_us_per_workload
        );
    }
    println!("paper (DIRA-LDT, PAPERS.md; decision time per allocation):");
    for (name, acc, lat, bw, rub, comp, us) in PAPER_PLACEMENT {
        println!(
            "{:<12} {:>8.1}% {:>11.1} {:>10} {:>12} {:>8.1}% {:>6.2} {:>11} {:>8} {:>8} {:>8} {:>12.0}",
            name,
            acc,
            lat,
            "-",
            "-",
            bw,
            rub,
            comp.map(|c| format!("{c:.1}%")).unwrap_or_else(|| "-".into()),
            "-",
            "-",
            "-",
            us
        );
    }
    println!(
        "latency: DIRA-LDT's dependency-weighted mean over pairs on different servers; co-located: share of the dependency weight on one server; dep lat: the mean over every dependency, co-located ones at the same-server latency"
    );
    println!(
        "cost: the objective, 1·latency/max + 4·CV² (over the open servers) + 10·unplaced + 10·overflow; bound: twintop's lower bound on it (each dependency component split the cheapest way, capacities relaxed; servers alike); gap: cost / bound − 1, the most the placement can be above the best possible"
    );
    println!(
        "RUB: 1 − the coefficient of variation of servers' utilisation (the mean of their CPU, memory and bandwidth shares) over all servers, empty ones included, floored at 0 (a method that packs onto a few servers, as HBA does, scores 0)"
    );
    println!("completion: {}", plan::COMPLETION_MODEL);
}

/// The DIRA-LDT paper's figures: name, accuracy %, latency ms, bandwidth %, RUB, completion %,
/// decision µs per allocation.
type PaperRow = (&'static str, f64, f64, f64, f64, Option<f64>, f64);
const PAPER_PLACEMENT: [PaperRow; 3] = [
    ("dira-ldt", 98.5, 5.3, 82.4, 0.92, Some(96.3), 7800.0),
    ("hba", 85.0, 12.7, 70.5, 0.78, None, 3200.0),
    ("sm", 88.3, 10.2, 75.8, 0.84, None, 5400.0),
];
