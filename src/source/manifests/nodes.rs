//! The servers a manifest twin is placed on, read from `kubectl get nodes -o yaml|json` or
//! the API itself: a NodeList (whose items the API server leaves without `kind` and
//! `apiVersion`), a v1 List, or YAML documents of Nodes. A Node without `status.capacity` or
//! `status.allocatable` (a hand-written one) is refused: it would be a server of 0 CPU on which
//! every pod stays Pending. Errors name the file, document, item and line.

use super::read::{Origin, split_documents};
use crate::source::k8s_map;
use crate::twin::Server;
use k8s_openapi::api::core::v1::Node;
use serde_json::Value;
use std::path::Path;

/// Reads the servers of a Node file; an error when it holds no Node at all.
pub(crate) fn read_nodes_file(path: &Path) -> anyhow::Result<Vec<Server>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let servers = parse_nodes(&text, &file)?;
    if servers.is_empty() {
        anyhow::bail!("{file}: no Node objects (expected `kubectl get nodes -o yaml` or `-o json` output)");
    }
    Ok(servers)
}

/// Parses the Nodes of one text (`file` names it in errors), in file order.
pub fn parse_nodes(text: &str, file: &str) -> anyhow::Result<Vec<Server>> {
    let mut servers: Vec<Server> = Vec::new();
    let mut index = 0;
    for (start, doc) in split_documents(text) {
        if doc.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            continue;
        }
        index += 1;
        let origin = Origin { file: file.to_string(), document: index, line: start, item: None };
        let value: Value = serde_saphyr::from_str(&doc).map_err(|e| {
            let line = e.location().map(|l| start + l.line() as usize - 1).unwrap_or(start);
            let msg = e.to_string();
            anyhow::anyhow!(
                "{file}: document {index}, line {line}: malformed YAML: {}",
                msg.lines().next().unwrap_or("")
            )
        })?;
        node_values(value, &origin, "", false, &mut servers)?;
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = servers.iter().find(|s| !seen.insert(s.name.as_str())) {
        anyhow::bail!("{file}: Node {} appears twice", crate::text::escape(&dup.name));
    }
    Ok(servers)
}

/// `in_node_list`: an item of a NodeList, which may omit `kind` and `apiVersion`.
fn node_values(
    mut value: Value,
    origin: &Origin,
    at: &str,
    in_node_list: bool,
    out: &mut Vec<Server>,
) -> anyhow::Result<()> {
    if value.is_null() {
        return Ok(());
    }
    let mut kind = value.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    if kind.is_empty() && in_node_list {
        kind = "Node".into();
        value["kind"] = "Node".into();
        value["apiVersion"] = "v1".into();
    }
    match kind.as_str() {
        "NodeList" | "List" => {
            let Some(Value::Array(items)) = value.get_mut("items").map(std::mem::take) else {
                anyhow::bail!("{origin}{at}: {kind} without items");
            };
            for (i, item) in items.into_iter().enumerate() {
                node_values(item, origin, &format!("{at} items[{i}]"), kind == "NodeList", out)?;
            }
            Ok(())
        }
        "Node" => {
            let node: Node =
                serde_json::from_value(value).map_err(|e| anyhow::anyhow!("{origin}{at}: Node: {e}"))?;
            let status = node.status.as_ref();
            if status.and_then(|s| s.capacity.as_ref()).is_none()
                && status.and_then(|s| s.allocatable.as_ref()).is_none()
            {
                anyhow::bail!(
                    "{origin}{at}: Node {}: no status.capacity or status.allocatable, so no CPU or memory to place \
                     pods on (a `kubectl get nodes -o yaml` dump has them; a hand-written Node needs \
                     status.allocatable cpu and memory)",
                    crate::text::escape(node.metadata.name.as_deref().unwrap_or(""))
                );
            }
            out.push(k8s_map::node_to_server(&node).map_err(|e| anyhow::anyhow!("{origin}{at}: {e}"))?);
            Ok(())
        }
        other => anyhow::bail!(
            "{origin}{at}: kind {:?} is not a Node (expected `kubectl get nodes` output)",
            crate::text::escape(other)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> String {
        let path = format!("{}/tests/data/api/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A real Node renamed, as a second server of the same cluster.
    fn renamed(rel: &str, name: &str) -> Value {
        let mut v: Value = serde_json::from_str(&fixture(rel)).unwrap();
        v["metadata"]["name"] = name.into();
        v
    }

    #[test]
    fn node_list_json_and_multi_document_yaml() {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List",
            "items": [renamed("k9s/no.json", "node-a"), renamed("k9s/n1.json", "node-b")]});
        let s = parse_nodes(&list.to_string(), "nodes.json").unwrap();
        assert_eq!(s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["node-a", "node-b"]);
        assert_eq!(s[0].capacity.cpu_m, 4000.0);
        assert!((s[0].allocatable.mem_mib - 8063156.0 / 1024.0).abs() < 1e-6);
        // YAML documents: JSON is YAML, one Node per document.
        let yaml = format!("{}\n---\n{}\n", renamed("k9s/no.json", "a"), renamed("k9s/n1.json", "b"));
        assert_eq!(parse_nodes(&yaml, "nodes.yaml").unwrap().len(), 2);
    }

    #[test]
    fn errors_name_the_file_document_and_line() {
        let yaml =
            format!("{}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: x}}\n", fixture("k9s/no.json"));
        let e = parse_nodes(&yaml, "nodes.yaml").unwrap_err().to_string();
        let doc2 = yaml.lines().position(|l| l == "---").unwrap() + 1;
        assert!(e.starts_with(&format!("nodes.yaml: document 2 (line {doc2}): kind \"Pod\"")), "{e}");
        let mut bad: Value = serde_json::from_str(&fixture("k9s/no.json")).unwrap();
        bad["status"]["allocatable"]["cpu"] = "four".into();
        let list = serde_json::json!({"kind": "NodeList", "apiVersion": "v1", "items": [bad]});
        let e = parse_nodes(&list.to_string(), "nodes.json").unwrap_err().to_string();
        assert!(
            e.contains("nodes.json: document 1 (line 1) items[0]: Node minikube: status.allocatable.cpu"),
            "{e}"
        );
        let e = parse_nodes("kind: Node\nmetadata: [\n", "n.yaml").unwrap_err().to_string();
        assert!(e.starts_with("n.yaml: document 1, line"), "{e}");
    }
}
