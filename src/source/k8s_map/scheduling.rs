//! Scheduling fields of Kubernetes objects → `twin::scheduling`: node taints; a pod template's
//! nodeSelector, required node affinity, tolerations, required pod anti-affinity and
//! DoNotSchedule topology spread constraints. Values the API server would refuse (an unknown
//! operator or effect) are errors naming the field; rules twintop does not model (required pod
//! affinity, non-default spread policies) are named so the caller can say so.

use super::MapError;
use crate::twin::scheduling::{
    LabelSelector, NodeSelectorTerm, Operator, PodAffinityTerm, Requirement, Scheduling, SpreadConstraint,
    Taint, TaintEffect, Toleration,
};
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, PodAffinityTerm as K8sTerm, PodSpec as K8sPodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as K8sSelector, LabelSelectorRequirement,
};

fn operator(op: &str, object: &str, field: &str, node: bool) -> Result<Operator, MapError> {
    match Operator::parse(op) {
        Some(Operator::Gt | Operator::Lt) if !node => {
            Err(MapError::new(object, field, format!("operator {op:?} is for node selectors only")))
        }
        Some(o) => Ok(o),
        None => Err(MapError::new(
            object,
            field,
            format!(
                "unknown operator {:?} (expected In, NotIn, Exists, DoesNotExist{})",
                crate::text::escape(op),
                if node { ", Gt, Lt" } else { "" }
            ),
        )),
    }
}

fn node_req(r: &NodeSelectorRequirement, object: &str, field: &str) -> Result<Requirement, MapError> {
    Ok(Requirement {
        key: r.key.clone(),
        operator: operator(&r.operator, object, &format!("{field}.operator"), true)?,
        values: r.values.clone().unwrap_or_default(),
    })
}

fn label_req(r: &LabelSelectorRequirement, object: &str, field: &str) -> Result<Requirement, MapError> {
    Ok(Requirement {
        key: r.key.clone(),
        operator: operator(&r.operator, object, &format!("{field}.operator"), false)?,
        values: r.values.clone().unwrap_or_default(),
    })
}

fn selector(s: Option<&K8sSelector>, object: &str, field: &str) -> Result<Option<LabelSelector>, MapError> {
    let Some(s) = s else { return Ok(None) };
    let match_expressions = s
        .match_expressions
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| label_req(r, object, &format!("{field}.matchExpressions[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Some(LabelSelector { match_labels: s.match_labels.clone().unwrap_or_default(), match_expressions }))
}

fn effect(e: Option<&str>, object: &str, field: &str) -> Result<Option<TaintEffect>, MapError> {
    match e.filter(|e| !e.is_empty()) {
        None => Ok(None),
        Some(e) => TaintEffect::parse(e).map(Some).ok_or_else(|| {
            MapError::new(
                object,
                field,
                format!(
                    "unknown effect {:?} (expected NoSchedule, PreferNoSchedule or NoExecute)",
                    crate::text::escape(e)
                ),
            )
        }),
    }
}

/// A Node's taints.
pub(crate) fn node_taints(node: &Node, object: &str) -> Result<Vec<Taint>, MapError> {
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_ref());
    taints
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, t)| {
            let field = format!("spec.taints[{i}].effect");
            let effect = effect(Some(&t.effect), object, &field)?
                .ok_or_else(|| MapError::new(object, &field, "missing"))?;
            Ok(Taint { key: t.key.clone(), value: t.value.clone().unwrap_or_default(), effect })
        })
        .collect()
}

fn anti_term(t: &K8sTerm, object: &str, field: &str) -> Result<PodAffinityTerm, MapError> {
    let ns_sel = t.namespace_selector.as_ref();
    let all_namespaces = ns_sel.is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    });
    Ok(PodAffinityTerm {
        selector: selector(t.label_selector.as_ref(), object, &format!("{field}.labelSelector"))?,
        topology_key: t.topology_key.clone(),
        namespaces: t.namespaces.clone().unwrap_or_default(),
        all_namespaces,
    })
}

