//! Details of one server or workload: the heatmap's side pane and the popup Enter opens.
//! Numbers always accompany colour here.

use crate::twin::kpi::SloState;
use crate::ui::{Ctx, esc, opt, pct};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// What the popup shows, by name so it survives new snapshots.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Server(String),
    /// By key `namespace/name`.
    Workload(String),
}

/// The figures of server `i`, at most `max` lines; `compact` packs them for a short pane.
pub(crate) fn server_lines(i: usize, ctx: &Ctx, max: usize, compact: bool) -> Vec<Line<'static>> {
    let (s, d, t) = (&ctx.snap.servers[i], ctx.d, ctx.theme);
    let st = &ctx.snap.server_status[i];
    let u = d.utils[i];
    let dim = Style::new().fg(t.dim);
    let val = Style::new().fg(t.fg).bold();
    let kv = |k: &str, v: String| vec![Span::styled(format!("{k} "), dim), Span::styled(v, val)];
    let net = st.effective_usage().bw_mbps;
    let name = Span::styled(esc(&s.name).into_owned(), Style::new().fg(t.title).bold());
    let location = Span::styled(esc(&s.location.group_label()).into_owned(), dim);
    let mut lines = if compact {
        vec![Line::from(vec![name, Span::raw("  "), location])]
    } else {
        vec![Line::from(name), Line::from(location)]
    };
    lines.extend([
        Line::from([kv("cpu", pct(u.cpu)), kv("  mem", pct(u.mem)), kv("  bw", pct(u.bw))].concat()),
        Line::from(
            [
                kv("net", format!("{net:.0} Mbps")),
                kv("  RUB dev", format!("{:+.0} pts", d.rub_dev[i] * 100.0)),
            ]
            .concat(),
        ),
        Line::from([kv("p99", opt(d.server_p99[i], 0, " ms")), kv("  pods", st.pods.to_string())].concat()),
    ]);
    let sched = if s.schedulable {
        Span::styled("schedulable", Style::new().fg(t.ok))
    } else {
        Span::styled("cordoned", Style::new().fg(t.warn).bold())
    };
    let hw = if s.hardware.is_empty() { "-".into() } else { esc(&s.hardware).into_owned() };
    lines.push(Line::from([kv("hw", hw), vec![Span::raw("  "), sched]].concat()));
    let pods = &d.server_pods[i];
    if compact {
        let list: Vec<String> =
            pods.iter().map(|&(w, n)| format!("{} ×{n}", esc(&ctx.snap.workloads[w].name))).collect();
        lines.push(Line::from([kv("pods:", list.join(", "))].concat()));
    } else if !pods.is_empty() || d.server_loose_pods[i] > 0 {
        lines.push(Line::styled("pods by workload", dim));
        let room = max.saturating_sub(lines.len());
        for (k, &(w, n)) in pods.iter().enumerate() {
            if k + 1 == room && pods.len() > room {
                lines.push(Line::styled(format!("  … {} more", pods.len() - k), dim));
                break;
            }
            lines.push(Line::from(vec![
                Span::styled(format!("  {}", esc(&ctx.snap.workloads[w].name)), Style::new().fg(t.fg)),
                Span::styled(format!(" ×{n}"), val),
            ]));
        }
        if d.server_loose_pods[i] > 0 {
            lines.push(Line::styled(format!("  (no workload) ×{}", d.server_loose_pods[i]), dim));
        }
    }
    if !compact && max >= lines.len() + 5 {
        lines.push(Line::raw(""));
        lines.push(Line::styled(format!("last {HISTORY_SHOWN} samples"), dim));
        let h = &ctx.snap.server_history[i];
        let bw_cap = s.allocatable.bw_mbps;
        let bw: Vec<f64> = h
            .bw_mbps
            .tail(HISTORY_SHOWN)
            .iter()
            .map(|b| if bw_cap > 0.0 { b / bw_cap } else { 0.0 })
            .collect();
        for (label, v) in
            [("cpu", h.cpu.tail(HISTORY_SHOWN)), ("mem", h.mem.tail(HISTORY_SHOWN)), ("bw ", bw)]
        {
            lines.push(Line::from(vec![
                Span::styled(format!("{label} "), dim),
                Span::styled(bars(&v), Style::new().fg(t.accent)),
            ]));
        }
    }
    lines.truncate(max.max(1));
    lines
}

/// Samples of a server's history its detail shows.
const HISTORY_SHOWN: usize = 24;

/// Utilisation fractions as bar glyphs on a fixed 0–100 % scale (gaps are spaces).
fn bars(v: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    v.iter()
        .map(|x| if x.is_finite() { BARS[(x.clamp(0.0, 1.0) * 7.0).round() as usize] } else { ' ' })
        .collect()
}

