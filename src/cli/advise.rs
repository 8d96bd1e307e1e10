//! `twintop advise`: proposals from the built-in advisors and, with `--llm-url`, an LLM —
//! validated, predicted on the twin and scored — as a table or `{"proposals":[…]}` JSON.

use crate::advise::llm::client::Progress;
use crate::advise::llm::{self, audit};
use crate::advise::{
    Context, EvaluatorKind, Guardrails, Proposal, ProposalsDoc, Status, TrackRecord, assess, assess_reusing,
    builtin, record,
};
use crate::source::{self, SourceArgs};
use crate::text::escape;
use clap::Args;
use std::io::IsTerminal;

#[derive(Debug, Args)]
pub struct AdviseArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Never call the LLM, even with --llm-url.
    #[arg(long)]
    pub llm_offline: bool,

    /// Print the Chat Completions request the LLM advisor would send, and send nothing.
    #[arg(long)]
    pub llm_show_request: bool,

    /// Leave out the built-in advisors (LLM only).
    #[arg(long)]
    pub no_builtin: bool,

    /// Seeds each prediction is spread over.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = crate::bounds::int(1u64, 64))]
    pub seeds: u64,
    /// How proposals are checked on the twin: `sim` (the default), the request-level simulator
    /// on a scenario built from the twin, each workload's request model fitted to its measured
    /// latency and load (baseline and change on the same seeds); `analytic`, an instant M/M/c
    /// (Erlang C) model per workload over the call graph, calibrated on the twin's observed p99.
    #[arg(long, value_name = "MODEL", default_value = "sim", value_parser = EvaluatorKind::NAMES)]
    pub evaluator: String,
    /// Simulated seconds per evaluation run (with `--evaluator sim`).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = crate::bounds::int(1u32, 3600))]
    pub horizon: u32,
    /// Moves the placement optimizer may evaluate when it re-plans the cluster for pod-move
    /// proposals (deterministic effort; the default takes a few ms on a few hundred pods,
    /// 10× that is still well under the 100 ms a proposal is worth).
    #[arg(long, value_name = "MOVES", default_value_t = crate::plan::REPLAN_BUDGET,
          value_parser = crate::bounds::int(0usize, 100_000_000))]
    pub replan_budget: usize,
}

pub(crate) fn run(src: &SourceArgs, a: &AdviseArgs) -> anyhow::Result<i32> {
    let snap = source::load_snapshot(src)?;
    // The user's `[guardrails]`, as the approval flow reads them: a proposal shown valid here
    // is not refused at approval for what it is.
    let guardrails = crate::guardrails::load(&crate::paths::config_dir()).unwrap_or_else(|e| {
        eprintln!(
            "{}; validating with the default guardrails (approval refuses until it is fixed)",
            escape(&e)
        );
        Guardrails::default()
    });
    let model = src.llm_model.as_deref().unwrap_or(llm::DEFAULT_MODEL);
    let llm_config = llm::config::LlmConfig::load().map_err(anyhow::Error::msg)?;
    let data_dir = crate::paths::data_dir();
    let mut builtin_candidates = Vec::new();
    if !a.no_builtin {
        builtin_candidates.extend(builtin::roster_with(&snap, &guardrails, a.replan_budget));
    }
    let record = TrackRecord::load(&record::record_path(&data_dir))?;
    let kind = EvaluatorKind::parse(&a.evaluator).unwrap_or_default();
    let evaluator = kind.build(a.horizon);
    let ctx = Context {
        guardrails: guardrails.clone(),
        evaluator: evaluator.as_ref(),
        seeds: (1..=a.seeds.max(1)).collect(),
        record: &record,
        pending: &[],
    };
    // The built-in proposals first: the LLM is offered them, predictions and all, to choose from.
    let builtin = assess(&snap, builtin_candidates.clone(), &ctx);
    if a.llm_show_request {
        let advisor = src
            .llm_advisor(None)
            .unwrap_or_else(|| llm::LlmAdvisor::new("http://127.0.0.1/v1", Some(model), None))
            .with_config(&llm_config);
        let mut advisor = advisor;
        advisor.prompt.temperature = src.llm_temperature;
        let ask = advisor.ask(&snap, &guardrails, &builtin);
        println!("{}", serde_json::to_string_pretty(&ask.request)?);
        return Ok(0);
    }
    let proposals = match (src.llm_advisor(Some(audit::exchanges_dir(&data_dir))), a.llm_offline) {
        (Some(advisor), false) => {
            let advisor = advisor.with_config(&llm_config);
            eprintln!("asking {} (model {}) …", escape(&advisor.client.url), escape(model));
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let outcome = rt.block_on(async {
                let (tx, rx) = tokio::sync::watch::channel(false);
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        let _ = tx.send(true);
                    }
                });
                // A progress line only on a terminal: logs and pipes get the final lines only.
                let on_tty = std::io::stderr().is_terminal();
                let model = escape(model).into_owned();
                let progress = move |p: &Progress| {
                    if on_tty {
                        eprint!("\r\x1b[2KLLM {model}: {}", p.describe());
                        if p.done {
                            eprintln!();
                        }
                    }
                };
                advisor
                    .advise_with_progress(&snap, &guardrails, chrono::Utc::now(), &builtin, rx, &progress)
                    .await
            });
            if let (Some(sha), Some(file)) = (&outcome.exchange_sha256, &outcome.exchange_file) {
                eprintln!("LLM exchange saved to {} (sha256 {sha})", file.display());
            }
            if let Some(why) = &outcome.stopped {
                eprintln!(
                    "the LLM's answer stopped early: {}; {} complete action(s) kept",
                    escape(why),
                    outcome.actions
                );
            }
            let mut candidates = builtin_candidates;
            candidates.extend(outcome.candidates);
            assess_reusing(&snap, candidates, &ctx, &builtin)
        }
        (Some(_), true) => {
            eprintln!("--llm-offline: the LLM advisor is off");
            builtin
        }
        (None, _) => builtin,
    };
    // Their ids, for `twintop approve ID` / `reject` / `schedule` (kept an hour).
    if let Err(e) = crate::act::ledger::record(&data_dir, &proposals, "advise", chrono::Utc::now()) {
        eprintln!("proposals not recorded for approve/reject/schedule: {}", escape(&e));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&ProposalsDoc { proposals })?);
    } else {
        print_table(&proposals);
    }
    Ok(0)
}

