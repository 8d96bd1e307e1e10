//! The console's small things with a real manifests twin: the header keeps RUB, SLO and the
//! feeds on screen whatever the length of the source's paths, a workload that limits only
//! memory reads so, and a server without topology labels has no `//` location.

mod common;

use chrono::{DateTime, Utc};
use std::path::PathBuf;
use twintop::source::manifests::{Datacenter, ReadOptions, load_paths};
use twintop::twin::TwinStore;
use twintop::ui::{App, AppOptions};

/// A file of the test data, as the manifests reader takes it.
fn data(rel: &str) -> PathBuf {
    PathBuf::from(common::data(rel))
}

fn screen(app: &mut App, w: u16, h: u16) -> Vec<String> {
    common::lines(&common::draw(app, w, h))
}

/// A repository checked out deep in a home directory, placed on the API's NodeList.
fn twin() -> std::sync::Arc<twintop::twin::Snapshot> {
    let dir = tempfile::tempdir().unwrap();
    let deep =
        dir.path().join("home/sre/src/github.com/acme/platform-deployments/clusters/prod-eu-west-1/apps");
    std::fs::create_dir_all(&deep).unwrap();
    let file = deep.join("online-boutique.yaml");
    std::fs::copy(data("manifests/online-boutique/kubernetes-manifests.yaml"), &file).unwrap();
    let mut dc = Datacenter::from_nodes_file(&data("api/honeycomb/nodes.json")).unwrap();
    dc.servers.iter_mut().for_each(|s| s.taints.clear());
    dc.name = format!("servers of {}", deep.join("nodes.json").display());
    let mut st = TwinStore::default();
    st.apply_all(load_paths(&[file], &ReadOptions::default(), dc, DateTime::<Utc>::UNIX_EPOCH).unwrap());
    st.snapshot()
}

#[test]
fn the_header_keeps_rub_slo_and_feeds_at_160_and_80_columns() {
    let snap = twin();
    assert!(snap.source.name.len() + snap.source.context.len() > 160);
    let mut app = App::new(snap, AppOptions::default());
    for w in [160, 100, 80] {
        let header = &screen(&mut app, w, 40)[0];
        for want in ["RUB", "manifests", "…", "nodes.json"] {
            assert!(header.contains(want), "{want} in {w} columns: {header}");
        }
        assert!(header.contains("SLO") || header.contains("breaches"), "{header}");
        assert!(header.trim_end().ends_with('●'), "the feed's dot is the last thing: {header}");
    }
}

/// The docs' fluentd DaemonSet limits memory only: its detail says so instead of "0m cpu".
#[test]
fn a_memory_only_limit_reads_as_one() {
    let mut st = TwinStore::default();
    let paths = [
        data("manifests/kubernetes-website/daemonset.yaml"),
        data("manifests/online-boutique/kubernetes-manifests.yaml"),
    ];
    let dc = Datacenter::demo(twintop::demo::DemoPreset::Dc);
    st.apply_all(load_paths(&paths, &ReadOptions::default(), dc, DateTime::<Utc>::UNIX_EPOCH).unwrap());
    let snap = st.snapshot();
    let d = twintop::ui::derived::Derived::new(&snap);
    let theme = twintop::ui::theme::Theme::default();
    let ctx = twintop::ui::Ctx { snap: &snap, d: &d, theme: &theme };
    let text = |w: usize| -> String {
        twintop::ui::views::detail::workload_lines(w, &ctx)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut seen = 0;
    for (w, wl) in snap.workloads.iter().enumerate() {
        let Some(l) = wl.limits else { continue };
        let t = text(w);
        assert!(!t.contains(" 0m cpu") && !t.contains(" 0 Mi"), "{t}");
        if l.cpu_m == 0.0 {
            assert!(t.contains("no cpu limit"), "{t}");
            seen += 1;
        }
    }
    assert_eq!(seen, 1, "fluentd");
}

/// On the API's tainted EKS nodes, a workload's detail says why its pod is Pending, as
/// `kubectl describe pod` would.
#[test]
fn a_pending_pod_s_detail_names_the_rule_that_kept_it_out() {
    let dc = Datacenter::from_nodes_file(&data("api/honeycomb/nodes.json")).unwrap();
    let paths = [data("manifests/online-boutique/kubernetes-manifests.yaml")];
    let mut st = TwinStore::default();
    st.apply_all(load_paths(&paths, &ReadOptions::default(), dc, DateTime::<Utc>::UNIX_EPOCH).unwrap());
    let snap = st.snapshot();
    let d = twintop::ui::derived::Derived::new(&snap);
    let theme = twintop::ui::theme::Theme::default();
    let ctx = twintop::ui::Ctx { snap: &snap, d: &d, theme: &theme };
    let w = snap.workload_index("default/frontend").unwrap();
    let text: Vec<String> = twintop::ui::views::detail::workload_lines(w, &ctx)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    let line = text.iter().find(|l| l.starts_with("pending")).unwrap_or_else(|| panic!("{text:#?}"));
    assert!(
        line.contains("1 pod · 0/2 nodes are available: 2 node(s) had untolerated taint {type: hound}."),
        "{line}"
    );
}
