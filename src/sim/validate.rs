//! Reading and checking scenarios: YAML parsing with positions, validation of references and
//! numbers with the field path and (best effort) the line, and rate series from CSV.

use super::scenario::*;
use crate::twin::Dist;
use std::collections::HashSet;

impl Scenario {
    /// Parses and validates YAML. `origin` names the text in errors (usually the file path).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let sc: Scenario = serde_saphyr::from_str(text).map_err(|e| {
            let at = match e.location() {
                Some(l) if l.line() > 0 => format!("{origin}:{}:{}", l.line(), l.column()),
                _ => origin.to_string(),
            };
            // The library's message repeats the position; keep what follows it.
            let full = e.to_string();
            let first = full.lines().next().unwrap_or("");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let msg = match first.split_once(": ") {
                Some((pos, rest)) if pos.starts_with("line ") => rest.to_string(),
                _ => first.to_string(),
            };
            ScenarioError { at, field: String::new(), message: msg }
        })?;
        sc.validate().map_err(|(field, message, needle)| ScenarioError {
            at: match find_line(text, &field, needle.as_deref()) {
                Some(line) => format!("{origin}:{line}"),
                None => origin.to_string(),
            },
            field,
            message,
        })?;
        Ok(sc)
    }

    /// Checks references and numbers. The error is (field path, message, text to look for).
    pub(crate) fn validate(&self) -> Result<(), (String, String, Option<String>)> {
        type E = (String, String, Option<String>);
        let err = |f: String, m: String, needle: Option<&str>| -> E { (f, m, needle.map(str::to_string)) };
        let nonneg = |f: String, v: f64| -> Result<(), E> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(err(f, format!("must be a number ≥ 0, got {v:?}"), Some(&v.to_string())))
            }
        };
        if self.servers.is_empty() {
            return Err(err("servers".into(), "at least one server is needed".into(), None));
        }
        // The caps first: every check below is bounded by them, and nothing is allocated in
        // proportion to a number the text gives before it is compared with its cap.
        let lim = self.limits;
        if lim.max_in_flight == 0
            || lim.max_events == 0
            || lim.max_servers == 0
            || lim.max_pods == 0
            || lim.max_series_points == 0
        {
            return Err(err("limits".into(), "limits must be ≥ 1".into(), None));
        }
        if !positive(lim.max_sim_s) {
            return Err(err("limits.max_sim_s".into(), format!("must be > 0, got {}", lim.max_sim_s), None));
        }
        let max_s = lim.max_sim_s;
        // A time in the scenario: from 0 to the simulated-time cap.
        let time = |f: String, v: f64| -> Result<(), E> {
            if v.is_finite() && (0.0..=max_s).contains(&v) {
                Ok(())
            } else {
                Err(err(
                    f,
                    format!("must be a time from 0 to {max_s} s (limits.max_sim_s), got {v:?}"),
                    Some(&v.to_string()),
                ))
            }
        };
        // A distribution of times in ms: none of its parameters beyond the cap.
        let dist = |f: String, d: &Dist| -> Result<(), E> {
            d.validate().map_err(|e| err(f.clone(), e, None))?;
            let m = dist_magnitude_ms(d);
            if m > max_s * 1000.0 {
                return Err(err(
                    f,
                    format!(
                        "values up to {m:e} ms are beyond limits.max_sim_s = {max_s} s of simulated time"
                    ),
                    None,
                ));
            }
            Ok(())
        };
        let n_servers: u64 = self.servers.iter().map(|g| g.count as u64).sum();
        if n_servers > lim.max_servers as u64 {
            return Err(err(
                "servers".into(),
                format!(
                    "{n_servers} servers exceed limits.max_servers = {} (raise the limit if the machine can hold them)",
                    lim.max_servers
                ),
                None,
            ));
        }
        if !(self.sample_s > 0.0 && self.sample_s.is_finite()) {
            return Err(err("sample_s".into(), format!("must be > 0, got {}", self.sample_s), None));
        }
        if self.series.max_points < 2 {
            let m = format!("must be ≥ 2, got {}", self.series.max_points);
            return Err(err("series.max_points".into(), m, None));
        }
        time("sample_s".into(), self.sample_s)?;
        time("warmup_s".into(), self.warmup_s)?;
        if let Some(d) = self.duration_s {
            if !(d > 0.0 && d.is_finite()) {
                return Err(err("duration_s".into(), format!("must be > 0, got {d}"), None));
            }
            time("duration_s".into(), d)?;
            let samples = (d / self.sample_s).floor() + 2.0;
            let per = Limits::points_per_sample(n_servers, self.services.len() as u64) as f64;
            if samples * per > lim.max_series_points as f64 {
                return Err(err(
                    "sample_s".into(),
                    format!(
                        "{d} s sampled every {} s keeps {:.0} values of time series, over \
                         limits.max_series_points = {} (sample less often, or raise the limit)",
                        self.sample_s,
                        samples * per,
                        lim.max_series_points
                    ),
                    None,
                ));
            }
        }
        let mut locations = HashSet::new();
        for g in &self.servers {
            locations.insert((g.region.as_str(), g.zone.as_str()));
        }
        for g in &self.load {
            if let Some(o) = &g.origin {
                locations.insert((o.region.as_str(), o.zone.as_str()));
            }
        }
        if locations.len() > MAX_LOCATIONS {
            return Err(err(
                "servers".into(),
                format!(
                    "{} distinct region/zone pairs: the simulator keeps tables per pair of them, at most {MAX_LOCATIONS}",
                    locations.len()
                ),
                None,
            ));
        }
        let l = &self.latency;
        for (k, d) in [
            ("same_server", &l.same_server),
            ("same_rack", &l.same_rack),
            ("same_zone", &l.same_zone),
            ("same_region", &l.same_region),
            ("inter_region", &l.inter_region),
        ] {
            if let Some(d) = d {
                dist(format!("latency.{k}"), d)?;
            }
        }
        for (i, p) in l.region_pairs.iter().enumerate() {
            dist(format!("latency.region_pairs[{i}]"), &p.dist)?;
        }
        for v in [l.intra_rack_ms, l.inter_rack_ms].into_iter().flatten() {
            if !(v.is_finite() && v >= 0.0 && v <= max_s * 1000.0) {
                return Err(err("latency".into(), format!("a latency of {v} ms is out of range"), None));
            }
        }
        let model = self.latency.build();
        model.validate().map_err(|e| err("latency".into(), e, None))?;
        for d in
            [&model.same_server, &model.same_rack, &model.same_zone, &model.same_region, &model.inter_region]
                .into_iter()
                .chain(model.region_pairs.iter().map(|p| &p.dist))
        {
            dist("latency".into(), d)?;
        }
        let mut pods: u64 = 0;
        for s in &self.services {
            let scaled = s.autoscaler.as_ref().map_or(0, |a| a.max);
            let changed = self
                .events
                .iter()
                .filter_map(|e| e.replicas.as_ref())
                .filter(|r| r.service == s.name)
                .map(|r| r.count)
                .max()
                .unwrap_or(0);
            pods += s.replicas.max(scaled).max(changed) as u64;
        }
        let crashes =
            self.events.iter().filter_map(|e| e.pod_crash.as_ref()).map(|c| c.count).max().unwrap_or(0);
        if pods > lim.max_pods as u64 || crashes > lim.max_pods {
            return Err(err(
                "services".into(),
                format!(
                    "up to {} pods (replicas, autoscaler maxima, replica changes and crashes) exceed \
                     limits.max_pods = {} (raise the limit if the machine can hold them)",
                    pods.max(crashes as u64),
                    lim.max_pods
                ),
                None,
            ));
        }
        let mut names = HashSet::new();
        for (i, g) in self.servers.iter().enumerate() {
            let f = |k: &str| format!("servers[{i}].{k}");
            if g.count == 0 {
                return Err(err(f("count"), "must be ≥ 1".into(), Some(&g.name)));
            }
            nonneg(f("cpu_m"), g.cpu_m)?;
            nonneg(f("mem_mib"), g.mem_mib)?;
            nonneg(f("bw_mbps"), g.bw_mbps)?;
            nonneg(f("price_per_hour"), g.price_per_hour)?;
            if !(g.speed > 0.0 && g.speed.is_finite()) {
                return Err(err(f("speed"), format!("must be > 0, got {}", g.speed), Some(&g.name)));
            }
            for n in server_names(g) {
                if !names.insert(n.clone()) {
                    return Err(err(f("name"), format!("server {n:?} is defined twice"), Some(&g.name)));
                }
            }
        }
        let mut services = HashSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let f = |k: &str| format!("services[{i}].{k}");
            if !services.insert(s.name.as_str()) {
                return Err(err(f("name"), format!("service {:?} is defined twice", s.name), Some(&s.name)));
            }
            nonneg(f("pod.cpu_m"), s.pod.cpu_m)?;
            nonneg(f("pod.mem_mib"), s.pod.mem_mib)?;
            time(f("pod.startup_s"), s.pod.startup_s)?;
            if s.pod.parallelism == 0 {
                return Err(err(f("pod.parallelism"), "must be ≥ 1".into(), Some("parallelism")));
            }
            dist(f("pod.service_time"), &s.pod.service_time)?;
            if s.pod.service_time.mean() <= 0.0 || !s.pod.service_time.mean().is_finite() {
                return Err(err(
                    f("pod.service_time"),
                    "the mean service time must be finite and > 0".into(),
                    Some("service_time"),
                ));
            }
            for n in &s.node_affinity {
                if !names.contains(n) {
                    return Err(err(f("node_affinity"), format!("no server named {n:?}"), Some(n)));
                }
            }
            for n in &s.initial_servers {
                if !names.contains(n) {
                    return Err(err(f("initial_servers"), format!("no server named {n:?}"), Some(n)));
                }
            }
            if let Some(a) = &s.autoscaler {
                if a.min == 0 || a.min > a.max {
                    return Err(err(
                        f("autoscaler"),
                        format!("needs 1 ≤ min ≤ max, got min {} max {}", a.min, a.max),
                        Some("min"),
                    ));
                }
                if !positive(a.period_s) {
                    return Err(err(f("autoscaler.period_s"), "must be > 0".into(), Some("period_s")));
                }
                time(f("autoscaler.period_s"), a.period_s)?;
                nonneg(f("autoscaler.tolerance"), a.tolerance)?;
                let target = match a.metric {
                    MetricSpec::ProcessingTimeMs(v) | MetricSpec::UtilizationPct(v) => v,
                };
                if !(target > 0.0 && target.is_finite()) {
                    return Err(err(
                        f("autoscaler.metric"),
                        format!("target must be > 0, got {target}"),
                        None,
                    ));
                }
                for (dir, r) in [("scale_up", &a.behavior.scale_up), ("scale_down", &a.behavior.scale_down)] {
                    time(f(&format!("autoscaler.behavior.{dir}.stabilization_s")), r.stabilization_s)?;
                    for p in &r.policies {
                        time(f(&format!("autoscaler.behavior.{dir}.policies")), p.period_s)?;
                        if !positive(p.period_s) {
                            return Err(err(
                                f(&format!("autoscaler.behavior.{dir}.policies")),
                                "period_s must be > 0".into(),
                                Some("period_s"),
                            ));
                        }
                    }
                }
            }
        }
        let mut wf = HashSet::new();
        for (i, w) in self.workflows.iter().enumerate() {
            let f = |k: &str| format!("workflows[{i}].{k}");
            if !wf.insert(w.name.as_str()) {
                return Err(err(f("name"), format!("workflow {:?} is defined twice", w.name), Some(&w.name)));
            }
            if w.steps.is_empty() == w.root.is_none() {
                return Err(err(
                    f("steps"),
                    "give either `steps` (a chain) or `root` (a call tree)".into(),
                    None,
                ));
            }
            nonneg(f("request_kb"), w.request_kb)?;
            nonneg(f("response_kb"), w.response_kb)?;
            for (j, s) in w.steps.iter().enumerate() {
                if !services.contains(s.as_str()) {
                    return Err(err(f(&format!("steps[{j}]")), format!("no service named {s:?}"), Some(s)));
                }
            }
            if let Some(r) = &w.root {
                check_calls(r, &services, &f("root"), 0)?;
            }
        }
        for (i, g) in self.load.iter().enumerate() {
            let f = |k: &str| format!("load[{i}].{k}");
            if !wf.contains(g.workflow.as_str()) {
                return Err(err(
                    f("workflow"),
                    format!("no workflow named {:?}", g.workflow),
                    Some(&g.workflow),
                ));
            }
            nonneg(f("rate"), g.rate)?;
            time(f("start_s"), g.start_s)?;
            nonneg(f("scale"), g.scale)?;
            if let Some(s) = g.stop_s {
                time(f("stop_s"), s)?;
            }
            match g.arrivals {
                Arrivals::Replay => {
                    if g.rates.is_empty() {
                        return Err(err(f("rates"), "replay needs `rates` (or a `csv` file)".into(), None));
                    }
                    if !positive(g.step_s) {
                        return Err(err(f("step_s"), "must be > 0".into(), None));
                    }
                    time(f("step_s"), g.step_s)?;
                    for (j, r) in g.rates.iter().enumerate() {
                        nonneg(f(&format!("rates[{j}]")), *r)?;
                    }
                }
                _ => {
                    if g.rate <= 0.0 {
                        return Err(err(f("rate"), "must be > 0".into(), Some(&g.name)));
                    }
                }
            }
            if g.stop_s.is_none()
                && g.requests.is_none()
                && self.duration_s.is_none()
                && g.arrivals != Arrivals::Replay
            {
                return Err(err(
                    f("requests"),
                    "an endless generator needs `requests`, `stop_s` or the scenario's `duration_s`".into(),
                    Some(&g.name),
                ));
            }
        }
        for (i, e) in self.events.iter().enumerate() {
            let f = |k: &str| format!("events[{i}].{k}");
            time(f("at_s"), e.at_s)?;
            let actions = [
                e.node_loss.is_some(),
                e.pod_crash.is_some(),
                e.cordon.is_some(),
                e.uncordon.is_some(),
                e.drain.is_some(),
                e.link_latency.is_some(),
                e.capacity.is_some(),
                e.replicas.is_some(),
            ];
            if actions.iter().filter(|&&a| a).count() != 1 {
                return Err(err(f("at_s"), "each event needs exactly one action".into(), None));
            }
            let server_ref = |k: &str, n: &Option<String>| -> Result<(), E> {
                match n {
                    Some(n) if !names.contains(n) => {
                        Err(err(f(k), format!("no server named {n:?}"), Some(n)))
                    }
                    _ => Ok(()),
                }
            };
            server_ref("node_loss", &e.node_loss)?;
            server_ref("cordon", &e.cordon)?;
            server_ref("uncordon", &e.uncordon)?;
            server_ref("drain", &e.drain)?;
            if let Some(c) = &e.capacity {
                server_ref("capacity.server", &Some(c.server.clone()))?;
                for v in [c.cpu_m, c.mem_mib].into_iter().flatten() {
                    nonneg(f("capacity"), v)?;
                }
                if let Some(s) = c.speed
                    && !positive(s)
                {
                    return Err(err(f("capacity.speed"), "must be > 0".into(), None));
                }
            }
            let svc_ref = |k: &str, n: &str| -> Result<(), E> {
                if services.contains(n) {
                    Ok(())
                } else {
                    Err(err(f(k), format!("no service named {n:?}"), Some(n)))
                }
            };
            if let Some(p) = &e.pod_crash {
                svc_ref("pod_crash.service", &p.service)?;
            }
            if let Some(r) = &e.replicas {
                svc_ref("replicas.service", &r.service)?;
            }
            if let Some(l) = &e.link_latency {
                nonneg(f("link_latency.add_ms"), l.add_ms)?;
                time(f("link_latency.add_ms"), l.add_ms / 1000.0)?;
            }
        }
        if let Some(s) = &self.slo {
            if !positive(s.target_ms) {
                return Err(err("slo.target_ms".into(), "must be > 0".into(), None));
            }
            if !(s.percentile > 0.0 && s.percentile < 100.0) {
                return Err(err("slo.percentile".into(), "must be in (0, 100)".into(), None));
            }
        }
        Ok(())
    }
}

