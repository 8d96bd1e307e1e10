//! Entering and leaving the terminal: raw mode, the alternate screen and mouse capture are
//! undone on quit, on error (the guard's Drop), on a panic and on an abort (`faults`), so a
//! shell is never left broken. Logs go to a file in the state dir (0600), never to the screen.

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use crossterm::{execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Write, stdout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) type Term = Terminal<CrosstermBackend<FrameWriter>>;

/// Set once the terminal is restored: output still buffered then (a frame cut short by a
/// panic) is dropped instead of landing on the operator's shell.
static RESTORED: AtomicBool = AtomicBool::new(true);

/// Buffers a whole frame (tens of KiB at 160×48) so it reaches the terminal in one write
/// instead of tearing at stdout's 1 KiB line buffer.
#[derive(Default)]
pub(crate) struct FrameWriter {
    buf: Vec<u8>,
}

impl Write for FrameWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = if RESTORED.load(Ordering::SeqCst) {
            Ok(())
        } else {
            let mut out = stdout().lock();
            out.write_all(&self.buf).and_then(|_| out.flush())
        };
        self.buf.clear();
        r
    }
}

/// Owns the terminal while the console runs; restores it when dropped.
pub(crate) struct TerminalGuard {
    pub term: Term,
}

impl TerminalGuard {
    pub(crate) fn enter(mouse: bool) -> anyhow::Result<TerminalGuard> {
        super::faults::install();
        enable_raw_mode()?;
        RESTORED.store(false, Ordering::SeqCst);
        let mut out = stdout();
        let entered = if mouse {
            execute!(out, EnterAlternateScreen, EnableMouseCapture)
        } else {
            execute!(out, EnterAlternateScreen)
        };
        if let Err(e) = entered {
            restore();
            return Err(e.into());
        }
        match Terminal::new(CrosstermBackend::new(FrameWriter::default())) {
            Ok(mut term) => {
                term.clear()?;
                Ok(TerminalGuard { term })
            }
            Err(e) => {
                restore();
                Err(e.into())
            }
        }
    }
}

impl TerminalGuard {
    /// Draws one frame inside a synchronized update, so terminals that support it show whole
    /// frames only (others ignore the two sequences).
    pub(crate) fn draw(&mut self, render: impl FnOnce(&mut ratatui::Frame)) -> std::io::Result<()> {
        queue!(self.term.backend_mut(), BeginSynchronizedUpdate)?;
        self.term.draw(render)?;
        queue!(self.term.backend_mut(), EndSynchronizedUpdate)?;
        self.term.backend_mut().flush()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back: no mouse capture, main screen, cooked mode, visible cursor.
/// Safe to call more than once.
pub(crate) fn restore() {
    RESTORED.store(true, Ordering::SeqCst);
    let mut out = stdout();
    let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = disable_raw_mode();
}

/// Whether the terminal is the shell's (not the console's).
pub(crate) fn is_restored() -> bool {
    RESTORED.load(Ordering::SeqCst)
}

/// Marks the terminal restored; true if it was not (the caller then restores it).
pub(super) fn mark_restored() -> bool {
    !RESTORED.swap(true, Ordering::SeqCst)
}

/// Where the log file goes: the state dir (`TWINTOP_STATE_DIR` overrides it).
pub(crate) fn log_dir() -> PathBuf {
    crate::paths::state_dir()
}

/// Sends tracing output to `twintop.log` (0600) in `log_dir()` (0700); keep the guard alive
/// while running. Without a usable directory nothing is logged (the screen is never used).
pub fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let file = crate::paths::open_private_append(&log_dir().join("twintop.log")).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("TWINTOP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(false).try_init().ok()?;
    Some(guard)
}
