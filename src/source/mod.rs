//! Where the twin's data comes from: the embedded demo, manifests, or a live cluster with
//! VictoriaMetrics. Every source turns what it sees into `TwinEvent`s; the feeder task
//! applies them to the one `TwinStore` and publishes snapshots.

pub mod feeder;
pub(crate) mod k8s_map;
pub mod kube;
pub mod manifests;
pub mod victoria;

use crate::demo::{DemoPreset, DemoTwin};
use crate::twin::{Snapshot, TwinStore};
use chrono::Utc;
use clap::Args;
use manifests::Datacenter;
use std::path::PathBuf;
use std::sync::Arc;

/// The source flags every command takes.
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// Use the embedded demo datacenter (preset `dc`, DIRA-LDT's 50 servers; or `mec`,
    /// KubeTwin's federation). The default when no kubeconfig is found.
    #[arg(long, global = true, value_name = "PRESET", num_args = 0..=1, default_missing_value = "dc")]
    pub demo: Option<DemoPreset>,

    /// Seed of the demo's simulation (same seed, same demo).
    #[arg(long, global = true, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Build the twin from Kubernetes YAML or JSON, as `kubectl apply -f` reads it: a file,
    /// a directory (recursively; files that are not Kubernetes, such as a Helm chart or an
    /// application's config, are skipped and listed), or `-` for stdin. Repeat the flag or
    /// separate paths with commas for several. With `-n NS`, objects without a namespace land
    /// in NS.
    #[arg(long, global = true, value_name = "PATH", action = clap::ArgAction::Append, value_delimiter = ',')]
    pub manifests: Vec<PathBuf>,

    /// With --manifests: place the workloads on these servers instead of the demo datacenter
    /// (`kubectl get nodes -o yaml` or `-o json`: a NodeList, or YAML documents of Nodes).
    /// Given before any subcommand (`eval` and `bench` have a `--servers N` of their own).
    // Checked by `servers_need_manifests`, not clap's `requires`: that one misses a global
    // `--manifests` given after the subcommand.
    #[arg(long, value_name = "FILE")]
    pub servers: Option<PathBuf>,

    /// Where users' requests enter (a workload's name or namespace/name; repeat the flag or
    /// separate names with commas): what-if load and the twin's traffic arrive there, as for a
    /// workload behind an Ingress or a Gateway route, or labelled `twintop.io/entry: "true"`.
    #[arg(long, global = true, value_name = "WORKLOAD", action = clap::ArgAction::Append, value_delimiter = ',')]
    pub entry: Vec<String>,

    /// kubeconfig context to use (default: the current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace of the namespaced resources (default: the context's namespace), as kubectl;
    /// with --manifests, the namespace of objects that name none (as `kubectl apply -n`).
    #[arg(short = 'n', long, global = true, value_name = "NAME", conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,

    /// Watch every namespace, as kubectl's -A.
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,

    /// VictoriaMetrics (or any Prometheus HTTP API) base URL, e.g. http://127.0.0.1:8428.
    #[arg(long, global = true, value_name = "URL")]
    pub vm_url: Option<String>,

    /// OpenAI-compatible LLM base URL, e.g. http://127.0.0.1:8080/v1.
    #[arg(long, global = true, value_name = "URL")]
    pub llm_url: Option<String>,

    /// Model name sent to the LLM endpoint (with --llm-url), by the console and `advise` alike
    /// [default: local].
    #[arg(long, global = true, value_name = "NAME")]
    pub llm_model: Option<String>,

    /// Environment variable holding the LLM API key (never logged or saved).
    #[arg(long, global = true, value_name = "VAR", default_value = crate::advise::llm::DEFAULT_KEY_ENV)]
    pub llm_key_env: String,

    /// Seconds to wait for the LLM's whole answer (one retry when nothing arrived).
    #[arg(long, global = true, value_name = "SECS", default_value_t = crate::advise::llm::DEFAULT_TIMEOUT_S,
          value_parser = crate::bounds::int(1u64, 3600))]
    pub llm_timeout: u64,

    /// Seconds to wait for the LLM's first byte, and at most between two chunks of a streamed
    /// answer.
    #[arg(long, global = true, value_name = "SECS", default_value_t = crate::advise::llm::DEFAULT_FIRST_BYTE_TIMEOUT_S,
          value_parser = crate::bounds::int(1u64, 3600))]
    pub llm_first_byte_timeout: u64,

    /// Sampling temperature sent to the LLM.
    #[arg(long, global = true, value_name = "T", default_value_t = crate::advise::llm::DEFAULT_TEMPERATURE,
          value_parser = crate::bounds::float(0.0, 2.0))]
    pub llm_temperature: f64,
}