/// Distinct (region, zone) pairs the simulator keeps pairwise tables for.
pub(crate) const MAX_LOCATIONS: usize = 1024;

/// The largest time a distribution's parameters name, in ms (its support's reach, roughly:
/// six standard deviations for the Gaussians), to compare with the simulated-time cap.
fn dist_magnitude_ms(d: &Dist) -> f64 {
    match d {
        Dist::Constant { value } => value.abs(),
        Dist::Uniform { min, max } => min.abs().max(max.abs()),
        Dist::Exponential { mean } => mean.abs(),
        Dist::Normal { mean, std } => mean.abs() + 6.0 * std.abs(),
        Dist::TruncatedNormal { mean, std, max, .. } => (mean.abs() + 6.0 * std.abs()).min(max.abs()),
        Dist::LogNormal { mu, sigma } => (mu + 6.0 * sigma.abs()).exp(),
        Dist::Pareto { scale, .. } => scale.abs(),
        Dist::Empirical { samples } => samples.iter().fold(0.0, |m, v| m.max(v.abs())),
        Dist::Mixture { components } => components.iter().fold(0.0, |m, c| m.max(dist_magnitude_ms(&c.dist))),
    }
}

/// A finite number above zero (false for NaN).
fn positive(v: f64) -> bool {
    v > 0.0 && v.is_finite()
}

