//! Crash safety of the audit log: a writer process is killed with SIGKILL at random moments,
//! over and over; every entry it reported as written must still be there. Right after a kill
//! the only problems verification may find are the ones a crash leaves (a torn last line, a
//! head one entry behind); once twintop reopens the log it accounts for them and the whole
//! trail verifies strictly.

mod common;

use common::DemoCluster;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use twintop::act::audit::{self, AuditLog, Record};
use twintop::act::audit_verify;

const CHILD_ENV: &str = "TWINTOP_AUDIT_CRASH_CHILD";

/// Record `n`: its own target and proposal, of a size that varies with `n` (up to 1,800 bytes
/// of padding) so that kills land at many offsets within a line.
fn record(n: u64) -> Record {
    Record {
        time: "2026-11-23T10:00:00Z".into(),
        user: "crash-test".into(),
        target: format!("boutique/w{n}"),
        action: format!("scale boutique/w{n} to {} replicas", n % 17),
        before: serde_json::json!({"replicas": 1}),
        after: serde_json::json!({"replicas": n % 17, "pad": "x".repeat((n % 7) as usize * 300)}),
        proposal_id: Some(format!("p{n}")),
        ..common::audit_record(0)
    }
}

/// The child: appends records forever, printing each seq once it is on disk.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let mut log = AuditLog::open_in(std::path::Path::new(&dir)).expect("child opens log");
    let mut n = 0;
    loop {
        n += 1;
        let e = log.append(record(n)).expect("append");
        println!("committed {}", e.seq);
    }
}

#[test]
fn kill_9_during_writes_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut committed = 0u64;
    let mut torn_seen = 0;
    let rounds = 120;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Let it write a varying number of entries, then SIGKILL it mid-stream.
        let want = 1 + (round * 7919) % 23;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut seen = 0;
        while seen < want {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(seq) = line.trim().strip_prefix("committed ") {
                committed = committed.max(seq.parse().unwrap());
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_micros((round as u64 * 131) % 900));
        child.kill().unwrap();
        child.wait().unwrap();
        // Anything printed before the kill landed too.
        for l in reader.lines().map_while(Result::ok) {
            if let Some(seq) = l.trim().strip_prefix("committed ") {
                committed = committed.max(seq.parse().unwrap());
            }
        }
        let v = audit::verify_file(&dir.path().join(audit::FILE_NAME)).unwrap();
        assert_only_crash_marks(&v, &format!("round {round}"));
        let last = v.entries.last().map_or(0, |e| e.seq);
        assert!(last >= committed, "round {round}: committed seq {committed} but the log ends at {last}");
        let seqs: Vec<u64> = v.entries.iter().map(|e| e.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "round {round}: gap in {seqs:?}");
        torn_seen = v.notes.len() + v.problems.iter().filter(|p| p.torn).count();
        committed = last;
    }
    // twintop starting again after the last kill accounts for what it left.
    drop(AuditLog::open_in(dir.path()).unwrap());
    let v = audit::verify_file(&dir.path().join(audit::FILE_NAME)).unwrap();
    assert!(v.ok(), "after reopening: {:?}", v.problems);
    println!(
        "{rounds} kills, {committed} entries committed, {torn_seen} torn lines, each accounted for in the chain"
    );
    assert!(committed >= rounds as u64);
}

/// Right after a kill: torn lines after the last entry or a head one entry behind, nothing else.
/// (Every line is an entry, a noted torn line or a problem, so a torn line after the last entry
/// has a number above the count of entries and notes; one in the middle does not.)
fn assert_only_crash_marks(v: &audit::Verification, when: &str) {
    let before_tail = v.entries.len() + v.notes.len();
    for p in &v.problems {
        let crash = (p.kind == "torn" && p.line > before_tail)
            || (p.kind == "head" && p.message.contains("come after the sealed head"));
        assert!(crash, "{when}: not what a crash leaves: {:?}", v.problems);
    }
}

// The approval path: a child approves and applies proposals through `act::flow` against the
// demo cluster and schedules some on the persisted calendar, printing each id only once the
// call returned; it is SIGKILLed at random moments, over and over.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use twintop::act::flow::{Flow, Outcome, Pending};
use twintop::act::schedule::{self, Calendar};
use twintop::change::Change;
use twintop::demo::{DemoPreset, DemoTwin};
use twintop::guardrails::Guardrails;
use twintop::twin::TwinStore;

