//! The fidelity lab, end to end: a chain `loadgen → front → back` of real processes on
//! loopback, scraped by vmagent into VictoriaMetrics, measured at several request rates and
//! replica counts. twintop builds its twin from the app's manifests and VictoriaMetrics — its
//! ordinary path (`twintop --manifests … --vm-url …`) — fits it on some configurations, predicts
//! the others before they run, then a change (one more `back` process) is predicted and made.

use crate::procs::{self, NAMESPACE, Proc};
use crate::service::Mode;
use anyhow::Context;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The small version (for scripts/test): two fitted configurations and one change, with
    /// 20-second windows (about two minutes).
    #[arg(long)]
    pub quick: bool,
    /// How the services spend their service time.
    #[arg(long, value_enum, default_value_t = Mode::Sleep)]
    pub mode: Mode,
    /// The twintop binary (default: next to this one).
    #[arg(long)]
    pub twintop: Option<PathBuf>,
    /// Keep the working directory (manifests, configs, logs, metrics data).
    #[arg(long)]
    pub keep: bool,
    /// Run the lab's processes at normal priority (default: niceness −10 when allowed).
    #[arg(long)]
    pub no_nice: bool,
}

/// One configuration of the chain: load and `back` replicas.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    rate: f64,
    back: u32,
}

