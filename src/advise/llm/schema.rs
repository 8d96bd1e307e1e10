//! The answer shape asked of the model, built per ask from the twin: a JSON Schema whose every
//! action names a target that exists (an enum per action kind, of the targets the prompt
//! shows), bounds every number (replicas within one step of the current count) and string, caps
//! the list at the configured number of actions, and lists each action's properties in the
//! order the model should write them — the action and its target first, the reason last. A
//! grammar-constrained server (llama.cpp, vLLM, OpenAI's strict mode) then cannot produce a
//! server named as a workload or a confidence of 1e15, and `max_tokens` follows from the longest
//! answer the schema allows.
//!
//! `serde_json::Value` keeps object keys sorted, which would put `action` after `reason`; the
//! schema is therefore a small ordered tree (`Node`) that serialises in insertion order.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value, json};

/// The longest reason the schema allows, in characters.
pub(crate) const REASON_MAX: usize = 120;

/// A JSON value whose objects keep their keys in the order given.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Leaf(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Leaf(v) => v.serialize(s),
            Node::Object(kv) => {
                let mut m = s.serialize_map(Some(kv.len()))?;
                for (k, v) in kv {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Node::Array(a) => {
                let mut q = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    q.serialize_element(v)?;
                }
                q.end()
            }
        }
    }
}

fn obj(kv: Vec<(&str, Node)>) -> Node {
    Node::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn leaf(v: Value) -> Node {
    Node::Leaf(v)
}

/// An object schema with exactly these properties, all required, in this order.
fn strict_object(props: Vec<(&str, Node)>) -> Node {
    let required: Vec<Value> = props.iter().map(|(k, _)| Value::String(k.to_string())).collect();
    obj(vec![
        ("type", leaf(json!("object"))),
        ("properties", obj(props)),
        ("required", leaf(Value::Array(required))),
        ("additionalProperties", leaf(json!(false))),
    ])
}

fn one_of_strings<S: AsRef<str>>(values: &[S]) -> Node {
    let v: Vec<Value> = values.iter().map(|s| Value::String(s.as_ref().to_string())).collect();
    leaf(json!({"type": "string", "enum": v}))
}

fn int(min: u32, max: u32) -> Node {
    leaf(json!({"type": "integer", "minimum": min, "maximum": max.max(min)}))
}

fn reason() -> Node {
    leaf(json!({"type": "string", "minLength": 1, "maxLength": REASON_MAX}))
}

/// A workload the model may scale: its key, its replicas now, and the counts one step allows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScaleTarget {
    pub key: String,
    pub min: u32,
    pub now: u32,
    pub max: u32,
}

/// What the model may name, per action kind: the twin's own targets, as the prompt shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Targets {
    /// Workloads without an HPA.
    pub scale: Vec<ScaleTarget>,
    /// Workloads with an HPA: bounds may go from 1 to `max`.
    pub hpa: Vec<ScaleTarget>,
    /// Schedulable servers.
    pub cordon: Vec<String>,
    /// Cordoned servers.
    pub uncordon: Vec<String>,
    /// Pods that may be moved off a hot server.
    pub evict: Vec<String>,
    /// Ids of the candidates the twin already evaluated.
    pub candidates: Vec<String>,
}

impl Targets {
    pub(crate) fn is_empty(&self) -> bool {
        self.scale.is_empty()
            && self.hpa.is_empty()
            && self.cordon.is_empty()
            && self.uncordon.is_empty()
            && self.evict.is_empty()
            && self.candidates.is_empty()
    }
}

/// Groups targets with the same replica range, so one variant covers them.
fn by_range(targets: &[ScaleTarget]) -> Vec<((u32, u32), Vec<&str>)> {
    let mut out: Vec<((u32, u32), Vec<&str>)> = Vec::new();
    for t in targets {
        match out.iter_mut().find(|(r, _)| *r == (t.min, t.max)) {
            Some((_, keys)) => keys.push(&t.key),
            None => out.push(((t.min, t.max), vec![&t.key])),
        }
    }
    out
}