impl SourceArgs {
    /// The LLM advisor the flags ask for (None without `--llm-url`), shared by the console and
    /// `advise` so both reach the model the same way. Raw exchanges go to `exchanges`.
    pub(crate) fn llm_advisor(&self, exchanges: Option<PathBuf>) -> Option<crate::advise::llm::LlmAdvisor> {
        let url = self.llm_url.as_deref()?;
        let mut a = crate::advise::llm::LlmAdvisor::new(url, self.llm_model.as_deref(), exchanges);
        a.client.api_key = std::env::var(&self.llm_key_env).ok().filter(|k| !k.is_empty());
        a.client.timeout = std::time::Duration::from_secs(self.llm_timeout);
        a.client.first_byte_timeout = std::time::Duration::from_secs(self.llm_first_byte_timeout);
        a.prompt.temperature = self.llm_temperature;
        // `[llm]` limits; a bad table is reported by `advise` and leaves the defaults here.
        let cfg = crate::advise::llm::config::LlmConfig::load().unwrap_or_else(|e| {
            tracing::warn!("{e}; using the default [llm] limits");
            Default::default()
        });
        Some(a.with_config(&cfg))
    }
}

/// Installs rustls's process-wide crypto provider (ring). kube's rustls and reqwest's
/// `rustls-no-provider` both need one, and building a client without it panics. Idempotent:
/// call it first in `main` and in every test that builds an HTTP client.
pub fn init_tls() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// What the flags resolve to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    Demo { preset: DemoPreset, seed: u64, notice: Option<String> },
    Manifests { paths: Vec<PathBuf> },
    Live { context: Option<String> },
}

/// Decides the source: explicit flags first; with none, a kubeconfig if one exists, else the
/// demo with a notice saying why.
pub(crate) fn resolve(args: &SourceArgs) -> Plan {
    if let Some(preset) = args.demo {
        return Plan::Demo { preset, seed: args.seed, notice: None };
    }
    if !args.manifests.is_empty() {
        return Plan::Manifests { paths: args.manifests.clone() };
    }
    if args.context.is_some() || kubeconfig_exists() || kube::in_cluster_env() {
        return Plan::Live { context: args.context.clone() };
    }
    Plan::Demo {
        preset: DemoPreset::Dc,
        seed: args.seed,
        notice: Some("no kubeconfig found (KUBECONFIG or ~/.kube/config): showing the embedded demo".into()),
    }
}

