//! A container's environment as the kubelet builds it, for the call graph: `envFrom`
//! ConfigMaps first, then `env` in order, each value's `$(VAR)` references expanded against
//! the variables defined before it (Kubernetes' rules: `$$` escapes, an unknown or later
//! variable stays as written), `valueFrom.configMapKeyRef` read from the ConfigMaps the
//! caller knows. Secrets and field references are not read.

use k8s_openapi::api::core::v1::Container;
use std::collections::{BTreeMap, HashMap};

/// ConfigMaps by `(namespace, name)`: their `data`.
pub(crate) type ConfigMaps = HashMap<(String, String), BTreeMap<String, String>>;

/// `input` with `$(NAME)` replaced by `lookup(NAME)`, as `k8s.io/kubernetes/third_party/
/// forked/golang/expansion.Expand` does: `$$` is a literal `$`, a reference `lookup` does not
/// know is kept as written, and an unclosed `$(` is kept.
pub(crate) fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let b = input.as_bytes();
    let (mut checkpoint, mut cursor) = (0, 0);
    while cursor < b.len() {
        if b[cursor] == b'$' && cursor + 1 < b.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match lookup(name) {
                            Some(v) => out.push_str(&v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // `$` and the next character (whole, if multi-byte) are kept.
                    let c = rest.chars().next().unwrap_or('$');
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance + 1;
            checkpoint = cursor;
            continue;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint.min(input.len())..]);
    out
}

/// The variables of one container (namespace `ns`), in definition order, with their values
/// as the process would see them; variables whose value twintop cannot know are left out.
pub(crate) fn container_env(c: &Container, ns: &str, config: &ConfigMaps) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut known: HashMap<String, usize> = HashMap::new();
    let mut set = |vars: &mut Vec<(String, String)>, name: String, value: String| match known.get(&name) {
        Some(&i) => vars[i].1 = value,
        None => {
            known.insert(name.clone(), vars.len());
            vars.push((name, value));
        }
    };
    for from in c.env_from.iter().flatten() {
        let Some(r) = &from.config_map_ref else { continue };
        let Some(data) = config.get(&(ns.to_string(), r.name.clone())) else { continue };
        let prefix = from.prefix.as_deref().unwrap_or("");
        for (k, v) in data {
            set(&mut vars, format!("{prefix}{k}"), v.clone());
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            let snapshot: HashMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            expand(v, |name| snapshot.get(name).map(|s| s.to_string()))
        } else if let Some(r) = e.value_from.as_ref().and_then(|f| f.config_map_key_ref.as_ref()) {
            match config.get(&(ns.to_string(), r.name.clone())).and_then(|d| d.get(&r.key)) {
                Some(v) => v.clone(),
                None => continue,
            }
        } else {
            continue;
        };
        set(&mut vars, e.name.clone(), value);
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    /// Cases of Kubernetes' own expansion tests (third_party/forked/golang/expansion).
    #[test]
    fn expansion_follows_kubernetes() {
        let m = map(&[("VAR_A", "A"), ("VAR_B", "B"), ("VAR_C", "C"), ("VAR_EMPTY", "")]);
        let cases = [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
            ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
            ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
            ("$(VAR_DNE)", "$(VAR_DNE)"),
            ("$(VAR_EMPTY)", ""),
            ("$(VAR_A", "$(VAR_A"),
            ("$VAR_A", "$VAR_A"),
            ("$", "$"),
            ("$(", "$("),
            ("f000-$$VAR_A", "f000-$VAR_A"),
            ("$()", "$()"),
            ("€$(VAR_A)€", "€A€"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &m), want, "{input}");
        }
    }
}
