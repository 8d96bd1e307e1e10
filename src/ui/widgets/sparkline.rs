//! A one-line sparkline with a label and the newest value: `RUB  ▃▄▅▅▆▇  0.87`.

use crate::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::Widget;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub(crate) struct SparklineRow<'a> {
    pub label: &'a str,
    /// Oldest to newest; NaN is a gap.
    pub values: &'a [f64],
    /// Text after the line, e.g. the newest value with its unit.
    pub value: String,
    /// Fixed bottom of the scale, or `None` to use the minimum shown.
    pub floor: Option<f64>,
    pub theme: &'a Theme,
}

impl Widget for SparklineRow<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width < 20 {
            return;
        }
        let t = self.theme;
        let label_w = 12u16;
        let value_w = (self.value.chars().count() as u16 + 1).max(10);
        buf.set_stringn(area.x, area.y, self.label, label_w as usize, Style::new().fg(t.dim));
        let w = area.width.saturating_sub(label_w + value_w) as usize;
        let shown = &self.values[self.values.len().saturating_sub(w)..];
        let finite = shown.iter().copied().filter(|v| v.is_finite());
        let lo = self.floor.unwrap_or_else(|| finite.clone().fold(f64::INFINITY, f64::min));
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        let x0 = area.x + label_w + (w - shown.len()) as u16;
        for (k, v) in shown.iter().enumerate() {
            let ch = if !v.is_finite() {
                ' '
            } else if hi - lo <= 1e-12 {
                BARS[3]
            } else {
                BARS[(((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize]
            };
            let tt = if hi - lo > 1e-12 { (v - lo) / (hi - lo) } else { 0.5 };
            buf[(x0 + k as u16, area.y)].set_char(ch).set_fg(t.seq(tt));
        }
        let vx = area.right() - value_w + 1;
        buf.set_stringn(vx, area.y, &self.value, value_w as usize - 1, Style::new().fg(t.fg));
    }
}
