//! `twintop bench manifests`: a twin built from Kubernetes YAML at scale — W Deployments of R
//! replicas each, calling one another in a chain through `*_ADDR` env vars, placed by the
//! spreading scheduler on N servers in 5 zones of 50-server racks — then its snapshot and KPIs.

use crate::demo::DemoPreset;
use crate::source::manifests::{
    Datacenter, Objects, ReadOptions, build_events, read::parse_text, read_paths,
};
use crate::twin::{LatencyModel, Location, Resources, Server, TwinStore, kpi};
use std::time::Instant;

/// Wall times in ms of each stage, and the figures a user would check.
pub(crate) struct ManifestsBench {
    pub parse_ms: f64,
    pub place_ms: f64,
    pub snapshot_ms: f64,
    pub kpis_ms: f64,
    pub pods: usize,
    pub pending: usize,
    pub dependency_latency_ms: f64,
}

pub(crate) fn run(servers: usize, workloads: usize, replicas: u32) -> anyhow::Result<ManifestsBench> {
    let yaml: Vec<String> = (0..workloads)
        .map(|d| {
            let env = if d + 1 < workloads {
                format!("[{{name: NEXT_ADDR, value: \"svc-{:04}:8080\"}}]", d + 1)
            } else {
                "[]".into()
            };
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: svc-{d:04}, namespace: bench}}\n\
                 spec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: svc-{d:04}}}}}\n  template:\n    \
                 metadata: {{labels: {{app: svc-{d:04}}}}}\n    spec:\n      containers:\n      - name: c\n        \
                 image: x\n        env: {env}\n        resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}\n"
            )
        })
        .collect();
    let text = yaml.join("---\n");
    let servers: Vec<Server> = (0..servers)
        .map(|i| {
            let loc = Location::new("eu", &format!("zone-{}", i % 5), &format!("rack-{}", i / 50));
            Server::new(&format!("node-{i:05}"), loc, Resources::new(64_000.0, 262_144.0, 10_000.0))
        })
        .collect();
    let dc = Datacenter { name: "bench".into(), servers, latency: LatencyModel::default() };

    let t = Instant::now();
    let mut objs = Objects::default();
    parse_text(&text, "bench.yaml", &mut objs)?;
    let parse_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let events = build_events(objs, "bench.yaml", dc, chrono::Utc::now())?;
    let place_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let mut store = TwinStore::default();
    store.apply_all(events);
    let snap = store.snapshot();
    let snapshot_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let k = kpi::kpis(&snap);
    let kpis_ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok(ManifestsBench {
        parse_ms,
        place_ms,
        snapshot_ms,
        kpis_ms,
        pods: k.pods,
        pending: k.pending_pods,
        dependency_latency_ms: k.dependency_latency_ms,
    })
}

/// One app's manifests (Online Boutique's release, tests/data/SOURCES.md), for the folder bench.
const APP: &str = include_str!("../../../tests/data/manifests/online-boutique/kubernetes-manifests.yaml");

pub(crate) struct FolderBench {
    pub files: usize,
    pub workloads: usize,
    pub pods: usize,
    pub pending: usize,
    pub read_ms: f64,
    pub build_ms: f64,
    pub snapshot_ms: f64,
}

/// The app copied into `namespaces` namespaces (`ns-000/app.yaml`, …, each object given its
/// namespace) in a temporary folder, read, built and snapshotted as `--manifests DIR` does.
pub(crate) fn run_folder(namespaces: usize) -> anyhow::Result<FolderBench> {
    let dir = tempfile_dir()?;
    for n in 0..namespaces {
        let ns = format!("ns-{n:03}");
        let sub = dir.join(&ns);
        std::fs::create_dir_all(&sub)?;
        let text = APP.replace("\nmetadata:\n", &format!("\nmetadata:\n  namespace: {ns}\n"));
        std::fs::write(sub.join("app.yaml"), text)?;
    }
    let result = (|| {
        let t = Instant::now();
        let objs = read_paths(std::slice::from_ref(&dir), &ReadOptions::default())?;
        let read_ms = t.elapsed().as_secs_f64() * 1000.0;
        let files = objs.files.len();
        let t = Instant::now();
        let events =
            build_events(objs, "bench folder", Datacenter::demo(DemoPreset::Dc), chrono::Utc::now())?;
        let build_ms = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let mut store = TwinStore::default();
        store.apply_all(events);
        let snap = store.snapshot();
        let snapshot_ms = t.elapsed().as_secs_f64() * 1000.0;
        let k = kpi::kpis(&snap);
        Ok(FolderBench {
            files,
            workloads: snap.workloads.len(),
            pods: k.pods,
            pending: k.pending_pods,
            read_ms,
            build_ms,
            snapshot_ms,
        })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A fresh directory under the system's temporary one.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "twintop-bench-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_folder_loads_every_copy() {
        let b = super::run_folder(3).unwrap();
        assert_eq!((b.files, b.workloads), (3, 36));
        assert_eq!(b.pods, 36);
    }

    #[test]
    fn a_small_run_places_every_pod_and_finds_the_chain() {
        let b = super::run(50, 3, 10).unwrap();
        assert_eq!((b.pods, b.pending), (30, 0));
        // svc-0 → svc-1 → svc-2 over 1-rack / 20-ms racks: most pairs cross racks.
        assert!(
            b.dependency_latency_ms > 1.0 && b.dependency_latency_ms <= 20.0,
            "{}",
            b.dependency_latency_ms
        );
    }
}
