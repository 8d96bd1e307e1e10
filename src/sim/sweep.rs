//! Parameter sweeps: the same scenario with one setting varied, run in parallel (rayon), and
//! the smallest setting that meets the SLO.

use super::engine::SimError;
use super::scenario::Scenario;
use super::stats::Summary;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What varies: `replicas=1..20` (every service) or `replicas.SERVICE=1..20`.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepParam {
    pub service: Option<String>,
    pub values: Vec<u32>,
}

impl SweepParam {
    pub fn parse(s: &str) -> Result<SweepParam, String> {
        let (key, range) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected replicas=FROM..TO"))?;
        let service = match key.strip_prefix("replicas") {
            Some("") => None,
            Some(rest) => Some(
                rest.strip_prefix('.')
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| format!("{key:?}: expected `replicas` or `replicas.SERVICE`"))?
                    .to_string(),
            ),
            None => return Err(format!("{key:?}: only `replicas` can be swept")),
        };
        let (a, b) = range.split_once("..").ok_or_else(|| format!("{range:?}: expected FROM..TO"))?;
        let b = b.strip_prefix('=').unwrap_or(b);
        let num = |x: &str| x.trim().parse::<u32>().map_err(|_| format!("{x:?} is not a whole number"));
        let (a, b) = (num(a)?, num(b)?);
        if a == 0 || a > b || b - a > 10_000 {
            return Err(format!("{range:?}: need 1 ≤ FROM ≤ TO (at most 10,000 points)"));
        }
        Ok(SweepParam { service, values: (a..=b).collect() })
    }

    /// The scenario with the setting applied: fixed replicas, autoscaling off for the swept
    /// services (a sweep asks what a static deployment does).
    pub(crate) fn apply(&self, sc: &Scenario, v: u32) -> Result<Scenario, String> {
        let mut out = sc.clone();
        if let Some(n) = &self.service
            && !out.services.iter().any(|s| &s.name == n)
        {
            return Err(format!("no service named {n:?} in the scenario"));
        }
        for s in &mut out.services {
            if self.service.as_ref().is_none_or(|n| *n == s.name) {
                s.replicas = v;
                s.autoscaler = None;
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    pub value: u32,
    pub ttr_ms: Summary,
    pub drops: u64,
    pub slo_met: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepResult {
    pub points: Vec<SweepPoint>,
    /// The smallest value whose run meets the SLO (None without an SLO or when none does).
    pub best: Option<u32>,
}

/// Runs every value with the same seed (common random numbers make the curve smooth);
/// `progress(done, total)` is called as points finish, from worker threads.
pub fn sweep(
    sc: &Scenario,
    p: &SweepParam,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepResult, SimError> {
    let variants: Vec<Scenario> =
        p.values.iter().map(|&v| p.apply(sc, v)).collect::<Result<_, _>>().map_err(SimError::Scenario)?;
    let done = AtomicUsize::new(0);
    let total = variants.len();
    let points: Vec<SweepPoint> = variants
        .par_iter()
        .zip(p.values.par_iter())
        .map(|(v, &value)| {
            let out = super::run(v, seed)?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            Ok(SweepPoint { value, ttr_ms: out.ttr_ms, drops: out.drops.total(), slo_met: out.slo.met })
        })
        .collect::<Result<_, SimError>>()?;
    let best = if sc.slo.is_some() { points.iter().find(|p| p.slo_met).map(|p| p.value) } else { None };
    Ok(SweepResult { points, best })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sweep_specs() {
        assert_eq!(
            SweepParam::parse("replicas=1..3").unwrap(),
            SweepParam { service: None, values: vec![1, 2, 3] }
        );
        assert_eq!(SweepParam::parse("replicas.ms1=2..=3").unwrap().service.as_deref(), Some("ms1"));
        assert!(SweepParam::parse("cpu=1..3").is_err());
        assert!(SweepParam::parse("replicas=0..3").is_err());
        assert!(SweepParam::parse("replicas=5..3").is_err());
        assert!(SweepParam::parse("replicas=a..3").is_err());
    }
}
