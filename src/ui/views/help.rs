//! Help: the keys of the view it was opened from, then the keys and commands that work
//! everywhere.

use super::View;
use crate::ui::app::Action;
use crate::ui::keys::{self, GLOBAL_KEYS, Shown};
use crate::ui::{Component, Ctx};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

#[derive(Debug)]
pub(crate) struct HelpView {
    for_view: View,
    keys: Vec<Shown>,
}

impl Default for HelpView {
    fn default() -> Self {
        HelpView { for_view: View::Overview, keys: Vec::new() }
    }
}

impl HelpView {
    /// Help for view `v`, whose bindings are `keys`.
    pub(crate) fn show_for(&mut self, v: View, keys: Vec<Shown>) {
        self.for_view = v;
        self.keys = keys;
    }
}

impl Component for HelpView {
    fn on_snapshot(&mut self, _ctx: &Ctx) {}

    fn handle_key(&mut self, _k: KeyEvent, _ctx: &Ctx) -> Action {
        Action::Noop
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let key = |k: &str, what: &str| {
            Line::from(vec![
                Span::styled(format!("  {k:<16}"), Style::new().fg(t.accent).bold()),
                Span::styled(what.to_string(), Style::new().fg(t.fg)),
            ])
        };
        let mut lines =
            vec![Line::styled(format!("{} view", self.for_view.name()), Style::new().fg(t.title).bold())];
        if self.keys.is_empty() {
            lines.push(Line::styled("  (no keys of its own)", Style::new().fg(t.dim)));
        }
        lines.extend(self.keys.iter().map(|(k, w)| key(k, w)));
        lines.push(Line::raw(""));
        lines.push(Line::styled("everywhere", Style::new().fg(t.title).bold()));
        lines.extend(keys::help(GLOBAL_KEYS).iter().map(|(k, w)| key(k, w)));
        let mut commands = vec![Line::styled("commands", Style::new().fg(t.title).bold())];
        commands.extend(crate::ui::command::help().iter().map(|(k, w)| key(k, w)));
        let block =
            Block::new().borders(Borders::ALL).border_style(Style::new().fg(t.border)).title(Span::styled(
                format!(" help: {} (esc goes back) ", self.for_view.name()),
                Style::new().fg(t.title).bold(),
            ));
        let inner = block.inner(area);
        f.render_widget(block, area);
        // Side by side when wide enough, so a short terminal still shows every line.
        let [keys_area, commands_area] = if inner.width >= 124 {
            Layout::horizontal([Constraint::Length(66), Constraint::Fill(1)]).areas(inner)
        } else {
            lines.push(Line::raw(""));
            lines.append(&mut commands);
            [inner, Rect::default()]
        };
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), keys_area);
        f.render_widget(Paragraph::new(commands).wrap(Wrap { trim: false }), commands_area);
    }

    fn keys(&self) -> Vec<Shown> {
        Vec::new()
    }
}