const APPROVE_ENV: &str = "TWINTOP_APPROVAL_CRASH_CHILD";
const RUN_ENV: &str = "TWINTOP_APPROVAL_CRASH_RUN";
/// Workloads without an HPA or a critical floor, so every change passes the guardrails.
const WORKLOADS: [&str; 4] = [
    "boutique/paymentservice",
    "boutique/shippingservice",
    "boutique/emailservice",
    "boutique/currencyservice",
];

/// The child: approve → confirm (audited dry run and apply) forever; every third approval also
/// schedules an action as the console does (audited `scheduled`, then the calendar replaced
/// atomically). Prints `approved ID` / `scheduled ID` only after the call returned.
#[test]
fn approval_child() {
    let Some(dir) = std::env::var_os(APPROVE_ENV) else { return };
    let dir = Path::new(&dir);
    let run: u64 = std::env::var(RUN_ENV).unwrap().parse().unwrap();
    let demo = Arc::new(Mutex::new(DemoTwin::new(DemoPreset::Dc, 1)));
    let cluster = DemoCluster(demo.clone());
    let mut store = TwinStore::default();
    for _ in 0..3 {
        store.apply_all(demo.lock().unwrap().step());
    }
    let mut audit = AuditLog::open_in(dir).expect("the audit log opens after a kill");
    let cal_path = dir.join(schedule::FILE_NAME);
    let mut calendar = Calendar::load(&cal_path).expect("the calendar parses after a kill");
    // No cooldown or hourly cap: the child changes the same few workloads many times a second.
    let guardrails =
        Guardrails { cooldown_secs: 0, max_replica_change_per_hour: u32::MAX, ..Guardrails::default() };
    let mut flow = Flow::new(guardrails, "demo");
    for n in 0u64.. {
        let snap = store.snapshot();
        let (w, k) = (WORKLOADS[(n % 4) as usize], n / 4);
        let p = Pending {
            id: format!("r{run}-{n}"),
            // 4, 3, 4, 3…: never the current count, so never a no-op.
            change: Change::Scale { workload: w.into(), replicas: if k % 2 == 0 { 4 } else { 3 } },
            confidence: Some(80.0),
            source: "builtin:reactive".into(),
            llm_exchange_sha256: None,
            reason: "crash test".into(),
            predicted_p99_ms: None,
        };
        let out = flow.approve(p.clone(), &snap, &[], snap.time);
        assert_eq!(out, Outcome::AwaitingConfirmation, "{}", p.id);
        match flow.confirm(&snap, &[], snap.time, &cluster, &mut audit).expect("audited") {
            Outcome::Applied(_) => println!("approved {}", p.id),
            other => panic!("{}: {other:?}", p.id),
        }
        if n % 3 == 0 {
            let s = Pending { id: format!("{}-s", p.id), ..p };
            let at = snap.time + chrono::Duration::hours(1);
            let after = serde_json::to_value(&s.change).unwrap();
            let rec = flow.record(&s, "scheduled", None, serde_json::Value::Null, after, snap.time);
            audit.append(rec).expect("audited");
            calendar.add(s.clone(), at, snap.time);
            calendar.save(&cal_path).expect("calendar saved");
            println!("scheduled {}", s.id);
        }
        store.apply_all(demo.lock().unwrap().step());
    }
}

/// What the parent has seen printed, and what it found.
#[derive(Default)]
struct Tally {
    approved: Vec<String>,
    scheduled: Vec<String>,
    outcome_missing: usize,
    /// Kills that left a whole entry without its newline (a short write stopped right before
    /// it): the next writer must end that line before appending.
    unterminated: usize,
}

impl Tally {
    fn take(&mut self, line: &str) {
        // A line cut by the kill has no newline: it was not fully reported, so it claims nothing.
        let Some(line) = line.strip_suffix('\n') else { return };
        if let Some(id) = line.strip_prefix("approved ") {
            self.approved.push(id.to_string());
        } else if let Some(id) = line.strip_prefix("scheduled ") {
            self.scheduled.push(id.to_string());
        }
    }

