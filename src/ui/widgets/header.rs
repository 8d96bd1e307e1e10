//! The header (source, context, time, feed health, RUB and its trend, SLO breaches, the twin's fit
//! to the present), the notice banner under it and the line of view tabs.

use crate::twin::FeedState;
use crate::ui::theme::Theme;
use crate::ui::views::View;
use crate::ui::{Ctx, esc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub(crate) struct Header<'a> {
    pub ctx: &'a Ctx<'a>,
    /// Valid proposals waiting in `:recs`.
    pub waiting: usize,
    /// The twin's fit to the present (`twintop fidelity`), once computed.
    pub fit: Option<&'a crate::sim::fidelity::Fidelity>,
}

/// A feed's glyph: shape and colour both carry the state.
pub(crate) fn feed_glyph(state: FeedState, t: &Theme) -> Span<'static> {
    match state {
        FeedState::Ok => Span::styled("●", Style::new().fg(t.ok)),
        FeedState::Stale => Span::styled("◐", Style::new().fg(t.warn)),
        FeedState::Down => Span::styled("○", Style::new().fg(t.bad)),
        FeedState::Off => Span::styled("○", Style::new().fg(t.dim)),
    }
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (s, d, t) = (self.ctx.snap, self.ctx.d, self.ctx.theme);
        let sep = || Span::styled(" │ ", Style::new().fg(t.border));
        let kind = s.source.kind.as_str();
        let name = esc(&s.source.name);
        let source = if name.starts_with(kind) { name.into_owned() } else { format!("{kind}:{name}") };
        // Below 100 columns the labels go, so source, context, RUB and feeds still fit in 80.
        let wide = area.width >= 100;
        let mut spans = Vec::new();
        if wide {
            spans.extend([Span::styled(" twintop", Style::new().fg(t.accent).bold()), sep()]);
        } else {
            spans.push(Span::raw(" "));
        }
        spans.extend([
            Span::styled(source, Style::new().fg(t.title).bold()),
            sep(),
            Span::styled("ctx ", Style::new().fg(t.dim)),
            Span::styled(esc(&s.source.context).into_owned(), Style::new().fg(t.title).bold()),
            sep(),
            Span::styled(s.time.format("%H:%M:%SZ").to_string(), Style::new().fg(t.fg)),
            sep(),
            Span::styled("RUB ", Style::new().fg(t.dim)),
            Span::styled(format!("{:.2}", d.kpis.rub), Style::new().fg(t.fg).bold()),
        ]);
        if let Some(tr) = d.rub_trend {
            let (arrow, col) = if tr > 0.005 {
                ("▲", t.ok)
            } else if tr < -0.005 {
                ("▼", t.warn)
            } else {
                ("=", t.dim)
            };
            let text = if arrow == "=" { " =".to_string() } else { format!(" {arrow}{:.2}", tr.abs()) };
            spans.push(Span::styled(text, Style::new().fg(col)));
        }
        spans.push(sep());
        let breaches = d.kpis.slo_breaches;
        let col = if breaches > 0 { t.bad } else { t.ok };
        let word = if breaches == 1 { "breach" } else { "breaches" };
        let slo = if wide { format!("{breaches} SLO {word}") } else { format!("{breaches} {word}") };
        spans.push(Span::styled(slo, Style::new().fg(col).bold()));
        if let Some(fit) = self.fit
            && let (Some(median), Some(worst)) = (fit.median_abs_error, &fit.worst)
        {
            // How far the twin's simulated present is from what it measures: the predictions'
            // footing. Red when its worst workload misses by more than confidence tolerates.
            spans.push(sep());
            let off = worst.error.abs() > crate::advise::confidence::FIDELITY_MISS;
            let col = if off {
                t.bad
            } else if median > 0.1 {
                t.warn
            } else {
                t.ok
            };
            let text = if wide {
                format!("twin fit ±{:.0}% (worst {:+.0}%)", median * 100.0, worst.error * 100.0)
            } else {
                format!("fit ±{:.0}%", median * 100.0)
            };
            spans.push(Span::styled(text, Style::new().fg(col)));
        }
        if self.waiting > 0 {
            spans.push(sep());
            let word = if self.waiting == 1 { "proposal" } else { "proposals" };
            let text = if wide {
                format!("{} {word} waiting", self.waiting)
            } else {
                format!("{} recs", self.waiting)
            };
            spans.push(Span::styled(text, Style::new().fg(t.accent).bold()));
        }
        spans.push(sep());
        if wide {
            spans.push(Span::styled("feeds", Style::new().fg(t.dim)));
        }
        if s.feeds.is_empty() {
            spans.push(Span::styled(" none", Style::new().fg(t.dim)));
        }
        for feed in &s.feeds {
            let lead = if wide || !std::ptr::eq(feed, &s.feeds[0]) { " " } else { "" };
            spans.push(Span::styled(format!("{lead}{} ", esc(&feed.name)), Style::new().fg(t.fg)));
            spans.push(feed_glyph(feed.state, t));
        }
        // A long source or context (a manifests path, a `--servers` file) gives way so RUB,
        // SLO and the feeds always show: both keep their tails, where file names are.
        let total: usize = spans.iter().map(|s| s.width()).sum();
        if total > area.width as usize {
            let (si, ci) = (if wide { 2 } else { 1 }, if wide { 5 } else { 4 });
            let (sw, cw) = (spans[si].width(), spans[ci].width());
            let room = (area.width as usize).saturating_sub(total - sw - cw);
            let c_room = cw.min(room / 2).max(room.saturating_sub(sw));
            let s_room = room.saturating_sub(c_room);
            for (i, keep) in [(si, s_room.max(4)), (ci, c_room.max(4))] {
                let text = spans[i].content.to_string();
                spans[i].content = tail(&text, keep).into();
            }
        }
        Line::from(spans).style(Style::new().bg(t.header_bg)).render(area, buf);
    }
}

