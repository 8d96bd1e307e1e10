//! Crash safety of the audit log: a writer process is killed with SIGKILL at random moments,
//! over and over; every entry it reported as written must still be there and the chain must
//! verify (a torn last line is named, never silently dropped).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use twintop::act::audit::{self, AuditLog, Record};

const CHILD_ENV: &str = "TWINTOP_AUDIT_CRASH_CHILD";

fn record(n: u64) -> Record {
    Record {
        time: "2026-11-23T10:00:00Z".into(),
        user: "crash-test".into(),
        context: "demo".into(),
        target: format!("boutique/w{n}"),
        action: format!("scale boutique/w{n} to {} replicas", n % 17),
        before: serde_json::json!({"replicas": 1}),
        after: serde_json::json!({"replicas": n % 17, "pad": "x".repeat((n % 7) as usize * 300)}),
        proposal_id: Some(format!("p{n}")),
        confidence: Some(80.0),
        source: Some("builtin:reactive".into()),
        llm_exchange_sha256: None,
        outcome: "approved".into(),
        reason: None,
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
        assert!(v.ok(), "round {round}: chain broken: {:?}", v.problems);
        let last = v.entries.last().map_or(0, |e| e.seq);
        assert!(last >= committed, "round {round}: committed seq {committed} but the log ends at {last}");
        let seqs: Vec<u64> = v.entries.iter().map(|e| e.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "round {round}: gap in {seqs:?}");
        torn_seen = v.problems.len();
        committed = last;
    }
    println!("{rounds} kills, {committed} entries committed, {torn_seen} torn lines reported");
    assert!(committed >= rounds as u64);
}
