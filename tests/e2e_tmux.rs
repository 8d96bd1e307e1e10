//! End to end: the real `twintop --demo` binary in a tmux pane, driven by keys, read back
//! with `capture-pane`. Needs tmux (scripts/test installs it); fails loudly without it.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server (its own socket) that is killed however the test ends.
struct Tmux {
    socket: String,
    /// The socket file, removed after the server is killed.
    socket_path: Option<String>,
}

impl Tmux {
    fn start(home: &Path) -> Tmux {
        let v = Command::new("tmux").arg("-V").output();
        assert!(
            v.as_ref().is_ok_and(|o| o.status.success()),
            "tmux is required for the end-to-end test (scripts/test installs it): {v:?}"
        );
        let mut t = Tmux {
            socket: format!("twintop-e2e-{}-{}", std::process::id(), rand_suffix()),
            socket_path: None,
        };
        let h = home.display().to_string();
        let env = [
            format!("HOME={h}"),
            format!("XDG_CONFIG_HOME={h}/config"),
            format!("XDG_STATE_HOME={h}/state"),
            format!("XDG_CACHE_HOME={h}/cache"),
            "KUBECONFIG=".to_string(),
        ];
        let mut args: Vec<String> = vec!["-f".into(), "/dev/null".into(), "new-session".into(), "-d".into()];
        args.extend(["-x", "160", "-y", "48", "-s", "e2e"].map(String::from));
        for e in env {
            args.push("-e".into());
            args.push(e);
        }
        args.push("sh".into());
        let out = t.tmux(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "tmux new-session failed: {}", String::from_utf8_lossy(&out.stderr));
        t.socket_path = Some(t.display("#{socket_path}")).filter(|p| !p.is_empty());
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("running tmux")
    }

    fn send_literal(&self, text: &str) {
        assert!(self.tmux(&["send-keys", "-t", "e2e", "-l", text]).status.success());
    }

    fn send_key(&self, key: &str) {
        assert!(self.tmux(&["send-keys", "-t", "e2e", key]).status.success());
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(&self.tmux(&["display-message", "-p", "-t", "e2e", format]).stdout)
            .trim()
            .to_string()
    }

    /// Waits until every needle is on screen; panics with the screen after `secs`.
    fn wait_for(&self, needles: &[&str], secs: u64) -> String {
        self.wait_until(needles, &[], secs)
    }

