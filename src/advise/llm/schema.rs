//! The answer shape asked of the model: InfraLLM's action (`name`, `time`, `reason`) extended
//! with the target's kind, the action, the replica figures and a stated confidence — and the
//! strict JSON Schema for it that goes into `response_format`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the model is asked to return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Answer {
    /// At most a few actions; an empty list means "no action".
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Workload,
    Server,
    Pod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Scale,
    HpaBounds,
    Cordon,
    Uncordon,
    /// Evict a pod from its server; its controller recreates it and the scheduler places it.
    Evict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Action {
    /// The workload key `namespace/name`, the server name, or for `evict` the pod
    /// `namespace/name`, exactly as in the data.
    pub name: String,
    pub target_kind: TargetKind,
    pub action: ActionKind,
    /// New replicas, for `scale`.
    pub replicas: Option<u32>,
    /// New HPA minimum, for `hpa_bounds`.
    pub min_replicas: Option<u32>,
    /// New HPA maximum, for `hpa_bounds`.
    pub max_replicas: Option<u32>,
    /// When to act, RFC 3339; null for now.
    pub time: Option<String>,
    /// One sentence.
    pub reason: String,
    /// Your confidence that this improves the SLOs, 0–100.
    pub confidence: f64,
}

/// The JSON Schema of `Answer` in the strict form OpenAI-compatible servers accept: every
/// property required (optional ones are nullable), no additional properties, no `$ref`s.
pub fn answer_schema() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let schema = settings.into_generator().into_root_schema_for::<Answer>();
    let mut v = serde_json::to_value(schema).unwrap_or(Value::Null);
    strictify(&mut v);
    if let Some(o) = v.as_object_mut() {
        o.remove("title");
    }
    v
}

fn strictify(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.remove("format");
            if let Some(Value::Object(props)) = o.get("properties") {
                let names: Vec<Value> = props.keys().map(|k| Value::String(k.clone())).collect();
                o.insert("required".into(), Value::Array(names));
                o.insert("additionalProperties".into(), Value::Bool(false));
            }
            for (_, child) in o.iter_mut() {
                strictify(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strictify),
        _ => {}
    }
}

/// The `response_format` member of the request.
pub fn response_format() -> Value {
    serde_json::json!({
        "type": "json_schema",
        "json_schema": { "name": "twintop_actions", "strict": true, "schema": answer_schema() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_strict_and_self_contained() {
        let s = answer_schema();
        let text = s.to_string();
        assert!(!text.contains("$ref"), "{text}");
        assert!(!text.contains("uint32"), "{text}");
        let action = &s["properties"]["actions"]["items"];
        assert_eq!(action["additionalProperties"], false);
        let required: Vec<&str> =
            action["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        for k in [
            "name",
            "target_kind",
            "action",
            "replicas",
            "min_replicas",
            "max_replicas",
            "time",
            "reason",
            "confidence",
        ] {
            assert!(required.contains(&k), "{k} not required in {action}");
        }
        assert!(action["properties"]["action"].to_string().contains("hpa_bounds"));
        assert_eq!(response_format()["json_schema"]["strict"], true);
    }
}
