//! Guardrails: the limits on changes to a cluster. One configuration (`[guardrails]` in
//! config.toml), read by validation when an advisor proposes a change (the standing rules: what
//! a change may be on this twin) and by the approval flow before anything is applied (those,
//! and the rules of the moment: read-only, stale feeds, cooldowns, the hourly budget). Pure: the
//! caller gives the twin, the recent actions and the clock. Safe defaults; all configurable.

use crate::change::Change;
use crate::twin::{FeedState, PodPhase, Snapshot};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Guardrails {
    /// Nothing can be applied.
    pub readonly: bool,
    /// Contexts that are always read-only.
    pub readonly_contexts: Vec<String>,
    /// When non-empty, only these namespaces may be changed.
    pub allow_namespaces: Vec<String>,
    pub deny_namespaces: Vec<String>,
    /// Largest replica change of one action.
    pub max_replica_change: u32,
    /// Largest total replica change per workload within an hour.
    pub max_replica_change_per_hour: u32,
    /// Floor on replicas of workloads marked critical.
    pub critical_min_replicas: u32,
    /// Share of the cluster's allocatable CPU and memory that must stay unrequested.
    pub quota_headroom: f64,
    /// Seconds between two actions on one target.
    pub cooldown_secs: i64,
    /// No workload is ever proposed above this many replicas (nor an HPA's max above it).
    pub max_replicas: u32,
    /// At most this share of the servers may be cordoned after a proposal.
    pub max_cordoned_share: f64,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            readonly: false,
            readonly_contexts: Vec::new(),
            allow_namespaces: Vec::new(),
            deny_namespaces: vec!["kube-system".into(), "kube-public".into(), "kube-node-lease".into()],
            max_replica_change: 10,
            max_replica_change_per_hour: 20,
            critical_min_replicas: 2,
            quota_headroom: 0.10,
            cooldown_secs: 300,
            max_replicas: 500,
            max_cordoned_share: 0.2,
        }
    }
}

/// `[guardrails]` of `config.toml` in `config_dir` (defaults when the file or the table is
/// missing). Errors name the file, the line and the key.
pub(crate) fn load(config_dir: &Path) -> Result<Guardrails, String> {
    let path = config_dir.join("config.toml");
    let Ok(src) = std::fs::read_to_string(&path) else { return Ok(Guardrails::default()) };
    parse(&path, &src)
}

/// `[guardrails]` of the text of `path` (named in errors).
pub fn parse(path: &Path, src: &str) -> Result<Guardrails, String> {
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        guardrails: Guardrails,
    }
    let g = toml::from_str::<Doc>(src)
        .map(|d| d.guardrails)
        .map_err(|e| crate::config_file::toml_error(path, src, &e))?;
    // Values TOML accepts that no rule can mean (NaN compares false with everything, so a NaN
    // headroom would pass every check; a huge cooldown overflows the clock's arithmetic).
    let share =
        |v: f64, below_one: bool| v.is_finite() && v >= 0.0 && if below_one { v < 1.0 } else { v <= 1.0 };
    let bad =
        |key: &str, msg: String| Err(crate::config_file::value_error(path, src, "guardrails", key, &msg));
    if !share(g.quota_headroom, true) {
        return bad("quota_headroom", format!("must be a share from 0 to below 1, got {}", g.quota_headroom));
    }
    if !share(g.max_cordoned_share, false) {
        return bad(
            "max_cordoned_share",
            format!("must be a share from 0 to 1, got {}", g.max_cordoned_share),
        );
    }
    if !(0..=MAX_COOLDOWN_SECS).contains(&g.cooldown_secs) {
        return bad(
            "cooldown_secs",
            format!("must be from 0 to {MAX_COOLDOWN_SECS} seconds (a week), got {}", g.cooldown_secs),
        );
    }
    Ok(g)
}

