//! The heatmap view: one cell per server, grouped by location, coloured by the selected
//! metric, with a legend carrying the numeric scale and a cursor whose detail pane carries
//! the numbers (colour is never the only cue).

use super::detail::{Detail, server_lines};
use crate::ui::app::{Action, hit};
use crate::ui::derived::Derived;
use crate::ui::keys::{self, Binding, GRID_MOVES, Key, Move};
use crate::ui::theme::Theme;
use crate::ui::widgets::grid::{CellLook, Grid, GridLayout};
use crate::ui::{Component, Ctx, Filter};
use crossterm::event::{KeyCode, KeyEvent, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// Above this many servers cells are one character wide when the grid has to scroll anyway.
const MANY_SERVERS: usize = 400;
/// RUB deviation shown at the ends of the diverging palette (±50 utilisation points).
const RUB_SPAN: f64 = 0.5;
const GLYPHS: [char; 4] = ['░', '▒', '▓', '█'];
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Rub,
    Cpu,
    Mem,
    Bw,
    Lat,
}

impl Metric {
    pub(crate) const ALL: [Metric; 5] = [Metric::Rub, Metric::Cpu, Metric::Mem, Metric::Bw, Metric::Lat];

    pub(crate) fn short(&self) -> &'static str {
        match self {
            Metric::Rub => "RUB",
            Metric::Cpu => "CPU",
            Metric::Mem => "MEM",
            Metric::Bw => "BW",
            Metric::Lat => "LAT",
        }
    }

    /// The name in the view's title.
    pub(crate) fn title(&self) -> &'static str {
        match self {
            Metric::Rub => "RUB contribution (deviation from mean utilisation)",
            Metric::Cpu => "CPU utilisation",
            Metric::Mem => "memory utilisation",
            Metric::Bw => "bandwidth utilisation",
            Metric::Lat => "latency (mean p99 of workloads on the server)",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.short().eq_ignore_ascii_case(s))
    }

    fn next(self) -> Metric {
        let i = Metric::ALL.iter().position(|m| *m == self).unwrap_or(0);
        Metric::ALL[(i + 1) % Metric::ALL.len()]
    }

    /// Position on the palette: [0, 1] for levels, [-1, 1] for RUB; `None` without data.
    fn scaled(self, i: usize, d: &Derived) -> Option<f64> {
        let u = d.utils.get(i)?;
        Some(match self {
            Metric::Rub => (d.rub_dev[i] / RUB_SPAN).clamp(-1.0, 1.0),
            Metric::Cpu => u.cpu,
            Metric::Mem => u.mem,
            Metric::Bw => u.bw,
            Metric::Lat => d.server_p99[i]? / d.latency_scale_ms,
        })
    }

    /// The cell's figure in at most four characters: `49%`, `+14` (RUB points), `464` ms.
    fn figure(self, i: usize, d: &Derived) -> String {
        let Some(u) = d.utils.get(i) else { return "·".into() };
        let pct = |v: f64| format!("{:.0}%", (v * 100.0).clamp(0.0, 999.0));
        match self {
            Metric::Rub => format!("{:+.0}", (d.rub_dev[i] * 100.0).clamp(-999.0, 999.0)),
            Metric::Cpu => pct(u.cpu),
            Metric::Mem => pct(u.mem),
            Metric::Bw => pct(u.bw),
            Metric::Lat => match d.server_p99[i] {
                None => "·".into(),
                Some(ms) if ms < 9999.5 => format!("{ms:.0}"),
                Some(ms) => format!("{:.0}s", (ms / 1000.0).min(999.0)),
            },
        }
    }

    fn look(self, i: usize, d: &Derived, t: &Theme) -> CellLook {
        let Some(v) = self.scaled(i, d) else { return CellLook { glyph: '·', color: t.no_data } };
        if self == Metric::Rub {
            let glyph = if t.glyphs { BARS[(((v + 1.0) / 2.0) * 7.99) as usize] } else { '█' };
            return CellLook { glyph, color: t.div(v) };
        }
        let v = v.clamp(0.0, 1.0);
        let glyph = if t.glyphs { GLYPHS[(v * 3.99) as usize] } else { '█' };
        CellLook { glyph, color: t.seq(v) }
    }
}

