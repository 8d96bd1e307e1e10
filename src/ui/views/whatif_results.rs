//! The What-if view's results: the baseline / scenario / delta table (▲▼ and colour), p99 and
//! replicas over the horizon or a sweep's curve, and the end-state heatmap beside the current one.

use crate::ui::widgets::grid::{CellLook, Grid, GridLayout};
use crate::ui::{Ctx, esc};
use crate::whatif::run::WhatIfReport;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph};

/// Lower is better for these; replicas and bandwidth are shown without a verdict.
fn delta_span(
    d: f64,
    decimals: usize,
    lower_better: Option<bool>,
    t: &crate::ui::theme::Theme,
) -> Span<'static> {
    if d.abs() < 0.5 * 10f64.powi(-(decimals as i32)) {
        return Span::styled(format!("{:>10}", "="), Style::new().fg(t.dim));
    }
    let sign = if d > 0.0 { '▲' } else { '▼' };
    let color = match lower_better {
        Some(lb) if (d < 0.0) == lb => t.ok,
        Some(_) => t.bad,
        None => t.fg,
    };
    Span::styled(format!("{sign}{:>9.decimals$}", d.abs()), Style::new().fg(color))
}

pub(crate) fn draw_table(f: &mut Frame, area: Rect, r: &WhatIfReport, tag: &str, ctx: &Ctx) {
    let t = ctx.theme;
    let (b, s) = (&r.baseline, &r.scenario);
    let mut lines = vec![Line::from(vec![Span::styled(
        format!("{:<16}{:>10}{:>10}{:>10}", "", "baseline", "scenario", "delta"),
        Style::new().fg(t.title).bold(),
    )])];
    let mut row = |name: String, bv: f64, sv: f64, dec: usize, lb: Option<bool>| {
        // The delta is that of the figures shown (no "120.1 → 120.1 ▲0.1"), and a figure that
        // rounds to zero prints as 0, not -0.0.
        let (bv, sv) = (crate::text::shown(bv, dec), crate::text::shown(sv, dec));
        lines.push(Line::from(vec![
            Span::raw(format!("{:<16}{:>10.dec$}{:>10.dec$}", name, bv, sv)),
            delta_span(sv - bv, dec, lb, t),
        ]));
    };
    row("p50 ms".into(), b.ttr_ms.p50, s.ttr_ms.p50, 1, Some(true));
    row("p99 ms".into(), b.ttr_ms.p99, s.ttr_ms.p99, 1, Some(true));
    row("SLO violations".into(), b.slo_violations, s.slo_violations, 0, Some(true));
    row("drops".into(), b.drops, s.drops, 0, Some(true));
    row("RUB".into(), b.rub, s.rub, 3, Some(true));
    row("bandwidth Mbps".into(), b.bandwidth, s.bandwidth, 1, None);
    row("cost/hour".into(), b.cost_per_hour, s.cost_per_hour, 2, Some(true));
    row("requested/hour".into(), b.requested_cost_per_hour, s.requested_cost_per_hour, 2, Some(true));
    let total = |m: &std::collections::BTreeMap<String, f64>| m.values().sum::<f64>();
    row("replicas".into(), total(&b.replicas), total(&s.replicas), 0, None);
    for (k, v) in &s.replicas {
        let bv = b.replicas.get(k).copied().unwrap_or(0.0);
        if (v - bv).abs() > 1e-9 {
            let short = k.rsplit('/').next().unwrap_or(k);
            row(format!(" {}", esc(short).chars().take(15).collect::<String>()), bv, *v, 0, None);
        }
    }
    let met = |m: bool| if m { "met" } else { "missed" };
    lines.push(Line::styled(
        format!(
            "SLO {} → {} · p99 ±{:.1}/±{:.1} ms",
            met(b.slo_met),
            met(s.slo_met),
            b.spread.p99_ms,
            s.spread.p99_ms
        ),
        Style::new().fg(t.dim),
    ));
    if let Some(m) = &r.measured {
        lines.push(Line::styled(
            format!("measured now: p99 {:.0} ms at {}", m.p99_ms, esc(&m.workload)),
            Style::new().fg(t.dim),
        ));
    }
    if let Some(fit) = &r.fit {
        let off = fit.worst.error.abs() > crate::advise::confidence::FIDELITY_MISS;
        lines.push(Line::styled(fit.line(), Style::new().fg(if off { t.bad } else { t.dim })));
    }
    if let Some(sw) = &r.sweep {
        lines.push(Line::styled(
            match sw.cheapest {
                Some(v) => format!("sweep: cheapest meeting the SLO: {v} replicas"),
                None => "sweep: no setting in the range meets the SLO".into(),
            },
            Style::new().fg(if sw.cheapest.is_some() { t.ok } else { t.bad }).bold(),
        ));
    }
    lines.push(Line::styled(tag.to_string(), Style::new().fg(t.dim)));
    f.render_widget(Paragraph::new(lines), area);
}

/// A chart line: its name, its points and its colour.
type Curve = (String, Vec<(f64, f64)>, Color);

