//! The overview: cluster totals, RUB, mean utilisation, dependency latency, SLO breaches,
//! the worst servers and workloads, and sparklines of RUB, request rate and CPU.

use crate::twin::kpi::SloState;
use crate::ui::app::Action;
use crate::ui::widgets::sparkline::SparklineRow;
use crate::ui::{Component, Ctx, esc, opt, pct};
use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

#[derive(Debug, Default)]
pub(crate) struct OverviewView;

fn block<'a>(title: &'a str, ctx: &Ctx) -> Block<'a> {
    Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(ctx.theme.border))
        .title(Span::styled(title, Style::new().fg(ctx.theme.title).bold()))
}

impl Component for OverviewView {
    fn on_snapshot(&mut self, _ctx: &Ctx) {}

    fn handle_key(&mut self, _k: KeyEvent, _ctx: &Ctx) -> Action {
        Action::Noop
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        // Below 100 columns the totals and breaches wrap: two more lines keep them whole.
        let top_h = if area.width < 100 { 8 } else { 6 };
        let [top, mid, bottom] =
            Layout::vertical([Constraint::Length(top_h), Constraint::Min(4), Constraint::Length(5)])
                .areas(area);
        let [totals, breaches] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        let [worst_s, worst_w] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(mid);
        self.totals(f, totals, ctx);
        self.breaches(f, breaches, ctx);
        self.worst_servers(f, worst_s, ctx);
        self.worst_workloads(f, worst_w, ctx);
        self.history(f, bottom, ctx);
    }

    fn keys(&self) -> Vec<crate::ui::keys::Shown> {
        Vec::new()
    }
}