impl<'de> serde::Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Metric::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown metric {s:?} (use rub, cpu, mem, bw or lat)"))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Details,
    Metric,
}

const MOVE_KEYS: &[Binding<Move>] = &[Binding::new("←↓↑→/hjkl", "move", GRID_MOVES)];
const KEYS: &[Binding<Cmd>] = &[
    Binding::new("enter", "details", &[(Key::Code(KeyCode::Enter), Cmd::Details)]),
    Binding::new("m", "metric", &[(Key::Char('m'), Cmd::Metric)]),
];

/// A group after filtering: the servers of one location that match.
#[derive(Debug, Clone)]
struct Shown {
    group: usize,
    servers: Vec<usize>,
}

#[derive(Debug)]
pub struct HeatmapView {
    metric: Metric,
    filter: String,
    shown: Vec<Shown>,
    /// Server indices in drawing order.
    flat: Vec<usize>,
    cursor: usize,
    /// Name of the server under the cursor, to keep it across snapshots.
    cursor_name: Option<String>,
    layout: GridLayout,
    /// The grid height the layout was made for (large cells only when they fit).
    layout_height: u16,
    layout_dirty: bool,
    scroll: u32,
    grid_area: Rect,
}

impl HeatmapView {
    pub(crate) fn new(metric: Metric) -> HeatmapView {
        HeatmapView {
            metric,
            filter: String::new(),
            shown: Vec::new(),
            flat: Vec::new(),
            cursor: 0,
            cursor_name: None,
            layout: GridLayout::default(),
            layout_height: 0,
            layout_dirty: true,
            scroll: 0,
            grid_area: Rect::default(),
        }
    }

    /// The server under the cursor (index into the snapshot's servers).
    pub fn cursor_server(&self) -> Option<usize> {
        self.flat.get(self.cursor).copied()
    }

    /// Puts the cursor on a server by name; false when it is not shown.
    pub(crate) fn select(&mut self, name: &str, ctx: &Ctx) -> bool {
        match self.flat.iter().position(|&i| ctx.snap.servers[i].name == name) {
            Some(k) => {
                self.set_cursor(k, ctx);
                true
            }
            None => false,
        }
    }

    /// Moves the cursor one cell right (wrapping to the next group), as `l` does.
    pub(crate) fn step(&mut self, ctx: &Ctx) {
        if !self.flat.is_empty() {
            self.set_cursor((self.cursor + 1) % self.flat.len(), ctx);
        }
    }

    fn set_cursor(&mut self, k: usize, ctx: &Ctx) {
        self.cursor = k.min(self.flat.len().saturating_sub(1));
        self.cursor_name = self.cursor_server().map(|i| ctx.snap.servers[i].name.clone());
    }

    fn rebuild(&mut self, ctx: &Ctx) {
        let f = Filter::new(&self.filter);
        self.shown = ctx
            .d
            .groups
            .iter()
            .enumerate()
            .filter_map(|(gi, g)| {
                let servers: Vec<usize> =
                    g.servers.iter().copied().filter(|&i| f.matches(&ctx.d.server_search[i])).collect();
                (!servers.is_empty()).then_some(Shown { group: gi, servers })
            })
            .collect();
        self.flat = self.shown.iter().flat_map(|s| s.servers.iter().copied()).collect();
        let keep = self.cursor_name.clone();
        self.cursor = keep
            .and_then(|n| self.flat.iter().position(|&i| ctx.snap.servers[i].name == n))
            .unwrap_or(self.cursor)
            .min(self.flat.len().saturating_sub(1));
        self.cursor_name = self.cursor_server().map(|i| ctx.snap.servers[i].name.clone());
        self.layout_dirty = true;
    }

    fn ensure_layout(&mut self, area: Rect, ctx: &Ctx) {
        let (width, height) = (area.width, area.height);
        if self.layout_dirty || self.layout.width != width || self.layout_height != height {
            let sizes: Vec<usize> = self.shown.iter().map(|s| s.servers.len()).collect();
            let label_w =
                self.shown.iter().map(|s| ctx.d.groups[s.group].label.chars().count()).max().unwrap_or(0);
            let many = ctx.snap.servers.len() > MANY_SERVERS;
            self.layout = GridLayout::fit(&sizes, width, height, many, label_w as u16);
            self.layout_height = height;
            self.layout_dirty = false;
        }
    }

