//! VictoriaMetrics settings and the standard queries, each overridable from the config file
//! (`[vm]` and `[vm.queries]` in TOML). One query per metric returns every series at once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VmConfig {
    /// Base URL, e.g. `http://127.0.0.1:8428` (single node) or `http://vmselect:8481` (cluster).
    pub url: String,
    /// Cluster VictoriaMetrics tenant (`accountID` or `accountID:projectID`): queries go to
    /// `/select/<tenant>/prometheus/api/v1/...`.
    pub tenant: Option<String>,
    /// Name of the environment variable holding a bearer token (the token never goes in the file).
    pub bearer_token_env: Option<String>,
    /// Names of the environment variables holding basic-auth user and password.
    pub basic_user_env: Option<String>,
    pub basic_password_env: Option<String>,
    /// Seconds between polls.
    pub interval_s: f64,
    /// Per-request timeout; a slower server marks the feed stale.
    pub timeout_s: f64,
    /// History back-filled with `query_range` at start, in seconds (0: none).
    pub backfill_s: f64,
    /// Longest wait between retries while the server is failing.
    pub max_backoff_s: f64,
    /// The rate window of the standard queries (`rate(…[5m])`), e.g. `1m` where metrics are
    /// scraped often; queries set in `[vm.queries]` are left as written.
    pub window: String,
    pub queries: Queries,
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            url: String::new(),
            tenant: None,
            bearer_token_env: None,
            basic_user_env: None,
            basic_password_env: None,
            interval_s: 15.0,
            timeout_s: 10.0,
            backfill_s: 1800.0,
            max_backoff_s: 120.0,
            window: DEFAULT_WINDOW.into(),
            queries: Queries::default(),
        }
    }
}

impl VmConfig {
    pub fn with_url(url: &str) -> VmConfig {
        VmConfig { url: url.to_string(), ..VmConfig::default() }
    }

    /// Parses and validates a `[vm]` table's text.
    pub fn from_toml(text: &str) -> anyhow::Result<VmConfig> {
        let c: VmConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        c.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(c)
    }

    /// Durations must be finite and within bounds (a worker computes timers from them): the
    /// error names the field and its limits.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let fields = [
            ("interval_s", self.interval_s, 0.5, 3600.0),
            ("timeout_s", self.timeout_s, 0.1, 600.0),
            ("backfill_s", self.backfill_s, 0.0, 7.0 * 86_400.0),
            ("max_backoff_s", self.max_backoff_s, 0.5, 86_400.0),
        ];
        for (name, v, lo, hi) in fields {
            if !(v.is_finite() && v >= lo && v <= hi) {
                return Err(format!("{name} must be a number of seconds from {lo} to {hi}, got {v:?}"));
            }
        }
        Ok(())
    }

    /// `load`, falling back to the defaults (with `--vm-url`, if given) when the file is
    /// malformed: what the console and the headless commands do, with the error as a notice.
    /// The flag says whether the file is not TOML at all (the console's own config notice
    /// already says so).
    pub(crate) fn load_or_default(url_flag: Option<&str>) -> (VmConfig, Option<(String, bool)>) {
        let path = crate::paths::config_dir().join("config.toml");
        match Self::load_from(&path, url_flag) {
            Ok(c) => (c, None),
            Err(e) => {
                let syntax =
                    std::fs::read_to_string(&path).is_ok_and(|t| toml::from_str::<toml::Table>(&t).is_err());
                let c = VmConfig { url: url_flag.unwrap_or_default().to_string(), ..VmConfig::default() };
                (c, Some((format!("{e}; VictoriaMetrics uses the default settings"), syntax)))
            }
        }
    }

    pub(crate) fn load_from(path: &std::path::Path, url_flag: Option<&str>) -> anyhow::Result<VmConfig> {
        let mut cfg = match std::fs::read_to_string(path) {
            Ok(text) => {
                #[derive(Deserialize)]
                struct File {
                    #[serde(default)]
                    vm: Option<VmConfig>,
                }
                // Other tables belong to other parts of twintop; only `[vm]` is read here.
                let table: toml::Table = toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
                let vm_only: toml::Table = table.into_iter().filter(|(k, _)| k == "vm").collect();
                let vm = toml::from_str::<File>(&toml::to_string(&vm_only)?)
                    .map_err(|e| anyhow::anyhow!("{}: [vm]: {}", path.display(), e.message()))?
                    .vm
                    .unwrap_or_default();
                vm.validate().map_err(|e| anyhow::anyhow!("{}: [vm] {e}", path.display()))?;
                vm
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => VmConfig::default(),
            Err(e) => anyhow::bail!("{}: {e}", path.display()),
        };
        if let Some(u) = url_flag {
            cfg.url = u.to_string();
        }
        cfg.apply_window().map_err(|e| anyhow::anyhow!("{}: [vm] window: {e}", path.display()))?;
        Ok(cfg)
    }
}

