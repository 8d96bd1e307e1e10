//! The audit view (`:audit`): the audit log as a table, newest last, with the result of
//! verifying its hash chain. The file is read when the view is entered and after each write
//! the console makes, never per frame.

use crate::act::audit::{self, Verification};
use crate::ui::app::Action;
use crate::ui::keys::{self, Binding, Key, Shown};
use crate::ui::{Component, Ctx, esc};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Older,
    Newer,
    Reread,
}

const KEYS: &[Binding<Cmd>] = &[
    Binding::new(
        "↑↓/jk",
        "scroll",
        &[
            (Key::Code(KeyCode::Up), Cmd::Older),
            (Key::Char('k'), Cmd::Older),
            (Key::Code(KeyCode::Down), Cmd::Newer),
            (Key::Char('j'), Cmd::Newer),
        ],
    ),
    Binding::new("R", "re-read", &[(Key::Char('R'), Cmd::Reread)]),
];

#[derive(Debug, Default)]
pub(crate) struct AuditView {
    path: Option<PathBuf>,
    log: Option<Result<Verification, String>>,
    /// Rows scrolled up from the newest.
    scroll: usize,
}

impl AuditView {
    pub(crate) fn new(path: Option<PathBuf>) -> AuditView {
        AuditView { path, log: None, scroll: 0 }
    }

    /// Reads and verifies the file again.
    pub(crate) fn reload(&mut self) {
        self.log = self.path.as_ref().map(|p| {
            if p.exists() {
                audit::verify_file(p).map_err(|e| e.to_string())
            } else {
                Ok(audit::verify_bytes(b""))
            }
        });
        self.scroll = 0;
    }
}

impl Component for AuditView {
    fn on_snapshot(&mut self, _ctx: &Ctx) {}

    fn handle_key(&mut self, k: KeyEvent, _ctx: &Ctx) -> Action {
        let n = match &self.log {
            Some(Ok(v)) => v.entries.len(),
            _ => 0,
        };
        match keys::lookup(KEYS, &k) {
            Some(Cmd::Older) if self.scroll + 1 < n => self.scroll += 1,
            Some(Cmd::Newer) if self.scroll > 0 => self.scroll -= 1,
            Some(Cmd::Reread) => self.reload(),
            _ => return Action::Noop,
        }
        Action::Render
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let path = self.path.as_ref().map(|p| esc(&p.display().to_string()).into_owned()).unwrap_or_default();
        let (status, col, entries) = match &self.log {
            None => ("no data dir".to_string(), t.dim, &[][..]),
            Some(Err(e)) => (format!("unreadable: {}", esc(e)), t.bad, &[][..]),
            Some(Ok(v)) if v.ok() && v.notes.is_empty() => {
                (format!("chain verified ✓ {} entries, sealed", v.entries.len()), t.ok, v.entries.as_slice())
            }
            // Torn writes the chain accounts for, or a verification key kept off this machine.
            Some(Ok(v)) if v.problems.iter().all(|p| p.kind == "key") => (
                format!(
                    "chain verified, {} entries; {}",
                    v.entries.len(),
                    v.notes
                        .iter()
                        .chain(&v.problems)
                        .map(|p| match p.line {
                            0 => esc(&p.message).into_owned(),
                            l => format!("line {l}: {}", esc(&p.message)),
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                t.warn,
                v.entries.as_slice(),
            ),
            Some(Ok(v)) => (
                format!(
                    "VERIFY FAILED: {}",
                    v.problems
                        .iter()
                        .map(|p| format!("line {}: {}", p.line, esc(&p.message)))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                t.bad,
                v.entries.as_slice(),
            ),
        };
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(format!(" audit · {path} "), Style::new().fg(t.title).bold()))
            .title_bottom(Span::styled(format!(" {status} "), Style::new().fg(col).bold()));
        let visible = area.height.saturating_sub(3) as usize;
        let end = entries.len().saturating_sub(self.scroll);
        let start = end.saturating_sub(visible);
        let rows = entries[start..end].iter().map(|e| {
            let r = &e.record;
            let oc = match r.outcome.as_str() {
                "applied" => t.ok,
                "rejected" | "failed" | "blocked" | "dry-run-failed" => t.bad,
                _ => t.fg,
            };
            Row::new(vec![
                Cell::from(Line::from(e.seq.to_string()).right_aligned()),
                Cell::from(esc(r.time.get(..19).unwrap_or(&r.time)).into_owned()),
                Cell::from(esc(&r.user).into_owned()),
                Cell::from(esc(&r.outcome).into_owned()).style(Style::new().fg(oc).bold()),
                Cell::from(esc(&format!("{}:{}", r.context, r.target)).into_owned()),
                Cell::from(r.confidence.map_or("-".into(), |c| format!("{c:.0}"))),
                Cell::from(esc(&r.action).into_owned()),
                Cell::from(esc(r.reason.as_deref().unwrap_or("")).into_owned()),
            ])
        });
        let header = Row::new(["seq", "time", "user", "outcome", "target", "conf", "action", "reason"])
            .style(Style::new().fg(t.title).bold());
        let widths = [
            Constraint::Length(4),
            Constraint::Length(19),
            Constraint::Length(8),
            Constraint::Length(14),
            Constraint::Fill(2),
            Constraint::Length(4),
            Constraint::Fill(3),
            Constraint::Fill(2),
        ];
        if entries.is_empty() {
            let inner = block.inner(area);
            f.render_widget(block, area);
            f.render_widget(Line::from("no entries yet").style(Style::new().fg(t.dim)), inner);
            return;
        }
        f.render_widget(Table::new(rows, widths).header(header).block(block), area);
    }

    fn keys(&self) -> Vec<Shown> {
        keys::help(KEYS)
    }
}