    /// Scrolls so the cursor's group (or at least the cursor's line) is on screen.
    fn follow_cursor(&mut self, height: u16) {
        let h = height as u32;
        if let (Some(b), Some(&(_, cy))) = (self.layout.box_of(self.cursor), self.layout.pos.get(self.cursor))
        {
            let (top, bottom) = (b.y, b.y + b.rows as u32 + 2);
            if bottom - top <= h {
                if top < self.scroll {
                    self.scroll = top;
                } else if bottom > self.scroll + h {
                    self.scroll = bottom - h;
                }
            } else if cy < self.scroll || cy >= self.scroll + h {
                self.scroll = cy.saturating_sub(h / 2);
            }
        }
        self.scroll = self.scroll.min(self.layout.total_h.saturating_sub(h));
    }

    fn legend(&self, ctx: &Ctx) -> Line<'static> {
        let t = ctx.theme;
        let n = if self.metric == Metric::Rub { t.diverging.len() } else { t.sequential.len() };
        let mut swatch = Vec::new();
        for k in 0..n {
            let mid = (k as f64 + 0.5) / n as f64;
            let (glyph, color) = if self.metric == Metric::Rub {
                let v = mid * 2.0 - 1.0;
                (if t.glyphs { BARS[(mid * 7.99) as usize] } else { '█' }, t.div(v))
            } else {
                (if t.glyphs { GLYPHS[(mid * 3.99) as usize] } else { '█' }, t.seq(mid))
            };
            swatch.push(Span::styled(format!("{glyph}{glyph}"), Style::new().fg(color)));
        }
        let (lo, hi) = match self.metric {
            Metric::Rub => (
                format!("under −{:.0} pts ", RUB_SPAN * 100.0),
                format!(" +{:.0} pts hot (middle: even)", RUB_SPAN * 100.0),
            ),
            Metric::Lat => ("0 ms ".to_string(), format!(" {:.0} ms", ctx.d.latency_scale_ms)),
            _ => ("0% ".to_string(), " 100%".to_string()),
        };
        let dim = Style::new().fg(t.dim);
        let mut spans = vec![Span::styled(" legend: ", dim), Span::styled(lo, Style::new().fg(t.fg))];
        spans.extend(swatch);
        spans.push(Span::styled(hi, Style::new().fg(t.fg)));
        spans.push(Span::styled("  · no data", Style::new().fg(t.no_data)));
        spans.push(Span::styled(format!("  (theme: {})", crate::ui::esc(&t.name)), dim));
        Line::from(spans)
    }

    fn metric_line(&self, ctx: &Ctx) -> Line<'static> {
        let t = ctx.theme;
        let mut spans = vec![Span::styled(" metric ", Style::new().fg(t.dim))];
        for m in Metric::ALL {
            if m == self.metric {
                spans.push(Span::styled(format!("[{}]", m.short()), Style::new().fg(t.accent).bold()));
            } else {
                spans.push(Span::styled(format!(" {} ", m.short()), Style::new().fg(t.dim)));
            }
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(" (m: next)", Style::new().fg(t.dim)));
        Line::from(spans)
    }
}

impl Component for HeatmapView {
    fn on_snapshot(&mut self, ctx: &Ctx) {
        self.rebuild(ctx);
    }

    fn handle_key(&mut self, k: KeyEvent, ctx: &Ctx) -> Action {
        let before = self.cursor;
        let page = (self.grid_area.height as usize).max(1) * self.layout.cols.max(1) as usize;
        match keys::lookup(KEYS, &k) {
            Some(Cmd::Metric) => {
                self.metric = self.metric.next();
                return Action::Render;
            }
            Some(Cmd::Details) => {
                return match self.cursor_server() {
                    Some(i) => Action::Detail(Detail::Server(ctx.snap.servers[i].name.clone())),
                    None => Action::Noop,
                };
            }
            None => {}
        }
        match keys::lookup(MOVE_KEYS, &k) {
            Some(Move::Right) => self.step(ctx),
            Some(Move::Left) => {
                let n = self.flat.len().max(1);
                self.set_cursor((self.cursor + n - 1) % n, ctx);
            }
            Some(m @ (Move::Up | Move::Down)) => {
                if let Some(n) = self.layout.vertical_neighbour(self.cursor, m == Move::Up) {
                    self.set_cursor(n, ctx);
                }
            }
            Some(Move::PageDown) => self.set_cursor(self.cursor + page, ctx),
            Some(Move::PageUp) => self.set_cursor(self.cursor.saturating_sub(page), ctx),
            Some(Move::First) => self.set_cursor(0, ctx),
            Some(Move::Last) => self.set_cursor(usize::MAX, ctx),
            None => return Action::Noop,
        }
        if self.cursor != before { Action::Render } else { Action::Noop }
    }

