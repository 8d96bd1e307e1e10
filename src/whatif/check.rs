//! Checks a parsed what-if scenario against a twin: every workload, server and location it
//! names must exist. Also offers completions of names for the editor.

use super::lang::{Line, ParseError, Scope, Step};
use crate::twin::Snapshot;
use std::collections::BTreeSet;

/// The names an operator can refer to in a scenario.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub workloads: BTreeSet<String>,
    pub servers: BTreeSet<String>,
    pub racks: BTreeSet<String>,
    pub zones: BTreeSet<String>,
    pub regions: BTreeSet<String>,
}

impl Names {
    pub fn of(snap: &Snapshot) -> Names {
        let mut n = Names::default();
        for w in &snap.workloads {
            n.workloads.insert(w.name.clone());
            n.workloads.insert(w.key());
        }
        for s in &snap.servers {
            n.servers.insert(s.name.clone());
            n.racks.insert(s.location.rack.clone());
            n.zones.insert(s.location.zone.clone());
            n.regions.insert(s.location.region.clone());
        }
        for set in [&mut n.racks, &mut n.zones, &mut n.regions] {
            set.remove("");
        }
        n
    }

    fn locations(&self) -> impl Iterator<Item = &String> {
        self.servers.iter().chain(&self.racks).chain(&self.zones).chain(&self.regions)
    }

    /// Names starting with `prefix`, for completion (at most `limit`).
    pub(crate) fn complete(&self, prefix: &str, limit: usize) -> Vec<String> {
        let mut out: Vec<String> = self
            .workloads
            .iter()
            .chain(self.locations())
            .filter(|n| n.starts_with(prefix) && n.as_str() != prefix)
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out.truncate(limit);
        out
    }
}

/// Every name in `lines` that the twin does not have, as errors with a suggestion.
pub fn check(lines: &[Line], names: &Names) -> Vec<ParseError> {
    let mut errors = Vec::new();
    let err = |line: usize, what: &str, name: &str, pool: &mut dyn Iterator<Item = &String>| {
        let hint = closest(name, pool).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default();
        ParseError { line, col: 1, message: format!("no {what} named `{name}` in the twin{hint}") }
    };
    for l in lines {
        let workload = |w: &str, errors: &mut Vec<ParseError>| {
            if !names.workloads.contains(w) {
                errors.push(err(l.line, "workload", w, &mut names.workloads.iter()));
            }
        };
        match &l.step {
            Step::Scale { workload: w, .. }
            | Step::Traffic { workload: w, .. }
            | Step::Hpa { workload: w, .. }
            | Step::Sweep { workload: w, .. }
            | Step::Load { workload: w, .. }
            | Step::Service { workload: w, .. } => workload(w, &mut errors),
            Step::Slo { workload: Some(w), .. } => workload(w, &mut errors),
            Step::Move { workload: w, to } => {
                workload(w, &mut errors);
                check_scope(l.line, to, names, &mut errors, &err);
            }
            Step::FailServer { server, .. } | Step::Cordon { server, .. } => {
                if !names.servers.contains(server) {
                    errors.push(err(l.line, "server", server, &mut names.servers.iter()));
                }
            }
            Step::Drain { scope, .. } => check_scope(l.line, scope, names, &mut errors, &err),
            Step::Latency { a, b, .. } => {
                for x in [a, b] {
                    if !names.locations().any(|n| n == x) {
                        errors.push(err(l.line, "location", x, &mut names.locations()));
                    }
                }
            }
            Step::Horizon { .. } | Step::Slo { workload: None, .. } => {}
        }
    }
    errors
}

type ErrFn<'a> = dyn Fn(usize, &str, &str, &mut dyn Iterator<Item = &String>) -> ParseError + 'a;

fn check_scope(line: usize, scope: &Scope, names: &Names, errors: &mut Vec<ParseError>, err: &ErrFn<'_>) {
    let (what, name, pool): (&str, &str, Vec<&String>) = match scope {
        Scope::Region(n) => ("region", n, names.regions.iter().collect()),
        Scope::Zone(n) => ("zone", n, names.zones.iter().collect()),
        Scope::Rack(n) => ("rack", n, names.racks.iter().collect()),
        Scope::Server(n) => ("server", n, names.servers.iter().collect()),
        Scope::Any(n) => ("server, rack, zone or region", n, names.locations().collect()),
    };
    if !pool.iter().any(|x| x.as_str() == name) {
        errors.push(err(line, what, name, &mut pool.into_iter()));
    }
}

/// The most similar name within a small edit distance.
fn closest<'a>(name: &str, pool: &mut dyn Iterator<Item = &'a String>) -> Option<&'a String> {
    pool.map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DemoPreset, DemoTwin};
    use crate::whatif::lang::parse;

    #[test]
    fn names_from_the_demo_are_checked_with_suggestions() {
        let snap = DemoTwin::new(DemoPreset::Dc, 1).warm_snapshot(2);
        let names = Names::of(&snap);
        let ok = parse(
            "scale checkoutservice to 8\nfail server r3-07\nmove cartservice to rack-2\ndrain rack rack-1",
        )
        .unwrap();
        assert!(check(&ok, &names).is_empty());
        let bad = parse("scale checkoutservce to 8\nfail server r9-99\nlatency dc..mars +5ms").unwrap();
        let e = check(&bad, &names);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].message.contains("did you mean `checkoutservice`"), "{}", e[0].message);
        assert!(e[1].message.contains("r9-99"));
        assert!(e[2].message.contains("mars"));
    }

    #[test]
    fn completion_offers_twin_names() {
        let snap = DemoTwin::new(DemoPreset::Dc, 1).warm_snapshot(2);
        let names = Names::of(&snap);
        let c = names.complete("check", 5);
        assert_eq!(c, vec!["checkoutservice".to_string()]);
        assert!(names.complete("r3-0", 20).contains(&"r3-07".to_string()));
    }
}
