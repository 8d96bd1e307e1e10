//! How the recommendations view draws a proposal (a card with its trust cues: target and
//! context, the action as before → after, confidence with its parts, the twin's prediction
//! beside what is measured now, the reason) and the confirmation that repeats the exact change.

use super::recs::rule_list;
use crate::act::flow::Pending;
use crate::advise::{Confidence, Proposal, Status};
use crate::change::Change;
use crate::guardrails::Violation;
use crate::twin::Snapshot;
use crate::ui::{Ctx, esc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// The action as before → after on this twin.
pub(crate) fn before_after(change: &Change, snap: &Snapshot) -> String {
    match change {
        Change::Scale { workload, replicas } => {
            let cur = snap.workload_index(workload).map(|w| snap.workloads[w].replicas.to_string());
            format!("scale replicas {} → {replicas}", cur.unwrap_or_else(|| "?".into()))
        }
        Change::HpaBounds { workload, min, max } => {
            let cur = snap
                .workload_index(workload)
                .and_then(|w| snap.workloads[w].hpa.as_ref())
                .map(|h| format!("min {} max {}", h.min_replicas, h.max_replicas));
            format!("HPA {} → min {min} max {max}", cur.unwrap_or_else(|| "?".into()))
        }
        Change::Cordon { cordon, .. } => {
            let (a, b) = if *cordon { ("schedulable", "cordoned") } else { ("cordoned", "schedulable") };
            format!("{a} → {b}")
        }
        Change::Evict { server, to, .. } => {
            format!(
                "evicted from {server} → recreated (twin expects {})",
                to.as_deref().unwrap_or("the scheduler's pick")
            )
        }
    }
}

/// `score = part + part …`, largest parts first, so the number is never shown without them.
pub(crate) fn confidence_line(c: &Confidence) -> String {
    let mut parts: Vec<(&String, &f64)> = c.parts.iter().collect();
    parts.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    // A cap (the twin missing the present) is a negative part: shown as subtracted.
    let mut out = format!("confidence {} =", c.score);
    for (i, (n, v)) in parts.iter().enumerate() {
        let sign = if **v < 0.0 {
            " −"
        } else if i > 0 {
            " +"
        } else {
            ""
        };
        out.push_str(&format!("{sign} {} {:.0}", esc(n), v.abs()));
    }
    out
}

fn spread(b: &crate::advise::proposal::BeforeAfter, decimals: usize, unit: &str) -> String {
    let half = (b.after.max - b.after.min) / 2.0;
    format!("{:.decimals$}→{:.decimals$}±{:.decimals$}{unit}", b.before.mean, b.after.mean, half)
}

pub(super) fn draw_card(
    f: &mut Frame,
    r: Rect,
    p: &Proposal,
    selected: bool,
    blocked: Option<&[Violation]>,
    context: &str,
    ctx: &Ctx,
) {
    let t = ctx.theme;
    let border = if selected { Style::new().fg(t.accent).bold() } else { Style::new().fg(t.border) };
    let (status, col) = match p.status {
        Status::Valid if blocked.is_some() => ("BLOCKED", t.bad),
        Status::Valid => ("valid", t.ok),
        Status::Rejected => ("REJECTED", t.bad),
    };
    let head = Line::from(vec![
        Span::raw(if selected { "▶ " } else { "  " }),
        Span::styled(esc(&p.target).into_owned(), Style::new().fg(t.fg).bold()),
        Span::raw(" on "),
        Span::styled(format!("ctx {}", esc(context)), Style::new().fg(t.fg).bold()),
        Span::raw(" · "),
        Span::styled(status, Style::new().fg(col).bold()),
        Span::raw(" "),
    ]);
    let block = Block::new().borders(Borders::ALL).border_style(border).title(head);
    let action = p.action.as_ref().map(|a| before_after(a, ctx.snap)).unwrap_or_else(|| "no action".into());
    let when = match p.when {
        Some(w) => format!("at {}Z", w.format("%H:%M:%S")),
        None => "now".into(),
    };
    let source = match p.source.strip_prefix("llm:") {
        Some(model) => format!("LLM {}", esc(model)),
        None => format!("built-in {}", esc(p.source.trim_start_matches("builtin:"))),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled(esc(&action).into_owned(), Style::new().fg(t.accent).bold()),
            Span::raw(format!(" · {when} · source {source}")),
        ]),
        Line::from(confidence_line(&p.confidence)),
    ];
    if let Some(x) = &p.predicted {
        // The twin's baseline next to what is measured now, so its fidelity can be judged.
        let observed = x
            .measured_p99_ms
            .map(|ms| match crate::advise::confidence::fidelity_error(x) {
                Some(e) => format!(" (measured now {ms:.0} ms: twin {:+.0} %)", e * 100.0),
                None => format!(" (measured now {ms:.0} ms)"),
            })
            .unwrap_or_default();
        lines.push(Line::from(format!(
            "twin ({}, {} seeds): p99 {}{observed} · SLO violations {} · cost {}/h · RUB {}",
            esc(&x.model),
            x.seeds,
            spread(&x.p99_ms, 0, " ms"),
            spread(&x.slo_violations, 0, ""),
            spread(&x.cost_per_hour, 2, ""),
            spread(&x.rub, 2, ""),
        )));
    }
    lines.push(Line::from(format!("why: {}", esc(&p.reason))).style(Style::new().fg(t.dim)));
    if let Some(why) = &p.rejection {
        lines.push(
            Line::from(format!("rejected: {} — cannot be approved", esc(why))).style(Style::new().fg(t.bad)),
        );
    }
    if let Some(v) = blocked {
        lines.push(Line::from(format!("blocked by {}", rule_list(v))).style(Style::new().fg(t.bad)));
    }
    // Wrapped: on a narrow terminal the card's spare lines take what would be cut off.
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), r);
}

pub(super) fn draw_confirm(f: &mut Frame, body: Rect, p: &Pending, diff: &str, context: &str, ctx: &Ctx) {
    let t = ctx.theme;
    let mut lines = vec![
        Line::from(Span::styled(
            format!("apply to context {}?", esc(context)),
            Style::new().fg(t.warn).bold(),
        )),
        Line::from(format!("{} ({})", esc(&p.change.to_string()), esc(&p.source))),
        Line::from(""),
    ];
    for l in diff.lines() {
        let style = if l.starts_with('+') {
            Style::new().fg(t.ok)
        } else if l.starts_with('-') {
            Style::new().fg(t.bad)
        } else {
            Style::new().fg(t.fg)
        };
        // `Flow::diff` escapes what came from the cluster; escape again for anything it did not.
        lines.push(Line::from(esc(l).into_owned()).style(style));
    }
    let w = body.width.saturating_sub(4).min(72);
    let h = (lines.len() as u16 + 2).min(body.height);
    let [r] = Layout::horizontal([Constraint::Length(w)]).flex(Flex::Center).areas(body);
    let [r] = Layout::vertical([Constraint::Length(h)]).flex(Flex::Center).areas(r);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(t.warn))
        .title(Span::styled(format!(" confirm on {} ", esc(context)), Style::new().fg(t.title).bold()))
        .title_bottom(Span::styled(" y applies · n/esc cancels ", Style::new().fg(t.dim)));
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(block), r);
}
