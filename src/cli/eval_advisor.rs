//! `twintop eval advisor --demo`: the advisors' calibration on simulated demo incidents — the
//! precision of the queue (shown proposals that succeeded), success per source, the reliability
//! table (confidence bucket → observed success rate), and with an LLM (live with `--llm-url`,
//! or answers recorded with `--llm-record`, replayed with `--llm-answers`) how its answers
//! fared. Every trial with `--json`.

use crate::advise::calibrate::{
    AFTER_STATE_TOLERANCE, Evaluation, INCIDENT_TICKS, Incident, MIN_PER_BUCKET, effect_fit, incidents,
    reliability, rising, trials,
};
use crate::advise::llm::replay::{RecordedAnswer, Recording};
use crate::advise::llm::{self, LlmAdvisor, config::LlmConfig, locate_evictions, read_exchange};
use crate::advise::{Candidate, EvaluatorKind, Guardrails, Proposal};
use crate::source::SourceArgs;
use crate::text::escape;
use crate::twin::Snapshot;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct AdvisorEvalArgs {
    /// Demo seeds to run (1..=N), each at 8 moments of the incident script.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = crate::bounds::int(1u64, 1000))]
    pub incidents: u64,
    /// Seconds observed after each change.
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = crate::bounds::int(1u32, 3600))]
    pub window: u32,
    /// How proposals are predicted and scored, as in `twintop advise`: `sim` or `analytic`.
    #[arg(long, value_name = "MODEL", default_value = "sim", value_parser = EvaluatorKind::NAMES)]
    pub evaluator: String,
    /// Simulated seconds per evaluation run (with `--evaluator sim`).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = crate::bounds::int(1u32, 3600))]
    pub horizon: u32,
    /// A reliability bucket is merged with its neighbour until it holds this many proposals.
    #[arg(long, value_name = "N", default_value_t = MIN_PER_BUCKET)]
    pub min_per_bucket: usize,
    /// Replay the LLM answers recorded in FILE (by `--llm-record`) instead of asking a model.
    #[arg(long, value_name = "FILE", conflicts_with = "llm_record")]
    pub llm_answers: Option<PathBuf>,
    /// With `--llm-url`: save every answer to FILE, to replay with `--llm-answers`.
    #[arg(long, value_name = "FILE")]
    pub llm_record: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How the LLM's answers were obtained, for the summary.
struct LlmRun {
    source: String,
    elapsed_s: Vec<f64>,
    /// Replayed answers whose prompt differs from the one built now.
    prompt_changed: usize,
    missing: usize,
}