    /// Waits until every needle is on screen and none of `gone` is (a capture can catch a
    /// frame half drawn, so absence is waited for too); panics with the screen after `secs`.
    fn wait_until(&self, needles: &[&str], gone: &[&str], secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.capture();
            if needles.iter().all(|n| screen.contains(n)) && !gone.iter().any(|g| screen.contains(g)) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {needles:?} without {gone:?}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Once the shell has drawn its prompt, runs `twintop --demo` with `env` before it
    /// (`VAR=value …`, or empty), echoing `twintop-exit=<status>` when it ends.
    fn launch_demo(&self, env: &str) {
        self.launch(env, "--demo");
    }

    /// `launch_demo` with other arguments.
    fn launch(&self, env: &str, args: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.capture().trim().is_empty() {
            assert!(Instant::now() < deadline, "the shell never drew a prompt");
            std::thread::sleep(Duration::from_millis(50));
        }
        let bin = env!("CARGO_BIN_EXE_twintop");
        self.send_literal(&format!("{env} {bin} {args}; echo twintop-exit=$?"));
        self.send_key("Enter");
    }

    /// The shell has its terminal back: main screen, no mouse capture, a visible cursor and
    /// cooked mode (the line discipline echoes and ends lines at Enter again).
    fn assert_restored(&self, what: &str) {
        assert_eq!(self.display("#{alternate_on}"), "0", "{what}: alternate screen left");
        assert_eq!(self.display("#{mouse_any_flag}"), "0", "{what}: mouse capture disabled");
        assert_eq!(self.display("#{cursor_flag}"), "1", "{what}: cursor shown");
        self.send_literal("stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo | tr '\\n' , ; echo");
        self.send_key("Enter");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.capture().contains("icanon,echo,") {
            assert!(
                Instant::now() < deadline,
                "{what}: the terminal is not in cooked mode:\n{}",
                self.capture()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        self.send_literal("clear");
        self.send_key("Enter");
    }

    /// Types a `:` command and Enter, as an operator would.
    fn command(&self, cmd: &str) {
        self.send_literal(&format!(":{cmd}"));
        self.send_key("Enter");
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000)
        .unwrap_or(0)
}

/// The children of `pid`, from /proc (no procps needed).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // pid (comm) state ppid …: comm may hold spaces, so read after its closing paren.
        let ppid = stat.rsplit_once(") ").and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for signal in ["TERM", "HUP"] {
        let home = tempfile::tempdir().unwrap();
        let tmux = Tmux::start(home.path());
        tmux.launch_demo("");
        tmux.wait_for(&["demo:dc", "hottest servers"], 20);
        let shell: u32 = tmux.display("#{pane_pid}").parse().unwrap();
        let console = children_of(shell);
        assert_eq!(console.len(), 1, "the console is the shell's only child: {console:?}");
        let kill =
            Command::new("sh").arg("-c").arg(format!("kill -{signal} {}", console[0])).status().unwrap();
        assert!(kill.success());
        tmux.wait_until(&["twintop-exit=0"], &["hottest servers"], 10);
        assert_eq!(tmux.display("#{alternate_on}"), "0", "SIG{signal}: alternate screen left");
        assert_eq!(tmux.display("#{mouse_any_flag}"), "0", "SIG{signal}: mouse capture disabled");
    }
}

#[test]
fn console_switches_views_and_quits_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(home.path());
    let logs = home.path().join("logs-here");
    tmux.launch_demo(&format!("TWINTOP_STATE_DIR={}", logs.display()));

    let s = tmux.wait_for(&["demo:dc", "ctx demo", "hottest servers"], 20);
    assert!(s.lines().next().unwrap().contains("twintop"), "header on the first line:\n{s}");
    assert_eq!(tmux.display("#{alternate_on}"), "1", "the console uses the alternate screen");

    tmux.command("heatmap");
    // The grid's group labels and the detail pane's figures come with the heatmap.
    tmux.wait_until(
        &["heatmap · CPU utilisation · 50 servers in 5 groups", "legend: 0%", "rack-1", "cpu "],
        &["hottest servers"],
        10,
    );

    tmux.send_literal("m");
    tmux.wait_for(&["heatmap · memory utilisation"], 10);

    tmux.command("workloads");
    tmux.wait_until(&["workloads · ", "namespace", "frontend", "checkoutservice"], &["legend: "], 10);

    tmux.command("servers");
    tmux.wait_until(&["servers · 50 of 50", "r1-01", "sched"], &["checkoutservice"], 10);

    // Completion: `:ov` Tab Enter.
    tmux.send_literal(":ov");
    tmux.send_key("Tab");
    tmux.wait_for(&[":overview"], 10);
    tmux.send_key("Enter");
    tmux.wait_for(&["hottest servers"], 10);

    tmux.send_literal("q");
    tmux.wait_until(&["twintop-exit=0"], &["hottest servers"], 10);
    assert_eq!(tmux.display("#{pane_current_command}"), "sh", "back at the shell");
    assert_eq!(tmux.display("#{alternate_on}"), "0", "alternate screen left");
    assert_eq!(tmux.display("#{mouse_any_flag}"), "0", "mouse capture disabled");
    let log = std::fs::read_to_string(logs.join("twintop.log")).expect("the log in TWINTOP_STATE_DIR");
    assert!(log.contains("console started") && log.contains("console stopped"), "{log}");
}

#[test]
fn malformed_theme_is_a_notice_and_theme_flag_applies() {
    let home = tempfile::tempdir().unwrap();
    let themes = home.path().join("config/twintop/themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(themes.join("broken.toml"), "# mine\n[colors]\nfg = \"not-a-colour\"\n").unwrap();
    std::fs::write(home.path().join("config/twintop/config.toml"), "theme = \"broken\"\n").unwrap();
    let tmux = Tmux::start(home.path());
    tmux.launch_demo("");
    tmux.wait_for(&["demo:dc", "broken.toml: line 3, key `colors.fg`", "using the dark theme"], 20);
    tmux.command("heatmap");
    tmux.wait_for(&["(theme: dark)"], 10);
    tmux.send_literal("q");
    tmux.wait_for(&["twintop-exit=0"], 10);

    let bin = env!("CARGO_BIN_EXE_twintop");
    tmux.send_literal(&format!("{bin} --demo --theme colorblind; echo twintop-exit2=$?"));
    tmux.send_key("Enter");
    tmux.wait_for(&["demo:dc"], 20);
    tmux.command("heatmap");
    // --theme overrides the config's (broken) theme: no error about it.
    tmux.wait_until(&["(theme: colorblind)"], &["broken.toml"], 10);
    tmux.send_key("C-c");
    tmux.wait_for(&["twintop-exit2=0"], 10);
}

#[test]
fn whatif_runs_a_scenario_typed_into_the_demo() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(home.path());
    tmux.launch_demo("");
    tmux.wait_for(&["demo:dc", "hottest servers"], 20);
    tmux.command("whatif");
    tmux.wait_for(&["scenario", "Ctrl-R runs the scenario"], 10);
    tmux.send_literal("scale checkoutservice to 6");
    tmux.send_key("Enter");
    tmux.send_literal("horizon 60s");
    tmux.send_key("C-r");
    let s = tmux.wait_for(&["baseline  scenario     delta", "p to propose"], 60);
    let p99 = s.lines().find(|l| l.contains("p99 ms ")).expect("a p99 row");
    let nums: Vec<f64> =
        p99.split_whitespace().filter_map(|w| w.trim_start_matches(['▲', '▼']).parse().ok()).collect();
    assert!(nums.len() >= 2 && nums.iter().all(|v| *v > 0.0), "baseline and scenario p99: {p99}");
    assert!(s.lines().any(|l| l.contains("│ checkoutservice") && l.contains('▲')), "replicas 2 → 6:\n{s}");
    tmux.send_key("Escape");
    // An Esc and a `q` read together are Alt-q: wait for the editor to let go first.
    tmux.wait_for(&["<i>edit"], 10);
    tmux.send_literal("q");
    tmux.wait_for(&["twintop-exit=0"], 10);
}

/// The loop of issue 7 on the demo: the checkoutservice surge (the demo started at its tick
/// 70 through `TWINTOP_DEMO_START_TICK`) becomes a proposal in `:recs`; `a` shows the diff
/// naming the context, `y` applies it, the workloads view shows the new replica count, and
/// `twintop audit --verify` (another process, same data dir) lists approved and applied.
#[test]
fn incident_proposal_is_approved_applied_and_audited() {
    let home = tempfile::tempdir().unwrap();
    let dirs = common::Dirs::new();
    let tmux = Tmux::start(home.path());
    tmux.launch_demo(&format!("{} TWINTOP_DEMO_START_TICK=70", dirs.shell_vars()));
    tmux.wait_for(&["demo:dc"], 20);
    tmux.command("recs");
    tmux.wait_for(&["boutique/checkoutservice", "confidence"], 40);
    // Move the selection onto the checkoutservice card.
    let mut tries = 0;
    while !tmux.capture().contains("▶ boutique/checkoutservice") {
        tries += 1;
        assert!(tries < 15, "no checkoutservice card to select:\n{}", tmux.capture());
        tmux.send_literal("j");
        std::thread::sleep(Duration::from_millis(200));
    }
    tmux.send_literal("a");
    let s = tmux.wait_for(&["confirm on demo", "apply to context demo", "+  replicas: "], 10);
    let replicas: String = s
        .lines()
        .find_map(|l| l.split("+  replicas: ").nth(1))
        .map(|r| r.chars().take_while(char::is_ascii_digit).collect())
        .unwrap();
    assert!(!replicas.is_empty(), "the diff shows the new replica count:\n{s}");
    tmux.send_literal("y");
    tmux.wait_until(&["applied: "], &["confirm on demo"], 10);

    tmux.command("workloads");
    // The new pods become ready over a few seconds: the replicas column shows the target.
    tmux.wait_for(&["checkoutservice"], 10);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let screen = tmux.capture();
        let row = screen.lines().find(|l| l.contains("checkoutservice")).unwrap_or("").to_string();
        if row.contains(&format!("{replicas}/{replicas}")) {
            break;
        }
        assert!(Instant::now() < deadline, "checkoutservice never reached {replicas} replicas:\n{screen}");
        std::thread::sleep(Duration::from_millis(200));
    }

