//! What the integration tests share: the `twintop` binary as a user runs it (with none of this
//! machine's cluster or API key leaking in), the console drawn into ratatui's TestBackend and
//! driven by keys, demo twins at a fixed time so what they draw does not depend on the clock,
//! and clusters for the approval flow to change (one that records each call, the demo's).
//!
//! Each test binary uses a part of it (`mod common;`), hence `dead_code` is allowed here.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use twintop::act::audit::Record;
use twintop::act::cluster::{ApplyError, ClusterControl};
use twintop::act::operator::{Cluster, OperatorOptions};
use twintop::advise::{AnalyticEvaluator, Candidate, Context, Proposal, TrackRecord, assess};
use twintop::change::Change;
use twintop::demo::{DemoPreset, DemoTwin};
use twintop::guardrails::Guardrails;
use twintop::twin::Snapshot;
use twintop::ui::{Action, App, AppOptions};

/// The binary as a user runs it, with nothing of this machine's in it: no in-cluster address,
/// no OpenAI key, and config, data and state dirs of this test process's own (empty at its
/// start), so a user's config or track record cannot change what a test sees and a test leaves
/// nothing in the user's dirs. A test that needs its own files gives `Dirs::twintop` instead.
pub fn twintop() -> Command {
    static SCRATCH: OnceLock<Dirs> = OnceLock::new();
    let scratch = SCRATCH.get_or_init(scratch_dirs);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_twintop"));
    cmd.env_remove("KUBERNETES_SERVICE_HOST").env_remove("OPENAI_API_KEY");
    for (var, dir) in scratch.vars() {
        cmd.env(var, dir);
    }
    cmd
}

/// The dirs `twintop()` gives: under cargo's target/tmp, kept for the process's life (statics
/// are never dropped), so each run leaves one; those of runs more than six hours old are removed.
fn scratch_dirs() -> Dirs {
    const PREFIX: &str = "twintop-scratch-";
    let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > std::time::Duration::from_secs(6 * 3600)));
        if stale && e.file_name().to_string_lossy().starts_with(PREFIX) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    Dirs::in_dir(parent, PREFIX)
}

/// A config, a data and a state dir of a test's own, removed when it is dropped.
pub struct Dirs(tempfile::TempDir);

impl Dirs {
    pub fn new() -> Dirs {
        Dirs::in_dir(&std::env::temp_dir(), "twintop-test-")
    }

    fn in_dir(parent: &Path, prefix: &str) -> Dirs {
        let root = tempfile::Builder::new().prefix(prefix).tempdir_in(parent).expect("a temp dir");
        for sub in ["config", "data", "state"] {
            std::fs::create_dir(root.path().join(sub)).expect("a temp dir");
        }
        Dirs(root)
    }

    pub fn config(&self) -> PathBuf {
        self.0.path().join("config")
    }

    pub fn data(&self) -> PathBuf {
        self.0.path().join("data")
    }

    pub fn state(&self) -> PathBuf {
        self.0.path().join("state")
    }

