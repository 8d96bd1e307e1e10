//! When something fails while the console owns the terminal. A panic on the console's own
//! thread restores the terminal, then prints (the process ends). A panic on any other thread
//! (a source, an advisor, a what-if run) is written to the log and becomes a notice in the
//! console, never text over the screen; the rest keeps running. An abort — an allocation that
//! fails, a stack overflow, a panic while panicking — cannot unwind, so a SIGABRT (and SIGQUIT)
//! handler restores the terminal with async-signal-safe calls only (write, tcsetattr) before
//! the default action ends the process.

use super::terminal;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::thread::ThreadId;

/// The thread that runs the console's loop.
static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();
/// Worker failures not yet shown.
static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Wakes the console's loop when a worker failed.
pub(crate) static FAILED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// The terminal's settings before raw mode, and the descriptor they belong to, for the
/// signal handler (crossterm keeps its own copy out of its reach).
static SAVED_TERMIOS: OnceLock<libc::termios> = OnceLock::new();
static TTY_FD: AtomicI32 = AtomicI32::new(-1);
/// What the abort handler prints once the terminal is back (built before any abort).
static ABORT_MESSAGE: OnceLock<Vec<u8>> = OnceLock::new();

/// Undoes mouse capture, the alternate screen, a frame's synchronized update and the hidden
/// cursor (what `terminal::restore` does through crossterm), as raw bytes.
pub(crate) const RESTORE_SEQUENCES: &[u8] =
    b"\x1b[?2026l\x1b[?1006l\x1b[?1015l\x1b[?1003l\x1b[?1002l\x1b[?1000l\x1b[?1049l\x1b[?25h";

/// Called on the console's thread before the terminal enters raw mode: remembers the thread
/// and the terminal's settings, installs the panic hook and the abort handler (once).
pub(crate) fn install() {
    let _ = UI_THREAD.set(std::thread::current().id());
    save_termios();
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let log = crate::paths::state_dir().join("twintop.log");
        let _ = ABORT_MESSAGE.set(
            format!(
                "twintop: aborted (an allocation failed, a stack overflow or an internal error); \
                 the terminal was restored. The log: {}\n",
                log.display()
            )
            .into_bytes(),
        );
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_ui = UI_THREAD.get().is_some_and(|t| *t == std::thread::current().id());
            if terminal::is_restored() || on_ui {
                // Restore first so the panic message lands on a usable screen.
                terminal::restore();
                previous(info);
                return;
            }
            let thread = std::thread::current().name().unwrap_or("worker").to_string();
            let what = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            tracing::error!(
                thread = %thread,
                at = %at,
                backtrace = %std::backtrace::Backtrace::force_capture(),
                "a worker panicked: {what}"
            );
            let short: String = what.chars().take(200).collect();
            worker_failed(format!(
                "a worker ({thread}) failed: {short} (at {at}; see the log) — the rest keeps running"
            ));
        }));
        for sig in [libc::SIGABRT, libc::SIGQUIT] {
            // SAFETY: installs a handler that only makes async-signal-safe calls.
            unsafe {
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_fatal_signal as *const () as usize;
                libc::sigemptyset(&mut act.sa_mask);
                act.sa_flags = libc::SA_ONSTACK;
                libc::sigaction(sig, &act, std::ptr::null_mut());
            }
        }
    });
}

/// Records a worker's failure for the console to show, and wakes its loop.
pub(crate) fn worker_failed(message: String) {
    if let Ok(mut f) = FAILURES.lock() {
        f.push(message);
    }
    FAILED.notify_one();
}

/// The failures not yet shown.
pub(crate) fn take_failures() -> Vec<String> {
    FAILURES.lock().map(|mut f| std::mem::take(&mut *f)).unwrap_or_default()
}

fn save_termios() {
    if SAVED_TERMIOS.get().is_some() {
        return;
    }
    // SAFETY: plain libc calls on a descriptor we own; termios is plain data.
    unsafe {
        let fd = if libc::isatty(libc::STDIN_FILENO) == 1 {
            libc::STDIN_FILENO
        } else {
            libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC)
        };
        if fd < 0 {
            return;
        }
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            TTY_FD.store(fd, Ordering::SeqCst);
            let _ = SAVED_TERMIOS.set(t);
        }
    }
}

/// SIGABRT/SIGQUIT: restore the terminal (if the console holds it), then die of the signal.
extern "C" fn on_fatal_signal(sig: libc::c_int) {
    if terminal::mark_restored() {
        // SAFETY: write(2), tcsetattr(3), signal(2) and raise(3) are async-signal-safe; the
        // statics are initialised before the handler is installed and only read here.
        unsafe {
            let _ =
                libc::write(libc::STDOUT_FILENO, RESTORE_SEQUENCES.as_ptr().cast(), RESTORE_SEQUENCES.len());
            if let Some(t) = SAVED_TERMIOS.get() {
                libc::tcsetattr(TTY_FD.load(Ordering::SeqCst), libc::TCSANOW, t);
            }
            if let Some(m) = ABORT_MESSAGE.get() {
                let _ = libc::write(libc::STDERR_FILENO, m.as_ptr().cast(), m.len());
            }
        }
    }
    // SAFETY: back to the default action, delivered when the handler returns.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Test hooks (debug builds only): `TWINTOP_FAULT=alloc|overflow|panic|panic-worker` makes
/// the console fail that way 1.5 s after it starts, so the end-to-end tests can check the
/// terminal is restored (or the failure shown) in each case. Release builds ignore it.
pub(crate) mod inject {
    use std::time::Duration;

    /// What to break.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(crate) enum Fault {
        /// An allocation the system refuses (std aborts).
        Alloc,
        /// Unbounded recursion (std's guard page, then abort).
        Overflow,
        /// A panic on the console's thread.
        Panic,
        /// A panic in a worker task.
        PanicWorker,
    }

    pub(crate) const DELAY: Duration = Duration::from_millis(1500);

    pub(crate) fn from_env() -> Option<Fault> {
        if !cfg!(debug_assertions) {
            return None;
        }
        match std::env::var("TWINTOP_FAULT").ok()?.as_str() {
            "alloc" => Some(Fault::Alloc),
            "overflow" => Some(Fault::Overflow),
            "panic" => Some(Fault::Panic),
            "panic-worker" => Some(Fault::PanicWorker),
            _ => None,
        }
    }

    /// Breaks the process as asked (on the calling thread, except `PanicWorker`).
    pub(crate) fn trigger(f: Fault) {
        match f {
            Fault::Alloc => {
                // 64 TiB: more than any machine here has, so the allocator says no.
                let v: Vec<u8> = Vec::with_capacity(1 << 46);
                std::hint::black_box(&v);
            }
            Fault::Overflow => {
                std::hint::black_box(recurse(std::hint::black_box(1)));
            }
            Fault::Panic => panic!("injected fault on the console's thread"),
            Fault::PanicWorker => {
                tokio::spawn(async { panic!("injected fault in a worker") });
            }
        }
    }

    #[allow(unconditional_recursion)]
    fn recurse(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 64]);
        recurse(pad[3] + 1) + pad[0]
    }
}