impl Config {
    fn name(&self) -> String {
        format!("{:.0} rps, back ×{}", self.rate, self.back)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub held_out: bool,
    pub measured_p99_ms: f64,
    pub twin_p99_ms: f64,
    pub error: f64,
    pub measured_p50_ms: f64,
    pub twin_p50_ms: f64,
    pub measured_rps: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeRow {
    pub action: String,
    pub predicted_p99_ms: f64,
    pub measured_p99_ms: f64,
    pub error: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub configurations: Vec<Row>,
    pub median_abs_error: f64,
    pub worst_abs_error: f64,
    pub change: ChangeRow,
    pub mode: String,
    pub window_s: u32,
    pub notes: Vec<String>,
}

/// The chain's parameters: back is the bottleneck (two workers per replica, 20 ms median);
/// front has room to spare.
const BACK_MS: f64 = 20.0;
const BACK_SIGMA: f64 = 0.5;
const BACK_WORKERS: usize = 2;
const FRONT_MS: f64 = 2.0;
const FRONT_SIGMA: f64 = 0.3;
const FRONT_WORKERS: usize = 64;
const MAX_BACK: usize = 4;
/// twintop's poll interval and vmagent's scrape interval, seconds.
const INTERVAL_S: f64 = 2.0;
const SCRAPE_S: f64 = 1.0;

struct Lab {
    dir: PathBuf,
    twintop: PathBuf,
    vm_url: String,
    cfg_dir: PathBuf,
    apps: PathBuf,
    nodes: PathBuf,
    mode: Mode,
    nice: bool,
    front_port: u16,
    load_metrics: u16,
    /// (app port, metrics port) of each possible back replica.
    back_ports: Vec<(u16, u16)>,
    backs: Vec<Proc>,
    front: Option<Proc>,
    load: Option<Proc>,
    _agent: Proc,
    _vm: Proc,
    seed: u64,
}

pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("twintop-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&a, &dir);
    if a.keep {
        eprintln!("twintop-lab: kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn run_in(a: &RunArgs, dir: &Path) -> anyhow::Result<Report> {
    let window_s: u32 = if a.quick { 20 } else { 60 };
    // Every configuration keeps `back` below saturation (two workers of 22.7 ms mean serve
    // about 88 requests/s per replica, less on a busy machine where a sleep overshoots): a
    // saturated chain has no steady state to measure, its p99 grows with the window.
    let (fit, held_out, change_rate) = if a.quick {
        (vec![Config { rate: 25.0, back: 1 }, Config { rate: 55.0, back: 1 }], vec![], 55.0)
    } else {
        (
            vec![Config { rate: 25.0, back: 1 }, Config { rate: 55.0, back: 1 }],
            vec![
                Config { rate: 40.0, back: 1 },
                Config { rate: 25.0, back: 2 },
                Config { rate: 55.0, back: 3 },
                Config { rate: 100.0, back: 2 },
            ],
            55.0,
        )
    };
    let twintop = match &a.twintop {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("twintop"),
    };
    anyhow::ensure!(twintop.is_file(), "{}: not found (build twintop, or give --twintop)", twintop.display());
    let mut lab = Lab::start(dir, twintop, a, window_s)?;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let settle = Duration::from_secs(window_s as u64 + 3 * INTERVAL_S as u64 + 2);
    for c in &fit {
        lab.set(*c)?;
        lab.dwell(settle)?;
        let f = lab.fidelity()?;
        notes.extend(f.notes.iter().map(|n| format!("{}: {n}", c.name())));
        rows.push(row(c, false, &f.front, f.front.twin_p50, f.front.twin_p99));
    }
    // Predictions from the twin as it is after the last fitted configuration, before anything
    // else runs.
    let last = *fit.last().expect("a fitted configuration");
    let after = Config { rate: change_rate, back: last.back + 1 };
    let predicted_change = lab.predict(after)?;
    let predictions: Vec<(Config, (f64, f64))> =
        held_out.iter().map(|c| Ok((*c, lab.predict(*c)?))).collect::<anyhow::Result<_>>()?;
    // The change: one more back process while the load runs.
    lab.set(after)?;
    lab.dwell(settle)?;
    let f = lab.fidelity()?;
    rows.push(row(&after, true, &f.front, predicted_change.0, predicted_change.1));
    let change = ChangeRow {
        action: format!(
            "scale back {} → {} at {:.0} rps (a process started)",
            last.back, after.back, change_rate
        ),
        predicted_p99_ms: predicted_change.1,
        measured_p99_ms: f.front.measured_p99,
        error: predicted_change.1 / f.front.measured_p99 - 1.0,
    };
    for (c, (p50, p99)) in predictions {
        lab.set(c)?;
        lab.dwell(settle)?;
        let f = lab.fidelity()?;
        rows.push(row(&c, true, &f.front, p50, p99));
    }
    let mut abs: Vec<f64> = rows.iter().map(|r| r.error.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let median = if abs.len() % 2 == 1 {
        abs[abs.len() / 2]
    } else {
        (abs[abs.len() / 2 - 1] + abs[abs.len() / 2]) / 2.0
    };
    Ok(Report {
        median_abs_error: median,
        worst_abs_error: abs.last().copied().unwrap_or(0.0),
        configurations: rows,
        change,
        mode: format!("{:?}", a.mode).to_lowercase(),
        window_s,
        notes,
    })
}

fn row(c: &Config, held_out: bool, m: &Front, twin_p50: f64, twin_p99: f64) -> Row {
    Row {
        name: c.name(),
        held_out,
        measured_p99_ms: m.measured_p99,
        twin_p99_ms: twin_p99,
        error: twin_p99 / m.measured_p99 - 1.0,
        measured_p50_ms: m.measured_p50,
        twin_p50_ms: twin_p50,
        measured_rps: m.measured_rps,
    }
}

/// The chain's entry as twintop measures and simulates it.
#[derive(Debug, Clone, Default)]
struct Front {
    measured_p50: f64,
    measured_p99: f64,
    measured_rps: f64,
    twin_p50: f64,
    twin_p99: f64,
}

struct FidelityOut {
    front: Front,
    notes: Vec<String>,
}

impl Lab {
    fn start(dir: &Path, twintop: PathBuf, a: &RunArgs, window_s: u32) -> anyhow::Result<Lab> {
        let vm_port = procs::free_port()?;
        let vm = procs::victoria(dir, vm_port)?;
        let (front_port, front_metrics, load_metrics) =
            (procs::free_port()?, procs::free_port()?, procs::free_port()?);
        let back_ports: Vec<(u16, u16)> = (0..MAX_BACK)
            .map(|_| Ok((procs::free_port()?, procs::free_port()?)))
            .collect::<anyhow::Result<_>>()?;
        let mut targets = vec![front_metrics, load_metrics];
        targets.extend(back_ports.iter().map(|p| p.1));
        let agent = procs::vmagent(dir, procs::free_port()?, vm_port, &targets, SCRAPE_S)?;
        let cfg_dir = procs::write_config(dir, window_s, INTERVAL_S)?;
        let (apps, nodes) = procs::write_manifests(dir, 1)?;
        let mut lab = Lab {
            dir: dir.to_path_buf(),
            twintop,
            vm_url: format!("http://127.0.0.1:{vm_port}"),
            cfg_dir,
            apps,
            nodes,
            mode: a.mode,
            nice: !a.no_nice,
            front_port,

            load_metrics,
            back_ports,
            backs: Vec::new(),
            front: None,
            load: None,
            _agent: agent,
            _vm: vm,
            seed: 1,
        };
        lab.set_back(1)?;
        let downstream = lab.dir.join("front-downstream");
        let args = service_args(
            "front",
            "front-0",
            front_port,
            front_metrics,
            FRONT_WORKERS,
            FRONT_MS,
            FRONT_SIGMA,
            a.mode,
            Some(&downstream),
            7,
        );
        lab.front = Some(procs::lab_process("front-0", &args, dir, lab.nice, front_metrics)?);
        Ok(lab)
    }

    fn set(&mut self, c: Config) -> anyhow::Result<()> {
        self.set_back(c.back)?;
        self.set_rate(c.rate)
    }

    /// `n` back processes, their endpoints for front, and the manifests saying so.
    fn set_back(&mut self, n: u32) -> anyhow::Result<()> {
        let n = (n as usize).clamp(1, MAX_BACK);
        while self.backs.len() < n {
            let i = self.backs.len();
            let (port, metrics) = self.back_ports[i];
            let pod = format!("back-{i}");
            let args = service_args(
                "back",
                &pod,
                port,
                metrics,
                BACK_WORKERS,
                BACK_MS,
                BACK_SIGMA,
                self.mode,
                None,
                100 + i as u64,
            );
            self.backs.push(procs::lab_process(&pod, &args, &self.dir, self.nice, metrics)?);
        }
        let mut lines = String::new();
        for i in 0..n {
            lines.push_str(&format!("back 127.0.0.1:{}\n", self.back_ports[i].0));
        }
        // Write then rename, so front never reads half a file.
        let tmp = self.dir.join("front-downstream.tmp");
        std::fs::write(&tmp, lines)?;
        std::fs::rename(&tmp, self.dir.join("front-downstream"))?;
        // Removed replicas finish what they hold before they go.
        if self.backs.len() > n {
            std::thread::sleep(Duration::from_secs(2));
            self.backs.truncate(n);
        }
        procs::write_manifests(&self.dir, n as u32)?;
        Ok(())
    }

    /// Restarts the load generator at `rate`.
    fn set_rate(&mut self, rate: f64) -> anyhow::Result<()> {
        self.load = None;
        self.seed += 1;
        let args: Vec<String> = [
            "load".to_string(),
            format!("--namespace={NAMESPACE}"),
            "--workload=loadgen".into(),
            "--pod=loadgen-0".into(),
            format!("--metrics-port={}", self.load_metrics),
            format!("--rate={rate}"),
            "--target-workload=front".into(),
            format!("--targets=127.0.0.1:{}", self.front_port),
            format!("--seed={}", self.seed),
        ]
        .into();
        self.load = Some(procs::lab_process("loadgen-0", &args, &self.dir, self.nice, self.load_metrics)?);
        Ok(())
    }

    /// Waits, failing as soon as a process of the lab dies.
    fn dwell(&mut self, d: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            for p in self.backs.iter_mut().chain(self.front.iter_mut()).chain(self.load.iter_mut()) {
                p.check()?;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(())
    }

    /// `twintop --manifests … --servers … --vm-url … ARGS`, its stdout as JSON.
    fn twintop(&self, args: &[&str]) -> anyhow::Result<Value> {
        let out = Command::new(&self.twintop)
            .arg("--manifests")
            .arg(&self.apps)
            .arg("--servers")
            .arg(&self.nodes)
            .arg("--vm-url")
            .arg(&self.vm_url)
            .args(args)
            .env("TWINTOP_CONFIG_DIR", &self.cfg_dir)
            .output()
            .with_context(|| format!("running {}", self.twintop.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "twintop {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        serde_json::from_slice(&out.stdout).with_context(|| format!("twintop {}: not JSON", args.join(" ")))
    }

    fn fidelity(&self) -> anyhow::Result<FidelityOut> {
        let v = self.twintop(&["fidelity", "--json", "--seeds", "5"])?;
        let key = format!("{NAMESPACE}/front");
        let w = v["workloads"]
            .as_array()
            .and_then(|a| a.iter().find(|w| w["name"] == key.as_str()))
            .with_context(|| format!("twintop fidelity measured nothing at {key}: {v}"))?;
        let f = |k: &str| w[k].as_f64().unwrap_or(f64::NAN);
        let notes = v["notes"]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str().map(String::from)).collect())
            .unwrap_or_default();
        Ok(FidelityOut {
            front: Front {
                measured_p50: f("measured_p50_ms"),
                measured_p99: f("measured_p99_ms"),
                measured_rps: f("measured_rps"),
                twin_p50: f("twin_p50_ms"),
                twin_p99: f("twin_p99_ms"),
            },
            notes,
        })
    }

    /// The twin's prediction for a configuration: (p50, p99) at front, from a what-if run on
    /// the twin as it is now.
    fn predict(&self, c: Config) -> anyhow::Result<(f64, f64)> {
        let script = format!("load front {} rps\nscale back to {}\nhorizon 120s", c.rate, c.back);
        let v = self.twintop(&["whatif", "--json", "--seeds", "5", "--text", &script])?;
        let key = format!("{NAMESPACE}/front");
        let w = &v["scenario"]["workloads"][key.as_str()];
        let (p50, p99) = (w["p50_ms"].as_f64(), w["p99_ms"].as_f64());
        match (p50, p99) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => anyhow::bail!("twintop whatif gave no figures for {key}: {v}"),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn service_args(
    workload: &str,
    pod: &str,
    port: u16,
    metrics: u16,
    workers: usize,
    service_ms: f64,
    sigma: f64,
    mode: Mode,
    downstream: Option<&Path>,
    seed: u64,
) -> Vec<String> {
    let mut v = vec![
        "service".to_string(),
        format!("--namespace={NAMESPACE}"),
        format!("--workload={workload}"),
        format!("--pod={pod}"),
        format!("--port={port}"),
        format!("--metrics-port={metrics}"),
        format!("--workers={workers}"),
        format!("--service-ms={service_ms}"),
        format!("--sigma={sigma}"),
        format!("--mode={}", if mode == Mode::Sleep { "sleep" } else { "cpu" }),
        format!("--seed={seed}"),
    ];
    if let Some(d) = downstream {
        v.push(format!("--downstream={}", d.display()));
    }
    v
}

fn print_table(r: &Report) {
    println!(
        "fidelity lab: loadgen → front → back on loopback ({} mode), scraped by vmagent into VictoriaMetrics, {} s windows",
        r.mode, r.window_s
    );
    println!(
        "p50/p99 at front (the chain's entry) as twintop measures it; twin = its simulated present (fit) or its prediction made before the configuration ran (held out)"
    );
    println!(
        "{:<20} {:<9} {:>20} {:>20} {:>8}",
        "CONFIGURATION", "HELD OUT", "MEASURED p50/p99 ms", "TWIN p50/p99 ms", "ERROR"
    );
    for c in &r.configurations {
        println!(
            "{:<20} {:<9} {:>20} {:>20} {:>+7.1}%",
            c.name,
            if c.held_out { "yes" } else { "no (fit)" },
            format!("{:.1} / {:.1}", c.measured_p50_ms, c.measured_p99_ms),
            format!("{:.1} / {:.1}", c.twin_p50_ms, c.twin_p99_ms),
            c.error * 100.0
        );
    }
    println!(
        "median |error| of p99 {:.1} %, worst {:.1} %",
        r.median_abs_error * 100.0,
        r.worst_abs_error * 100.0
    );
    println!(
        "change: {}: predicted p99 {:.1} ms before, measured {:.1} ms after ({:+.1} %)",
        r.change.action,
        r.change.predicted_p99_ms,
        r.change.measured_p99_ms,
        r.change.error * 100.0
    );
    for n in &r.notes {
        println!("note: {n}");
    }
}