fn points(ts: &[f64], ys: impl Iterator<Item = f64>) -> Vec<(f64, f64)> {
    ts.iter().copied().zip(ys).collect()
}

pub(crate) fn draw_charts(f: &mut Frame, area: Rect, r: &WhatIfReport, ctx: &Ctx) {
    let t = ctx.theme;
    let block = |title: &str| {
        Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(format!(" {title} "), Style::new().fg(t.title).bold()))
    };
    let line_chart = |f: &mut Frame, area: Rect, title: &str, sets: Vec<Curve>, xlabel: &str| {
        let xmax = sets.iter().flat_map(|s| s.1.iter().map(|p| p.0)).fold(1.0f64, f64::max);
        let xmin = sets.iter().flat_map(|s| s.1.iter().map(|p| p.0)).fold(xmax, f64::min);
        let ymax = sets.iter().flat_map(|s| s.1.iter().map(|p| p.1)).fold(1.0f64, f64::max) * 1.1;
        let data: Vec<Dataset> = sets
            .iter()
            .map(|(n, p, c)| {
                Dataset::default()
                    .name(n.clone())
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(Style::new().fg(*c))
                    .data(p)
            })
            .collect();
        f.render_widget(
            Chart::new(data)
                .block(block(title))
                .x_axis(
                    Axis::default()
                        .bounds([xmin, xmax])
                        .labels([format!("{xmin:.0}"), format!("{xmax:.0} {xlabel}")])
                        .style(Style::new().fg(t.dim)),
                )
                .y_axis(
                    Axis::default()
                        .bounds([0.0, ymax])
                        .labels(["0".to_string(), format!("{ymax:.0}")])
                        .style(Style::new().fg(t.dim)),
                ),
            area,
        );
    };
    if let Some(sw) = &r.sweep {
        let xs: Vec<f64> = sw.points.iter().map(|p| p.replicas as f64).collect();
        let mut sets = vec![(
            "p99 ms".to_string(),
            points(&xs, sw.points.iter().map(|p| p.summary.ttr_ms.p99)),
            t.accent,
        )];
        if let Some(slo) = r.slo {
            sets.push((
                format!("SLO {:.0} ms", slo.target_ms),
                xs.iter().map(|x| (*x, slo.target_ms)).collect(),
                t.warn,
            ));
        }
        line_chart(f, area, &format!("sweep {}: p99 by replicas", esc(&sw.workload)), sets, "replicas");
        return;
    }
    let [a, b] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let (bs, ss) = (&r.baseline_series, &r.scenario_series);
    line_chart(
        f,
        a,
        "p99 ms over the horizon",
        vec![
            ("baseline".into(), points(&bs.t_s, bs.p99_ms.iter().copied()), t.dim),
            ("scenario".into(), points(&ss.t_s, ss.p99_ms.iter().copied()), t.accent),
        ],
        "s",
    );
    line_chart(
        f,
        b,
        "replicas",
        vec![
            ("baseline".into(), points(&bs.t_s, bs.replicas.iter().map(|v| *v as f64)), t.dim),
            ("scenario".into(), points(&ss.t_s, ss.replicas.iter().map(|v| *v as f64)), t.accent),
        ],
        "s",
    );
}

pub(crate) fn draw_heatmaps(f: &mut Frame, area: Rect, r: &WhatIfReport, ctx: &Ctx) {
    let t = ctx.theme;
    let halves =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas::<2>(area);
    let flat: Vec<usize> = ctx.d.groups.iter().flat_map(|g| g.servers.iter().copied()).collect();
    let sizes: Vec<usize> = ctx.d.groups.iter().map(|g| g.servers.len()).collect();
    let labels: Vec<(&str, &str)> =
        ctx.d.groups.iter().map(|g| (g.label.as_str(), g.short.as_str())).collect();
    let look = |v: f64| {
        let v = v.clamp(0.0, 1.0);
        let glyph = if t.glyphs { ['░', '▒', '▓', '█'][(v * 3.99) as usize] } else { '█' };
        CellLook { glyph, color: t.seq(v) }
    };
    for (i, half) in halves.into_iter().enumerate() {
        let title = if i == 0 { " now: CPU " } else { " scenario end: CPU " };
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(title, Style::new().fg(t.title).bold()));
        let inner = block.inner(half);
        f.render_widget(block, half);
        // The largest cells with which every group shows; these panes do not scroll, so when
        // none fits, the smallest cells show the most.
        let layout = GridLayout::fit(&sizes, inner.width, inner.height, true, 8);
        let snap = ctx.snap;
        let cpu = |k: usize| {
            let s = flat[k];
            if i == 0 {
                ctx.d.utils.get(s).map_or(0.0, |u| u.cpu)
            } else {
                r.scenario_util.get(&snap.servers[s].name).copied().unwrap_or(0.0)
            }
        };
        let text = |k: usize| format!("{:.0}%", (cpu(k) * 100.0).clamp(0.0, 999.0));
        Grid {
            layout: &layout,
            scroll: 0,
            labels: &labels,
            cursor: None,
            text: Some(&text),
            look: |k| look(cpu(k)),
            theme: t,
        }
        .draw(f.buffer_mut(), inner);
    }
}
