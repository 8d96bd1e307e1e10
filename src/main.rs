use clap::Parser;
use twintop::cli::bench::{Bench, BenchArgs};
use twintop::cli::{self, Cli, Command};
use twintop::source;

fn main() {
    twintop::source::init_tls();
    let cli = Cli::parse();
    // `main` is the one place that knows both the headless commands and the console: the
    // console and its benchmarks run from here, everything else through `cli`.
    let result = match &cli.command {
        None => {
            // A watching parent restores the terminal should the console be killed outright.
            if let Some(code) = twintop::ui::supervise::run_supervised() {
                std::process::exit(code);
            }
            console(cli).map(|_| 0)
        }
        Some(Command::Bench(BenchArgs { what: Bench::Render { servers, frames, json } })) => {
            restore_sigpipe();
            twintop::ui::bench::render(*servers, *frames, *json)
        }
        Some(Command::Bench(BenchArgs { what: Bench::Whatif { preset, workloads, horizon, json } })) => {
            restore_sigpipe();
            twintop::ui::bench::whatif(*preset, *workloads, *horizon, *json)
        }
        Some(_) => {
            restore_sigpipe();
            cli::run(cli)
        }
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

/// Opens the console on the resolved source.
fn console(cli: Cli) -> anyhow::Result<()> {
    let _log = twintop::ui::terminal::init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let opts = twintop::ui::Options {
            theme: cli.theme.clone(),
            readonly: cli.readonly,
            source: Some(cli.source.clone()),
        };
        let (handle, source_ticks) = source::spawn(&cli.source)?;
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
