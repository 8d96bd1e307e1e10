//! The console runs in a child process watched by a small parent, for the deaths nothing
//! inside a process can catch: SIGKILL (the kernel's out-of-memory killer, `kill -9`) and a
//! crash outside Rust's unwinding. The parent saves the terminal's settings, forwards the
//! signals a user or a terminal sends (TERM, HUP, INT, QUIT, ABRT) to the child, waits, and if
//! the child died of a signal puts the terminal back (the alternate screen, mouse capture,
//! cursor and cooked mode) and says so. The child restores the terminal itself on every other
//! path (`terminal`, `faults`).

use std::sync::atomic::{AtomicI32, Ordering};

/// Set in the child's environment: it runs the console itself.
const CHILD_ENV: &str = "TWINTOP_SUPERVISED";

/// The child's pid, for the forwarding handler.
static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe {
            libc::kill(child, sig);
        }
    }
}

/// Runs the console as a watched child and returns its exit code, or None when this process
/// should run the console itself (it is the child, there is no terminal to restore, or the
/// child cannot be started).
pub fn run_supervised() -> Option<i32> {
    if std::env::var_os(CHILD_ENV).is_some() {
        return None;
    }
    // SAFETY: isatty/tcgetattr on the standard descriptors; termios is plain data.
    let saved = unsafe {
        if libc::isatty(libc::STDOUT_FILENO) != 1 || libc::isatty(libc::STDIN_FILENO) != 1 {
            return None;
        }
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut t) != 0 {
            return None;
        }
        t
    };
    let exe = std::env::current_exe().ok()?;
    let mut child =
        std::process::Command::new(exe).args(std::env::args_os().skip(1)).env(CHILD_ENV, "1").spawn().ok()?;
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGABRT] {
        // SAFETY: the handler only calls kill(2).
        unsafe {
            libc::signal(sig, forward as *const () as libc::sighandler_t);
        }
    }
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Some(1),
        }
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => Some(code),
        // An abort or a quit: the child's own handler restored the terminal and said so (a second
        // restore would move the cursor back over its message).
        (None, Some(sig)) if sig == libc::SIGABRT || sig == libc::SIGQUIT => Some(128 + sig),
        (None, Some(sig)) => {
            restore(&saved);
            {
                let why = if sig == libc::SIGKILL {
                    " (SIGKILL: killed, perhaps by the out-of-memory killer)"
                } else {
                    ""
                };
                eprintln!(
                    "twintop: the console died of signal {sig}{why}; the terminal was restored. The log: {}",
                    crate::paths::state_dir().join("twintop.log").display()
                );
            }
            Some(128 + sig)
        }
        (None, None) => Some(1),
    }
}

/// What `terminal::restore` does, from outside the process that held the terminal.
fn restore(saved: &libc::termios) {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = out.write_all(super::faults::RESTORE_SEQUENCES);
    let _ = out.flush();
    // SAFETY: restores the settings read from the same descriptor before the child started.
    unsafe {
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
    }
}
