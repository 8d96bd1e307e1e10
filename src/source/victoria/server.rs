//! A real VictoriaMetrics on a free loopback port with a temporary data directory, for tests
//! and benchmarks: start, import Prometheus text, flush, and kill on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary Debian's `victoria-metrics` package installs (scripts/test installs it).
pub(crate) const BINARY: &str = "victoria-metrics";

pub struct VmServer {
    child: Child,
    pub port: u16,
    pub url: String,
    http: reqwest::Client,
    _data: TempDir,
}

/// A directory removed on drop (std only: the library does not depend on tempfile).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl VmServer {
    /// Starts the server and waits (up to 30 s) until `/health` answers.
    pub async fn start() -> anyhow::Result<VmServer> {
        VmServer::start_on(free_port()?).await
    }

    /// Starts on a given port (tests of recovery start it where a poller already looks).
    pub async fn start_on(port: u16) -> anyhow::Result<VmServer> {
        crate::source::init_tls();
        let dir = std::env::temp_dir().join(format!("twintop-vm-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let data = TempDir(dir);
        let child = Command::new(BINARY)
            .arg(format!("-storageDataPath={}", data.0.display()))
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .args(["-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!("cannot start {BINARY}: {e} (install the Debian package victoria-metrics; scripts/test does)")
            })?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
        let mut s = VmServer { child, port, url: format!("http://127.0.0.1:{port}"), http, _data: data };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = s.child.try_wait()? {
                anyhow::bail!("{BINARY} exited at start with {status}");
            }
            if let Ok(r) = s.http.get(format!("{}/health", s.url)).send().await
                && r.status().is_success()
            {
                return Ok(s);
            }
            if Instant::now() > deadline {
                s.stop();
                anyhow::bail!("{BINARY} on port {port}: /health did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Imports Prometheus text exposition (timestamps in ms) and makes it queryable.
    pub async fn import_prometheus(&self, text: String) -> anyhow::Result<()> {
        let r = self.http.post(format!("{}/api/v1/import/prometheus", self.url)).body(text).send().await?;
        if !r.status().is_success() {
            anyhow::bail!("import: HTTP {}: {}", r.status(), r.text().await.unwrap_or_default());
        }
        self.flush().await
    }

    pub(crate) async fn flush(&self) -> anyhow::Result<()> {
        let r = self.http.get(format!("{}/internal/force_flush", self.url)).send().await?;
        if !r.status().is_success() {
            anyhow::bail!("force_flush: HTTP {}", r.status());
        }
        Ok(())
    }

    /// Process id of the server (for its memory figures).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for VmServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