pub(crate) fn run(src: &SourceArgs, a: &AdvisorEvalArgs) -> anyhow::Result<i32> {
    let Some(preset) = src.demo else {
        anyhow::bail!("eval advisor runs on simulated incidents of the demo: add --demo");
    };
    if a.llm_record.is_some() && src.llm_url.is_none() {
        anyhow::bail!("--llm-record saves a model's answers: add --llm-url");
    }
    let seeds: Vec<u64> = (1..=a.incidents.max(1)).collect();
    let evaluator = EvaluatorKind::parse(&a.evaluator).unwrap_or_default().build(a.horizon);
    let list = incidents(preset, &seeds, &INCIDENT_TICKS);
    let cfg = LlmConfig::load().map_err(anyhow::Error::msg)?;
    let g = Guardrails::default();

    let (eval, run) = if let Some(path) = &a.llm_answers {
        let rec = Recording::load(path)?;
        let advisor = LlmAdvisor::new("http://recorded/v1", Some(&rec.model), None).with_config(&cfg);
        let mut run =
            LlmRun { source: advisor.source(), elapsed_s: Vec::new(), prompt_changed: 0, missing: 0 };
        let mut ask = |inc: &Incident, snap: &Arc<Snapshot>, offered: &[Proposal]| -> Vec<Candidate> {
            let ask = advisor.ask(snap, &g, offered);
            let Some(r) = rec.find(inc.preset.name(), inc.seed, inc.tick) else {
                run.missing += 1;
                return Vec::new();
            };
            let request: serde_json::Value = serde_json::from_str(&ask.body).unwrap_or_default();
            if llm::replay::prompt_sha256(&request) != r.prompt_sha256 {
                run.prompt_changed += 1;
            }
            run.elapsed_s.push(r.elapsed_s);
            let mut c =
                read_exchange(&r.to_exchange("recorded"), &ask, &run.source, snap.time, cfg.max_answer_bytes)
                    .candidates;
            locate_evictions(snap, &mut c);
            c
        };
        let eval = trials(&list, a.window, evaluator.as_ref(), Some(&mut ask));
        (eval, Some(run))
    } else if let Some(advisor) = src.llm_advisor(None) {
        let advisor = advisor.with_config(&cfg);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let model = src.llm_model.clone().unwrap_or_else(|| llm::DEFAULT_MODEL.to_string());
        let mut rec = Recording {
            model: model.clone(),
            served_by: escape(&advisor.client.url).into_owned(),
            recorded: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            note: String::new(),
            answers: Vec::new(),
        };
        let mut run =
            LlmRun { source: advisor.source(), elapsed_s: Vec::new(), prompt_changed: 0, missing: 0 };
        let total = list.len();
        let mut ask = |inc: &Incident, snap: &Arc<Snapshot>, offered: &[Proposal]| -> Vec<Candidate> {
            let (_tx, cancel) = tokio::sync::watch::channel(false);
            let started = Instant::now();
            let out = rt.block_on(advisor.advise(snap, &g, snap.time, offered, cancel));
            let secs = started.elapsed().as_secs_f64();
            run.elapsed_s.push(secs);
            eprintln!(
                "LLM answer {}/{total} (seed {} tick {}): {:.1} s, {} action(s){}",
                run.elapsed_s.len(),
                inc.seed,
                inc.tick,
                secs,
                out.actions,
                out.stopped.as_deref().map(|s| format!("; stopped early: {}", escape(s))).unwrap_or_default()
            );
            rec.answers.push(RecordedAnswer::from_exchange(
                inc.preset.name(),
                inc.seed,
                inc.tick,
                &out.exchange,
                secs,
                &out.offers,
            ));
            out.candidates
        };
        let eval = trials(&list, a.window, evaluator.as_ref(), Some(&mut ask));
        if let Some(path) = &a.llm_record {
            rec.save(path)?;
            eprintln!("{} answers recorded to {}", rec.answers.len(), path.display());
        }
        (eval, Some(run))
    } else {
        (trials(&list, a.window, evaluator.as_ref(), None), None)
    };

    let table = reliability(&eval.trials, a.min_per_bucket);
    if a.json {
        let llm = run.as_ref().map(|r| {
            serde_json::json!({
                "source": r.source, "answers": eval.answers, "elapsed_s": r.elapsed_s,
                "median_answer_s": median(&r.elapsed_s), "prompt_changed": r.prompt_changed, "missing": r.missing,
            })
        });
        let doc = serde_json::json!({
            "buckets": table, "rising": rising(&table), "precision": precision(&eval),
            "trials": eval.trials, "llm": llm,
            "predicted_vs_measured": effect_fit(&eval.trials),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(0);
    }
    print_report(a, &seeds, &eval, &table, run.as_ref());
    Ok(0)
}

fn precision(e: &Evaluation) -> Option<f64> {
    let ok = e.trials.iter().filter(|t| t.success).count();
    (!e.trials.is_empty()).then(|| ok as f64 / e.trials.len() as f64)
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 { "-".into() } else { format!("{:.0} %", a as f64 / b as f64 * 100.0) }
}

fn print_report(
    a: &AdvisorEvalArgs,
    seeds: &[u64],
    eval: &Evaluation,
    table: &[crate::advise::calibrate::Bucket],
    run: Option<&LlmRun>,
) {
    let t = &eval.trials;
    println!(
        "{} incidents ({} demo seeds × {} moments), {} proposals shown and applied, {} s observed after each, predicted by {}",
        seeds.len() * INCIDENT_TICKS.len(),
        seeds.len(),
        INCIDENT_TICKS.len(),
        t.len(),
        a.window,
        a.evaluator
    );
    println!(
        "success: the SLO restored (for a server: no longer hot) and the after-state measured over the window's \
         second half within ±{:.0} % of the prediction",
        AFTER_STATE_TOLERANCE * 100.0
    );
    let mut sources: Vec<&str> = t.iter().map(|t| t.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    println!(
        "\n{:<26} {:>6} {:>9} {:>9} {:>8} {:>8}",
        "SOURCE", "SHOWN", "RESTORED", "SUCCEEDED", "RATE", "HARMFUL"
    );
    for s in &sources {
        let of: Vec<_> = t.iter().filter(|t| t.source == *s).collect();
        let ok = of.iter().filter(|t| t.success).count();
        println!(
            "{:<26} {:>6} {:>9} {:>9} {:>8} {:>8}",
            escape(s),
            of.len(),
            of.iter().filter(|t| t.slo_restored).count(),
            ok,
            pct(ok, of.len()),
            of.iter().filter(|t| t.harmful).count()
        );
    }
    let ok = t.iter().filter(|t| t.success).count();
    println!(
        "precision of the queue: {ok} of {} shown proposals succeeded ({}; the target is ≥ 70 %)",
        t.len(),
        pct(ok, t.len())
    );
    println!("\n{:<12} {:>9} {:>9} {:>8}", "CONFIDENCE", "PROPOSALS", "SUCCESSES", "RATE");
    for b in table {
        let rate = b.success_rate.map(|r| format!("{:.0} %", r * 100.0)).unwrap_or_else(|| "-".into());
        println!("{:<12} {:>9} {:>9} {:>8}", format!("{}–{}", b.from, b.to), b.proposals, b.successes, rate);
    }
    let thin = table.iter().filter(|b| b.proposals < a.min_per_bucket).count();
    println!(
        "success {} with confidence across {} bucket(s){}",
        if rising(table) { "rises (never falls)" } else { "does NOT rise" },
        table.len(),
        if thin > 0 {
            format!(" ({thin} with fewer than {} proposals: too few incidents)", a.min_per_bucket)
        } else {
            format!(", each of ≥ {} proposals", a.min_per_bucket)
        }
    );
    let high: Vec<_> = t.iter().filter(|t| t.confidence >= 80).collect();
    let hok = high.iter().filter(|t| t.success).count();
    println!(
        "confidence ≥ 80: {hok} of {} succeeded ({}; the target is ≥ 80 %)",
        high.len(),
        pct(hok, high.len())
    );
    if let Some(r) = run {
        // At a quiet moment the right answer is no action: the yield is counted at incidents.
        let at_incident = |tick: u32| {
            let t = tick as u64 % crate::demo::INCIDENT_PERIOD;
            crate::demo::SURGE.contains(&t) || crate::demo::HOT_SERVER.contains(&t)
        };
        let inc: Vec<_> = eval.answers.iter().filter(|x| at_incident(x.tick)).collect();
        let with = inc.iter().filter(|x| x.valid > 0).count();
        let quiet: Vec<_> = eval.answers.iter().filter(|x| !at_incident(x.tick)).collect();
        let harmful = t.iter().filter(|t| t.source == r.source && t.harmful).count();
        let endorsed_harmful = t.iter().filter(|t| t.harmful && t.endorsed_by.contains(&r.source)).count();
        println!(
            "\nLLM {}: {} answers at incidents, {with} with at least one valid action ({}; the target is ≥ 80 %); \
             {} actions read in all, {} valid proposals of its own, {} chosen from the candidates",
            escape(&r.source),
            inc.len(),
            pct(with, inc.len()),
            eval.answers.iter().map(|x| x.actions).sum::<usize>(),
            t.iter().filter(|t| t.source == r.source).count(),
            t.iter().filter(|t| t.endorsed_by.contains(&r.source)).count(),
        );
        println!(
            "harmful (measured worse than leaving the cluster alone): {harmful} of its own valid proposals, \
             {endorsed_harmful} of those it chose (the target is 0); at {} quiet moments {} answers proposed a valid action",
            quiet.len(),
            quiet.iter().filter(|x| x.valid > 0).count()
        );
        if let Some(m) = median(&r.elapsed_s) {
            println!("median answer {m:.1} s (of {} answers)", r.elapsed_s.len());
        }
        if r.prompt_changed > 0 || r.missing > 0 {
            println!(
                "replayed: {} answers were recorded for a prompt that has changed since; {} incidents had no recorded answer",
                r.prompt_changed, r.missing
            );
        }
    }
    match effect_fit(t) {
        Some(f) => println!(
            "predicted vs measured p99 of the target after the change: median |error| {:.0} %, worst {:.0} %, {:.0} % of {} within ±20 % (target: within ±20 %)",
            f.median_abs_error * 100.0,
            f.worst_abs_error * 100.0,
            f.within_20pct * 100.0,
            f.trials
        ),
        None => println!("predicted vs measured: no applied proposal had a workload target"),
    }
}
