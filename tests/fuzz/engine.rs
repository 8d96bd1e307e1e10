//! A small mutation fuzzer (the stable toolchain has no cargo-fuzz): each target runs in a
//! child process with a 4 GiB address-space limit (a runaway allocation fails there instead
//! of taking the machine), from its committed seeds, mutating them (bit flips, hostile
//! numbers, dictionary tokens, splices, repetitions up to depth bombs) with a fixed seed.
//! A panic is caught and counted with its input saved; an abort (allocation failure, stack
//! overflow) or a hang (one input over the time limit) kills the child, and the parent names
//! the input that did it.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A parser under test: its name, where its seeds are, words its inputs are made of, and the
/// call (returning whether the input was accepted, which keeps it for further mutation).
pub struct Target {
    pub name: &'static str,
    pub seeds: Vec<Vec<u8>>,
    pub dict: &'static [&'static str],
    pub run: Check,
}

/// Runs one input; true when the parser accepted it.
pub type Check = Box<dyn Fn(&[u8]) -> bool>;

pub const CHILD_ENV: &str = "TWINTOP_FUZZ_CHILD";
/// Executions per target (CI runs the default; `scripts/fuzz` asks for more).
pub const EXECS_ENV: &str = "TWINTOP_FUZZ_EXECS";
pub const SEED_ENV: &str = "TWINTOP_FUZZ_SEED";
/// One input running longer than this is a hang.
const HANG: Duration = Duration::from_secs(60);
const MAX_INPUT: usize = 64 * 1024;

fn work_dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz").join(target);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The parent side: runs `target` in a child and checks what it reports.
pub fn run_in_child(target: &str, default_execs: u64) {
    let execs: u64 = std::env::var(EXECS_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(default_execs);
    let dir = work_dir(target);
    let _ = std::fs::remove_file(dir.join("hang"));
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fuzz_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, target)
        .env(EXECS_ENV, execs.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The harness prints "test fuzz_child ... " before the child's first line.
    let tag = format!("fuzz {target}: ");
    let report: Vec<&str> = stdout.lines().filter_map(|l| l.find(&tag).map(|i| &l[i..])).collect();
    for l in &report {
        println!("{l}");
    }
    if !out.status.success() {
        let last = dir.join("last-input");
        let what =
            if dir.join("hang").exists() { "hung (one input ran past the time limit)" } else { "aborted" };
        panic!(
            "fuzz {target}: the child {what}: {:?}; the input: {} ({} bytes)\n{}",
            out.status,
            last.display(),
            std::fs::metadata(&last).map_or(0, |m| m.len()),
            String::from_utf8_lossy(&out.stderr).lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
    }
    let summary =
        report.iter().find(|l| l.contains(" executions")).unwrap_or_else(|| panic!("no report:\n{stdout}"));
    assert!(summary.contains(" 0 panics"), "fuzz {target}: {summary}\n{stdout}");
}

/// What the panic hook saw last.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);
/// Milliseconds since the child started when the current input began (0: idle).
static STARTED_AT: AtomicU64 = AtomicU64::new(0);

/// The child side: fuzzes `t` for the budget and prints one report line.
pub fn fuzz(t: Target) {
    let execs: u64 = std::env::var(EXECS_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seed: u64 = std::env::var(SEED_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    limit_memory(4 << 30);
    let dir = work_dir(t.name);
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap() = Some(format!("{what} at {at}"));
    }));
    let clock = Instant::now();
    let hang_marker = dir.join("hang");
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let s = STARTED_AT.load(Ordering::SeqCst);
            if s > 0 && clock.elapsed().as_millis() as u64 - s > HANG.as_millis() as u64 {
                let _ = std::fs::write(&hang_marker, "");
                std::process::abort();
            }
        }
    });
    let mut rng = Rng(seed ^ fnv(t.name.as_bytes()) | 1);
    let mut corpus: Vec<Vec<u8>> = t.seeds.clone();
    let (mut panics, mut accepted) = (0u64, 0u64);
    let mut slowest = (Duration::ZERO, 0usize);
    let last = dir.join("last-input");
    for i in 0..execs {
        let input = match t.seeds.get(i as usize) {
            Some(s) => s.clone(),
            None => mutate(&corpus, t.dict, &mut rng),
        };
        std::fs::write(&last, &input).unwrap();
        let t0 = Instant::now();
        STARTED_AT.store(clock.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| (t.run)(&input)));
        STARTED_AT.store(0, Ordering::SeqCst);
        let took = t0.elapsed();
        if took > slowest.0 {
            slowest = (took, input.len());
        }
        match r {
            Ok(true) => {
                accepted += 1;
                if corpus.len() < 4096 && input.len() < MAX_INPUT / 4 {
                    corpus.push(input);
                }
            }
            Ok(false) => {}
            Err(_) => {
                panics += 1;
                let file = dir.join(format!("panic-{:016x}", fnv(&input)));
                std::fs::write(&file, &input).unwrap();
                let why = LAST_PANIC.lock().unwrap().take().unwrap_or_default();
                println!("fuzz {}: PANIC {why}; input saved to {}", t.name, file.display());
            }
        }
    }
    println!(
        "fuzz {}: {execs} executions (seed {seed}), {panics} panics, 0 aborts, 0 hangs; {accepted} inputs \
         accepted, {} seeds, slowest {:.1} ms ({} bytes), {:.1} s",
        t.name,
        t.seeds.len(),
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1,
        clock.elapsed().as_secs_f64()
    );
}

