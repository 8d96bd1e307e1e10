//! The rules that depend on where other pods run: required pod anti-affinity (the incoming
//! pod's terms and those of the pods already placed) and DoNotSchedule topology spread. Pods
//! are counted per group (one group per workload: same namespace, labels and rules), so a
//! check costs the placed pods of the groups a rule selects, not every pod.

use super::{HOSTNAME_LABEL, Node, Scheduling, SpreadConstraint, Unfit};
use std::collections::{BTreeMap, HashMap};

/// One group of identical pods: a workload's namespace, pod labels and rules.
#[derive(Debug, Clone)]
pub(crate) struct GroupSpec {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub scheduling: Scheduling,
}

/// A topology key's domain of each node (`None`: the node lacks the label).
struct Domains {
    of: Vec<Option<u32>>,
    count: usize,
}

/// A rule of one group, resolved: the groups whose pods it counts and its domains.
struct Resolved {
    key: usize,
    groups: Vec<usize>,
}

struct SpreadRule {
    rule: Resolved,
    max_skew: u32,
    min_domains: Option<u32>,
    /// Whether the group's own pods match the selector (they count toward the skew).
    self_match: bool,
    /// Nodes whose domains count: those passing the group's node affinity and selector.
    eligible: Vec<bool>,
}

/// Placed pods of every group, and the rules that read them.
pub(crate) struct Placement {
    domains: Vec<Domains>,
    /// Per group: placed pods per node (sparse).
    placed: Vec<HashMap<u32, u32>>,
    /// Per group: its own anti-affinity terms.
    anti: Vec<Vec<Resolved>>,
    /// Per group: anti-affinity terms of other groups (and its own) that select its pods.
    anti_of_others: Vec<Vec<Resolved>>,
    spread: Vec<Vec<SpreadRule>>,
}

impl Placement {
    /// `nodes`: every node in index order; `groups`: every group in index order.
    pub(crate) fn new(nodes: &[Node], groups: &[GroupSpec]) -> Placement {
        let mut keys: Vec<String> = Vec::new();
        let mut domains: Vec<Domains> = Vec::new();
        let mut key_id = |key: &str, domains: &mut Vec<Domains>| -> usize {
            if let Some(i) = keys.iter().position(|k| k == key) {
                return i;
            }
            let mut ids: HashMap<&str, u32> = HashMap::new();
            let of = nodes
                .iter()
                .map(|n| {
                    let v =
                        n.labels.get(key).map(String::as_str).or((key == HOSTNAME_LABEL).then_some(n.name))?;
                    let next = ids.len() as u32;
                    Some(*ids.entry(v).or_insert(next))
                })
                .collect();
            domains.push(Domains { of, count: ids.len() });
            keys.push(key.to_string());
            keys.len() - 1
        };
        let mut anti: Vec<Vec<Resolved>> = (0..groups.len()).map(|_| Vec::new()).collect();
        let mut anti_of_others: Vec<Vec<Resolved>> = (0..groups.len()).map(|_| Vec::new()).collect();
        let mut spread: Vec<Vec<SpreadRule>> = (0..groups.len()).map(|_| Vec::new()).collect();
        for (g, spec) in groups.iter().enumerate() {
            for term in &spec.scheduling.anti_affinity {
                let key = key_id(&term.topology_key, &mut domains);
                let selected: Vec<usize> = groups
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| term.selects(&spec.namespace, &h.namespace, &h.labels))
                    .map(|(h, _)| h)
                    .collect();
                for &h in &selected {
                    anti_of_others[h].push(Resolved { key, groups: vec![g] });
                }
                anti[g].push(Resolved { key, groups: selected });
            }
            for c in &spec.scheduling.spread {
                let key = key_id(&c.topology_key, &mut domains);
                spread[g].push(spread_rule(c, key, g, groups, nodes));
            }
        }
        Placement { domains, placed: vec![HashMap::new(); groups.len()], anti, anti_of_others, spread }
    }

    /// Whether pods of group `g` are subject to any rule here (when not, `check` is always Ok).
    pub(crate) fn constrained(&self, g: usize) -> bool {
        !self.anti[g].is_empty() || !self.anti_of_others[g].is_empty() || !self.spread[g].is_empty()
    }

    pub(crate) fn add(&mut self, g: usize, node: usize) {
        *self.placed[g].entry(node as u32).or_default() += 1;
    }

    pub(crate) fn remove(&mut self, g: usize, node: usize) {
        if let Some(n) = self.placed[g].get_mut(&(node as u32)) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.placed[g].remove(&(node as u32));
            }
        }
    }

    /// The rules for the next pod of group `g`, with the counts they need taken now: check
    /// as many nodes as needed, then place the pod and ask again for the next one.
    pub(crate) fn for_pod(&self, g: usize) -> PodRules<'_> {
        let occupied = |r: &Resolved, eligible: Option<&[bool]>| -> Vec<u32> {
            let d = &self.domains[r.key];
            let mut count = vec![0u32; d.count];
            for &h in &r.groups {
                for (&node, &n) in &self.placed[h] {
                    if eligible.is_some_and(|e| !e[node as usize]) {
                        continue;
                    }
                    if let Some(dom) = d.of[node as usize] {
                        count[dom as usize] += n;
                    }
                }
            }
            count
        };
        let blocked = |rules: &[Resolved]| -> Vec<(usize, Vec<bool>)> {
            rules.iter().map(|r| (r.key, occupied(r, None).iter().map(|&n| n > 0).collect())).collect()
        };
        let spread = self.spread[g]
            .iter()
            .map(|s| {
                let count = occupied(&s.rule, Some(&s.eligible));
                // Domains that count: those of eligible nodes.
                let d = &self.domains[s.rule.key];
                let mut present = vec![false; d.count];
                for (node, dom) in d.of.iter().enumerate() {
                    if let (Some(dom), true) = (dom, s.eligible[node]) {
                        present[*dom as usize] = true;
                    }
                }
                let n_domains = present.iter().filter(|p| **p).count();
                let mut min = (0..d.count).filter(|&i| present[i]).map(|i| count[i]).min().unwrap_or(0);
                if s.min_domains.is_some_and(|m| (n_domains as u32) < m) {
                    min = 0;
                }
                SpreadCheck { key: s.rule.key, count, min, max_skew: s.max_skew, self_match: s.self_match }
            })
            .collect();
        PodRules {
            placement: self,
            spread,
            anti: blocked(&self.anti[g]),
            existing: blocked(&self.anti_of_others[g]),
        }
    }
}

