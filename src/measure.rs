//! What the benchmarks share, whichever side measures (the headless `cli::bench` or the
//! console's `ui::bench`): a synthetic twin of N servers, nearest-rank percentiles, the
//! process's peak resident memory and CPU time, and a folder of real manifests at scale. It depends on
//! `twin` only, so neither side depends on the other.

use crate::twin::{Location, PodPhase, PodSpec, Resources, Server, TwinEvent, TwinStore, Workload};

/// A synthetic twin: `servers` servers in racks of 40, 100 workloads, `pods_per_server` pods each.
pub fn synthetic_store(servers: usize, pods_per_server: usize) -> TwinStore {
    let mut st = TwinStore::default();
    let cap = Resources::new(64_000.0, 262_144.0, 10_000.0);
    for i in 0..servers {
        let loc = Location::new(
            &format!("region-{}", i / 2000),
            &format!("zone-{}", i / 400),
            &format!("rack-{}", i / 40),
        );
        st.apply(TwinEvent::Server(Server::new(&format!("node-{i:05}"), loc, cap)));
        st.apply(TwinEvent::ServerUsage {
            server: format!("node-{i:05}"),
            usage: Resources::new(
                ((i * 7919) % 64_000) as f64,
                ((i * 104_729) % 262_144) as f64,
                ((i * 31) % 10_000) as f64,
            )
            .into(),
        });
    }
    for w in 0..100 {
        st.apply(TwinEvent::Workload(Workload::new(
            &format!("app-{w:03}"),
            "bench",
            1,
            Resources::new(500.0, 512.0, 10.0),
        )));
    }
    for i in 0..servers * pods_per_server {
        st.apply(TwinEvent::Pod(PodSpec {
            name: format!("app-{:03}-{i:06}", i % 100),
            namespace: "bench".into(),
            workload: Some(format!("app-{:03}", i % 100)),
            server: Some(format!("node-{:05}", i % servers)),
            requests: Resources::new(500.0, 512.0, 10.0),
            limits: None,
            phase: PodPhase::Running,
            reason: None,
        }));
    }
    st
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Resets the process's peak resident memory to what it holds now (Linux ≥ 4.0; elsewhere a
/// no-op, and the peak then covers the whole process).
pub(crate) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory (VmHWM), MB; None where /proc does not say.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// This process's CPU time (user + system), s.
pub(crate) fn process_cpu_s() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The real app the large manifest twins are made of (tests/data, Apache-2.0).
const BOUTIQUE: &str = include_str!("../tests/data/manifests/online-boutique/kubernetes-manifests.yaml");

/// Online Boutique (12 Deployments and their Services) copied into ⌈n/12⌉ namespaces
/// `shop-01`…, each object given its namespace, one file per namespace, in `dir`: a twin of
/// about `n` workloads as a user's folder would hold it. Returns the namespaces.
pub(crate) fn write_boutiques(dir: &std::path::Path, n: usize) -> std::io::Result<usize> {
    let per_copy = BOUTIQUE.lines().filter(|l| *l == "kind: Deployment").count().max(1);
    let copies = n.div_ceil(per_copy).max(1);
    std::fs::create_dir_all(dir)?;
    for k in 1..=copies {
        let ns = format!("shop-{k:02}");
        let text: String =
            BOUTIQUE
                .lines()
                .map(|l| {
                    if l == "metadata:" {
                        format!("metadata:\n  namespace: {ns}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
        std::fs::write(dir.join(format!("{ns}.yaml")), text)?;
    }
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_store_has_the_requested_size() {
        let s = synthetic_store(30, 10).snapshot();
        assert_eq!(s.servers.len(), 30);
        assert_eq!(s.pods.len(), 300);
        assert!(s.pods.iter().all(|p| p.server.is_some() && p.workload.is_some()));
    }

    #[test]
    fn percentile_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.99), 4.0);
    }
}