fn check_calls(
    c: &CallSpec,
    services: &HashSet<&str>,
    path: &str,
    depth: usize,
) -> Result<(), (String, String, Option<String>)> {
    if !services.contains(c.service.as_str()) {
        return Err((
            format!("{path}.service"),
            format!("no service named {:?}", c.service),
            Some(c.service.clone()),
        ));
    }
    if !(0.0..=1.0).contains(&c.probability) {
        return Err((
            format!("{path}.probability"),
            format!("must be in [0, 1], got {}", c.probability),
            None,
        ));
    }
    if depth > 64 {
        return Err((path.into(), "call tree deeper than 64".into(), None));
    }
    for (i, k) in c.calls.iter().enumerate() {
        check_calls(k, services, &format!("{path}.calls[{i}]"), depth + 1)?;
    }
    Ok(())
}

/// Best-effort line of a validation error: the first line holding the offending text, after
/// the line that opens the field's top-level section.
fn find_line(text: &str, field: &str, needle: Option<&str>) -> Option<usize> {
    let section = field.split(['[', '.']).next().unwrap_or("");
    let start = text.lines().position(|l| l.starts_with(&format!("{section}:"))).unwrap_or(0);
    let key = field.rsplit('.').next().unwrap_or("").split('[').next().unwrap_or("");
    let lines: Vec<&str> = text.lines().collect();
    if let Some(n) = needle {
        let hit = lines[start..].iter().position(|l| {
            l.split(|c: char| !(c.is_alphanumeric() || "-_./".contains(c))).any(|tok| tok == n)
        });
        if let Some(i) = hit {
            return Some(start + i + 1);
        }
    }
    lines[start..].iter().position(|l| l.contains(&format!("{key}:"))).map(|i| start + i + 1)
}

/// Rates from a CSV text: the named column, or the last numeric column, header optional.
pub fn parse_rate_csv(text: &str, column: Option<&str>) -> Result<Vec<f64>, String> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut col: Option<usize> = None;
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("line {}: {e}", i + 1))?;
        if i == 0 && rec.iter().any(|f| f.trim().parse::<f64>().is_err()) {
            // A header row.
            if let Some(name) = column {
                col = Some(
                    rec.iter()
                        .position(|f| f.trim() == name)
                        .ok_or_else(|| format!("line 1: no column named {name:?}"))?,
                );
            }
            continue;
        }
        let c = col.unwrap_or(rec.len().saturating_sub(1));
        let field = rec.get(c).ok_or_else(|| format!("line {}: no column {}", i + 1, c + 1))?;
        let v: f64 =
            field.trim().parse().map_err(|_| format!("line {}: {field:?} is not a number", i + 1))?;
        if !(v >= 0.0 && v.is_finite()) {
            return Err(format!("line {}: rate must be ≥ 0, got {v}", i + 1));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err("no rates in the file".into());
    }
    Ok(out)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
