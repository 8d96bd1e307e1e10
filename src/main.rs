use clap::Parser;
use std::sync::Arc;
use std::time::Duration;
use twintop::change::Change;
use twintop::cli::{self, Cli};
use twintop::demo::DemoTwin;
use twintop::source::feeder::{ClusterControl, TwinHandle, spawn_demo, spawn_feeder};
use twintop::source::{self, Plan};
use twintop::twin::TwinStore;

fn main() {
    twintop::source::init_tls();
    let cli = Cli::parse();
    let result = if cli.command.is_none() {
        console(cli).map(|_| 0)
    } else {
        restore_sigpipe();
        cli::run(cli)
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("twintop: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Headless output piped into `head` should end quietly, as other command-line tools do,
/// rather than panic on a closed pipe (Rust ignores SIGPIPE by default).
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread is started; resets one signal to its default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A source that is a single picture (manifests, or a cluster read once): it refuses changes.
struct ReadOnly(&'static str);

impl ClusterControl for ReadOnly {
    fn apply(&self, change: &Change, _dry_run: bool) -> Result<String, String> {
        Err(format!("{change}: this source is {} and accepts no changes", self.0))
    }
}

/// Opens the console on the resolved source.
fn console(cli: Cli) -> anyhow::Result<()> {
    let _log = twintop::ui::terminal::init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let opts = twintop::ui::Options::from_cli(&cli);
        // Each source keeps the twin's clock but manifests, a still picture VictoriaMetrics
        // (when configured) brings to life.
        let (handle, source_ticks) = match source::resolve(&cli.source) {
            Plan::Demo { preset, seed, notice } => {
                let demo = source::prepared_demo(DemoTwin::new(preset, seed), notice);
                (spawn_demo(demo, Duration::from_secs(1)), true)
            }
            Plan::Live { .. } => (source::kube::spawn_live(&cli.source)?, true),
            Plan::Manifests { paths } => {
                let mut store = TwinStore::default();
                store.apply_all(source::manifest_events(&cli.source, &paths)?);
                let (events, snapshots) = spawn_feeder(store);
                (TwinHandle { snapshots, cluster: Arc::new(ReadOnly("manifests")), events }, false)
            }
        };
        let vm = source::spawn_vm(&cli.source, &handle, source_ticks)?;
        let r = twintop::ui::run(handle, opts).await;
        if let Some(vm) = vm {
            vm.abort();
        }
        r
    })?;
    // The demo's stepping task and the pollers never end by themselves; don't wait for them.
    rt.shutdown_background();
    Ok(())
}