    /// The variables that point twintop at these dirs.
    pub fn vars(&self) -> [(&'static str, PathBuf); 3] {
        [
            ("TWINTOP_CONFIG_DIR", self.config()),
            ("TWINTOP_DATA_DIR", self.data()),
            ("TWINTOP_STATE_DIR", self.state()),
        ]
    }

    /// `twintop ARGS` with these dirs.
    pub fn twintop(&self, args: &[&str]) -> Command {
        let mut cmd = twintop();
        cmd.args(args);
        for (var, dir) in self.vars() {
            cmd.env(var, dir);
        }
        cmd
    }

    /// The same variables as a shell's assignments (`VAR=dir …`), for a command line typed
    /// into a terminal.
    pub fn shell_vars(&self) -> String {
        self.vars().map(|(var, dir)| format!("{var}={}", dir.display())).join(" ")
    }

    /// The entries of the audit log in the data dir, which must verify.
    pub fn audit(&self) -> Vec<Record> {
        audit_entries(&self.data())
    }
}

/// The entries of the audit log in `data_dir`, which must verify.
pub fn audit_entries(data_dir: &Path) -> Vec<Record> {
    let v = twintop::act::audit::verify_file(&data_dir.join(twintop::act::audit::FILE_NAME))
        .expect("an audit log");
    assert!(v.ok(), "{:?}", v.problems);
    v.entries.into_iter().map(|e| e.record).collect()
}

/// A twintop that keeps running (`twintop operator`): its stdout lines arrive on a channel; it
/// is killed when dropped, however the test ends.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts `cmd` with its stdout piped to the test (stderr as the test's).
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start twintop");
        let out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Waits for a line containing `what`; panics with everything seen after `secs`.
    pub fn wait_for(&mut self, what: &str, secs: u64) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            match self.lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(what) {
                        return l;
                    }
                }
                Err(_) => {
                    panic!("no line with {what:?} within {secs} s; twintop said:\n{}", self.seen.join("\n"))
                }
            }
        }
    }

    /// SIGTERM, as a service manager stops it; waits for it to end. Every line it printed.
    pub fn stop(mut self) -> Vec<String> {
        // SAFETY: a signal to our own child, which has not been waited for yet.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
        let rest: Vec<String> = self.lines.try_iter().collect();
        self.seen.extend(rest);
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd`: (exit code, stdout, stderr).
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run twintop");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// The fake clusters the library's unit tests use too: one file for both.
#[path = "../../src/act/cluster_fakes.rs"]
mod fakes;
#[allow(unused_imports)]
pub use fakes::{Contended, Recorder};

/// The demo twin as the cluster: changes apply to it as they would to the console's demo.
pub struct DemoCluster(pub Arc<Mutex<DemoTwin>>);

impl ClusterControl for DemoCluster {
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String> {
        self.0.lock().unwrap().apply_change(change, dry_run)
    }
}

/// Console options with `cluster` to apply to, `guardrails`, and `data` as the operator's data
/// dir (nothing from the machine's); no auto-rollback.
pub fn console_options(cluster: Arc<dyn ClusterControl>, guardrails: Guardrails, data: &Path) -> AppOptions {
    AppOptions {
        operator: OperatorOptions {
            cluster: Some(Cluster(cluster)),
            guardrails,
            data_dir: Some(data.to_path_buf()),
            auto_rollback: Vec::new(),
            owned_by: None,
        },
        ..AppOptions::default()
    }
}

/// The path of `tests/data/{rel}`, as text: an argument to `twintop` or a file to read.
pub fn data(rel: &str) -> String {
    format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))
}

// Audit records the library's unit tests use too: one file for both.
#[path = "../../src/act/audit_fixtures.rs"]
mod audit_fixtures;
#[allow(unused_imports)]
pub use audit_fixtures::audit_record;

/// 2023-11-14T22:13:20Z: the clock of every fixed-time twin.
pub fn fixed_time() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("a valid time")
}

/// The `dc` demo (seed 1) warmed up `ticks` seconds, its snapshot taken at `fixed_time`.
pub fn demo_at_fixed_time(ticks: u32) -> Arc<Snapshot> {
    DemoTwin::starting_at(DemoPreset::Dc, 1, fixed_time()).warm_snapshot(ticks)
}

/// The demo 20 s into the checkoutservice surge, at `fixed_time`: the advisors have work.
pub fn surge() -> Arc<Snapshot> {
    let mut d = DemoTwin::starting_at(DemoPreset::Dc, 1, fixed_time());
    d.skip_to(60);
    d.warm_snapshot(20)
}

/// `candidates` as proposals: validated under default guardrails, predicted by the analytic
/// (deterministic) model over the default seeds, scored with no track record.
pub fn assessed(snap: &Snapshot, candidates: Vec<Candidate>) -> Vec<Proposal> {
    let record = TrackRecord::default();
    let evaluator = AnalyticEvaluator::default();
    let ctx = Context {
        guardrails: Default::default(),
        evaluator: &evaluator,
        seeds: twintop::advise::default_seeds(),
        record: &record,
        pending: &[],
    };
    assess(snap, candidates, &ctx)
}

/// The console drawn into a `w`×`h` off-screen terminal.
pub fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    term.draw(|f| app.draw(f)).expect("draw");
    term.backend().buffer().clone()
}

/// The text of each row of a buffer.
pub fn lines(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect()
}

/// What the operator reads on a `w`×`h` terminal, one line per row.
pub fn screen(app: &mut App, w: u16, h: u16) -> String {
    lines(&draw(app, w, h)).join("\n")
}

pub fn key(app: &mut App, code: KeyCode) -> Action {
    app.handle_event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ctrl(app: &mut App, c: char) -> Action {
    app.handle_event(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)))
}

/// Each character of `s` as a key press.
pub fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// `:s` then Enter.
pub fn command(app: &mut App, s: &str) -> Action {
    typed(app, ":");
    typed(app, s);
    key(app, KeyCode::Enter)
}
