//! The `:` command and `/` filter input line, with completion candidates after it.

use crate::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub(crate) struct CommandLine<'a> {
    pub prefix: char,
    pub line: &'a str,
    pub candidates: &'a [String],
    pub theme: &'a Theme,
}

impl Widget for CommandLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut spans = vec![
            Span::styled(format!("{}", self.prefix), Style::new().fg(t.accent).bold()),
            Span::styled(crate::ui::esc(self.line).into_owned(), Style::new().fg(t.fg)),
            Span::styled("▏", Style::new().fg(t.cursor)),
        ];
        if !self.candidates.is_empty() {
            spans.push(Span::styled(
                format!("   {}", crate::ui::esc(&self.candidates.join("  "))),
                Style::new().fg(t.dim),
            ));
        } else if self.prefix == '/' {
            spans.push(Span::styled(
                "   substring, !negates · enter keep · esc clear",
                Style::new().fg(t.dim),
            ));
        } else {
            spans.push(Span::styled("   tab completes · enter runs · esc cancels", Style::new().fg(t.dim)));
        }
        Line::from(spans).render(area, buf);
    }
}
