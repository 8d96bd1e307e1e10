//! `twintop twin --manifests …` end to end through the binary: files, stdin, bad YAML.

mod common;

use common::twintop;
use std::io::Write;
use std::process::Stdio;

/// A file of tests/data/manifests.
fn data(rel: &str) -> String {
    common::data(&format!("manifests/{rel}"))
}

#[test]
fn stdin_manifests_print_the_twin_as_json() {
    let yaml = std::fs::read(data("online-boutique/kubernetes-manifests.yaml")).unwrap();
    let mut child = twintop()
        .args(["twin", "--manifests", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&yaml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["source"]["kind"], "manifests");
    let w = doc["workloads"].as_array().unwrap();
    assert_eq!(w.len(), 12);
    let cart = w.iter().find(|w| w["name"] == "cartservice").unwrap();
    assert_eq!(
        (&cart["namespace"], &cart["replicas"], &cart["cpu_request_m"], &cart["mem_request_mib"]),
        (&"default".into(), &1.into(), &200.0.into(), &64.0.into())
    );
    let s = &doc["servers"][0];
    for f in ["name", "cpu_util", "mem_util", "net_bps"] {
        assert!(!s[f].is_null(), "servers[].{f}");
    }
    let edges = doc["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|e| e["from"] == "default/checkoutservice" && e["to"] == "default/paymentservice")
    );
    let dangling: Vec<_> = edges.iter().filter(|e| e["dangling"] == true).map(|e| e["to"].clone()).collect();
    assert_eq!(dangling, ["default/shoppingassistantservice"]);
}

#[test]
fn malformed_yaml_fails_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "apiVersion: v1\nkind: Service\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: Service\nmetadata: {name: \"unterminated\n").unwrap();
    let out = twintop().args(["twin", "--manifests"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}: document 2, line ", path.display())), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `--servers nodes.yaml`: Online Boutique placed on two real (minikube) Nodes from
/// `kubectl get nodes -o yaml`-style documents instead of the demo datacenter.
#[test]
fn manifests_on_given_servers() {
    let dir = tempfile::tempdir().unwrap();
    let node = |file: &str, name: &str| {
        let path = common::data(&format!("api/k9s/{file}"));
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["metadata"]["name"] = name.into();
        v.to_string()
    };
    let nodes = dir.path().join("nodes.yaml");
    std::fs::write(&nodes, format!("{}\n---\n{}\n", node("no.json", "mk-a"), node("n1.json", "mk-b")))
        .unwrap();
    let out = twintop()
        .args(["--manifests", &data("online-boutique/kubernetes-manifests.yaml"), "--servers"])
        .arg(&nodes)
        .args(["twin", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> =
        doc["servers"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mk-a", "mk-b"]);
    assert_eq!(doc["servers"][0]["cpu_allocatable_m"], 4000.0);
    // Boutique's 12 single-replica workloads fit on two 4-core minikube nodes.
    let pods: u64 = doc["servers"].as_array().unwrap().iter().map(|s| s["pods"].as_u64().unwrap()).sum();
    assert_eq!(pods, 12, "every pod placed on the given servers: {}", doc["servers"]);
    // `--manifests` after the subcommand (a global flag, as the help shows it) works too.
    let out = twintop()
        .arg("--servers")
        .arg(&nodes)
        .args(["twin", "--json", "--manifests", &data("online-boutique/kubernetes-manifests.yaml")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["servers"][1]["name"], "mk-b");
    // Without --manifests there is nothing to place: said, not ignored.
    let out = twintop().arg("--servers").arg(&nodes).args(["twin", "--demo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("places the workloads of --manifests: give --manifests too"), "{err}");

    // A file that is not Nodes fails naming the file, document and line.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        format!("{}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: x}}\n", node("no.json", "a")),
    )
    .unwrap();
    let out = twintop()
        .args(["--manifests", &data("online-boutique/kubernetes-manifests.yaml"), "--servers"])
        .arg(&bad)
        .arg("twin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}: document 2 (line ", bad.display())) && err.contains("Service"),
        "{err}"
    );
}

/// `-n`, several `--manifests` (repeated and comma-separated), a mixed repository folder and
/// tainted nodes from the API, as a user types them.
#[test]
fn namespace_several_paths_mixed_folder_and_taints() {
    let out = twintop()
        .args(["twin", "--json", "-n", "shop", "--manifests"])
        .arg(format!(
            "{},{}",
            data("kubectl-testdata/list.yaml"),
            data("kubectl-testdata/multi-resource-svclist.json")
        ))
        .args(["--manifests", &data("online-boutique-repo")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ws = doc["workloads"].as_array().unwrap();
    assert_eq!(ws.len(), 13);
    assert!(ws.iter().all(|w| w["namespace"] == "shop"), "{ws:?}");
    let notes: Vec<&str> = doc["notices"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(
        notes.iter().any(|n| n.starts_with("skipped 6 file(s) that hold no Kubernetes object")
            && n.contains("helm-chart/")),
        "{notes:?}"
    );

    // Online Boutique on two tainted EKS nodes: the table says why each pod is Pending.
    let nodes = common::data("api/honeycomb/nodes.json");
    let out = twintop()
        .args([
            "--manifests",
            &data("online-boutique/kubernetes-manifests.yaml"),
            "--servers",
            &nodes,
            "twin",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(
            "default/frontend-0: 0/2 nodes are available: 2 node(s) had untolerated taint {type: hound}."
        ),
        "{table}"
    );
    assert!(table.contains("pods 12 (12 pending)"), "{table}");
    // A folder with a malformed Kubernetes file fails naming it.
    let out = twintop().args(["twin", "--manifests", &data("kubectl-testdata/recursive")]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nginx-broken.yaml: document 1 (line 1): kind is missing"), "{err}");
}

/// A server without topology labels (minikube) prints `-` as its location, not `//`.
#[test]
fn servers_without_topology_labels_have_no_slashes() {
    let node = common::data("api/k9s/no.json");
    let out = twintop()
        .args(["--manifests", &data("online-boutique/kubernetes-manifests.yaml"), "--servers", &node, "twin"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table.lines().find(|l| l.starts_with("minikube")).unwrap_or_else(|| panic!("{table}"));
    assert!(!row.contains("//") && row.split_whitespace().nth(1) == Some("-"), "{row}");
}