    tmux.command("audit");
    tmux.wait_for(&["chain verified", "approved", "applied"], 10);
    tmux.send_literal("q");
    tmux.wait_for(&["twintop-exit=0"], 10);

    let out = dirs.twintop(&["audit", "--verify"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "audit --verify failed:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("approved") && text.contains("applied"), "{text}");
    assert!(text.contains(&format!("scale boutique/checkoutservice to {replicas} replicas")), "{text}");
}

// Failure modes: the terminal is restored however the console ends, and a worker's failure is
// a notice inside the console. The faults are injected with TWINTOP_FAULT (debug builds only).

#[test]
fn aborts_restore_the_terminal() {
    for (fault, env) in [
        ("an allocation failure", "TWINTOP_FAULT=alloc"),
        ("a stack overflow", "TWINTOP_FAULT=overflow"),
        ("SIGABRT from outside", ""),
        ("SIGQUIT from outside", ""),
    ] {
        let home = tempfile::tempdir().unwrap();
        let tmux = Tmux::start(home.path());
        tmux.launch_demo(env);
        tmux.wait_for(&["demo:dc", "hottest servers"], 20);
        let code = if let Some(sig) = fault.strip_suffix(" from outside") {
            let console = children_of(tmux.display("#{pane_pid}").parse().unwrap());
            let sig = sig.trim_start_matches("SIG");
            assert!(
                Command::new("kill")
                    .arg(format!("-{sig}"))
                    .arg(console[0].to_string())
                    .status()
                    .unwrap()
                    .success()
            );
            if sig == "QUIT" { 131 } else { 134 }
        } else {
            134
        };
        let s = tmux.wait_until(&[&format!("twintop-exit={code}")], &["hottest servers"], 20);
        assert!(s.contains("twintop: aborted"), "{fault}: the abort is said on the shell's screen:\n{s}");
        tmux.assert_restored(fault);
        println!("{fault}: exit {code}, terminal restored");
    }
}

#[test]
fn a_panic_on_the_console_thread_restores_the_terminal_then_prints() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(home.path());
    tmux.launch_demo("TWINTOP_FAULT=panic");
    tmux.wait_for(&["demo:dc", "hottest servers"], 20);
    let s = tmux.wait_until(&["twintop-exit=101"], &["hottest servers"], 20);
    assert!(
        s.contains("injected fault on the console's thread"),
        "the panic is printed after restoring:\n{s}"
    );
    tmux.assert_restored("a panic on the console's thread");
}

#[test]
fn a_worker_panic_is_a_notice_not_text_over_the_screen() {
    let home = tempfile::tempdir().unwrap();
    let state = home.path().join("state-dir");
    let tmux = Tmux::start(home.path());
    tmux.launch_demo(&format!("TWINTOP_FAULT=panic-worker TWINTOP_STATE_DIR={}", state.display()));
    let s = tmux.wait_for(&["demo:dc", "failed: injected fault in a worker", "the rest keeps running"], 20);
    assert!(!s.contains("panicked at"), "no panic text over the console:\n{s}");
    assert_eq!(tmux.display("#{alternate_on}"), "1", "the console keeps running");
    tmux.command("heatmap");
    tmux.wait_for(&["heatmap · "], 10);
    tmux.send_literal("q");
    tmux.wait_until(&["twintop-exit=0"], &["hottest servers"], 10);
    tmux.assert_restored("after a worker's panic");
    let log = std::fs::read_to_string(state.join("twintop.log")).expect("the log is in TWINTOP_STATE_DIR");
    assert!(log.contains("a worker panicked: injected fault in a worker"), "{log}");
}

#[test]
fn sigint_and_broken_config_keep_the_terminal_and_the_console() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    // Not TOML at all, then values that used to panic the VictoriaMetrics worker.
    for (text, notice) in [
        ("theme = \"dark\"\n[vm\nurl = 1\n", "config.toml: line 2"),
        (
            "[vm]\ninterval_s = inf\ntimeout_s = 1e300\n",
            "[vm] interval_s must be a number of seconds from 0.5 to 3600",
        ),
    ] {
        std::fs::write(cfg.join("config.toml"), text).unwrap();
        let tmux = Tmux::start(home.path());
        tmux.launch(&format!("TWINTOP_CONFIG_DIR={}", cfg.display()), "--demo --vm-url http://127.0.0.1:9");
        tmux.wait_for(&["demo:dc", notice], 20);
        let console = children_of(tmux.display("#{pane_pid}").parse().unwrap());
        assert!(Command::new("kill").arg("-INT").arg(console[0].to_string()).status().unwrap().success());
        tmux.wait_until(&["twintop-exit=0"], &["hottest servers"], 10);
        tmux.assert_restored("SIGINT");
    }
}