fn spread_rule(
    c: &SpreadConstraint,
    key: usize,
    g: usize,
    groups: &[GroupSpec],
    nodes: &[Node],
) -> SpreadRule {
    let spec = &groups[g];
    let counts = |h: &GroupSpec| {
        h.namespace == spec.namespace && c.selector.as_ref().is_some_and(|s| s.matches(&h.labels))
    };
    SpreadRule {
        rule: Resolved {
            key,
            groups: groups.iter().enumerate().filter(|(_, h)| counts(h)).map(|(h, _)| h).collect(),
        },
        max_skew: c.max_skew.max(1),
        min_domains: c.min_domains,
        self_match: counts(spec),
        eligible: nodes.iter().map(|n| spec.scheduling.matches_node_affinity(n)).collect(),
    }
}

struct SpreadCheck {
    key: usize,
    count: Vec<u32>,
    min: u32,
    max_skew: u32,
    self_match: bool,
}

/// The placement-dependent rules for one pod (see `Placement::for_pod`).
pub(crate) struct PodRules<'a> {
    placement: &'a Placement,
    spread: Vec<SpreadCheck>,
    anti: Vec<(usize, Vec<bool>)>,
    existing: Vec<(usize, Vec<bool>)>,
}

impl PodRules<'_> {
    /// PodTopologySpread, then InterPodAffinity (the pod's own terms, then those of the pods
    /// already placed), as kube-scheduler filters.
    pub(crate) fn check(&self, node: usize) -> Result<(), Unfit> {
        let domain = |key: usize| self.placement.domains[key].of[node];
        for s in &self.spread {
            let Some(d) = domain(s.key) else { return Err(Unfit::SpreadMissingLabel) };
            let skew = s.count[d as usize] + u32::from(s.self_match) - s.min.min(s.count[d as usize]);
            if skew > s.max_skew {
                return Err(Unfit::Spread);
            }
        }
        let hit = |rules: &[(usize, Vec<bool>)]| {
            rules.iter().any(|(key, blocked)| domain(*key).is_some_and(|d| blocked[d as usize]))
        };
        if hit(&self.anti) {
            return Err(Unfit::AntiAffinity);
        }
        if hit(&self.existing) {
            return Err(Unfit::ExistingAntiAffinity);
        }
        Ok(())
    }
}
