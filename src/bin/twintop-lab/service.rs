//! One microservice of the lab: an HTTP server with a fixed number of workers (a request waits
//! for a free one, as in a thread-pool server), a log-normal service time spent asleep (no CPU)
//! or burning CPU, then a call to each downstream workload, round-robin over its replicas as a
//! Kubernetes Service would, the worker held until the answers are back.

use crate::http;
use crate::metrics::{Identity, Registry};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, LogNormal};
use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Service time spent asleep: costs no CPU, so a busy machine disturbs it least.
    Sleep,
    /// Service time spent burning CPU (measured in the thread's own CPU time).
    Cpu,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    #[arg(long)]
    pub namespace: String,
    /// Workload (Deployment) name.
    #[arg(long)]
    pub workload: String,
    #[arg(long)]
    pub pod: String,
    #[arg(long)]
    pub port: u16,
    #[arg(long)]
    pub metrics_port: u16,
    /// Requests served at once; more wait for a worker.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Median service time, ms (log-normal).
    #[arg(long, default_value_t = 10.0)]
    pub service_ms: f64,
    /// Log-normal shape of the service time.
    #[arg(long, default_value_t = 0.5)]
    pub sigma: f64,
    #[arg(long, value_enum, default_value_t = Mode::Sleep)]
    pub mode: Mode,
    /// A file of `workload host:port` lines: the replicas of each downstream workload,
    /// re-read when it changes (a Service's endpoints).
    #[arg(long)]
    pub downstream: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// The file's modification time when last read, and what it said.
type Seen = (Option<SystemTime>, Vec<(String, Vec<SocketAddr>)>);

/// Downstream workloads and their replicas, reloaded when the file changes.
struct Endpoints {
    path: Option<PathBuf>,
    seen: Mutex<Seen>,
    next: AtomicUsize,
}

impl Endpoints {
    fn current(&self) -> Vec<(String, Vec<SocketAddr>)> {
        let Some(path) = &self.path else { return Vec::new() };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let mut g = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if modified != g.0 || modified.is_none() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let mut groups: Vec<(String, Vec<SocketAddr>)> = Vec::new();
            for line in text.lines() {
                let mut it = line.split_whitespace();
                let (Some(w), Some(a)) = (it.next(), it.next()) else { continue };
                let Ok(addr) = a.parse() else { continue };
                match groups.iter_mut().find(|g| g.0 == w) {
                    Some(g) => g.1.push(addr),
                    None => groups.push((w.to_string(), vec![addr])),
                }
            }
            *g = (modified, groups);
        }
        g.1.clone()
    }
}

struct Queue {
    q: Mutex<VecDeque<(TcpStream, Instant)>>,
    cv: Condvar,
}

pub fn run(a: ServiceArgs) -> anyhow::Result<()> {
    let me = Identity { namespace: a.namespace.clone(), workload: a.workload.clone(), pod: a.pod.clone() };
    let reg = Arc::new(Registry::new(me));
    crate::serve_metrics(a.metrics_port, reg.clone())?;
    let listener = TcpListener::bind(("127.0.0.1", a.port))?;
    let queue = Arc::new(Queue { q: Mutex::new(VecDeque::new()), cv: Condvar::new() });
    let ends = Arc::new(Endpoints {
        path: a.downstream.clone(),
        seen: Mutex::new((None, Vec::new())),
        next: AtomicUsize::new(0),
    });
    let dist = LogNormal::new(a.service_ms.max(1e-3).ln(), a.sigma.max(0.0))?;
    for i in 0..a.workers.max(1) {
        let (queue, reg, ends, a) = (queue.clone(), reg.clone(), ends.clone(), a.clone());
        std::thread::spawn(move || {
            let mut rng = SmallRng::seed_from_u64(a.seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
            loop {
                let (stream, arrived) = {
                    let mut g = queue.q.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if let Some(x) = g.pop_front() {
                            break x;
                        }
                        g = queue.cv.wait(g).unwrap_or_else(|e| e.into_inner());
                    }
                };
                let service = Duration::from_secs_f64(dist.sample(&mut rng) / 1000.0);
                handle(stream, arrived, service, &a, &reg, &ends);
            }
        });
    }
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        // The sidecar's clock starts when the connection is taken.
        let arrived = Instant::now();
        let mut g = queue.q.lock().unwrap_or_else(|e| e.into_inner());
        g.push_back((stream, arrived));
        drop(g);
        queue.cv.notify_one();
    }
    Ok(())
}

fn handle(
    stream: TcpStream,
    arrived: Instant,
    service: Duration,
    a: &ServiceArgs,
    reg: &Registry,
    ends: &Endpoints,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(req) = http::read_request(&stream) else { return };
    let source = req.header("x-source-workload").unwrap_or("unknown").to_string();
    match a.mode {
        Mode::Sleep => std::thread::sleep(service),
        Mode::Cpu => burn(service),
    }
    let mut ok = true;
    for (workload, replicas) in ends.current() {
        if replicas.is_empty() {
            continue;
        }
        let i = ends.next.fetch_add(1, Ordering::Relaxed) % replicas.len();
        let t0 = Instant::now();
        let r = http::get(replicas[i], "/work", &a.workload, Duration::from_secs(30));
        let good = matches!(r, Ok(200));
        reg.called(&workload, t0.elapsed().as_secs_f64() * 1000.0, good);
        ok &= good;
    }
    let _ = http::respond(&stream, if ok { 200 } else { 503 }, "text/plain", b"ok\n");
    reg.served(&source, arrived.elapsed().as_secs_f64() * 1000.0);
}

/// Spins until this thread has used `d` of CPU time.
fn burn(d: Duration) {
    let start = thread_cpu();
    let mut x = 0u64;
    while thread_cpu() - start < d.as_secs_f64() {
        for i in 0..2000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
}

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a valid out pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
