//! Reading Kubernetes YAML: files, directories (recursively) or stdin; multi-document files
//! split into documents, each parsed to JSON first, dispatched on apiVersion/kind, then read
//! into the k8s-openapi type. Errors name the file, the document and its line.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
use k8s_openapi::api::core::v1::Service;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An HPA as read, in whichever version the file used.
#[derive(Debug, Clone)]
pub enum AnyHpa {
    V2(Box<hpa_v2::HorizontalPodAutoscaler>),
    V1(Box<hpa_v1::HorizontalPodAutoscaler>),
}

/// Where an object was read: file (or `<stdin>`), document index (1-based) and first line.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub file: String,
    pub document: usize,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: document {} (line {})", self.file, self.document, self.line)
    }
}

/// The objects of a set of manifests that the twin models, and those it skipped.
#[derive(Debug, Default)]
pub struct Objects {
    pub deployments: Vec<(Origin, Deployment)>,
    pub statefulsets: Vec<(Origin, StatefulSet)>,
    pub services: Vec<(Origin, Service)>,
    pub hpas: Vec<(Origin, AnyHpa)>,
    /// `(kind, name, origin)` of every object of a kind (or apiVersion) twintop does not model.
    pub skipped: Vec<(String, String, Origin)>,
    /// Files read, in order.
    pub files: Vec<String>,
}

/// Reads `path`: `-` for stdin, a file, or every `.yaml`/`.yml`/`.json` under a directory
/// (sorted, so the twin is the same on every run).
pub fn read_path(path: &Path) -> anyhow::Result<Objects> {
    let mut objs = Objects::default();
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| anyhow::anyhow!("<stdin>: {e}"))?;
        parse_text(&text, "<stdin>", &mut objs)?;
        return Ok(objs);
    }
    let meta = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let files = if meta.is_dir() {
        let mut v = Vec::new();
        collect_files(path, &mut v)?;
        if v.is_empty() {
            anyhow::bail!("{}: no .yaml, .yml or .json files in this directory", path.display());
        }
        v
    } else {
        vec![path.to_path_buf()]
    };
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        parse_text(&text, &f.display().to_string(), &mut objs)?;
    }
    Ok(objs)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Splits a YAML stream into documents at `---` lines, keeping each one's first line number
/// (1-based) so errors point into the file, not into the document.
pub fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let is_sep =
            line.starts_with("---") && line[3..].chars().next().is_none_or(|c| c == ' ' || c == '\t');
        let is_end = line == "..." || line.starts_with("... ");
        if is_sep || is_end {
            docs.push((start, std::mem::take(&mut cur)));
            start = i + 1;
            if is_sep {
                // Content after the marker (`--- {a: 1}`) belongs to the new document; blank the
                // marker so line numbers stay aligned.
                cur.push_str("   ");
                cur.push_str(&line[3..]);
                cur.push('\n');
            } else {
                cur.push('\n');
            }
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    docs.push((start, cur));
    docs
}

/// Parses one multi-document text (`file` names it in errors) into `objs`.
pub fn parse_text(text: &str, file: &str, objs: &mut Objects) -> anyhow::Result<()> {
    objs.files.push(file.to_string());
    let mut index = 0;
    for (start, doc) in split_documents(text) {
        if doc.trim().is_empty()
            || doc.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            continue;
        }
        index += 1;
        let origin = Origin { file: file.to_string(), document: index, line: start };
        let value: Value = serde_saphyr::from_str(&doc).map_err(|e| {
            let line = e.location().map(|l| start + l.line() as usize - 1).unwrap_or(start);
            anyhow::anyhow!(
                "{file}: document {index}, line {line}: malformed YAML: {}",
                first_line(&e.to_string())
            )
        })?;
        dispatch(value, &origin, objs)?;
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn dispatch(value: Value, origin: &Origin, objs: &mut Objects) -> anyhow::Result<()> {
    let Value::Object(map) = &value else {
        if value.is_null() {
            return Ok(());
        }
        anyhow::bail!("{origin}: not a Kubernetes object (expected a mapping with apiVersion and kind)");
    };
    let field = |k: &str| map.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (api, kind) = (field("apiVersion"), field("kind"));
    if api.is_empty() || kind.is_empty() {
        anyhow::bail!("{origin}: apiVersion and kind are required");
    }
    let name =
        map.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
    fn typed<T: DeserializeOwned>(v: Value, origin: &Origin, what: &str) -> anyhow::Result<T> {
        serde_json::from_value(v).map_err(|e| anyhow::anyhow!("{origin}: {what}: {e}"))
    }
    let what = format!("{kind} {name}");
    match (api.as_str(), kind.as_str()) {
        (_, "List") => {
            if let Some(Value::Array(items)) = map.get("items") {
                for item in items.clone() {
                    dispatch(item, origin, objs)?;
                }
            }
        }
        ("apps/v1", "Deployment") => objs.deployments.push((origin.clone(), typed(value, origin, &what)?)),
        ("apps/v1", "StatefulSet") => objs.statefulsets.push((origin.clone(), typed(value, origin, &what)?)),
        ("v1", "Service") => objs.services.push((origin.clone(), typed(value, origin, &what)?)),
        ("autoscaling/v2" | "autoscaling/v2beta2", "HorizontalPodAutoscaler") => {
            // v2beta2 has v2's shape; only the apiVersion string differs.
            let mut v = value;
            v["apiVersion"] = Value::from("autoscaling/v2");
            objs.hpas.push((origin.clone(), AnyHpa::V2(Box::new(typed(v, origin, &what)?))));
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            objs.hpas.push((origin.clone(), AnyHpa::V1(Box::new(typed(value, origin, &what)?))))
        }
        (api, kind) => {
            let kind = match kind {
                "Deployment" | "StatefulSet" | "Service" | "HorizontalPodAutoscaler" => {
                    format!("{kind} ({api})")
                }
                _ => kind.to_string(),
            };
            objs.skipped.push((kind, name, origin.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_line_numbers() {
        let text = "# c\n---\na: 1\n---\n\nb: 2\n--- {c: 3}\n";
        let docs = split_documents(text);
        assert_eq!(docs.iter().map(|d| d.0).collect::<Vec<_>>(), [1, 2, 4, 7]);
        assert_eq!(docs[2].1, "   \n\nb: 2\n", "the marker is blanked, so lines stay aligned");
    }

    #[test]
    fn malformed_yaml_names_file_document_and_line() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n";
        let e = parse_text(text, "svc.yaml", &mut Objects::default()).unwrap_err().to_string();
        assert!(e.starts_with("svc.yaml: document 2, line "), "{e}");
        let line: usize =
            e["svc.yaml: document 2, line ".len()..].split(':').next().unwrap().parse().unwrap();
        assert!((8..=9).contains(&line), "{e}");
    }

    #[test]
    fn bad_field_type_names_object() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: many}\n";
        let e = parse_text(text, "d.yaml", &mut Objects::default()).unwrap_err().to_string();
        assert!(e.contains("d.yaml: document 1 (line 1): Deployment web") && e.contains("\"many\""), "{e}");
    }

    #[test]
    fn lists_and_unknown_kinds() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg}}\n---\napiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old}\n";
        let mut o = Objects::default();
        parse_text(text, "l.yaml", &mut o).unwrap();
        assert_eq!(o.services.len(), 1);
        let sk: Vec<(&str, &str)> = o.skipped.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
        assert_eq!(sk, [("ConfigMap", "cfg"), ("Deployment (extensions/v1beta1)", "old")]);
    }
}