fn print_table(proposals: &[Proposal]) {
    if proposals.is_empty() {
        println!("no proposals: no SLO breach, overloaded workload or hot server found");
        return;
    }
    println!(
        "{:<16} {:<8} {:>4} {:<20} {:<34} {:<24} {:>8} {:>17} {:>9}  REASON",
        "ID", "STATUS", "CONF", "SOURCE", "TARGET", "ACTION", "P99 NOW", "P99 ms (→)", "SLO ✗"
    );
    for p in proposals {
        let action = p.action.as_ref().map(short).unwrap_or_else(|| "-".into());
        let action = match p.when {
            Some(t) => format!("{action} at {}Z", t.format("%H:%M:%S")),
            None => action,
        };
        let now = p
            .predicted
            .as_ref()
            .and_then(|x| x.measured_p99_ms)
            .map_or_else(|| "-".to_string(), |ms| format!("{ms:.0}"));
        let (p99, slo) = match &p.predicted {
            Some(x) => (
                format!(
                    "{:.0}→{:.0}±{:.0}",
                    x.p99_ms.before.mean,
                    x.p99_ms.after.mean,
                    (x.p99_ms.after.max - x.p99_ms.after.min) / 2.0
                ),
                format!("{:.1}→{:.1}", x.slo_violations.before.mean, x.slo_violations.after.mean),
            ),
            None => ("-".into(), "-".into()),
        };
        let status = match p.status {
            Status::Valid => "valid",
            Status::Rejected => "rejected",
        };
        let why = match &p.rejection {
            Some(r) => format!("REJECTED: {r} (advisor: {})", p.reason),
            None => p.reason.clone(),
        };
        println!(
            "{:<16} {:<8} {:>4} {:<20} {:<34} {:<24} {:>8} {:>17} {:>9}  {}",
            p.id,
            status,
            p.confidence.score,
            escape(&p.source),
            escape(&cut(&p.target, 34)),
            escape(&cut(&action, 24)),
            now,
            p99,
            slo,
            escape(&why)
        );
    }
    if let Some(p) = proposals.iter().find(|p| p.status == Status::Valid) {
        let parts: Vec<String> = p.confidence.parts.iter().map(|(k, v)| format!("{k} {v:.1}")).collect();
        println!("\nconfidence of {}: {} = {}", p.id, p.confidence.score, parts.join(" + "));
    }
}

/// The action without its target (the table shows the target beside it).
fn short(c: &crate::change::Change) -> String {
    use crate::change::Change;
    match c {
        Change::Scale { replicas, .. } => format!("scale to {replicas}"),
        Change::HpaBounds { min, max, .. } => format!("HPA min {min} max {max}"),
        Change::Cordon { cordon: true, .. } => "cordon".into(),
        Change::Cordon { cordon: false, .. } => "uncordon".into(),
        Change::Evict { to: Some(to), .. } => format!("evict (twin expects it on {to})"),
        Change::Evict { to: None, .. } => "evict".into(),
    }
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}