/// The longest cooldown `[guardrails]` accepts: a week.
pub(crate) const MAX_COOLDOWN_SECS: i64 = 7 * 86_400;

/// A rule of the guardrails, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    Readonly,
    StaleFeed,
    Cooldown,
    Target,
    Namespace,
    HpaOwned,
    MaxChange,
    MaxChangePerHour,
    CriticalMin,
    QuotaHeadroom,
    Bounds,
    Disruption,
}

impl Rule {
    /// The name the views, the commands and the audit log give it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rule::Readonly => "readonly",
            Rule::StaleFeed => "stale-feed",
            Rule::Cooldown => "cooldown",
            Rule::Target => "target",
            Rule::Namespace => "namespace",
            Rule::HpaOwned => "hpa-owned",
            Rule::MaxChange => "max-change",
            Rule::MaxChangePerHour => "max-change-per-hour",
            Rule::CriticalMin => "critical-min",
            Rule::QuotaHeadroom => "quota-headroom",
            Rule::Bounds => "bounds",
            Rule::Disruption => "disruption",
        }
    }

    /// Whether the rule judges the change itself on this twin (so validation applies it to
    /// every proposal), rather than the moment it is approved in: read-only mode, a stale feed,
    /// a cooldown or the hourly budget say "not now", never "not this".
    pub(crate) fn standing(self) -> bool {
        !matches!(self, Rule::Readonly | Rule::StaleFeed | Rule::Cooldown | Rule::MaxChangePerHour)
    }
}

impl Rule {
    pub(crate) const ALL: [Rule; 12] = [
        Rule::Readonly,
        Rule::StaleFeed,
        Rule::Cooldown,
        Rule::Target,
        Rule::Namespace,
        Rule::HpaOwned,
        Rule::MaxChange,
        Rule::MaxChangePerHour,
        Rule::CriticalMin,
        Rule::QuotaHeadroom,
        Rule::Bounds,
        Rule::Disruption,
    ];

    pub(crate) fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let name = String::deserialize(d)?;
        Rule::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown rule {name}")))
    }
}

/// An action already taken (from the audit log), for rate limits and cooldowns.
#[derive(Debug, Clone, PartialEq)]
pub struct PastAction {
    pub time: DateTime<Utc>,
    pub target: String,
    /// Replica change it made (0 for non-scaling actions).
    pub replica_delta: i64,
}

/// A rule a change breaks, named so the view can say which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

impl Guardrails {
    /// The largest one-step scale-up from `current`, as Kubernetes' HPA allows it: the larger
    /// of doubling and four more pods.
    pub(crate) fn max_step_up(&self, current: u32) -> u32 {
        current.saturating_mul(2).max(current + 4).min(self.max_replicas)
    }

    /// The smallest one-step scale-down from `current`: at most halving.
    pub(crate) fn min_step_down(&self, current: u32) -> u32 {
        current.div_ceil(2).max(1)
    }

    /// Why nothing may be applied in `context` at all (read-only mode, a read-only context);
    /// empty when changes may be.
    pub(crate) fn readonly_in(&self, context: &str) -> Vec<Violation> {
        let mut v = Vec::new();
        if self.readonly {
            v.push(Violation {
                rule: Rule::Readonly,
                message: "twintop runs read-only (--readonly or config)".into(),
            });
        }
        if self.readonly_contexts.iter().any(|c| c == context) {
            v.push(Violation {
                rule: Rule::Readonly,
                message: format!("context {context} is configured read-only"),
            });
        }
        v
    }

    /// The standing rules `change` breaks on this twin (see `Rule::standing`): what validation
    /// refuses before a proposal is ever shown as valid.
    pub(crate) fn standing(&self, change: &Change, snap: &Snapshot) -> Vec<Violation> {
        let mut v = self.check(change, snap, "", &[], snap.time);
        v.retain(|x| x.rule.standing());
        v
    }