/// The schema of one action: one variant per action kind (and replica range).
pub(crate) fn action_variants(t: &Targets) -> Vec<Node> {
    let action = |a: &str| leaf(json!({"type": "string", "enum": [a]}));
    let mut v = Vec::new();
    if !t.candidates.is_empty() {
        v.push(strict_object(vec![
            ("action", action("choose")),
            ("candidate", one_of_strings(&t.candidates)),
            ("reason", reason()),
        ]));
    }
    // Up and down apart: a scale-up serves the SLO (never cost), and the count it names is
    // never the count the workload already has.
    let up: Vec<ScaleTarget> = t
        .scale
        .iter()
        .filter(|s| s.max > s.now)
        .map(|s| ScaleTarget { min: s.now + 1, ..s.clone() })
        .collect();
    let down: Vec<ScaleTarget> = t
        .scale
        .iter()
        .filter(|s| s.min < s.now)
        .map(|s| ScaleTarget { max: s.now - 1, ..s.clone() })
        .collect();
    for (targets, motives) in [(&up, &["slo"][..]), (&down, &["cost", "slo"][..])] {
        for ((lo, hi), keys) in by_range(targets) {
            v.push(strict_object(vec![
                ("action", action("scale")),
                ("workload", one_of_strings(&keys)),
                ("replicas", int(lo, hi)),
                ("motive", one_of_strings(motives)),
                ("reason", reason()),
            ]));
        }
    }
    for ((_, hi), keys) in by_range(&t.hpa) {
        v.push(strict_object(vec![
            ("action", action("hpa_bounds")),
            ("workload", one_of_strings(&keys)),
            ("min_replicas", int(1, hi)),
            ("max_replicas", int(1, hi)),
            ("motive", one_of_strings(&["slo", "cost"])),
            ("reason", reason()),
        ]));
    }
    if !t.cordon.is_empty() {
        v.push(strict_object(vec![
            ("action", action("cordon")),
            ("server", one_of_strings(&t.cordon)),
            ("motive", one_of_strings(&["hot_server", "free_server"])),
            ("reason", reason()),
        ]));
    }
    if !t.uncordon.is_empty() {
        v.push(strict_object(vec![
            ("action", action("uncordon")),
            ("server", one_of_strings(&t.uncordon)),
            ("reason", reason()),
        ]));
    }
    if !t.evict.is_empty() {
        v.push(strict_object(vec![
            ("action", action("evict")),
            ("pod", one_of_strings(&t.evict)),
            ("motive", one_of_strings(&["hot_server", "free_server"])),
            ("reason", reason()),
        ]));
    }
    v
}

/// `{"actions": [...]}` with at most `max_actions` actions, each one of `action_variants`.
pub(crate) fn answer_schema(t: &Targets, max_actions: usize) -> Node {
    let variants = action_variants(t);
    let max = if variants.is_empty() { 0 } else { max_actions };
    let items = match variants.len() {
        0 => strict_object(vec![("action", leaf(json!({"type": "string", "enum": ["none"]})))]),
        1 => variants.into_iter().next().unwrap_or(Node::Leaf(Value::Null)),
        _ => obj(vec![("anyOf", Node::Array(variants))]),
    };
    let actions = obj(vec![
        ("type", leaf(json!("array"))),
        ("items", items),
        ("minItems", leaf(json!(0))),
        ("maxItems", leaf(json!(max))),
    ]);
    strict_object(vec![("actions", actions)])
}

/// The `response_format` member of the request.
pub(crate) fn response_format(t: &Targets, max_actions: usize) -> Node {
    obj(vec![
        ("type", leaf(json!("json_schema"))),
        (
            "json_schema",
            obj(vec![
                ("name", leaf(json!("twintop_actions"))),
                ("strict", leaf(json!(true))),
                ("schema", answer_schema(t, max_actions)),
            ]),
        ),
    ])
}

/// Characters of the longest compact JSON the schema admits (strings at their longest, every
/// array full), and the number of places a grammar lets the model put whitespace.
fn longest(n: &Node) -> (usize, usize) {
    match n {
        Node::Object(kv) => {
            let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v);
            if let Some(Node::Object(props)) = get("properties") {
                // `{"k":v,...}`
                let mut chars = 2 + props.len().saturating_sub(1);
                let mut gaps = 2 + 2 * props.len();
                for (k, v) in props {
                    let (c, g) = longest(v);
                    chars += k.chars().count() + 3 + c;
                    gaps += g;
                }
                return (chars, gaps);
            }
            if let Some(Node::Array(alts)) = get("anyOf") {
                return alts.iter().map(longest).max().unwrap_or((0, 0));
            }
            if let Some(items) = get("items") {
                let max = match get("maxItems") {
                    Some(Node::Leaf(v)) => v.as_u64().unwrap_or(0) as usize,
                    _ => 0,
                };
                let (c, g) = longest(items);
                return (2 + max * c + max.saturating_sub(1), 2 + max * (g + 1));
            }
            (0, 0)
        }
        Node::Leaf(v) => (leaf_len(v), 0),
        Node::Array(_) => (0, 0),
    }
}

fn leaf_len(v: &Value) -> usize {
    if let Some(e) = v.get("enum").and_then(Value::as_array) {
        return e.iter().map(|x| x.to_string().chars().count()).max().unwrap_or(0);
    }
    match v.get("type").and_then(Value::as_str) {
        Some("string") => {
            v.get("maxLength").and_then(Value::as_u64).unwrap_or(REASON_MAX as u64) as usize + 2
        }
        Some("integer") => {
            let max = v.get("maximum").and_then(Value::as_u64).unwrap_or(u32::MAX as u64);
            max.to_string().len()
        }
        Some("boolean") => 5,
        _ => 0,
    }
}

