//! Confidence 0–100 from named parts, each shown in points so they add up to the score: the
//! twin-predicted improvement, how consistently it held (across seeds; for an eviction, how
//! much of its server's load the twin can account for), forecast uncertainty, the advisor's
//! track record and agreement between advisors that did not see each other's proposals.
//! Nothing is free: a part with no evidence behind it — no forecast, an advisor with no
//! record, no other advisor on the target — does not apply, counts 0 and its weight goes to
//! the parts that do, so the score is what the evidence shows and nothing more. The model's
//! own stated confidence is not a part: it never decides between proposals.
//! The twin's fidelity (its simulated present of the target beside what is measured now) is a
//! part too, and a cap: a prediction from a twin that misses the present by more than
//! `FIDELITY_MISS` never scores above `MISS_CAP`.

use super::proposal::{Confidence, Prediction};
use std::collections::BTreeMap;

/// Relative weights of the parts.
const W_IMPROVEMENT: f64 = 40.0;
const W_CONSISTENCY: f64 = 20.0;
const W_FORECAST: f64 = 10.0;
const W_TRACK: f64 = 15.0;
const W_AGREEMENT: f64 = 10.0;
const W_FIDELITY: f64 = 15.0;

/// |twin/measured − 1| of the target's p99 now beyond which the twin is not trusted.
pub const FIDELITY_MISS: f64 = 0.25;
/// The highest score a prediction from such a twin gets.
pub const MISS_CAP: u32 = 50;

/// A p99 reduction of this fraction counts as the full improvement part.
const FULL_IMPROVEMENT: f64 = 0.5;
/// An eviction that brings its server down to this CPU share (of allocatable) or lower counts
/// as the full improvement part.
const COOL_SERVER: f64 = 0.7;

/// The names of the parts, as every confidence lists them.
pub(crate) const PARTS: [&str; 6] =
    ["agreement", "consistency", "fidelity", "forecast", "improvement", "track_record"];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Agreement {
    /// Another advisor, independently, proposed the same change.
    Agreed,
    /// No independent advisor spoke about this target.
    Alone,
    /// Another advisor proposed a different change on the same target.
    Contradicted,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Inputs<'a> {
    pub prediction: Option<&'a Prediction>,
    /// Forecast interval width relative to its point value, when a forecast motivated it.
    pub forecast_uncertainty: Option<f64>,
    /// Posterior mean success rate of this advisor; `None` when it has no record yet.
    pub track_record: Option<f64>,
    pub agreement: Agreement,
    /// For an eviction: the share of its server's CPU the server's pods account for.
    pub explained: Option<f64>,
}

/// The predicted improvement as a value in 0..1. For a workload: half from the target's p99,
/// half from SLO violations fixed; a change predicted to add violations scores 0. For an
/// eviction: how far its server comes down towards `COOL_SERVER`.
pub(crate) fn improvement_value(p: &Prediction) -> f64 {
    if let Some(cpu) = p.server_cpu {
        let (b, a) = (cpu.before.mean, cpu.after.mean);
        let room = (b - COOL_SERVER).max(0.05);
        return ((b - a) / room).clamp(0.0, 1.0);
    }
    let (b, a) = (p.p99_ms.before.mean, p.p99_ms.after.mean);
    let p99 = if b > 0.0 { ((b - a) / b / FULL_IMPROVEMENT).clamp(0.0, 1.0) } else { 0.0 };
    let (vb, va) = (p.slo_violations.before.mean, p.slo_violations.after.mean);
    if va > vb + 1e-9 {
        return 0.0;
    }
    let slo = if vb > 0.0 { ((vb - va) / vb).clamp(0.0, 1.0) } else { p99 };
    0.5 * p99 + 0.5 * slo
}

/// The twin's error on the target now: its simulated p99 before the change over the one
/// measured, minus 1. None without a measurement, and for the analytic model, whose baseline is
/// the measured p99 by construction (what it does not model is kept as a constant): there the
/// before says nothing about the twin's fit.
pub fn fidelity_error(p: &Prediction) -> Option<f64> {
    if p.model == "analytic" {
        return None;
    }
    let m = p.measured_p99_ms.filter(|m| m.is_finite() && *m > 0.0)?;
    let b = p.p99_ms.before.mean;
    b.is_finite().then(|| b / m - 1.0)
}

