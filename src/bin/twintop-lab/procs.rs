//! The lab's processes and files: a real VictoriaMetrics and a real vmagent (Debian's
//! `victoria-metrics` package), the services and the load generator (this binary), the app's
//! manifests and one node for `twintop --manifests … --servers …`, and twintop's config with
//! the `[vm]` table. Every child dies with the lab (PR_SET_PDEATHSIG) and is killed on drop.

use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NAMESPACE: &str = "lab";

pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
}

impl Proc {
    /// Starts `cmd` (its output to `log`); `nice` lowers its niceness (it sleeps most of the
    /// time, so this costs the machine's other work nothing and cuts its wake-up delays).
    pub fn start(name: &str, mut cmd: Command, log: &Path, nice: bool) -> anyhow::Result<Proc> {
        let out = std::fs::File::create(log)?;
        cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if nice {
                    libc::setpriority(libc::PRIO_PROCESS, 0, -10);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("cannot start {name} ({:?})", cmd.get_program()))?;
        Ok(Proc { name: name.to_string(), child })
    }

    /// Fails when the process has already exited.
    pub fn check(&mut self) -> anyhow::Result<()> {
        if let Some(s) = self.child.try_wait()? {
            anyhow::bail!("{} exited with {s}", self.name);
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `url` answers 200 (a plain HTTP GET), or fails after `secs`.
pub fn wait_http(url_host: SocketAddr, path: &str, secs: u64, p: &mut Proc) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        p.check()?;
        if raw_get(url_host, path).is_ok_and(|(code, _)| code == 200) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{}: {path} did not answer within {secs} s", p.name);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GET returning (status, body).
pub fn raw_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default();
    Ok((code, body))
}

pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// VictoriaMetrics with its data in `dir`, queries answering up to the newest sample.
pub fn victoria(dir: &Path, port: u16) -> anyhow::Result<Proc> {
    let mut cmd = Command::new("victoria-metrics");
    cmd.arg(format!("-storageDataPath={}", dir.join("vm").display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .args(["-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"]);
    let mut p = Proc::start("victoria-metrics", cmd, &dir.join("victoria-metrics.log"), false)
        .context("install Debian's victoria-metrics package (scripts/test does)")?;
    wait_http(local(port), "/health", 30, &mut p)?;
    Ok(p)
}

/// vmagent scraping `targets` every `scrape_s` and writing to VictoriaMetrics on `vm_port`.
pub fn vmagent(dir: &Path, port: u16, vm_port: u16, targets: &[u16], scrape_s: f64) -> anyhow::Result<Proc> {
    let list: Vec<String> = targets.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let cfg = dir.join("scrape.yaml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: {scrape_s}s\nscrape_configs:\n  - job_name: lab\n    static_configs:\n      - targets: [{}]\n",
            list.join(", ")
        ),
    )?;
    let mut cmd = Command::new("vmagent");
    cmd.arg(format!("-promscrape.config={}", cfg.display()))
        .arg(format!("-remoteWrite.url=http://127.0.0.1:{vm_port}/api/v1/write"))
        .arg(format!("-remoteWrite.tmpDataPath={}", dir.join("vmagent").display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .args(["-remoteWrite.flushInterval=1s", "-loggerLevel=ERROR"]);
    let mut p = Proc::start("vmagent", cmd, &dir.join("vmagent.log"), false)
        .context("vmagent comes with Debian's victoria-metrics package")?;
    wait_http(local(port), "/health", 30, &mut p)?;
    Ok(p)
}

/// A service or the load generator: this binary with a subcommand.
pub fn lab_process(
    name: &str,
    args: &[String],
    dir: &Path,
    nice: bool,
    metrics_port: u16,
) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(args);
    let mut p = Proc::start(name, cmd, &dir.join(format!("{name}.log")), nice)?;
    wait_http(local(metrics_port), "/metrics", 10, &mut p)?;
    Ok(p)
}

/// The app's manifests: the load generator (a traffic source), front and back, with `back`
/// at `back_replicas`; and the one node they run on.
pub fn write_manifests(dir: &Path, back_replicas: u32) -> anyhow::Result<(PathBuf, PathBuf)> {
    let apps = dir.join("manifests");
    std::fs::create_dir_all(&apps)?;
    let deployment = |name: &str, replicas: u32, labels: &str, env: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\n  labels:\n    app: {name}\n{labels}\
spec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: {name}\n        image: twintop-lab\n        resources:\n          requests: {{cpu: 100m, memory: 64Mi}}\n          limits: {{cpu: '1', memory: 256Mi}}\n{env}\
---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\nspec:\n  selector: {{app: {name}}}\n  ports:\n  - port: 8080\n---\n"
        )
    };
    let env = |var: &str, to: &str| {
        format!("        env:\n        - name: {var}\n          value: \"{to}:8080\"\n")
    };
    let text = [
        deployment("loadgen", 1, "    twintop.io/role: load-generator\n", &env("FRONT_ADDR", "front")),
        deployment("front", 1, "", &env("BACK_ADDR", "back")),
        deployment("back", back_replicas, "    twintop.io/balancer: round-robin\n", ""),
    ]
    .concat();
    std::fs::write(apps.join("app.yaml"), text)?;
    let nodes = dir.join("nodes.yaml");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    std::fs::write(
        &nodes,
        format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: lab-node\n  labels:\n    kubernetes.io/hostname: lab-node\nstatus:\n  capacity: {{cpu: '{cores}', memory: 16Gi, pods: '110'}}\n  allocatable: {{cpu: '{cores}', memory: 16Gi, pods: '110'}}\n"
        ),
    )?;
    Ok((apps, nodes))
}

/// twintop's config dir: `[vm]` with the lab's rate window, poll interval and back-fill.
pub fn write_config(dir: &Path, window_s: u32, interval_s: f64) -> anyhow::Result<PathBuf> {
    let cfg = dir.join("twintop-config");
    std::fs::create_dir_all(&cfg)?;
    std::fs::write(
        cfg.join("config.toml"),
        format!("[vm]\nwindow = \"{window_s}s\"\ninterval_s = {interval_s}\nbackfill_s = 3600\n"),
    )?;
    Ok(cfg)
}