    fn handle_mouse(&mut self, m: MouseEvent, ctx: &Ctx) -> Action {
        match m.kind {
            MouseEventKind::Down(_) => {
                let Some((x, y)) = hit(self.grid_area, m.column, m.row) else { return Action::Noop };
                match self.layout.cell_at(x, y as u32 + self.scroll) {
                    Some(k) => {
                        self.set_cursor(k, ctx);
                        Action::Render
                    }
                    None => Action::Noop,
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let up = m.kind == MouseEventKind::ScrollUp;
                match self.layout.vertical_neighbour(self.cursor, up) {
                    Some(n) => {
                        self.set_cursor(n, ctx);
                        Action::Render
                    }
                    None => Action::Noop,
                }
            }
            _ => Action::Noop,
        }
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let side = area.width >= 72;
        let [map_area, detail_area] = if side {
            Layout::horizontal([Constraint::Min(30), Constraint::Length(32)]).areas(area)
        } else {
            Layout::vertical([Constraint::Min(6), Constraint::Length(7)]).areas(area)
        };
        let filter = if self.filter.is_empty() {
            String::new()
        } else {
            format!(" · filter /{}", crate::ui::esc(&self.filter))
        };
        let title = format!(
            " heatmap · {} · {} servers in {} groups{filter} ",
            self.metric.title(),
            self.flat.len(),
            self.shown.len()
        );
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(title, Style::new().fg(t.title).bold()));
        let inner = block.inner(map_area);
        f.render_widget(block, map_area);
        let [metric_row, grid_area, legend_row] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        f.render_widget(self.metric_line(ctx), metric_row);
        f.render_widget(self.legend(ctx), legend_row);
        self.grid_area = grid_area;
        self.ensure_layout(grid_area, ctx);
        self.follow_cursor(grid_area.height);
        if self.flat.is_empty() {
            let msg = if self.filter.is_empty() {
                "no servers in the twin"
            } else {
                "no server matches the filter (esc clears)"
            };
            f.render_widget(Line::from(msg).style(Style::new().fg(t.dim)), grid_area);
        } else {
            let labels: Vec<(&str, &str)> = self
                .shown
                .iter()
                .map(|s| {
                    let g = &ctx.d.groups[s.group];
                    (g.label.as_str(), g.short.as_str())
                })
                .collect();
            let (flat, metric, d) = (&self.flat, self.metric, ctx.d);
            let text = |k: usize| metric.figure(flat[k], d);
            Grid {
                layout: &self.layout,
                scroll: self.scroll,
                labels: &labels,
                cursor: Some(self.cursor),
                look: |k| metric.look(flat[k], d, t),
                text: Some(&text),
                theme: t,
            }
            .draw(f.buffer_mut(), grid_area);
        }

        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(" server ", Style::new().fg(t.title).bold()));
        let lines = match self.cursor_server() {
            Some(i) => server_lines(i, ctx, detail_area.height.saturating_sub(2) as usize, !side),
            None => vec![Line::from("no server selected")],
        };
        f.render_widget(Paragraph::new(lines).block(block), detail_area);
    }

    fn filterable(&self) -> bool {
        true
    }

    fn filter(&self) -> &str {
        &self.filter
    }

    fn set_filter(&mut self, filter: &str, ctx: &Ctx) {
        self.filter = filter.to_string();
        self.rebuild(ctx);
    }

    fn keys(&self) -> Vec<keys::Shown> {
        [keys::help(MOVE_KEYS), keys::help(KEYS)].concat()
    }
}
