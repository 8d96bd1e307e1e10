//! The lab's open-loop load generator: Poisson arrivals at a set rate, each sent on its own
//! connection by whichever sender thread is free (more are started when none is), so a slow
//! answer never delays the next arrival — a closed-loop generator would hide queueing. It
//! exports its calls as a mesh sidecar at the source would.

use crate::http;
use crate::metrics::{Identity, Registry};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp1};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    #[arg(long)]
    pub namespace: String,
    /// This generator's workload name (the calls' source).
    #[arg(long)]
    pub workload: String,
    #[arg(long)]
    pub pod: String,
    #[arg(long)]
    pub metrics_port: u16,
    /// Requests per second (Poisson arrivals).
    #[arg(long)]
    pub rate: f64,
    /// The workload called, and its replicas (`host:port`, comma-separated; round-robin).
    #[arg(long)]
    pub target_workload: String,
    #[arg(long, value_delimiter = ',')]
    pub targets: Vec<SocketAddr>,
    /// Sender threads at most (requests in flight at once).
    #[arg(long, default_value_t = 1000)]
    pub max_in_flight: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

struct Pool {
    jobs: Mutex<VecDeque<SocketAddr>>,
    cv: Condvar,
    idle: AtomicUsize,
    threads: AtomicUsize,
}

pub fn run(a: LoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.rate > 0.0 && a.rate.is_finite(), "--rate must be positive");
    anyhow::ensure!(!a.targets.is_empty(), "--targets: give at least one host:port");
    let reg = Arc::new(Registry::new(Identity {
        namespace: a.namespace.clone(),
        workload: a.workload.clone(),
        pod: a.pod.clone(),
    }));
    crate::serve_metrics(a.metrics_port, reg.clone())?;
    let pool = Arc::new(Pool {
        jobs: Mutex::new(VecDeque::new()),
        cv: Condvar::new(),
        idle: AtomicUsize::new(0),
        threads: AtomicUsize::new(0),
    });
    let mut rng = SmallRng::seed_from_u64(a.seed);
    let mut next = Instant::now();
    let mut k = 0usize;
    loop {
        let gap: f64 = Exp1.sample(&mut rng);
        next += Duration::from_secs_f64(gap / a.rate);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        let target = a.targets[k % a.targets.len()];
        k += 1;
        pool.jobs.lock().unwrap_or_else(|e| e.into_inner()).push_back(target);
        if pool.idle.load(Ordering::Acquire) == 0 && pool.threads.load(Ordering::Acquire) < a.max_in_flight {
            spawn_sender(pool.clone(), reg.clone(), a.workload.clone(), a.target_workload.clone());
        }
        pool.cv.notify_one();
    }
}

fn spawn_sender(pool: Arc<Pool>, reg: Arc<Registry>, me: String, target_workload: String) {
    pool.threads.fetch_add(1, Ordering::AcqRel);
    std::thread::spawn(move || {
        loop {
            let target = {
                let mut g = pool.jobs.lock().unwrap_or_else(|e| e.into_inner());
                pool.idle.fetch_add(1, Ordering::AcqRel);
                let t = loop {
                    if let Some(t) = g.pop_front() {
                        break t;
                    }
                    g = pool.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                };
                pool.idle.fetch_sub(1, Ordering::AcqRel);
                t
            };
            let t0 = Instant::now();
            let r = http::get(target, "/work", &me, Duration::from_secs(30));
            reg.called(&target_workload, t0.elapsed().as_secs_f64() * 1000.0, matches!(r, Ok(200)));
        }
    });
}