/// The figures of workload `w`.
pub fn workload_lines(w: usize, ctx: &Ctx) -> Vec<Line<'static>> {
    let (wl, st, t) = (&ctx.snap.workloads[w], &ctx.snap.workload_status[w], ctx.theme);
    let dim = Style::new().fg(t.dim);
    let val = Style::new().fg(t.fg).bold();
    let kv =
        |k: &str, v: String| Line::from(vec![Span::styled(format!("{k:<12}"), dim), Span::styled(v, val)]);
    let r = wl.requests;
    let mut lines = vec![
        Line::styled(esc(&wl.key()).into_owned(), Style::new().fg(t.title).bold()),
        kv("kind", wl.kind.as_str().into()),
        kv("ready", format!("{}/{}", st.ready, wl.replicas)),
        kv("requests", format!("{:.0}m cpu · {:.0} Mi · {:.0} Mbps per pod", r.cpu_m, r.mem_mib, r.bw_mbps)),
    ];
    if let Some(l) = wl.limits {
        // A limit of 0 is one the manifest did not set (a pod may limit memory alone).
        let part = |v: f64, unit: &str, what: &str| {
            if v > 0.0 { format!("{v:.0}{unit}") } else { format!("no {what} limit") }
        };
        lines.push(kv(
            "limits",
            format!("{} · {}", part(l.cpu_m, "m cpu", "cpu"), part(l.mem_mib, " Mi", "memory")),
        ));
    }
    if let Some(h) = &wl.hpa {
        lines.push(kv("hpa", format!("{} … {} replicas", h.min_replicas, h.max_replicas)));
    }
    if let Some(u) = st.usage {
        let share = crate::twin::kpi::cpu_of_requests(ctx.snap, w)
            .map(|x| format!(", cpu {:.0} % of requests", x * 100.0))
            .unwrap_or_default();
        lines.push(kv(
            "usage",
            format!("{:.0}m cpu · {:.0} Mi (all {} pods{share})", u.cpu_m, u.mem_mib, st.ready),
        ));
    }
    lines.push(kv("rps", opt(st.rps, 1, "")));
    lines.push(kv("p50 / p99", format!("{} / {}", opt(st.p50_ms, 1, " ms"), opt(st.p99_ms, 1, " ms"))));
    let slo = ctx.d.slo[w];
    let col = match slo {
        SloState::Breach => t.bad,
        SloState::Ok => t.ok,
        SloState::Unknown => t.dim,
    };
    lines.push(Line::from(vec![
        Span::styled(format!("{:<12}", "SLO p99"), dim),
        Span::styled(format!("{} ", opt(wl.slo_p99_ms, 0, " ms")), val),
        Span::styled(slo.as_str().to_string(), Style::new().fg(col).bold()),
    ]));
    let mut by_server: Vec<(usize, u32)> = Vec::new();
    for p in ctx.snap.pods_of_workload(w) {
        if let Some(s) = p.server {
            match by_server.iter_mut().find(|(x, _)| *x == s) {
                Some(e) => e.1 += 1,
                None => by_server.push((s, 1)),
            }
        }
    }
    by_server.sort_by(|a, b| ctx.snap.servers[a.0].name.cmp(&ctx.snap.servers[b.0].name));
    let list: Vec<String> =
        by_server.iter().map(|&(s, n)| format!("{} ×{n}", esc(&ctx.snap.servers[s].name))).collect();
    lines.push(kv("on servers", if list.is_empty() { "-".into() } else { list.join(", ") }));
    // Why its Pending pods run nowhere, as `kubectl describe pod` says it (one line a reason).
    let mut pending: Vec<(&str, u32)> = Vec::new();
    for p in ctx.snap.pods_of_workload(w).filter(|p| p.phase == crate::twin::PodPhase::Pending) {
        let why = match (&p.reason, p.server) {
            (Some(r), _) => r.as_str(),
            (None, None) => "not scheduled yet",
            (None, Some(_)) => "on its server, not running yet",
        };
        match pending.iter_mut().find(|(r, _)| *r == why) {
            Some(e) => e.1 += 1,
            None => pending.push((why, 1)),
        }
    }
    for (why, n) in pending {
        lines.push(kv("pending", format!("{n} pod{} · {}", if n == 1 { "" } else { "s" }, esc(why))));
    }
    lines
}

/// The popup over the body.
pub(crate) fn draw_popup(f: &mut Frame, body: Rect, d: &Detail, ctx: &Ctx) {
    let w = body.width.saturating_sub(4).min(70);
    let h = body.height.saturating_sub(2).min(18);
    let [area] = Layout::horizontal([Constraint::Length(w)]).flex(Flex::Center).areas(body);
    let [area] = Layout::vertical([Constraint::Length(h)]).flex(Flex::Center).areas(area);
    let (title, lines) = match d {
        Detail::Server(name) => match ctx.snap.server_index(name) {
            Some(i) => (" server ", server_lines(i, ctx, h as usize, false)),
            None => (" server ", vec![Line::from(format!("{} is gone from the twin", esc(name)))]),
        },
        Detail::Workload(key) => match ctx.snap.workload_index(key) {
            Some(w) => (" workload ", workload_lines(w, ctx)),
            None => (" workload ", vec![Line::from(format!("{} is gone from the twin", esc(key)))]),
        },
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(ctx.theme.accent))
        .title(Span::styled(title, Style::new().fg(ctx.theme.title).bold()))
        .title_bottom(Span::styled(" esc closes ", Style::new().fg(ctx.theme.dim)));
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}
