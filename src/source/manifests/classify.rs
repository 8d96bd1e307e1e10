//! Telling a Kubernetes file from the other YAML and JSON a repository holds. A document
//! looks like a Kubernetes object when it is a mapping with `kind`, or with `apiVersion` and
//! `metadata` (a Helm `Chart.yaml` has `apiVersion` but neither). A file is Kubernetes when
//! any document is; then every document must be one (or empty), and a YAML error is an error
//! with its line. A file with no such document is not Kubernetes: the caller skips it.

use super::read::{Origin, split_documents};
use serde_json::Value;

/// One parsed document and where it starts.
pub(crate) struct Doc {
    pub value: Value,
    pub origin: Origin,
}

pub(crate) enum FileKind {
    Kubernetes(Vec<Doc>),
    /// Why the file is not Kubernetes, for the skipped-files report.
    NotKubernetes(String),
}

fn looks_like_object(v: &Value) -> bool {
    v.get("kind").is_some() || (v.get("apiVersion").is_some() && v.get("metadata").is_some())
}

/// Whether unparseable text still reads as Kubernetes: a line starting with `kind:` or
/// `apiVersion:` (YAML, also as a list item), or a JSON `"kind"` / `"apiVersion"` key.
fn text_looks_like_kubernetes(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        t.starts_with("kind:")
            || t.starts_with("apiVersion:")
            || t.starts_with("\"kind\"")
            || t.starts_with("\"apiVersion\"")
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Parses and classifies one file's text (`file` names it in messages).
pub(crate) fn classify(text: &str, file: &str) -> anyhow::Result<FileKind> {
    let mut docs: Vec<Doc> = Vec::new();
    let mut others: Vec<usize> = Vec::new();
    let mut index = 0;
    let k8s_text = text_looks_like_kubernetes(text);
    for (start, doc) in split_documents(text) {
        if doc.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            continue;
        }
        index += 1;
        let origin = Origin { file: file.to_string(), document: index, line: start, item: None };
        let value: Value = match serde_saphyr::from_str(&doc) {
            Ok(v) => v,
            Err(e) => {
                let line = e.location().map(|l| start + l.line() as usize - 1).unwrap_or(start);
                let msg = first_line(&e.to_string()).to_string();
                if !k8s_text {
                    return Ok(FileKind::NotKubernetes(format!("not YAML or JSON (line {line}: {msg})")));
                }
                let hint = if doc.contains("{{") {
                    " — it looks like a template (`{{ … }}`): render it first (helm template, kustomize build)"
                } else {
                    ""
                };
                anyhow::bail!("{file}: document {index}, line {line}: malformed YAML: {msg}{hint}");
            }
        };
        if value.is_null() {
            continue;
        }
        if !looks_like_object(&value) {
            others.push(docs.len());
        }
        docs.push(Doc { value, origin });
    }
    if docs.is_empty() {
        return Ok(FileKind::NotKubernetes("empty".into()));
    }
    if others.len() == docs.len() {
        let what = match &docs[0].value {
            Value::Object(m) if m.contains_key("apiVersion") => {
                "not a Kubernetes object (apiVersion without kind or metadata)"
            }
            Value::Object(_) => "not a Kubernetes object (no apiVersion or kind)",
            Value::Array(_) => "not a Kubernetes object (a list)",
            _ => "not a Kubernetes object (a single value)",
        };
        return Ok(FileKind::NotKubernetes(what.into()));
    }
    if let Some(&i) = others.first() {
        let d = &docs[i];
        anyhow::bail!(
            "{}: not a Kubernetes object (expected a mapping with apiVersion and kind), in a file of Kubernetes objects",
            d.origin
        );
    }
    Ok(FileKind::Kubernetes(docs))
}
