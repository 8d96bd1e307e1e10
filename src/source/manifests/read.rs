//! Reading Kubernetes YAML and JSON as `kubectl apply -f` takes it: files, directories
//! (recursively), several paths, or stdin; multi-document streams, single objects, `kind:
//! List` of mixed objects and typed lists as the API server returns them (`NodeList`,
//! `DeploymentList`, items without `kind`/`apiVersion`). In a folder, files that are not
//! Kubernetes (a Helm chart, an application's config, a `package.json`) are skipped and
//! listed with the reason; a file that looks like Kubernetes but is malformed is an error
//! naming the file, document and line. With a namespace (`-n`), objects without one land in
//! it and objects naming another are refused, as `kubectl apply -n` does.

use super::classify::{Doc, FileKind, classify};
use crate::source::k8s_map::ConfigMaps;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
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

/// Where an object was read: file (or `<stdin>`), document index (1-based) and first line;
/// `item` for an object inside a list (`items[3]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub file: String,
    pub document: usize,
    pub line: usize,
    pub item: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: document {} (line {})", self.file, self.document, self.line)?;
        if let Some(i) = self.item {
            write!(f, " items[{i}]")?;
        }
        Ok(())
    }
}

/// How objects are read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `-n`: the namespace of objects that name none; objects naming another are refused.
    pub namespace: Option<String>,
}

/// The objects of a set of manifests that the twin models, and those it skipped.
#[derive(Debug, Default)]
pub struct Objects {
    pub deployments: Vec<(Origin, Deployment)>,
    pub statefulsets: Vec<(Origin, StatefulSet)>,
    pub daemonsets: Vec<(Origin, DaemonSet)>,
    pub services: Vec<(Origin, Service)>,
    pub hpas: Vec<(Origin, AnyHpa)>,
    /// Services an Ingress or Gateway API route sends outside traffic to.
    pub routes: Vec<super::routes::RouteBackend>,
    /// ConfigMaps' data, which env references read.
    pub configmaps: ConfigMaps,
    /// `(kind, name, origin)` of every object of a kind (or apiVersion) twintop does not model.
    pub skipped: Vec<(String, String, Origin)>,
    /// `(path, why)` of every file (or folder) that holds no Kubernetes object.
    pub skipped_files: Vec<(String, String)>,
    /// Files read, in order.
    pub files: Vec<String>,
}

impl Objects {
    /// Deployments, StatefulSets and DaemonSets read.
    pub(crate) fn workload_count(&self) -> usize {
        self.deployments.len() + self.statefulsets.len() + self.daemonsets.len()
    }
}

/// Reads one path (see `read_paths`).
pub fn read_path(path: &Path) -> anyhow::Result<Objects> {
    read_paths(&[path.to_path_buf()], &ReadOptions::default())
}

/// Reads every path in order: `-` for stdin, a file, or every `.yaml`/`.yml`/`.json` under a
/// directory (sorted, so the twin is the same on every run; a folder holding `Chart.yaml` is a
/// Helm chart and is skipped whole).
pub fn read_paths(paths: &[PathBuf], opts: &ReadOptions) -> anyhow::Result<Objects> {
    let mut objs = Objects::default();
    for path in paths {
        if path == Path::new("-") {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| anyhow::anyhow!("<stdin>: {e}"))?;
            parse_text_with(&text, "<stdin>", opts, &mut objs)?;
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let files = if meta.is_dir() {
            let mut v = Vec::new();
            collect_files(path, &mut v, &mut objs.skipped_files)?;
            if v.is_empty() && objs.skipped_files.is_empty() {
                anyhow::bail!("{}: no .yaml, .yml or .json files in this directory", path.display());
            }
            v
        } else {
            vec![path.to_path_buf()]
        };
        let texts = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
                Ok((f.display().to_string(), text))
            })
            .collect::<anyhow::Result<Vec<(String, String)>>>()?;
        // Parsing is the slow part and each file's alone: in parallel, then filed in order (so
        // the first error in file order is the one reported).
        use rayon::prelude::*;
        let kinds: Vec<anyhow::Result<FileKind>> =
            texts.par_iter().map(|(name, text)| classify(text, name)).collect();
        for ((name, _), kind) in texts.iter().zip(kinds) {
            file_kind(kind?, name, opts, &mut objs)?;
        }
    }
    Ok(objs)
}

fn collect_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    if dir.join("Chart.yaml").is_file() {
        skipped.push((
            format!("{}/", dir.display()),
            "a Helm chart (render it with `helm template` and pass the output)".into(),
        ));
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, out, skipped)?;
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Splits a YAML stream into documents at `---` lines, keeping each one's first line number
/// (1-based) so errors point into the file, not into the document.
pub(crate) fn split_documents(text: &str) -> Vec<(usize, String)> {
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

/// Parses one text (`file` names it in errors) into `objs`, without a namespace override.
pub fn parse_text(text: &str, file: &str, objs: &mut Objects) -> anyhow::Result<()> {
    parse_text_with(text, file, &ReadOptions::default(), objs)
}

/// Parses one text into `objs`: its Kubernetes objects, or (when it holds none) an entry in
/// `skipped_files` saying why.
pub(crate) fn parse_text_with(
    text: &str,
    file: &str,
    opts: &ReadOptions,
    objs: &mut Objects,
) -> anyhow::Result<()> {
    file_kind(classify(text, file)?, file, opts, objs)
}

fn file_kind(kind: FileKind, file: &str, opts: &ReadOptions, objs: &mut Objects) -> anyhow::Result<()> {
    objs.files.push(file.to_string());
    match kind {
        FileKind::NotKubernetes(why) => objs.skipped_files.push((file.to_string(), why)),
        FileKind::Kubernetes(docs) => {
            for Doc { value, origin } in docs {
                dispatch(value, &origin, opts, objs, None)?;
            }
        }
    }
    Ok(())
}

/// Kinds without a namespace; `-n` leaves them alone.
fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "StorageClass"
            | "PriorityClass"
            | "IngressClass"
            | "RuntimeClass"
            | "APIService"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "CSIDriver"
            | "CSINode"
            | "VolumeAttachment"
            | "ClusterIssuer"
    )
}

