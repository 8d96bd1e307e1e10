//! The footer: the last command's message, then the keys that work now (the app gathers them
//! from the bindings of the view and of the console).

use crate::ui::keys::Shown;
use crate::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub(crate) struct Footer<'a> {
    pub keys: &'a [Shown],
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
        for (k, what) in self.keys {
            spans.push(Span::styled(format!(" <{k}>"), Style::new().fg(t.accent).bold()));
            spans.push(Span::styled(*what, Style::new().fg(t.dim)));
        }
        Line::from(spans).render(area, buf);
    }
}
