//! The footer: the keys that work in the current view, or the last command's message.

use crate::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

/// Keys every view shares, shown after the view's own.
pub const GLOBAL_KEYS: [(&str, &str); 5] =
    [(":", "cmd"), ("tab", "view"), ("?", "help"), ("esc", "back"), ("q", "quit")];

pub struct Footer<'a> {
    pub keys: &'static [(&'static str, &'static str)],
    pub detail_open: bool,
    /// The view takes every key (an editor, a prompt or a dialog): the global keys do not work.
    pub captured: bool,
    pub status: Option<&'a str>,
    pub theme: &'a Theme,
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut spans = Vec::new();
        if let Some(s) = self.status {
            spans.push(Span::styled(format!(" {} ", crate::ui::esc(s)), Style::new().fg(t.warn).bold()));
        }
        let keys: Vec<(&str, &str)> = if self.detail_open {
            vec![("esc", "close"), ("q", "quit")]
        } else if self.captured {
            self.keys.iter().copied().chain([("ctrl-c", "quit")]).collect()
        } else {
            self.keys.iter().copied().chain(GLOBAL_KEYS).collect()
        };
        for (k, what) in keys {
            spans.push(Span::styled(format!(" <{k}>"), Style::new().fg(t.accent).bold()));
            spans.push(Span::styled(what, Style::new().fg(t.dim)));
        }
        Line::from(spans).render(area, buf);
    }
}
