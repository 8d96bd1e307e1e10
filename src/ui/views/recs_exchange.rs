//! The raw LLM exchange behind a proposal (`x` in `:recs`), escaped, in a scrolling pane that
//! opens at the model's answer: the request (the prompt and the twin's data) comes first in the
//! file and fills screens, so the answer — what the proposal was read from — is where the eye
//! should land. Lines wrap to the pane; scrolling counts wrapped rows.

use crate::ui::Ctx;
use crate::ui::keys::Move;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

#[derive(Debug, Clone, PartialEq)]
pub struct ExchangeView {
    /// The file's lines, already escaped.
    lines: Vec<String>,
    /// The line the model's answer starts on.
    answer: usize,
    /// The first row shown (of the wrapped rows).
    top: usize,
    /// Put the answer at the top on the next draw (the row it starts on depends on the width).
    to_answer: bool,
    /// Rows the pane showed last time (a page).
    page: usize,
}

impl ExchangeView {
    /// `lines` already escaped. The answer is the exchange's top-level `content` (the streamed
    /// answer joined), else its `response` (the raw body), else its `error`.
    pub(crate) fn new(lines: Vec<String>) -> ExchangeView {
        let at = |key: &str| lines.iter().position(|l| l.starts_with(&format!("  \"{key}\":")));
        let answer = at("content").or_else(|| at("response")).or_else(|| at("error")).unwrap_or(0);
        ExchangeView { lines, answer, top: 0, to_answer: true, page: 10 }
    }

    /// Scrolls by a row, a page, or to either end (`Move`, as lists move).
    pub(crate) fn scroll(&mut self, m: Move) {
        let page = self.page.max(1);
        self.top = match m {
            Move::Down => self.top + 1,
            Move::Up => self.top.saturating_sub(1),
            Move::PageDown => self.top + page,
            Move::PageUp => self.top.saturating_sub(page),
            Move::First => 0,
            Move::Last => usize::MAX,
            Move::Left | Move::Right => self.top,
        };
    }

    /// Back to the model's answer.
    pub(crate) fn jump_to_answer(&mut self) {
        self.to_answer = true;
    }

    pub(crate) fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let w = area.width.saturating_sub(4);
        let h = area.height.saturating_sub(2);
        let [r] = Layout::horizontal([Constraint::Length(w)]).flex(Flex::Center).areas(area);
        let [r] = Layout::vertical([Constraint::Length(h)]).flex(Flex::Center).areas(r);
        let inner_w = r.width.saturating_sub(2).max(1) as usize;
        let inner_h = r.height.saturating_sub(2) as usize;
        let (rows, starts) = wrap(&self.lines, inner_w);
        if std::mem::take(&mut self.to_answer) {
            self.top = starts.get(self.answer).copied().unwrap_or(0);
        }
        self.page = inner_h;
        self.top = self.top.min(rows.len().saturating_sub(inner_h));
        let line_of_top = starts.partition_point(|&s| s <= self.top).saturating_sub(1);
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.accent))
            .title(format!(
                " raw LLM exchange · line {}/{} · answer at line {} ",
                line_of_top + 1,
                self.lines.len(),
                self.answer + 1
            ))
            .title_bottom(" esc closes ");
        f.render_widget(Clear, r);
        let shown: Vec<Line> = rows.into_iter().skip(self.top).take(inner_h).map(Line::from).collect();
        f.render_widget(Paragraph::new(shown).block(block), r);
    }
}

/// The lines cut into rows of `width` characters, and the row each line starts on.
fn wrap(lines: &[String], width: usize) -> (Vec<String>, Vec<usize>) {
    let mut rows = Vec::new();
    let mut starts = Vec::with_capacity(lines.len());
    for l in lines {
        starts.push(rows.len());
        let chars: Vec<char> = l.chars().collect();
        if chars.is_empty() {
            rows.push(String::new());
        }
        for chunk in chars.chunks(width) {
            rows.push(chunk.iter().collect());
        }
    }
    (rows, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_wrap_to_the_width_and_each_line_knows_its_first_row() {
        let (rows, starts) = wrap(&["abcdef".into(), String::new(), "xy".into()], 4);
        assert_eq!(rows, ["abcd", "ef", "", "xy"]);
        assert_eq!(starts, [0, 2, 3]);
    }

    #[test]
    fn the_answer_is_the_top_level_content_else_the_response() {
        let streamed = ExchangeView::new(vec![
            "{".into(),
            "  \"request\": {".into(),
            "      \"content\": \"the prompt\"".into(),
            "  },".into(),
            "  \"response\": \"data: …\",".into(),
            "  \"content\": \"{\\\"actions\\\": []}\"".into(),
        ]);
        assert_eq!(streamed.answer, 5);
        let plain =
            ExchangeView::new(vec!["{".into(), "  \"request\": {},".into(), "  \"response\": \"{}\"".into()]);
        assert_eq!(plain.answer, 2);
    }
}