/// The last `width` columns of `text`, led by `…` when it had to be cut.
fn tail(text: &str, width: usize) -> String {
    if Span::raw(text).width() <= width {
        return text.to_string();
    }
    let mut out: Vec<char> = Vec::new();
    let mut w = 1;
    let mut buf = [0u8; 4];
    for c in text.chars().rev() {
        let cw = Span::raw(&*c.encode_utf8(&mut buf)).width();
        if w + cw > width {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out.into_iter().rev().collect()
}

/// Notices for the operator (e.g. "no kubeconfig found: showing the embedded demo").
pub(crate) struct NoticeBanner<'a> {
    /// Already escaped.
    pub notices: &'a [String],
    pub theme: &'a Theme,
}

impl Widget for NoticeBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let extra = self.notices.len().saturating_sub(area.height as usize);
        for (i, n) in self.notices.iter().take(area.height as usize).enumerate() {
            let more = if extra > 0 && i + 1 == area.height as usize {
                format!(" (+{extra} more)")
            } else {
                String::new()
            };
            let row = Rect { y: area.y + i as u16, height: 1, ..area };
            Line::from(vec![
                Span::styled(" ⚠ ", Style::new().fg(self.theme.warn).bold()),
                Span::styled(format!("{n}{more}"), Style::new().fg(self.theme.warn)),
            ])
            .render(row, buf);
        }
    }
}

/// The row of view names, the current one highlighted, and the active filter.
pub(crate) struct TabLine<'a> {
    pub view: View,
    pub filter: &'a str,
    pub theme: &'a Theme,
    pub ctx: &'a Ctx<'a>,
}

impl Widget for TabLine<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut spans = vec![Span::raw(" ")];
        for &v in View::ALL {
            let style = if v == self.view {
                Style::new().fg(t.selected_fg).bg(t.selected_bg).bold()
            } else {
                Style::new().fg(t.dim)
            };
            spans.push(Span::styled(format!(" {} ", v.name()), style));
            spans.push(Span::raw(" "));
        }
        if !self.filter.is_empty() {
            spans.push(Span::styled(" filter ", Style::new().fg(t.dim)));
            spans.push(Span::styled(format!("/{}", esc(self.filter)), Style::new().fg(t.accent).bold()));
        }
        let k = &self.ctx.d.kpis;
        let right = format!("{} servers · {} workloads · {} pods ", k.servers, k.workloads, k.pods);
        let left = Line::from(spans);
        let lw = left.width() as u16;
        left.render(area, buf);
        let rw = right.chars().count() as u16;
        if lw + rw < area.width {
            let r = Rect { x: area.right() - rw, width: rw, ..area };
            Line::from(Span::styled(right, Style::new().fg(t.dim))).render(r, buf);
        }
    }
}