const DEFAULT_WINDOW: &str = "5m";

impl VmConfig {
    /// Puts `window` into every standard query still as the defaults have it.
    pub fn apply_window(&mut self) -> Result<(), String> {
        let w = self.window.trim();
        let valid = w.len() > 1
            && w[..w.len() - 1].chars().all(|c| c.is_ascii_digit())
            && matches!(w.chars().last(), Some('s' | 'm' | 'h'))
            && !w.starts_with('0');
        if !valid {
            return Err(format!("`{w}` is not a window like 30s, 5m or 1h"));
        }
        if w == DEFAULT_WINDOW {
            return Ok(());
        }
        let d = Queries::default();
        let q = &mut self.queries;
        let swap = |mine: &mut String, default: &String| {
            if mine == default {
                *mine = default.replace("[5m]", &format!("[{w}]"));
            }
        };
        swap(&mut q.node_cpu, &d.node_cpu);
        swap(&mut q.node_net, &d.node_net);
        swap(&mut q.pod_cpu, &d.pod_cpu);
        swap(&mut q.pod_net, &d.pod_net);
        for (mine, default) in [
            (&mut q.workload_rps, &d.workload_rps),
            (&mut q.workload_p50_ms, &d.workload_p50_ms),
            (&mut q.workload_p99_ms, &d.workload_p99_ms),
            (&mut q.edges, &d.edges),
        ] {
            if mine == default {
                *mine = default.iter().map(|x| x.replace("[5m]", &format!("[{w}]"))).collect();
            }
        }
        Ok(())
    }
}

/// The standard queries. Node queries are keyed by `instance` (or `node`); pod queries by
/// `namespace` and `pod`; workload queries by a namespace label and a workload label (see
/// `mapping::NAMESPACE_LABELS` / `WORKLOAD_LABELS`). An empty string disables a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Queries {
    /// Busy CPU as a fraction of the node's cores (node_exporter).
    pub node_cpu: String,
    /// Used memory as a fraction of the node's memory.
    pub node_mem: String,
    /// Network receive + transmit, bytes/s.
    pub node_net: String,
    /// Pod CPU in cores (cAdvisor).
    pub pod_cpu: String,
    /// Pod working-set memory in bytes.
    pub pod_mem: String,
    /// Pod network receive + transmit, bytes/s.
    pub pod_net: String,
    /// Incoming requests per second per workload; one query per mesh flavour, first match wins.
    pub workload_rps: Vec<String>,
    /// Median latency per workload in ms.
    pub workload_p50_ms: Vec<String>,
    /// p99 latency per workload in ms.
    pub workload_p99_ms: Vec<String>,
    /// Available replicas per Deployment (kube-state-metrics); used only when no Kubernetes
    /// API feeds the twin.
    pub replicas: String,
    /// Calls per second from workload to workload (the mesh call graph, origin "mesh").
    pub edges: Vec<String>,
}

const NET_DEVICES: &str = r#"device!~"lo|veth.*|cali.*|docker.*|flannel.*|cni.*""#;

fn istio_q(q: f64) -> String {
    format!(
        "histogram_quantile({q}, sum by (le, destination_workload_namespace, destination_workload)\
         (rate(istio_request_duration_milliseconds_bucket{{reporter=\"destination\"}}[5m])))"
    )
}

fn linkerd_q(q: f64) -> String {
    format!(
        "histogram_quantile({q}, sum by (le, namespace, deployment)\
         (rate(response_latency_ms_bucket{{direction=\"inbound\"}}[5m])))"
    )
}

fn otel_q(q: f64) -> String {
    format!(
        "histogram_quantile({q}, sum by (le, k8s_namespace_name, k8s_deployment_name)\
         (rate(http_server_request_duration_seconds_bucket[5m]))) * 1000"
    )
}