pub(crate) fn score(i: &Inputs) -> Confidence {
    let improvement = i.prediction.map(improvement_value).unwrap_or(0.0);
    let consistency = match (i.explained, i.prediction) {
        (Some(share), _) => share.clamp(0.0, 1.0),
        (None, Some(p)) if p.seeds > 0 => p.improved_seeds as f64 / p.seeds as f64,
        _ => 0.0,
    };
    let forecast = i.forecast_uncertainty.map(|u| (1.0 - u).clamp(0.0, 1.0));
    let agreement = match i.agreement {
        Agreement::Agreed => Some(1.0),
        Agreement::Alone => None,
        Agreement::Contradicted => Some(0.0),
    };
    let miss = i.prediction.and_then(fidelity_error).map(f64::abs);
    // Full points within 5 %, none at the miss threshold.
    let fidelity = miss.map(|e| (1.0 - (e - 0.05).max(0.0) / (FIDELITY_MISS - 0.05)).clamp(0.0, 1.0));
    let parts: [(&str, f64, Option<f64>); 6] = [
        ("improvement", W_IMPROVEMENT, Some(improvement)),
        ("consistency", W_CONSISTENCY, Some(consistency)),
        ("forecast", W_FORECAST, forecast),
        ("track_record", W_TRACK, i.track_record.map(|t| t.clamp(0.0, 1.0))),
        ("agreement", W_AGREEMENT, agreement),
        ("fidelity", W_FIDELITY, fidelity),
    ];
    let total: f64 = parts.iter().filter(|p| p.2.is_some()).map(|p| p.1).sum();
    let mut out = BTreeMap::new();
    let mut sum = 0.0;
    for (name, w, v) in parts {
        let points = v.map(|v| 100.0 * w / total * v).unwrap_or(0.0);
        let points = (points * 10.0).round() / 10.0;
        sum += points;
        out.insert(name.to_string(), points);
    }
    let mut score = sum.round().clamp(0.0, 100.0) as u32;
    if miss.is_some_and(|e| e > FIDELITY_MISS) && score > MISS_CAP {
        // The parts stay as computed; the cap is what the twin's miss costs on top.
        out.insert("fidelity_cap".to_string(), MISS_CAP as f64 - score as f64);
        score = MISS_CAP;
    }
    Confidence { score, parts: out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advise::proposal::{BeforeAfter, Spread};

    fn pred(b: f64, a: f64, vb: f64, va: f64, improved: usize) -> Prediction {
        let ba = |b: f64, a: f64| BeforeAfter { before: Spread::of(&[b]), after: Spread::of(&[a]) };
        Prediction {
            model: "sim".into(),
            seeds: 8,
            horizon_s: 300,
            p99_ms: ba(b, a),
            measured_p99_ms: None,
            slo_violations: ba(vb, va),
            cost_per_hour: ba(1.0, 1.0),
            rub: ba(0.5, 0.5),
            server_cpu: None,
            improved_seeds: improved,
        }
    }

    fn inputs(p: &Prediction) -> Inputs<'_> {
        Inputs {
            prediction: Some(p),
            forecast_uncertainty: None,
            track_record: None,
            agreement: Agreement::Alone,
            explained: None,
        }
    }

    #[test]
    fn parts_add_up_and_every_part_is_shown() {
        let p = pred(1000.0, 200.0, 2.0, 0.0, 8);
        let c = score(&inputs(&p));
        let names: Vec<&str> = c.parts.keys().map(String::as_str).collect();
        assert_eq!(names, PARTS);
        assert!((c.parts.values().sum::<f64>() - c.score as f64).abs() <= 0.6);
        assert_eq!(c.parts["forecast"], 0.0);
        // Full improvement and consistency, nothing else to go by: the twin's evidence is all.
        assert_eq!(c.score, 100);
        assert_eq!((c.parts["track_record"], c.parts["agreement"]), (0.0, 0.0));
    }

    #[test]
    fn no_free_points_without_evidence() {
        // A change the twin predicts does nothing gets nothing, whoever proposes it.
        let nothing = pred(30.0, 30.0, 0.0, 0.0, 0);
        assert_eq!(score(&inputs(&nothing)).score, 0);
        // Half an improvement, half the seeds: half the score, with or without a record.
        let half = pred(1000.0, 750.0, 0.0, 0.0, 4);
        assert_eq!(score(&inputs(&half)).score, 50);
        let poor = Inputs { track_record: Some(0.2), ..inputs(&half) };
        assert!(score(&poor).score < 50);
        let good = Inputs { track_record: Some(0.9), ..inputs(&half) };
        assert!(score(&good).score > 50);
    }

    #[test]
    fn worse_predictions_and_disagreement_lower_the_score() {
        let good = pred(1000.0, 200.0, 2.0, 0.0, 8);
        let worse = pred(1000.0, 1200.0, 2.0, 3.0, 0);
        assert_eq!(improvement_value(&worse), 0.0);
        let g = score(&inputs(&good)).score;
        assert!(score(&inputs(&worse)).score < g / 2);
        let contradicted = Inputs { agreement: Agreement::Contradicted, ..inputs(&good) };
        assert!(score(&contradicted).score < g);
        let fair = pred(1000.0, 700.0, 2.0, 1.0, 5);
        let f = score(&inputs(&fair)).score;
        let agreed = Inputs { agreement: Agreement::Agreed, ..inputs(&fair) };
        assert!(score(&agreed).score > f);
    }

    #[test]
    fn an_eviction_is_scored_by_its_servers_relief_and_how_much_of_its_load_the_twin_explains() {
        let relief = |b: f64, a: f64| BeforeAfter { before: Spread::of(&[b]), after: Spread::of(&[a]) };
        let p = Prediction { server_cpu: Some(relief(0.97, 0.70)), ..pred(50.0, 50.0, 0.0, 0.0, 0) };
        let all = score(&Inputs { explained: Some(1.0), ..inputs(&p) }).score;
        assert_eq!(all, 100);
        // A runaway process no pod explains: most of the relief is not the twin's to promise.
        let runaway = score(&Inputs { explained: Some(0.3), ..inputs(&p) }).score;
        assert!(runaway < 80, "{runaway}");
    }

    #[test]
    fn a_twin_that_misses_the_present_never_scores_high() {
        // The same strong prediction from a twin that reproduces the present, and from one
        // whose simulated p99 now is half the measured (the checkout surge before #12).
        let mut good = pred(1000.0, 200.0, 2.0, 0.0, 8);
        good.measured_p99_ms = Some(1020.0);
        let mut off = good.clone();
        off.measured_p99_ms = Some(2000.0);
        let (g, o) = (score(&inputs(&good)), score(&inputs(&off)));
        assert!(g.score > 80, "{g:?}");
        // Improvement, consistency and fidelity apply (40 + 20 + 15): fidelity's 15 of 75.
        assert!((g.parts["fidelity"] - 100.0 * 15.0 / 75.0).abs() < 0.1, "{g:?}");
        assert_eq!(o.score, MISS_CAP, "{o:?}");
        assert_eq!(o.parts["fidelity"], 0.0);
        assert!((o.parts.values().sum::<f64>() - o.score as f64).abs() <= 0.6, "parts still add up: {o:?}");
        // Within the threshold the score falls with the error, without the cap.
        let mut near = good.clone();
        near.measured_p99_ms = Some(1000.0 / 1.15);
        let n = score(&inputs(&near));
        assert!(n.score < g.score && n.score > MISS_CAP, "{n:?}");
        // The analytic model's baseline is the measurement itself: no fidelity to judge.
        let analytic = Prediction { model: "analytic".into(), ..off };
        assert_eq!(fidelity_error(&analytic), None);
        assert_eq!(score(&inputs(&analytic)).parts["fidelity"], 0.0);
    }
}
