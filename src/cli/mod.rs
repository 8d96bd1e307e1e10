//! The command line: one shape for everything. `twintop` opens the console; each headless
//! subcommand takes the same source flags and prints a table, or JSON with `--json`.

pub mod advise;
pub mod audit;
pub mod bench;
pub mod eval;
mod eval_advisor;
mod eval_forecast;
mod eval_placement;
pub mod sim;
pub mod twin;
pub mod whatif;

use crate::source::SourceArgs;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "twintop",
    version,
    about = "A terminal operations console for Kubernetes SREs, built on a local digital twin",
    long_about = "twintop keeps a local digital twin of a Kubernetes deployment (from the cluster API \
and VictoriaMetrics, from manifests, or from its embedded demo datacenter), draws heatmaps of \
per-server utilisation balance, latency and bandwidth, runs what-if scenarios in a request-level \
simulator and proposes changes that an operator approves before anything touches the cluster.\n\n\
With no subcommand it opens the console. With no source flag it uses the current kubeconfig \
context, or the embedded demo when no kubeconfig is found.",
    after_help = "Examples:\n  twintop --demo                 the console on the embedded demo datacenter\n  \
twintop --demo=mec             the KubeTwin MEC federation preset\n  \
twintop twin --demo --json     the demo twin as JSON\n  \
twintop --manifests k8s/       explore a deployment from its manifests"
)]
pub struct Cli {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Theme name (from themes/ or the config dir's themes/).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,

    /// Nothing can be applied to the cluster: proposals can be read and rejected, not approved.
    #[arg(long, global = true)]
    pub readonly: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the current twin: servers, workloads, call graph and KPIs.
    Twin(twin::TwinArgs),
    /// Print and verify the audit log of approved, rejected and applied changes.
    Audit(audit::AuditArgs),
    /// Proposals from the built-in and LLM advisors, checked and scored on the twin.
    ///
    /// The confidence's track_record part is each advisor's record of past approved proposals
    /// (predicted vs observed p99 after the console's SLO watch), read from advisor-record.json
    /// in the data dir ($TWINTOP_DATA_DIR).
    Advise(advise::AdviseArgs),
    /// Evaluations against the papers' figures: placement, forecast, advisor calibration.
    Eval(eval::EvalArgs),
    /// Run a what-if scenario in the request-level simulator (or sweep a setting).
    Sim(sim::SimArgs),
    /// Benchmarks that print measured figures (build with --release).
    Bench(bench::BenchArgs),
    /// Run a what-if script on the twin (the console's language): baseline vs scenario.
    Whatif(whatif::WhatifArgs),
}

/// Runs a headless subcommand; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Some(Command::Twin(a)) => twin::run(&cli.source, &a),
        Some(Command::Audit(a)) => audit::run(&cli.source, &a),
        Some(Command::Advise(a)) => advise::run(&cli.source, &a),
        Some(Command::Eval(a)) => eval::run(&cli.source, &a),
        Some(Command::Sim(a)) => sim::run(&cli.source, &a),
        Some(Command::Bench(a)) => bench::run(&cli.source, &a),
        Some(Command::Whatif(a)) => whatif::run(&cli.source, &a),
        None => unreachable!("the console is started by main"),
    }
}
