//! `twintop audit --verify` against a tampered audit trail: each way of altering the log, its
//! sealed head or its key, applied to a fresh copy, must make the command exit 1 and name the
//! problem; the untouched log must pass. One case the seals cannot catch (a rollback of log and
//! seal together to an older copy) is caught with `--expect-head`.

mod common;

use common::audit_record as record;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use twintop::act::audit::{AuditLog, Entry, Record};
use twintop::act::audit_seal::{Key, SealFile};

/// A data dir with a log of five entries written by twintop.
fn fresh() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    for n in 1..=5 {
        log.append(record(n)).unwrap();
    }
    (dir, path)
}

fn verify(path: &Path, extra: &[&str]) -> (i32, String) {
    let out = common::twintop().args(["audit", "--verify", "--file"]).arg(path).args(extra).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

fn entries(path: &Path) -> Vec<Entry> {
    lines(path).iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn hash(seq: u64, record: &Record, prev: &str) -> String {
    let body = serde_json::json!({"seq": seq, "record": record, "prev": prev});
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// Rewrites entry 2 and recomputes every hash after it; `reseal` re-seals with a key the
/// attacker holds (each entry's seal under `key.at(seq - from)`).
fn rewrite(path: &Path, reseal: Option<(&Key, u64)>) -> Vec<Entry> {
    let mut es = entries(path);
    es[1].record.action = "scale boutique/checkoutservice to 1 replicas".into();
    let mut prev = es[0].hash.clone();
    for e in es.iter_mut().skip(1) {
        e.prev = prev.clone();
        e.hash = hash(e.seq, &e.record, &e.prev);
        if let Some((k, from)) = reseal
            && e.seq >= from
        {
            e.seal = k.at(e.seq - from).seal_entry(e.seq, &e.hash);
        }
        prev = e.hash.clone();
    }
    write_lines(path, &es.iter().map(|e| serde_json::to_string(e).unwrap()).collect::<Vec<_>>());
    es
}

fn seal_of(path: &Path) -> SealFile {
    serde_json::from_slice(&std::fs::read(path.with_extension("seal")).unwrap()).unwrap()
}

fn write_seal(path: &Path, s: &SealFile) {
    std::fs::write(path.with_extension("seal"), serde_json::to_vec(s).unwrap()).unwrap();
}

/// A chain-correct entry 6 appended by someone without the key.
fn forged_entry(path: &Path, seal: String) -> Entry {
    let last = entries(path).pop().unwrap();
    let mut r = record(6);
    r.action = "scale boutique/checkoutservice to 60 replicas".into();
    let h = hash(6, &r, &last.hash);
    Entry { seq: 6, record: r, prev: last.hash, hash: h, seal }
}

fn append_line(path: &Path, line: &str) {
    let mut text = std::fs::read_to_string(path).unwrap();
    text.push_str(line);
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_tamper_fails_verification() {
    type Tamper = fn(&Path);
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "an entry edited in place",
            |p| {
                let t = std::fs::read_to_string(p).unwrap().replace("to 3 replicas", "to 9 replicas");
                std::fs::write(p, t).unwrap();
            },
            "content does not match its hash",
        ),
        (
            "the last two entries deleted",
            |p| {
                let l = lines(p);
                write_lines(p, &l[..3]);
            },
            "missing tail",
        ),
        ("the file truncated to nothing", |p| std::fs::write(p, "").unwrap(), "missing tail"),
        ("the log deleted", |p| std::fs::remove_file(p).unwrap(), "missing tail"),
        (
            "the file cut mid-line",
            |p| {
                let b = std::fs::read(p).unwrap();
                std::fs::write(p, &b[..b.len() - 40]).unwrap();
            },
            "torn last line",
        ),
        (
            "a torn last line appended",
            |p| append_line(p, r#"{"seq":6,"time":"2026-11-23T1"#),
            "torn last line",
        ),
        (
            "a garbage line in the middle",
            |p| {
                let mut l = lines(p);
                l.insert(2, "garbage".into());
                write_lines(p, &l);
            },
            "not an audit entry",
        ),
        (
            "an unknown field added",
            |p| {
                let l: Vec<String> = lines(p)
                    .into_iter()
                    .map(|l| l.replacen(r#""user":"sre","#, r#""user":"sre","ok":true,"#, 1))
                    .collect();
                write_lines(p, &l);
            },
            "unknown field `ok`",
        ),
        (
            "a field removed",
            |p| {
                let l: Vec<String> =
                    lines(p).into_iter().map(|l| l.replacen(r#""reason":null,"#, "", 1)).collect();
                write_lines(p, &l);
            },
            "missing field `reason`",
        ),
        (
            "the spacing changed",
            |p| {
                let l: Vec<String> =
                    lines(p).into_iter().map(|l| l.replacen(r#""seq":1,"#, r#""seq": 1,"#, 1)).collect();
                write_lines(p, &l);
            },
            "not as twintop wrote it",
        ),
        (
            "two entries swapped",
            |p| {
                let mut l = lines(p);
                l.swap(1, 2);
                write_lines(p, &l);
            },
            "chain broken",
        ),
        (
            "a rewrite with recomputed hashes",
            |p| {
                let es = rewrite(p, None);
                let mut s = seal_of(p);
                s.hash = es.last().unwrap().hash.clone();
                write_seal(p, &s);
            },
            "seal does not verify",
        ),
        (
            "a rewrite re-sealed with the writer's current key (stolen from audit.seal)",
            |p| {
                let s = seal_of(p);
                let k6 = Key::parse(&s.next_key).unwrap();
                // The thief holds k6 only: the best forgery seals entries 2..5 under keys derived
                // from it, which are not theirs.
                let es = rewrite(p, Some((&k6, 2)));
                let last = es.last().unwrap();
                let link = k6.seal_link(5, &last.hash);
                write_seal(
                    p,
                    &SealFile {
                        seq: 5,
                        hash: last.hash.clone(),
                        seal: k6.seal_head(5, &last.hash),
                        next_key: s.next_key,
                        link,
                    },
                );
            },
            "seal does not verify",
        ),
        (
            "an appended forged entry",
            |p| {
                let e = forged_entry(p, "00".repeat(32));
                append_line(p, &format!("{}\n", serde_json::to_string(&e).unwrap()));
            },
            "after the sealed head",
        ),
        (
            "an appended forged entry with the head moved to it",
            |p| {
                let e = forged_entry(p, "00".repeat(32));
                append_line(p, &format!("{}\n", serde_json::to_string(&e).unwrap()));
                let s = seal_of(p);
                write_seal(p, &SealFile { seq: 6, hash: e.hash, seal: "00".repeat(32), ..s });
            },
            "seal does not verify",
        ),
        (
            "the truncated log with a head copied from the last kept entry's seal",
            |p| {
                let l = lines(p);
                write_lines(p, &l[..3]);
                let e3 = &entries(p)[2];
                let s = seal_of(p);
                write_seal(p, &SealFile { seq: 3, hash: e3.hash.clone(), seal: e3.seal.clone(), ..s });
            },
            "head's seal at seq 3 does not verify",
        ),
        (
            "the sealed head deleted",
            |p| std::fs::remove_file(p.with_extension("seal")).unwrap(),
            "no sealed head",
        ),
        (
            "the sealed head garbled",
            |p| std::fs::write(p.with_extension("seal"), "{").unwrap(),
            "sealed head is unreadable",
        ),
        (
            "the verification key removed",
            |p| std::fs::remove_file(p.with_extension("verify-key")).unwrap(),
            "seals not checked",
        ),
        (
            "another verification key",
            |p| {
                std::fs::remove_file(p.with_extension("verify-key")).unwrap();
                std::fs::write(p.with_extension("verify-key"), Key::generate().to_hex()).unwrap();
            },
            "seal does not verify",
        ),
    ];
    let (_d, intact) = fresh();
    let (code, out) = verify(&intact, &[]);
    assert_eq!(code, 0, "the untouched log verifies: {out}");
    assert!(out.contains("verify: ok"), "{out}");
    for (name, tamper, expect) in &cases {
        let (_dir, path) = fresh();
        tamper(&path);
        let (code, out) = verify(&path, &[]);
        println!("{name}: exit {code}");
        assert_eq!(code, 1, "{name}: `twintop audit --verify` must fail:\n{out}");
        assert!(
            out.contains("verify: FAILED") && out.contains(expect),
            "{name}: expected {expect:?} in:\n{out}"
        );
        // The writer refuses to continue a log that does not end at its head (it cannot check
        // seals: it holds only the next entry's key; a torn tail it accounts for in the chain).
        let writer_sees =
            !["verification key", "torn last line appended", "current key"].iter().any(|k| name.contains(k));
        if writer_sees {
            assert!(AuditLog::open(&path).is_err(), "{name}: the writer must not append");
        }
    }
    println!("{} tamper cases, each failing `twintop audit --verify`", cases.len());
}

#[test]
fn a_key_kept_off_the_machine_verifies_and_a_rollback_needs_the_noted_head() {
    let (dir, path) = fresh();
    // The operator moves the key away.
    let away = tempfile::tempdir().unwrap();
    let key = away.path().join("twintop-audit.key");
    std::fs::rename(path.with_extension("verify-key"), &key).unwrap();
    let (code, out) = verify(&path, &[]);
    assert_eq!(code, 1, "no key, no proof: {out}");
    let key_arg = key.to_str().unwrap();
    let (code, out) = verify(&path, &["--key", key_arg]);
    assert_eq!(code, 0, "{out}");
    // The auditor notes the head at seq 3, later the log grows to 5.
    let head3 = format!("3:{}", entries(&path)[2].hash);
    let old_log = std::fs::read(&path).unwrap();
    let old_seal = std::fs::read(path.with_extension("seal")).unwrap();
    {
        let mut log = AuditLog::open(&path).unwrap();
        log.append(record(6)).unwrap();
    }
    let head6 = format!("6:{}", &entries(&path)[5].hash[..16]);
    assert_eq!(verify(&path, &["--key", key_arg, "--expect-head", &head6]).0, 0);
    // Someone who copied the log and its seal at seq 5 puts them back: the seals match (a
    // limit README states), the noted head does not.
    std::fs::write(&path, &old_log).unwrap();
    std::fs::write(path.with_extension("seal"), &old_seal).unwrap();
    assert_eq!(verify(&path, &["--key", key_arg]).0, 0, "a rollback of both files verifies alone");
    assert_eq!(verify(&path, &["--key", key_arg, "--expect-head", &head3]).0, 0);
    let (code, out) = verify(&path, &["--key", key_arg, "--expect-head", &head6]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected head seq 6"), "{out}");
    // Everything on the machine deleted: with the key kept elsewhere, that is a failure too.
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(path.with_extension("seal")).unwrap();
    let (code, out) = verify(&path, &["--key", key_arg]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no sealed head"), "{out}");
    drop(dir);
}
