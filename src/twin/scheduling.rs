//! The scheduling rules real clusters use, as kube-scheduler's filter step applies them:
//! cordons, taints and tolerations (NoSchedule, NoExecute), nodeSelector, required node
//! affinity, required pod anti-affinity, topology spread constraints (DoNotSchedule), and the
//! resources a node has left. One implementation for every placer in twintop: the manifests'
//! spreading scheduler and the simulator's scheduler both ask it which nodes may take a pod,
//! and a pod that fits nowhere gets the message `kubectl describe pod` shows
//! ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {…}.").
//!
//! Static rules (cordon, taints, node affinity) depend on the node alone: `node_filter`. Rules
//! that depend on where other pods run (anti-affinity, topology spread) live in `Placement`,
//! which tracks pods per node. Preferred (soft) rules only score in kube-scheduler; they are
//! not read. Pod affinity (the attracting kind) is not modelled.

pub(crate) mod placement;

pub(crate) use placement::{GroupSpec, Placement};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The label every kubelet sets to the node's name; nodes without it (hand-written servers,
/// the demo) are treated as if they had it.
pub(crate) const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// The taint a cordoned node carries; DaemonSet pods tolerate it.
pub(crate) const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub(crate) fn parse(s: &str) -> Option<TaintEffect> {
        match s {
            "NoSchedule" => Some(TaintEffect::NoSchedule),
            "PreferNoSchedule" => Some(TaintEffect::PreferNoSchedule),
            "NoExecute" => Some(TaintEffect::NoExecute),
            _ => None,
        }
    }

    /// Whether a pod that does not tolerate it is kept off the node (PreferNoSchedule only
    /// lowers the node's score).
    pub(crate) fn repels(&self) -> bool {
        matches!(self, TaintEffect::NoSchedule | TaintEffect::NoExecute)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toleration {
    /// Empty with `exists`: tolerates every taint (of `effect`, if set).
    #[serde(default)]
    pub key: String,
    /// `Exists` (any value) rather than `Equal`.
    #[serde(default)]
    pub exists: bool,
    #[serde(default)]
    pub value: String,
    /// None: every effect.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
}

impl Toleration {
    /// The toleration matching rule of `k8s.io/api/core/v1.Toleration.ToleratesTaint`.
    pub(crate) fn tolerates(&self, t: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != t.effect) {
            return false;
        }
        if self.key.is_empty() {
            return self.exists;
        }
        self.key == t.key && (self.exists || self.value == t.value)
    }

    /// The tolerations the DaemonSet controller adds to every pod it creates, so per-node
    /// agents run on cordoned and unhealthy nodes too.
    pub(crate) fn daemonset_defaults() -> Vec<Toleration> {
        let t = |key: &str, effect| Toleration {
            key: key.into(),
            exists: true,
            value: String::new(),
            effect: Some(effect),
        };
        vec![
            t("node.kubernetes.io/not-ready", TaintEffect::NoExecute),
            t("node.kubernetes.io/unreachable", TaintEffect::NoExecute),
            t("node.kubernetes.io/disk-pressure", TaintEffect::NoSchedule),
            t("node.kubernetes.io/memory-pressure", TaintEffect::NoSchedule),
            t("node.kubernetes.io/pid-pressure", TaintEffect::NoSchedule),
            t(UNSCHEDULABLE_TAINT, TaintEffect::NoSchedule),
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    /// Node selectors only: the label, read as an integer, is greater (less) than the value.
    Gt,
    Lt,
}

impl Operator {
    pub(crate) fn parse(s: &str) -> Option<Operator> {
        Some(match s {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            "Gt" => Operator::Gt,
            "Lt" => Operator::Lt,
            _ => return None,
        })
    }
}

/// One `key operator values` requirement of a node or label selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    #[serde(default)]
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        let int = |s: &str| s.parse::<i64>().ok();
        match self.operator {
            Operator::In => v.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => v.is_some(),
            Operator::DoesNotExist => v.is_none(),
            Operator::Gt | Operator::Lt => {
                let (Some(have), Some(want)) =
                    (v.and_then(|v| int(v)), self.values.first().and_then(|w| int(w)))
                else {
                    return false;
                };
                if self.operator == Operator::Gt { have > want } else { have < want }
            }
        }
    }
}

/// A term of a required node affinity: all its requirements must hold (`matchFields` can
/// only name `metadata.name`). A term with no requirement matches no node, as in Kubernetes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSelectorTerm {
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
    #[serde(default)]
    pub match_fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    pub fn matches(&self, node: &Node) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        let fields: BTreeMap<String, String> = [("metadata.name".to_string(), node.name.to_string())].into();
        self.match_expressions.iter().all(|r| r.matches(node.labels))
            && self.match_fields.iter().all(|r| r.matches(&fields))
    }
}

/// A label selector: `matchLabels` and `matchExpressions` together; empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// A required pod (anti-)affinity term: pods matching `selector` in `namespaces` (empty: the
/// pod's own; `all_namespaces`: an empty namespaceSelector) keep the pod out of every node
/// in the same `topology_key` domain as theirs. A term without a selector matches no pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodAffinityTerm {
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    pub topology_key: String,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub all_namespaces: bool,
}