/// The scheduling rules of a pod spec, and the names of the rules it has that twintop does
/// not model (for a notice).
pub(crate) fn pod_scheduling(spec: &K8sPodSpec, object: &str) -> Result<(Scheduling, Vec<String>), MapError> {
    let mut s =
        Scheduling { node_selector: spec.node_selector.clone().unwrap_or_default(), ..Default::default() };
    let mut unmodelled = Vec::new();
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let field = format!("spec.tolerations[{i}]");
        let exists = match t.operator.as_deref().unwrap_or("") {
            "" | "Equal" => false,
            "Exists" => true,
            other => {
                return Err(MapError::new(
                    object,
                    &format!("{field}.operator"),
                    format!("unknown operator {:?} (expected Equal or Exists)", crate::text::escape(other)),
                ));
            }
        };
        s.tolerations.push(Toleration {
            key: t.key.clone().unwrap_or_default(),
            exists,
            value: t.value.clone().unwrap_or_default(),
            effect: effect(t.effect.as_deref(), object, &format!("{field}.effect"))?,
        });
    }
    let affinity = spec.affinity.as_ref();
    let required = affinity
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref());
    for (i, term) in required.iter().flat_map(|r| r.node_selector_terms.iter()).enumerate() {
        let field = format!(
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"
        );
        let reqs = |rs: Option<&Vec<NodeSelectorRequirement>>, what: &str| {
            rs.into_iter()
                .flatten()
                .enumerate()
                .map(|(j, r)| node_req(r, object, &format!("{field}.{what}[{j}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        s.node_affinity.push(NodeSelectorTerm {
            match_expressions: reqs(term.match_expressions.as_ref(), "matchExpressions")?,
            match_fields: reqs(term.match_fields.as_ref(), "matchFields")?,
        });
    }
    let anti = affinity
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|p| p.required_during_scheduling_ignored_during_execution.as_ref());
    for (i, t) in anti.into_iter().flatten().enumerate() {
        let field =
            format!("spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[{i}]");
        s.anti_affinity.push(anti_term(t, object, &field)?);
    }
    if affinity
        .and_then(|a| a.pod_affinity.as_ref())
        .and_then(|p| p.required_during_scheduling_ignored_during_execution.as_ref())
        .is_some_and(|r| !r.is_empty())
    {
        unmodelled.push("required pod affinity".to_string());
    }
    for (i, c) in spec.topology_spread_constraints.iter().flatten().enumerate() {
        let field = format!("spec.topologySpreadConstraints[{i}]");
        match c.when_unsatisfiable.as_str() {
            "ScheduleAnyway" => continue,
            "DoNotSchedule" => {}
            other => {
                return Err(MapError::new(
                    object,
                    &format!("{field}.whenUnsatisfiable"),
                    format!(
                        "unknown value {:?} (expected DoNotSchedule or ScheduleAnyway)",
                        crate::text::escape(other)
                    ),
                ));
            }
        }
        let max_skew = u32::try_from(c.max_skew).ok().filter(|m| *m > 0).ok_or_else(|| {
            MapError::new(
                object,
                &format!("{field}.maxSkew"),
                format!("{} is not a positive number", c.max_skew),
            )
        })?;
        if c.node_affinity_policy.as_deref().is_some_and(|p| p != "Honor")
            || c.node_taints_policy.as_deref().is_some_and(|p| p != "Ignore")
        {
            unmodelled
                .push(format!("{field}: a nodeAffinityPolicy or nodeTaintsPolicy other than the default"));
        }
        s.spread.push(SpreadConstraint {
            max_skew,
            topology_key: c.topology_key.clone(),
            selector: selector(c.label_selector.as_ref(), object, &format!("{field}.labelSelector"))?,
            min_domains: c.min_domains.and_then(|m| u32::try_from(m).ok()),
        });
    }
    Ok((s, unmodelled))
}