    /// Everything reported is on disk, the chain verifies, the calendar parses.
    fn check(&mut self, dir: &Path, run: usize) {
        let v = audit::verify_file(&dir.join(audit::FILE_NAME)).unwrap();
        assert_only_crash_marks(&v, &format!("run {run}"));
        let bytes = std::fs::read(dir.join(audit::FILE_NAME)).unwrap_or_default();
        if !bytes.is_empty() && !bytes.ends_with(b"\n") && !v.problems.iter().any(|p| p.torn) {
            self.unterminated += 1;
        }
        let mut outcomes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in v.entries.iter().filter(|e| e.record.outcome != audit_verify::TORN_WRITE) {
            let id = e.record.proposal_id.as_deref().expect("every flow record names its proposal");
            outcomes.entry(id).or_default().push(e.record.outcome.as_str());
        }
        for id in &self.approved {
            let o = outcomes.get(id.as_str()).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(o, ["approved", "applied"], "run {run}: approval {id} reported but audited as {o:?}");
        }
        for id in &self.scheduled {
            let o = outcomes.get(id.as_str()).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(o, ["scheduled"], "run {run}: scheduled {id} reported but audited as {o:?}");
        }
        // An approval the kill interrupted before its outcome: audited as approved, reported
        // here; at most one per run (the one in flight).
        self.outcome_missing = outcomes.values().filter(|o| o.as_slice() == ["approved"]).count();
        assert!(
            self.outcome_missing <= run + 1,
            "run {run}: {} approvals without outcome",
            self.outcome_missing
        );
        let cal = Calendar::load(&dir.join(schedule::FILE_NAME));
        let cal = cal.unwrap_or_else(|e| panic!("run {run}: the calendar was half-written: {e}"));
        for id in &self.scheduled {
            let hits = cal.actions.iter().filter(|a| &a.pending.id == id).count();
            assert_eq!(hits, 1, "run {run}: scheduled action {id} lost from the calendar");
        }
    }
}

#[test]
fn kill_9_during_approvals_loses_no_approved_action() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let started = std::time::Instant::now();
    let mut t = Tally::default();
    let runs = 120;
    for run in 0..runs {
        let mut child = Command::new(&exe)
            .args(["--exact", "approval_child", "--nocapture", "--test-threads=1"])
            .env(APPROVE_ENV, dir.path())
            .env(RUN_ENV, run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        // 0 to 8 reports, then the kill at a varying moment: before the first approval, in an
        // audit append, between dry run and apply, in a calendar save…
        let want = (run * 7919) % 9;
        let mut line = String::new();
        let mut seen = 0;
        while seen < want {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if line.starts_with("approved ") || line.starts_with("scheduled ") {
                seen += 1;
            }
            t.take(&line);
        }
        std::thread::sleep(Duration::from_micros((run as u64 * 131) % 900));
        child.kill().unwrap();
        child.wait().unwrap();
        // Anything printed before the kill was reported too.
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            t.take(&line);
        }
        t.check(dir.path(), run);
    }

    // twintop starting again after the last kill, then the command an operator would run.
    drop(AuditLog::open_in(dir.path()).unwrap());
    let out =
        common::twintop().args(["audit", "--verify"]).env("TWINTOP_DATA_DIR", dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "audit --verify failed:\n{stdout}");
    assert!(stdout.contains("verify: ok"), "{stdout}");
    let v = audit::verify_file(&dir.path().join(audit::FILE_NAME)).unwrap();
    for p in &v.notes {
        assert!(
            stdout.contains(&format!("note: line {}: torn line (", p.line))
                && p.message.contains("acknowledged by seq"),
            "torn line {} not named:\n{stdout}",
            p.line
        );
    }
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    println!(
        "{runs} kills in {:.1} s: {} approvals reported and all audited approved+applied, {} with the \
         outcome missing (killed in flight), {} scheduled actions all in the calendar, {} audit \
         entries, {} torn lines accounted for in the chain and named by `audit --verify`, {} whole \
         entries left without their newline, {leftovers} temp files left",
        started.elapsed().as_secs_f64(),
        t.approved.len(),
        t.outcome_missing,
        t.scheduled.len(),
        v.entries.len(),
        v.notes.len(),
        t.unterminated,
    );
    assert!(t.approved.len() >= runs, "too few approvals to mean anything: {}", t.approved.len());
}