impl OverviewView {
    fn totals(&self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let (k, t) = (&ctx.d.kpis, ctx.theme);
        let dim = Style::new().fg(t.dim);
        let val = Style::new().fg(t.fg).bold();
        let pending = if k.pending_pods > 0 { Style::new().fg(t.warn).bold() } else { val };
        let trend = match ctx.d.rub_trend {
            Some(tr) if tr > 0.005 => format!(" ▲{:.2}", tr),
            Some(tr) if tr < -0.005 => format!(" ▼{:.2}", -tr),
            _ => String::new(),
        };
        let lines = vec![
            Line::from(vec![
                Span::styled("servers ", dim),
                Span::styled(k.servers.to_string(), val),
                Span::styled("  workloads ", dim),
                Span::styled(k.workloads.to_string(), val),
                Span::styled("  pods ", dim),
                Span::styled(k.pods.to_string(), val),
                Span::styled("  pending ", dim),
                Span::styled(k.pending_pods.to_string(), pending),
            ]),
            Line::from(vec![
                Span::styled("RUB ", dim),
                Span::styled(format!("{:.2}", k.rub), val),
                Span::styled(trend, dim),
                Span::styled("  (1 = perfectly even)", dim),
            ]),
            Line::from(vec![
                Span::styled("mean cpu ", dim),
                Span::styled(pct(k.cpu_util), val),
                Span::styled("  mem ", dim),
                Span::styled(pct(k.mem_util), val),
                Span::styled("  bw ", dim),
                Span::styled(pct(k.bw_util), val),
            ]),
            Line::from(vec![
                Span::styled("dependency latency ", dim),
                // Within one MEC cluster hops take tens of microseconds: keep two decimals there.
                Span::styled(
                    if k.dependency_latency_ms < 1.0 {
                        format!("{:.2} ms", k.dependency_latency_ms)
                    } else {
                        format!("{:.1} ms", k.dependency_latency_ms)
                    },
                    val,
                ),
                Span::styled(format!("  co-located {}", pct(k.colocated_share)), dim),
            ]),
        ];
        f.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(block(" cluster ", ctx)),
            area,
        );
    }

    fn breaches(&self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let (s, d, t) = (ctx.snap, ctx.d, ctx.theme);
        let n = d.kpis.slo_breaches;
        let title = format!(" SLO breaches: {n} ");
        let room = area.height.saturating_sub(2) as usize;
        let mut lines: Vec<Line> = d
            .worst_workloads
            .iter()
            .filter(|&&w| d.slo[w] == SloState::Breach)
            .take(room)
            .map(|&w| {
                let st = &s.workload_status[w];
                Line::from(vec![
                    Span::styled(format!("{:<24}", esc(&s.workloads[w].name)), Style::new().fg(t.bad).bold()),
                    Span::styled(
                        format!(
                            " p99 {} > {}",
                            opt(st.p99_ms, 1, " ms"),
                            opt(s.workloads[w].slo_p99_ms, 0, " ms")
                        ),
                        Style::new().fg(t.fg),
                    ),
                ])
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::styled("none: every workload with an SLO meets it", Style::new().fg(t.ok)));
        }
        let title_style = if n > 0 { Style::new().fg(t.bad).bold() } else { Style::new().fg(t.title).bold() };
        let b = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(title, title_style));
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(b), area);
    }

    fn worst_servers(&self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let (s, d, t) = (ctx.snap, ctx.d, ctx.theme);
        let mut lines = vec![Line::styled(
            format!("{:<16} {:>5} {:>5} {:>5} {:>5}", "server", "cpu", "mem", "bw", "pods"),
            Style::new().fg(t.accent).bold(),
        )];
        for &i in d.worst_servers.iter().take(area.height.saturating_sub(3).max(5) as usize) {
            let u = &d.utils[i];
            let col = t.utilisation(u.cpu.max(u.mem).max(u.bw));
            lines.push(Line::styled(
                format!(
                    "{:<16} {:>5} {:>5} {:>5} {:>5}",
                    trunc(&esc(&s.servers[i].name), 16),
                    pct(u.cpu),
                    pct(u.mem),
                    pct(u.bw),
                    s.server_status[i].pods
                ),
                Style::new().fg(col),
            ));
        }
        f.render_widget(Paragraph::new(lines).block(block(" hottest servers ", ctx)), area);
    }

    fn worst_workloads(&self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let (s, d, t) = (ctx.snap, ctx.d, ctx.theme);
        let mut lines = vec![Line::styled(
            format!("{:<22} {:>7} {:>9} {:>7} {:>6}", "workload", "ready", "p99", "slo", "state"),
            Style::new().fg(t.accent).bold(),
        )];
        for &w in d.worst_workloads.iter().take(area.height.saturating_sub(3).max(5) as usize) {
            let (wl, st) = (&s.workloads[w], &s.workload_status[w]);
            let (state, col) = match d.slo[w] {
                SloState::Breach => ("BREACH", t.bad),
                SloState::Ok => ("ok", t.fg),
                SloState::Unknown => ("-", t.dim),
            };
            lines.push(Line::styled(
                format!(
                    "{:<22} {:>7} {:>9} {:>7} {:>6}",
                    trunc(&esc(&wl.name), 22),
                    format!("{}/{}", st.ready, wl.replicas),
                    opt(st.p99_ms, 1, "ms"),
                    opt(wl.slo_p99_ms, 0, "ms"),
                    state
                ),
                Style::new().fg(col),
            ));
        }
        f.render_widget(Paragraph::new(lines).block(block(" worst workloads (p99 vs SLO) ", ctx)), area);
    }

    fn history(&self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let (d, t) = (ctx.d, ctx.theme);
        let b = block(" history ", ctx);
        let inner = b.inner(area);
        f.render_widget(b, area);
        let rows = Layout::vertical([Constraint::Length(1); 3]).split(inner);
        let last = |v: &[f64]| v.last().copied().filter(|x| x.is_finite());
        let items: [(&str, &[f64], String, Option<f64>); 3] = [
            ("RUB", &d.rub_hist, opt(last(&d.rub_hist), 2, ""), None),
            ("total rps", &d.rps_hist, opt(last(&d.rps_hist), 0, " rps"), Some(0.0)),
            ("mean cpu", &d.cpu_hist, last(&d.cpu_hist).map(pct).unwrap_or_else(|| "-".into()), Some(0.0)),
        ];
        for (row, (label, values, value, floor)) in rows.iter().zip(items) {
            f.render_widget(SparklineRow { label, values, value, floor, theme: t }, *row);
        }
    }
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}
