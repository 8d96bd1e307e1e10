//! The command line: one shape for everything. `twintop` opens the console; each headless
//! subcommand takes the same source flags and prints a table, or JSON with `--json`.

pub(crate) mod advise;
pub(crate) mod audit;
pub mod bench;
pub(crate) mod decide;
pub(crate) mod eval;
mod eval_advisor;
mod eval_fidelity;
mod eval_forecast;
mod eval_placement;
pub(crate) mod fidelity;
pub(crate) mod operator;
pub(crate) mod sim;
pub(crate) mod twin;
pub(crate) mod whatif;

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

    /// Nothing can be applied to the cluster: proposals can be read and rejected, not approved or
    /// scheduled.
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
    /// How well the twin reproduces what it measures: simulated vs measured p99 per workload.
    Fidelity(fidelity::FidelityArgs),
    /// Approve a proposal by its id (from `twintop advise` or the console): shows the diff and
    /// the context, asks (or not, with --yes), then the audited dry run and apply.
    ///
    /// The decision is made by the process that owns the data dir — a running console or
    /// `twintop operator` — on its twin and cluster, with its guardrails; the proposal is
    /// re-validated there first. With none running, this command decides on a live cluster
    /// itself; the demo needs a running twintop (its cluster lives inside it); manifests accept
    /// no changes. Exit 0 applied, 2 unknown id or nothing to apply to here, 3 refused (the
    /// rule is named), 4 the cluster refused, 5 declined.
    Approve(decide::ApproveArgs),
    /// Reject a proposal by its id, with a reason (audited).
    Reject(decide::RejectArgs),
    /// Put a proposal on the calendar (re-validated now, and again when its time comes).
    ///
    /// Refused in --readonly mode. It fires in the process that owns the data dir (a console or
    /// `twintop operator`); one that comes due while none runs, and more than 60 s late, waits
    /// for an operator's approval.
    Schedule(decide::ScheduleArgs),
    /// Run without a terminal: fire scheduled actions, watch applied changes and roll them back,
    /// answer approve/reject/schedule. Runs until SIGTERM/SIGINT.
    Operator(operator::OperatorArgs),
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
        Some(Command::Fidelity(a)) => fidelity::run(&cli.source, &a),
        Some(Command::Approve(a)) => decide::approve(&cli.source, cli.readonly, &a),
        Some(Command::Reject(a)) => decide::reject(&cli.source, &a),
        Some(Command::Schedule(a)) => decide::schedule(&cli.source, cli.readonly, &a),
        Some(Command::Operator(a)) => operator::run(&cli.source, cli.readonly, &a),
        None => unreachable!("the console is started by main"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_flags_are_global_before_or_after_the_subcommand() {
        let cli = Cli::try_parse_from(["twintop", "--demo", "--llm-url", "http://h/v1", "--llm-model", "q"])
            .unwrap();
        assert!(cli.command.is_none(), "no subcommand: the console");
        assert_eq!(cli.source.llm_model.as_deref(), Some("q"));
        for args in [
            ["twintop", "advise", "--llm-url", "http://h/v1", "--llm-model", "m1"],
            ["twintop", "--llm-url", "http://h/v1", "--llm-model", "m1", "advise"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(matches!(cli.command, Some(Command::Advise(_))));
            assert_eq!(cli.source.llm_model.as_deref(), Some("m1"), "{args:?}");
        }
        let cli = Cli::try_parse_from(["twintop", "advise", "--llm-timeout", "30"]).unwrap();
        assert_eq!(cli.source.llm_timeout, 30, "after the subcommand too");
    }
}