/// Tokens enough for the longest answer `schema` admits: a token is at least one character,
/// and a grammar lets the model put a little whitespace (a token or two) between any two
/// tokens of structure. An answer that follows the schema can then never be cut by
/// `max_tokens`; one that does not (a server ignoring the schema) is cut and its complete
/// actions kept.
pub(crate) fn max_tokens(schema: &Node) -> u32 {
    let (chars, gaps) = longest(schema);
    (chars + 2 * gaps).max(16) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            scale: vec![
                ScaleTarget { key: "shop/api".into(), min: 1, now: 2, max: 6 },
                ScaleTarget { key: "shop/db".into(), min: 2, now: 3, max: 6 },
                ScaleTarget { key: "shop/cart".into(), min: 1, now: 2, max: 6 },
            ],
            hpa: vec![ScaleTarget { key: "shop/web".into(), min: 1, now: 4, max: 12 }],
            cordon: vec!["s1".into(), "s2".into()],
            uncordon: vec![],
            evict: vec!["shop/api-0".into()],
            candidates: vec!["c1".into(), "c2".into()],
        }
    }

    #[test]
    fn the_schema_names_only_existing_targets_bounds_everything_and_orders_action_first() {
        let s = answer_schema(&targets(), 3);
        let text = serde_json::to_string(&s).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["properties"]["actions"]["maxItems"], 3);
        let alts = v["properties"]["actions"]["items"]["anyOf"].as_array().unwrap();
        // choose, scale (up and down, two ranges each), hpa_bounds, cordon, evict; no uncordon
        // (none cordoned).
        assert_eq!(alts.len(), 8, "{text}");
        let scale: Vec<&Value> =
            alts.iter().filter(|a| a["properties"]["action"]["enum"][0] == "scale").collect();
        assert_eq!(scale[0]["properties"]["workload"]["enum"], json!(["shop/api", "shop/cart"]));
        // Up from 2: 3..=6, for the SLO only (a scale-up saves no cost); never the count it has.
        assert_eq!(
            scale[0]["properties"]["replicas"],
            json!({"type": "integer", "minimum": 3, "maximum": 6})
        );
        assert_eq!(scale[0]["properties"]["motive"]["enum"], json!(["slo"]));
        let down = scale.iter().find(|a| a["properties"]["replicas"]["maximum"] == 1).expect("down to 1");
        assert_eq!(down["properties"]["workload"]["enum"], json!(["shop/api", "shop/cart"]));
        assert_eq!(down["properties"]["motive"]["enum"], json!(["cost", "slo"]));
        for a in alts {
            assert_eq!(a["additionalProperties"], false);
            assert_eq!(a["properties"]["reason"]["maxLength"], REASON_MAX);
            let required = a["required"].as_array().unwrap();
            assert_eq!(required.len(), a["properties"].as_object().unwrap().len());
        }
        // Properties in the order the model should write them: action, target, …, reason.
        let first = text.find("\"properties\":{\"action\"").expect("action first");
        let scale_at = text[first..].find("\"scale\"").unwrap() + first;
        let order = ["\"action\"", "\"workload\"", "\"replicas\"", "\"motive\"", "\"reason\""];
        let mut at = scale_at - 40;
        for k in order {
            let i = text[at..].find(k).unwrap_or_else(|| panic!("{k} after {at}")) + at;
            assert!(i >= at, "{k}");
            at = i;
        }
        assert!(!text.contains("$ref") && !text.contains("confidence"), "{text}");
    }

    #[test]
    fn max_tokens_covers_the_longest_answer_the_schema_admits() {
        let t = targets();
        let s = answer_schema(&t, 3);
        let n = max_tokens(&s) as usize;
        // The longest answer by hand: three hpa_bounds actions with the longest values.
        let one =
            json!({"action": "hpa_bounds", "workload": "shop/web", "min_replicas": 12, "max_replicas": 12,
                         "motive": "cost", "reason": "x".repeat(REASON_MAX)})
            .to_string();
        let longest = format!("{{\"actions\":[{one},{one},{one}]}}");
        assert!(n >= longest.len(), "{n} < {}", longest.len());
        // … and not absurdly more: the limit grows with the cap on actions.
        assert!(n < 4 * longest.len(), "{n}");
        assert!(max_tokens(&answer_schema(&t, 1)) < max_tokens(&s));
    }

    #[test]
    fn an_empty_twin_admits_only_no_action() {
        let s = answer_schema(&Targets::default(), 3);
        let v: Value = serde_json::to_value(&s).unwrap();
        assert_eq!(v["properties"]["actions"]["maxItems"], 0);
        assert!(Targets::default().is_empty());
    }
}