    /// Every rule `change` breaks on this twin; empty means it may be approved.
    pub(crate) fn check(
        &self,
        change: &Change,
        snap: &Snapshot,
        context: &str,
        past: &[PastAction],
        now: DateTime<Utc>,
    ) -> Vec<Violation> {
        let mut v = Vec::new();
        v.extend(self.readonly_in(context));
        let mut push = |rule: Rule, message: String| v.push(Violation { rule, message });
        if let Some(f) = snap.feeds.iter().find(|f| f.state != FeedState::Ok && f.state != FeedState::Off) {
            push(
                Rule::StaleFeed,
                format!("feed {} is {:?}: no action on data that may be out of date", f.name, f.state),
            );
        }
        // Past actions are recorded by key (`namespace/name`); a change may name a bare workload.
        // An eviction is an action on the pod's workload: it disrupts it, and an earlier change
        // to the workload (or eviction of another of its pods) must have settled first.
        let target = match change {
            Change::Evict { pod, .. } => {
                snap.workload_of_pod(pod).map(|w| snap.workloads[w].key()).unwrap_or_else(|| pod.clone())
            }
            Change::Scale { workload, .. } | Change::HpaBounds { workload, .. } => snap
                .workload_index(workload)
                .map(|w| snap.workloads[w].key())
                .unwrap_or_else(|| workload.clone()),
            Change::Cordon { server, .. } => server.clone(),
        };
        let recent: Vec<&PastAction> = past.iter().filter(|p| p.target == target).collect();
        if let Some(last) = recent.iter().map(|p| p.time).max() {
            let since = (now - last).num_seconds();
            if since < self.cooldown_secs {
                push(
                    Rule::Cooldown,
                    format!("{target} was changed {since} s ago; wait {} s more", self.cooldown_secs - since),
                );
            }
        }
        match change {
            Change::Scale { workload, replicas } => {
                let Some(w) = snap.workload_index(workload) else {
                    push(Rule::Target, format!("no workload {workload} in the twin"));
                    return v;
                };
                let wl = &snap.workloads[w];
                self.check_namespace(&wl.namespace, &mut push);
                if let Some(hpa) = &wl.hpa {
                    push(
                        Rule::HpaOwned,
                        format!(
                            "HPA {} owns the replicas of {workload} (min {} max {}): change the HPA's bounds, not replicas",
                            hpa.name, hpa.min_replicas, hpa.max_replicas
                        ),
                    );
                }
                let delta = *replicas as i64 - wl.replicas as i64;
                if delta.unsigned_abs() > self.max_replica_change as u64 {
                    push(
                        Rule::MaxChange,
                        format!(
                            "{} → {} changes {} replicas; the limit per action is {}",
                            wl.replicas,
                            replicas,
                            delta.abs(),
                            self.max_replica_change
                        ),
                    );
                }
                let hour: i64 = recent
                    .iter()
                    .filter(|p| (now - p.time).num_seconds() < 3600)
                    .map(|p| p.replica_delta.abs())
                    .sum();
                if hour + delta.abs() > self.max_replica_change_per_hour as i64 {
                    push(
                        Rule::MaxChangePerHour,
                        format!(
                            "{workload} changed by {hour} replicas in the last hour; {} more exceeds {}",
                            delta.abs(),
                            self.max_replica_change_per_hour
                        ),
                    );
                }
                if wl.critical && *replicas < self.critical_min_replicas {
                    push(
                        Rule::CriticalMin,
                        format!("{workload} is critical: at least {} replicas", self.critical_min_replicas),
                    );
                }
                if delta > 0 {
                    self.check_quota(snap, wl.requests.scale(delta as f64), &mut push);
                }
            }
            Change::HpaBounds { workload, min, max } => {
                let Some(w) = snap.workload_index(workload) else {
                    push(Rule::Target, format!("no workload {workload} in the twin"));
                    return v;
                };
                let wl = &snap.workloads[w];
                self.check_namespace(&wl.namespace, &mut push);
                if wl.hpa.is_none() {
                    push(Rule::Target, format!("{workload} has no HPA"));
                }
                if min > max || *min == 0 {
                    push(Rule::Bounds, format!("HPA bounds min {min} max {max} are invalid"));
                }
                if wl.critical && *min < self.critical_min_replicas {
                    push(
                        Rule::CriticalMin,
                        format!("{workload} is critical: HPA min at least {}", self.critical_min_replicas),
                    );
                }
                if let Some(hpa) = &wl.hpa {
                    let growth = max.saturating_sub(hpa.max_replicas);
                    if growth > self.max_replica_change {
                        push(
                            Rule::MaxChange,
                            format!(
                                "raising max by {growth} exceeds the limit per action of {}",
                                self.max_replica_change
                            ),
                        );
                    }
                }
            }
            Change::Cordon { server, .. } => {
                if snap.server_index(server).is_none() {
                    push(Rule::Target, format!("no server {server} in the twin"));
                }
            }
            Change::Evict { pod, .. } => {
                let Some(i) = snap.pod_index(pod) else {
                    push(Rule::Target, format!("no pod {pod} in the twin"));
                    return v;
                };
                self.check_namespace(&snap.pods[i].namespace, &mut push);
                if let Err(why) = evictable(snap, i) {
                    push(Rule::Disruption, why);
                }
            }
        }
        v
    }