#[test]
fn a_console_killed_outright_gets_its_terminal_back_from_the_parent() {
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(home.path());
    tmux.launch_demo("");
    tmux.wait_for(&["demo:dc", "hottest servers"], 20);
    // The shell's child watches the console (its own child), which SIGKILL takes down as the
    // out-of-memory killer would.
    let parent = children_of(tmux.display("#{pane_pid}").parse().unwrap());
    let console = children_of(parent[0]);
    assert_eq!(console.len(), 1, "the console runs under a watching parent: {console:?}");
    assert!(Command::new("kill").arg("-KILL").arg(console[0].to_string()).status().unwrap().success());
    let s = tmux.wait_until(&["twintop-exit=137"], &["hottest servers"], 20);
    assert!(s.contains("died of signal 9"), "{s}");
    tmux.assert_restored("SIGKILL");
}

/// The console and `twintop operator` on one data dir: the operator owns it first (the
/// console says so and decides nothing); when the operator stops, the console takes over and
/// answers `twintop approve --yes` from another shell, showing what was decided.
#[test]
fn the_console_takes_over_the_data_dir_and_answers_a_headless_approval() {
    let home = tempfile::tempdir().unwrap();
    let dirs = common::Dirs::new();
    let cmd = |args: &[&str]| {
        let mut c = dirs.twintop(args);
        c.env("TWINTOP_DEMO_START_TICK", "70").env("KUBECONFIG", "");
        c
    };
    let mut operator = common::Running::spawn(cmd(&["operator", "--demo"]));
    operator.wait_for("servers,", 60);
    let tmux = Tmux::start(home.path());
    tmux.launch_demo(&format!("{} TWINTOP_DEMO_START_TICK=70", dirs.shell_vars()));
    tmux.wait_for(&["demo:dc", "twintop operator (pid", "this console decides nothing"], 20);
    // SIGTERM: the operator stops, the console takes the data dir over within seconds.
    operator.stop();
    tmux.wait_until(&["demo:dc"], &["this console decides nothing"], 20);

    let advice = cmd(&["advise", "--demo", "--json", "--evaluator", "analytic"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&advice.stdout).unwrap();
    let p = doc["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["status"] == "valid" && p["action"]["kind"] == "scale")
        .cloned()
        .expect("a valid scale proposal");
    let approve = cmd(&["approve", p["id"].as_str().unwrap(), "--yes"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&approve.stdout);
    assert_eq!(approve.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&approve.stderr));
    assert!(stdout.contains("decided by the console (pid"), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("applied: "), "{stdout}");
    tmux.command("recs");
    tmux.wait_for(&["(headless): applied"], 10);
    tmux.send_literal("q");
    tmux.wait_for(&["twintop-exit=0"], 10);
}
