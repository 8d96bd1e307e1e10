//! Reading: document splitting, error positions, lists of every shape, mixed folders, `-n`.

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
    let line: usize = e["svc.yaml: document 2, line ".len()..].split(':').next().unwrap().parse().unwrap();
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
    assert_eq!(o.skipped[0].2.item, Some(1));
}