    fn check_namespace(&self, ns: &str, push: &mut impl FnMut(Rule, String)) {
        if self.deny_namespaces.iter().any(|d| d == ns) {
            push(Rule::Namespace, format!("namespace {ns} is on the deny list"));
        }
        if !self.allow_namespaces.is_empty() && !self.allow_namespaces.iter().any(|a| a == ns) {
            push(Rule::Namespace, format!("namespace {ns} is not on the allow list"));
        }
    }

    fn check_quota(
        &self,
        snap: &Snapshot,
        extra: crate::twin::Resources,
        push: &mut impl FnMut(Rule, String),
    ) {
        let alloc = snap
            .servers
            .iter()
            .filter(|s| s.schedulable)
            .fold(crate::twin::Resources::ZERO, |a, s| a.add(&s.allocatable));
        let requested =
            snap.server_status.iter().fold(crate::twin::Resources::ZERO, |a, s| a.add(&s.requested));
        let after = requested.add(&extra);
        let limit = 1.0 - self.quota_headroom;
        if after.cpu_m > alloc.cpu_m * limit || after.mem_mib > alloc.mem_mib * limit {
            push(
                Rule::QuotaHeadroom,
                format!(
                    "requests would reach {:.0}% CPU / {:.0}% memory of allocatable; {:.0}% must stay free",
                    after.cpu_m / alloc.cpu_m.max(1.0) * 100.0,
                    after.mem_mib / alloc.mem_mib.max(1.0) * 100.0,
                    self.quota_headroom * 100.0
                ),
            );
        }
    }
}

/// Whether evicting pod `i` disrupts nothing its owner cannot absorb: it runs, a controller
/// recreates it, and it is not its workload's only replica.
pub(crate) fn evictable(snap: &Snapshot, i: usize) -> Result<(), String> {
    let pod = &snap.pods[i];
    let key = format!("{}/{}", pod.namespace, pod.name);
    if pod.phase != PodPhase::Running {
        return Err(format!("pod {key} is {}, not Running", pod.phase.as_str()));
    }
    let Some(w) = pod.workload else {
        return Err(format!("pod {key} has no controller: evicting it would delete it for good"));
    };
    let wl = &snap.workloads[w];
    if wl.replicas <= 1 {
        return Err(format!(
            "pod {key} is the only replica of {} {}: evicting it is an outage (no disruption of singletons)",
            wl.kind.as_str(),
            wl.key()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "guardrails_tests.rs"]
mod tests;