impl Default for Queries {
    fn default() -> Self {
        Queries {
            node_cpu: r#"1 - avg by (instance)(rate(node_cpu_seconds_total{mode="idle"}[5m]))"#.into(),
            node_mem: "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes".into(),
            // One selector for both directions: `rx + tx` would drop nodes missing either series.
            node_net: format!(
                "sum by (instance)(rate({{__name__=~\"node_network_(receive|transmit)_bytes_total\",{NET_DEVICES}}}[5m]))"
            ),
            pod_cpu: r#"sum by (namespace, pod)(rate(container_cpu_usage_seconds_total{container!="",image!=""}[5m]))"#
                .into(),
            pod_mem: r#"sum by (namespace, pod)(container_memory_working_set_bytes{container!="",image!=""})"#.into(),
            pod_net: r#"sum by (namespace, pod)(rate({__name__=~"container_network_(receive|transmit)_bytes_total"}[5m]))"#
                .into(),
            workload_rps: vec![
                r#"sum by (destination_workload_namespace, destination_workload)(rate(istio_requests_total{reporter="destination"}[5m]))"#.into(),
                r#"sum by (namespace, deployment)(rate(request_total{direction="inbound"}[5m]))"#.into(),
                "sum by (k8s_namespace_name, k8s_deployment_name)(rate(http_server_request_duration_seconds_count[5m]))".into(),
            ],
            workload_p50_ms: vec![istio_q(0.5), linkerd_q(0.5), otel_q(0.5)],
            workload_p99_ms: vec![istio_q(0.99), linkerd_q(0.99), otel_q(0.99)],
            replicas: "sum by (namespace, deployment)(kube_deployment_status_replicas_available)".into(),
            edges: vec![
                "sum by (source_workload_namespace, source_workload, destination_workload_namespace, destination_workload)\
                 (rate(istio_requests_total{reporter=\"source\"}[5m]))"
                    .into(),
                r#"sum by (namespace, deployment, dst_namespace, dst_deployment)(rate(request_total{direction="outbound"}[5m]))"#
                    .into(),
            ],
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn config_file_vm_table_with_flag_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "theme = \"dark\"\n[vm]\nurl = \"http://a:8428\"\nbearer_token_env = \"VM_TOKEN\"\n[vm.queries]\nnode_cpu = \"my_cpu\"\n").unwrap();
        let c = VmConfig::load_from(&path, None).unwrap();
        assert_eq!(c.url, "http://a:8428");
        assert_eq!(c.bearer_token_env.as_deref(), Some("VM_TOKEN"));
        assert_eq!(c.queries.node_cpu, "my_cpu");
        assert_eq!(VmConfig::load_from(&path, Some("http://b:1")).unwrap().url, "http://b:1");
        std::fs::write(&path, "[vm]\nurll = \"x\"\n").unwrap();
        let e = VmConfig::load_from(&path, None).unwrap_err().to_string();
        assert!(e.contains("config.toml") && e.contains("urll"), "{e}");
        assert_eq!(
            VmConfig::load_from(&dir.path().join("none.toml"), Some("http://c")).unwrap().url,
            "http://c"
        );
    }

    use super::*;

    #[test]
    fn toml_overrides_one_query_and_keeps_the_rest() {
        let c = VmConfig::from_toml(
            "url = \"http://vm:8481\"\ntenant = \"42\"\ninterval_s = 5\n[queries]\nnode_cpu = \"my_cpu\"\nworkload_p99_ms = []\n",
        )
        .unwrap();
        assert_eq!(c.queries.node_cpu, "my_cpu");
        assert!(c.queries.workload_p99_ms.is_empty());
        assert_eq!(c.queries.node_mem, Queries::default().node_mem);
        assert_eq!((c.interval_s, c.tenant.as_deref()), (5.0, Some("42")));
        let e = VmConfig::from_toml("[queries]\nnode_cpuu = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("node_cpuu"), "{e}");
    }

    #[test]
    fn a_window_changes_the_standard_queries_and_leaves_set_ones_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[vm]\nwindow = \"30s\"\n[vm.queries]\nnode_cpu = \"my_cpu[5m]\"\n").unwrap();
        let c = VmConfig::load_from(&path, Some("http://a")).unwrap();
        assert_eq!(c.queries.node_cpu, "my_cpu[5m]");
        assert!(
            c.queries.workload_p99_ms[0].contains("[30s]") && !c.queries.workload_p99_ms[0].contains("[5m]")
        );
        assert!(c.queries.edges.iter().all(|q| q.contains("[30s]")));
        std::fs::write(&path, "[vm]\nwindow = \"5 minutes\"\n").unwrap();
        let e = VmConfig::load_from(&path, None).unwrap_err().to_string();
        assert!(e.contains("config.toml") && e.contains("window"), "{e}");
    }

    #[test]
    fn durations_that_would_panic_a_timer_are_refused_with_field_and_limits() {
        for (field, v) in [
            ("timeout_s", "inf"),
            ("timeout_s", "nan"),
            ("timeout_s", "1e300"),
            ("interval_s", "inf"),
            ("interval_s", "0"),
            ("backfill_s", "-1"),
            ("max_backoff_s", "1e20"),
        ] {
            let e = VmConfig::from_toml(&format!("{field} = {v}\n")).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{field} must be a number of seconds from ")),
                "{field} = {v}: {e}"
            );
            // The value as written, not 300 digits.
            assert!(e.len() < 120, "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[vm]\nurl = \"http://a:1\"\ninterval_s = inf\n").unwrap();
        let e = VmConfig::load_from(&path, None).unwrap_err().to_string();
        assert!(e.contains("config.toml: [vm] interval_s must be") && e.contains("3600"), "{e}");
    }
}