/// Files one object. `defaults`: the `(apiVersion, kind)` of a typed list's items, which the
/// API server leaves out.
fn dispatch(
    mut value: Value,
    origin: &Origin,
    opts: &ReadOptions,
    objs: &mut Objects,
    defaults: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    let Value::Object(map) = &mut value else {
        anyhow::bail!("{origin}: not a Kubernetes object (expected a mapping with apiVersion and kind)");
    };
    let field = |map: &serde_json::Map<String, Value>, k: &str| {
        map.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let (mut api, mut kind) = (field(map, "apiVersion"), field(map, "kind"));
    if let Some((list_api, item_kind)) = defaults {
        if kind.is_empty() {
            kind = item_kind.to_string();
            map.insert("kind".into(), kind.clone().into());
        }
        if api.is_empty() {
            api = list_api.to_string();
            map.insert("apiVersion".into(), api.clone().into());
        }
    }
    if kind.is_empty() {
        anyhow::bail!("{origin}: kind is missing (apiVersion {:?})", crate::text::escape(&api));
    }
    if api.is_empty() {
        anyhow::bail!("{origin}: apiVersion is missing (kind {:?})", crate::text::escape(&kind));
    }
    if kind.ends_with("List")
        && let Some(Value::Array(items)) = map.get_mut("items").map(std::mem::take)
    {
        // `kind: List` holds typed objects; `FooList` holds Foos that may omit kind and apiVersion.
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        for (i, item) in items.into_iter().enumerate() {
            let o = Origin { item: Some(i), ..origin.clone() };
            dispatch(item, &o, opts, objs, item_kind.map(|k| (api.as_str(), k)))?;
        }
        return Ok(());
    }
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    if let (Some(ns), false) = (&opts.namespace, cluster_scoped(&kind))
        && let Value::Object(meta) = meta
    {
        match meta.get("namespace").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            None => {
                meta.insert("namespace".into(), ns.clone().into());
            }
            Some(own) if own != ns => anyhow::bail!(
                "{origin}: {kind} {}: the namespace from the provided object {:?} does not match the namespace {:?} \
                 given with -n (as kubectl apply refuses it); pass -n {} or remove the object's namespace",
                crate::text::escape(&name),
                crate::text::escape(own),
                crate::text::escape(ns),
                crate::text::escape(own)
            ),
            Some(_) => {}
        }
    }
    fn typed<T: DeserializeOwned>(v: Value, origin: &Origin, what: &str) -> anyhow::Result<T> {
        serde_json::from_value(v).map_err(|e| anyhow::anyhow!("{origin}: {what}: {e}"))
    }
    let what = format!("{kind} {}", crate::text::escape(&name));
    match (api.as_str(), kind.as_str()) {
        ("apps/v1", "Deployment") => objs.deployments.push((origin.clone(), typed(value, origin, &what)?)),
        ("apps/v1", "StatefulSet") => objs.statefulsets.push((origin.clone(), typed(value, origin, &what)?)),
        ("apps/v1", "DaemonSet") => objs.daemonsets.push((origin.clone(), typed(value, origin, &what)?)),
        ("v1", "Service") => objs.services.push((origin.clone(), typed(value, origin, &what)?)),
        ("v1", "ConfigMap") => {
            let ns = value["metadata"]["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default");
            let data: std::collections::BTreeMap<String, String> = match value.get("data") {
                None | Some(Value::Null) => Default::default(),
                Some(d) => typed(d.clone(), origin, &format!("{what}: data"))?,
            };
            objs.configmaps.insert((ns.to_string(), name.clone()), data);
            // Read for env references, not modelled as such.
            objs.skipped.push((kind.clone(), name, origin.clone()));
        }
        ("autoscaling/v2" | "autoscaling/v2beta2", "HorizontalPodAutoscaler") => {
            // v2beta2 has v2's shape; only the apiVersion string differs.
            value["apiVersion"] = Value::from("autoscaling/v2");
            objs.hpas.push((origin.clone(), AnyHpa::V2(Box::new(typed(value, origin, &what)?))));
        }
        (api, kind) if super::routes::is_route(api, kind) => {
            objs.routes.extend(super::routes::backends(&value, origin));
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            objs.hpas.push((origin.clone(), AnyHpa::V1(Box::new(typed(value, origin, &what)?))))
        }
        (api, kind) => {
            let kind = match kind {
                "Deployment" | "StatefulSet" | "DaemonSet" | "Service" | "HorizontalPodAutoscaler" => {
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
mod tests;