impl PodAffinityTerm {
    /// Whether a pod of namespace `ns` with `labels` is one this term (of a pod in `own_ns`)
    /// is about.
    pub(crate) fn selects(&self, own_ns: &str, ns: &str, labels: &BTreeMap<String, String>) -> bool {
        let in_ns = self.all_namespaces
            || if self.namespaces.is_empty() {
                ns == own_ns
            } else {
                self.namespaces.iter().any(|n| n == ns)
            };
        in_ns && self.selector.as_ref().is_some_and(|s| s.matches(labels))
    }
}

/// A topology spread constraint with `whenUnsatisfiable: DoNotSchedule` (ScheduleAnyway only
/// scores, and is not read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpreadConstraint {
    pub max_skew: u32,
    pub topology_key: String,
    /// Pods of the pod's namespace it counts; none without a selector.
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub min_domains: Option<u32>,
}

/// What a pod template asks of the nodes it lands on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scheduling {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Required node affinity: any one term must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_affinity: Vec<NodeSelectorTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Required pod anti-affinity terms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anti_affinity: Vec<PodAffinityTerm>,
    /// DoNotSchedule topology spread constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spread: Vec<SpreadConstraint>,
}

impl Scheduling {
    /// True when the pod accepts any node that has room.
    pub fn is_empty(&self) -> bool {
        *self == Scheduling::default()
    }

    /// Whether the node's labels (and name) satisfy nodeSelector and the required affinity.
    pub(crate) fn matches_node_affinity(&self, node: &Node) -> bool {
        self.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
            && (self.node_affinity.is_empty() || self.node_affinity.iter().any(|t| t.matches(node)))
    }

    /// The first repelling taint of `taints` no toleration of the pod covers.
    pub(crate) fn untolerated<'t>(&self, taints: &'t [Taint]) -> Option<&'t Taint> {
        taints.iter().find(|t| t.effect.repels() && !self.tolerations.iter().any(|tol| tol.tolerates(t)))
    }
}

/// A node as the filters see it.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub taints: &'a [Taint],
    /// False when cordoned.
    pub schedulable: bool,
}

/// Why one node cannot take a pod, in kube-scheduler's words.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Unfit {
    Unschedulable,
    Taint { key: String, value: String },
    NodeAffinity,
    Insufficient(&'static str),
    Spread,
    SpreadMissingLabel,
    AntiAffinity,
    ExistingAntiAffinity,
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unfit::Unschedulable => write!(f, "node(s) were unschedulable"),
            Unfit::Taint { key, value } => write!(f, "node(s) had untolerated taint {{{key}: {value}}}"),
            Unfit::NodeAffinity => write!(f, "node(s) didn't match Pod's node affinity/selector"),
            Unfit::Insufficient(r) => write!(f, "Insufficient {r}"),
            Unfit::Spread => write!(f, "node(s) didn't match pod topology spread constraints"),
            Unfit::SpreadMissingLabel => {
                write!(f, "node(s) didn't match pod topology spread constraints (missing required label)")
            }
            Unfit::AntiAffinity => write!(f, "node(s) didn't match pod anti-affinity rules"),
            Unfit::ExistingAntiAffinity => {
                write!(f, "node(s) didn't satisfy existing pods anti-affinity rules")
            }
        }
    }
}

/// The rules that depend on the node alone, in kube-scheduler's filter order: NodeUnschedulable,
/// TaintToleration, NodeAffinity.
pub(crate) fn node_filter(pod: &Scheduling, node: &Node) -> Result<(), Unfit> {
    if !node.schedulable {
        let cordon =
            Taint { key: UNSCHEDULABLE_TAINT.into(), value: String::new(), effect: TaintEffect::NoSchedule };
        if !pod.tolerations.iter().any(|t| t.tolerates(&cordon)) {
            return Err(Unfit::Unschedulable);
        }
    }
    if let Some(t) = pod.untolerated(node.taints) {
        return Err(Unfit::Taint { key: t.key.clone(), value: t.value.clone() });
    }
    if !pod.matches_node_affinity(node) {
        return Err(Unfit::NodeAffinity);
    }
    Ok(())
}

/// The resources that do not fit: `free` is what the node has left, `need` the pod's request.
pub(crate) fn insufficient(
    free_cpu_m: f64,
    free_mem_mib: f64,
    need_cpu_m: f64,
    need_mem_mib: f64,
) -> Vec<Unfit> {
    const EPS: f64 = 1e-9;
    let mut out = Vec::new();
    if need_cpu_m > free_cpu_m + EPS {
        out.push(Unfit::Insufficient("cpu"));
    }
    if need_mem_mib > free_mem_mib + EPS {
        out.push(Unfit::Insufficient("memory"));
    }
    out
}

/// kube-scheduler's FailedScheduling message: "0/N nodes are available: " and each reason with
/// the number of nodes it kept out, sorted as the scheduler sorts them. `per_node` holds the
/// reasons of each node that was tried.
pub(crate) fn fit_error(nodes: usize, per_node: &[Vec<Unfit>]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for reasons in per_node {
        for r in reasons {
            *counts.entry(r.to_string()).or_default() += 1;
        }
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    if parts.is_empty() {
        format!("0/{nodes} nodes are available.")
    } else {
        format!("0/{nodes} nodes are available: {}.", parts.join(", "))
    }
}

#[cfg(test)]
mod tests;
