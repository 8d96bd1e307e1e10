//! The workloads table: namespace, name, ready/replicas, requests, usage, rps, p99 and SLO
//! state; sortable with `s`/`S`, filtered with `/` (the shared `TableView`).

use super::detail::Detail;
use super::table::{Rows, TableView};
use crate::twin::Snapshot;
use crate::twin::kpi::{SloState, cpu_of_requests};
use crate::ui::derived::Derived;
use crate::ui::widgets::table::{Column, high_first, num};
use crate::ui::{esc, opt};
use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Cell;

pub(crate) type WorkloadsView = TableView<Workloads>;

#[derive(Debug)]
pub struct Workloads;

fn slo_rank(s: SloState) -> u8 {
    match s {
        SloState::Breach => 0,
        SloState::Ok => 1,
        SloState::Unknown => 2,
    }
}

impl Rows for Workloads {
    const NAME: &'static str = "workloads";
    const COLUMNS: &'static [Column] = &[
        // Left out below 100 columns so the figures fit in 80.
        Column {
            title: "namespace",
            width: Constraint::Fill(1),
            min_width: 100,
            order: |c, a, b| {
                let w = &c.snap.workloads;
                w[a].namespace.cmp(&w[b].namespace).then(w[a].name.cmp(&w[b].name))
            },
            cell: |c, i| Cell::from(esc(&c.snap.workloads[i].namespace).into_owned()),
        },
        Column {
            title: "name",
            width: Constraint::Fill(3),
            min_width: 0,
            order: |c, a, b| c.snap.workloads[a].name.cmp(&c.snap.workloads[b].name),
            cell: |c, i| Cell::from(esc(&c.snap.workloads[i].name).into_owned()),
        },
        Column {
            title: "ready",
            width: Constraint::Length(7),
            min_width: 0,
            order: |c, a, b| {
                let (w, st) = (&c.snap.workloads, &c.snap.workload_status);
                (st[b].ready, w[b].replicas).cmp(&(st[a].ready, w[a].replicas))
            },
            cell: |c, i| {
                let (w, st) = (&c.snap.workloads[i], &c.snap.workload_status[i]);
                let fg = if st.ready < w.replicas { c.theme.warn } else { c.theme.fg };
                Cell::from(Line::from(format!("{}/{}", st.ready, w.replicas)).right_aligned())
                    .style(Style::new().fg(fg))
            },
        },
        Column {
            title: "cpu req",
            width: Constraint::Length(7),
            min_width: 0,
            order: |c, a, b| {
                let w = &c.snap.workloads;
                w[b].requests.cpu_m.total_cmp(&w[a].requests.cpu_m)
            },
            cell: |c, i| num(format!("{:.0}m", c.snap.workloads[i].requests.cpu_m)),
        },
        Column {
            title: "mem req",
            width: Constraint::Length(7),
            min_width: 0,
            order: |c, a, b| {
                let w = &c.snap.workloads;
                w[b].requests.mem_mib.total_cmp(&w[a].requests.mem_mib)
            },
            cell: |c, i| num(format!("{:.0}Mi", c.snap.workloads[i].requests.mem_mib)),
        },
        // Use as a share of what the ready pods request: the unit HPAs and the advisors reason in
        // (the requests columns are per pod, a usage total would not compare with them).
        Column {
            title: "cpu/req",
            width: Constraint::Length(7),
            min_width: 0,
            order: |c, a, b| high_first(cpu_of_requests(c.snap, a), cpu_of_requests(c.snap, b)),
            cell: |c, i| num(opt(cpu_of_requests(c.snap, i).map(|x| x * 100.0), 0, "%")),
        },
        Column {
            title: "rps",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| high_first(c.snap.workload_status[a].rps, c.snap.workload_status[b].rps),
            cell: |c, i| num(opt(c.snap.workload_status[i].rps, 1, "")),
        },
        Column {
            title: "p99",
            width: Constraint::Length(8),
            min_width: 0,
            order: |c, a, b| high_first(c.snap.workload_status[a].p99_ms, c.snap.workload_status[b].p99_ms),
            cell: |c, i| {
                let breach = c.d.slo[i] == SloState::Breach;
                let style = if breach { Style::new().fg(c.theme.bad).bold() } else { Style::new() };
                num(opt(c.snap.workload_status[i].p99_ms, 1, "ms")).style(style)
            },
        },
        Column {
            title: "slo",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| high_first(c.snap.workloads[a].slo_p99_ms, c.snap.workloads[b].slo_p99_ms),
            cell: |c, i| num(opt(c.snap.workloads[i].slo_p99_ms, 0, "ms")),
        },
        Column {
            title: "state",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| slo_rank(c.d.slo[a]).cmp(&slo_rank(c.d.slo[b])),
            cell: |c, i| {
                let t = c.theme;
                let (state, col) = match c.d.slo[i] {
                    SloState::Breach => ("BREACH", t.bad),
                    SloState::Ok => ("ok", t.ok),
                    SloState::Unknown => ("-", t.dim),
                };
                Cell::from(state).style(Style::new().fg(col).bold())
            },
        },
    ];

    fn count(s: &Snapshot) -> usize {
        s.workloads.len()
    }

    fn search(d: &Derived, i: usize) -> &str {
        &d.workload_search[i]
    }

    fn key(s: &Snapshot, i: usize) -> String {
        s.workloads[i].key()
    }

    fn find(s: &Snapshot, key: &str) -> Option<usize> {
        s.workload_index(key)
    }

    fn detail(key: String) -> Detail {
        Detail::Workload(key)
    }
}
