//! `twintop-lab`: the fidelity lab's parts — a microservice, an open-loop load generator, and
//! `run`, which starts them with VictoriaMetrics and vmagent, holds twintop's twin against the
//! measurements and prints the table (`scripts/lab` builds and runs it).

mod http;
mod load;
mod metrics;
mod procs;
mod run;
mod service;

use clap::{Parser, Subcommand};
use std::net::TcpListener;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(name = "twintop-lab", about = "The fidelity lab: a real system to hold twintop's twin against")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run the lab: measure the chain at several rates × replicas, fit, predict, change.
    Run(run::RunArgs),
    /// One microservice (started by `run`).
    Service(service::ServiceArgs),
    /// The open-loop load generator (started by `run`).
    Load(load::LoadArgs),
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::Run(a) => run::run(a),
        Cmd::Service(a) => service::run(a),
        Cmd::Load(a) => load::run(a),
    };
    if let Err(e) = r {
        eprintln!("twintop-lab: {e:#}");
        std::process::exit(1);
    }
}

/// Serves the registry's exposition text on `port` (a thread; one answer per connection).
pub(crate) fn serve_metrics(port: u16, reg: Arc<metrics::Registry>) -> anyhow::Result<()> {
    let l = TcpListener::bind(("127.0.0.1", port))?;
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            if http::read_request(&s).is_ok() {
                let _ = http::respond(&s, 200, "text/plain; version=0.0.4", reg.render().as_bytes());
            }
        }
    });
    Ok(())
}