fn kubeconfig_exists() -> bool {
    if let Some(v) = std::env::var_os("KUBECONFIG") {
        return std::env::split_paths(&v).any(|p| p.is_file());
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config").is_file()).unwrap_or(false)
}

/// Starts the resolved source for a long-running process (the console, `twintop operator`):
/// the demo stepping once a second, a live cluster, or manifests as a still picture whose
/// cluster refuses every change. Returns whether the source keeps the twin's clock (all but
/// manifests, which VictoriaMetrics, when configured, brings to life). Call inside a tokio
/// runtime.
pub fn spawn(args: &SourceArgs) -> anyhow::Result<(feeder::TwinHandle, bool)> {
    servers_need_manifests(args)?;
    Ok(match resolve(args) {
        Plan::Demo { .. } | Plan::Live { .. } if !args.entry.is_empty() => {
            anyhow::bail!(
                "--entry marks entries of a twin read once: use it with --manifests or a headless command"
            )
        }
        Plan::Demo { preset, seed, notice } => {
            let mut demo = prepared_demo(DemoTwin::new(preset, seed), notice);
            // Its past ends where the script was asked to start, a whole day earlier if need
            // be (the day and the incident script repeat together).
            let start = demo.tick();
            let back = DEMO_HISTORY_TICKS as u64;
            demo.skip_to(if start >= back { start - back } else { start + crate::demo::DAY_TICKS - back });
            (feeder::spawn_demo(demo, std::time::Duration::from_secs(1), DEMO_HISTORY_TICKS), true)
        }
        Plan::Live { .. } => (kube::spawn_live(args)?, true),
        Plan::Manifests { paths } => {
            let mut store = TwinStore::default();
            store.apply_all(manifest_events(args, &paths)?);
            let (events, snapshots) = feeder::spawn_feeder(store);
            let cluster = Arc::new(crate::act::cluster::ReadOnly("manifests"));
            (feeder::TwinHandle { snapshots, cluster, events }, false)
        }
    })
}

/// Warm-up of a headless demo snapshot: long enough for history, traffic and the incident.
pub(crate) const DEMO_WARMUP_TICKS: u32 = 90;

/// Seconds of history the console's demo opens with (a long-running process: the console,
/// `twintop operator`), ending at the start tick.
pub(crate) const DEMO_HISTORY_TICKS: u32 = 120;

/// One snapshot of the twin, for headless commands.
pub(crate) fn load_snapshot(args: &SourceArgs) -> anyhow::Result<Arc<Snapshot>> {
    let mut snap = load_plain_snapshot(args)?;
    if !args.entry.is_empty() {
        let mut workloads: Vec<&mut crate::twin::Workload> =
            Arc::make_mut(&mut snap).workloads.iter_mut().collect();
        mark_entries(&mut workloads, &args.entry, "the twin")?;
    }
    Ok(snap)
}

/// Labels the workloads `names` (`--entry`) as entries; a name `within` lacks is an error.
fn mark_entries(
    workloads: &mut [&mut crate::twin::Workload],
    names: &[String],
    within: &str,
) -> anyhow::Result<()> {
    for n in names {
        let mut found = false;
        for w in workloads.iter_mut().filter(|w| w.name == *n || w.key() == *n) {
            w.labels.insert(crate::sim::entries::ENTRY_LABEL.into(), "true".into());
            found = true;
        }
        anyhow::ensure!(found, "--entry {}: no workload of that name in {within}", crate::text::escape(n));
    }
    Ok(())
}

fn load_plain_snapshot(args: &SourceArgs) -> anyhow::Result<Arc<Snapshot>> {
    servers_need_manifests(args)?;
    // `--vm-url`, else `[vm] url` in config.toml, as the console does; a malformed file is a
    // warning and the defaults.
    let (vm, err) = victoria::VmConfig::load_or_default(args.vm_url.as_deref());
    if let Some((e, _)) = err {
        eprintln!("twintop: warning: {}", crate::text::escape(&e));
    }
    let with_vm = !vm.url.trim().is_empty();
    match resolve(args) {
        Plan::Demo { preset, seed, notice } => {
            // As in the console; the snapshot is taken `DEMO_WARMUP_TICKS` after the start tick.
            if !with_vm {
                return Ok(
                    prepared_demo(DemoTwin::new(preset, seed), notice).warm_snapshot(DEMO_WARMUP_TICKS)
                );
            }
            // The same warm-up as `warm_snapshot`, kept as a store so metrics can be laid over it.
            let start = Utc::now() - chrono::Duration::seconds(DEMO_WARMUP_TICKS as i64);
            let mut demo = prepared_demo(DemoTwin::starting_at(preset, seed, start), notice);
            let mut store = TwinStore::default();
            for _ in 0..DEMO_WARMUP_TICKS {
                store.apply_all(demo.step());
            }
            enrich_with_vm(&mut store, &vm, false)?;
            Ok(store.snapshot())
        }
        Plan::Manifests { paths } => {
            let mut store = TwinStore::default();
            store.apply_all(manifest_events(args, &paths)?);
            if with_vm {
                enrich_with_vm(&mut store, &vm, true)?;
            }
            Ok(store.snapshot())
        }
        Plan::Live { .. } => kube::load_snapshot(args),
    }
}

/// The demo with the banner saying why it runs (if any), started at `TWINTOP_DEMO_START_TICK`
/// of its incident script when that is set (undocumented in --help, documented in the README:
/// tests and demos start at the incident). The console and every headless command start here.
pub(crate) fn prepared_demo(mut demo: DemoTwin, notice: Option<String>) -> DemoTwin {
    if let Some(n) = notice {
        demo.add_notice(n);
    }
    if let Some(t) = std::env::var("TWINTOP_DEMO_START_TICK").ok().and_then(|v| v.parse().ok()) {
        demo.skip_to(t);
    }
    demo
}

/// Lays VictoriaMetrics over a running source when `--vm-url` or `[vm] url` in config.toml
/// names one: the poller feeds the source's own feeder, so the header's `vm` feed shows its
/// health. `source_ticks`: the source keeps the twin's clock (demo, Kubernetes), so the poller
/// sends no Ticks of its own. Call inside a tokio runtime.
pub fn spawn_vm(
    args: &SourceArgs,
    handle: &feeder::TwinHandle,
    source_ticks: bool,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let (cfg, err) = victoria::VmConfig::load_or_default(args.vm_url.as_deref());
    if let Some((e, syntax)) = err {
        tracing::warn!("{e}");
        // A file that is not TOML at all is already the console's own config notice.
        if !syntax {
            let _ = handle.events.try_send(vec![crate::twin::TwinEvent::Notice(e)]);
        }
    }
    if cfg.url.trim().is_empty() {
        return Ok(None);
    }
    let src = victoria::VmSource::new(cfg, false)?;
    let src = if source_ticks { src.without_ticks() } else { src };
    Ok(Some(victoria::spawn_poller(src, handle.snapshots.clone(), handle.events.clone())))
}

/// `--servers` places the workloads of `--manifests`: alone, or with another source, it would
/// be silently ignored.
fn servers_need_manifests(args: &SourceArgs) -> anyhow::Result<()> {
    match &args.servers {
        Some(f) if args.manifests.is_empty() || args.demo.is_some() => anyhow::bail!(
            "--servers {} places the workloads of --manifests: give --manifests too (and not --demo)",
            f.display()
        ),
        _ => Ok(()),
    }
}

/// The twin built from `--manifests` (placed on `--servers` or the demo datacenter, objects
/// without a namespace in `-n`'s), as events.
pub(crate) fn manifest_events(
    args: &SourceArgs,
    paths: &[PathBuf],
) -> anyhow::Result<Vec<crate::twin::TwinEvent>> {
    let dc = match &args.servers {
        Some(file) => Datacenter::from_nodes_file(file)?,
        None => Datacenter::demo(DemoPreset::Dc),
    };
    let opts = manifests::ReadOptions { namespace: args.namespace.clone() };
    let mut events = manifests::load_paths(paths, &opts, dc, Utc::now())?;
    if !args.entry.is_empty() {
        let mut workloads: Vec<&mut crate::twin::Workload> = events
            .iter_mut()
            .filter_map(|e| if let crate::twin::TwinEvent::Workload(w) = e { Some(w) } else { None })
            .collect();
        mark_entries(&mut workloads, &args.entry, "the manifests")?;
    }
    Ok(events)
}

/// One round of VictoriaMetrics queries laid over a headless twin (`--vm-url` with
/// `--manifests` or `--demo`), after its history back-filled (`[vm] backfill_s`) when the twin
/// has none of its own (`history`): what the twin fits its request models on. A failing server
/// does not fail the command: the `vm` feed and a notice say what went wrong and the twin is
/// printed without measurements.
fn enrich_with_vm(store: &mut TwinStore, vm: &victoria::VmConfig, history: bool) -> anyhow::Result<()> {
    let src = victoria::VmSource::new(vm.clone(), false)?;
    let targets = victoria::Targets::from_snapshot(&store.snapshot());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    if history && vm.backfill_s > 0.0 {
        let end = Utc::now();
        let start = end - chrono::Duration::milliseconds((vm.backfill_s * 1000.0) as i64);
        match rt.block_on(src.backfill(&targets, start, end, vm.interval_s.max(1.0))) {
            Ok(batches) => batches.into_iter().for_each(|b| store.apply_all(b)),
            Err(e) => store.apply(crate::twin::TwinEvent::Notice(format!("VictoriaMetrics: history: {e}"))),
        }
    }
    let out = rt.block_on(src.poll_once(&targets, None));
    if let Some(e) = out.errors.first() {
        store.apply(crate::twin::TwinEvent::Notice(format!(
            "VictoriaMetrics: {} of {} queries failed, first: {e}",
            out.errors.len(),
            src.jobs().len()
        )));
    }
    store.apply_all(out.events);
    Ok(())
}