fn limit_memory(bytes: u64) {
    let lim = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: lowers this process's own address-space limit.
    unsafe {
        libc::setrlimit(libc::RLIMIT_AS, &lim);
    }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, x| (h ^ *x as u64).wrapping_mul(0x100000001b3))
}

/// xorshift64*: reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Numbers that break parsers and arithmetic.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-1e308",
    "1e309",
    "1e-308",
    "5e-324",
    "1e18",
    "1e12",
    "nan",
    "NaN",
    "inf",
    "-inf",
    ".inf",
    ".nan",
    "Infinity",
    "0.0000001",
    "99999999999999999999999",
    "0x10",
    "1_000",
    "+5",
    "1.7976931348623157e308",
];

/// Bytes that matter to most text formats.
const BYTES: &[u8] = b"\0\n\r\t \"'{}[]:,-#=.\\/\x1b\x7f\xc3\xff0129eE+*&!|>%";

fn mutate(corpus: &[Vec<u8>], dict: &[&str], rng: &mut Rng) -> Vec<u8> {
    let mut v = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let n = v.len();
        match rng.below(10) {
            0 if n > 0 => {
                let i = rng.below(n);
                v[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                v[i] = BYTES[rng.below(BYTES.len())];
            }
            2 => {
                let w = pick_word(dict, rng);
                let i = rng.below(n + 1);
                v.splice(i..i, w.bytes());
            }
            3 => replace_number(&mut v, rng),
            4 if n > 0 => {
                let a = rng.below(n);
                let b = (a + 1 + rng.below(64)).min(n);
                v.drain(a..b);
            }
            5 if n > 0 => {
                let a = rng.below(n);
                let b = (a + 1 + rng.below(256)).min(n);
                let chunk = v[a..b].to_vec();
                let i = rng.below(n + 1);
                v.splice(i..i, chunk);
            }
            6 => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(n + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[rng.below(other.len() + 1)..]);
            }
            7 => {
                // Depth and length bombs: a token repeated up to thousands of times.
                let w = pick_word(dict, rng);
                let times = [2, 10, 100, 1000, 5000][rng.below(5)];
                let i = rng.below(n + 1);
                let rep: Vec<u8> = w.bytes().cycle().take(w.len() * times).collect();
                v.splice(i..i, rep);
            }
            8 if n > 0 => v.truncate(rng.below(n)),
            _ => replace_number(&mut v, rng),
        }
    }
    v.truncate(MAX_INPUT);
    v
}

fn pick_word<'a>(dict: &[&'a str], rng: &mut Rng) -> &'a str {
    if !dict.is_empty() && rng.below(3) > 0 {
        dict[rng.below(dict.len())]
    } else {
        NUMBERS[rng.below(NUMBERS.len())]
    }
}

/// Replaces one run of digits (or inserts where there is none) with a hostile number.
fn replace_number(v: &mut Vec<u8>, rng: &mut Rng) {
    let runs: Vec<(usize, usize)> = {
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            if v[i].is_ascii_digit() {
                let s = i;
                while i < v.len() && (v[i].is_ascii_digit() || v[i] == b'.') {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    };
    let num = NUMBERS[rng.below(NUMBERS.len())].as_bytes();
    match runs.get(rng.below(runs.len().max(1))) {
        Some(&(a, b)) => {
            v.splice(a..b, num.iter().copied());
        }
        None => {
            let i = rng.below(v.len() + 1);
            v.splice(i..i, num.iter().copied());
        }
    }
}
