//! The workloads table: namespace, name, ready/replicas, requests, usage, rps, p99 and SLO
//! state; sortable with `s`/`S`, filtered with `/`.

use super::detail::Detail;
use crate::twin::kpi::{SloState, cpu_of_requests};
use crate::ui::app::Action;
use crate::ui::widgets::table::{Column, TableNav, TableSpec, draw_table, num};
use crate::ui::{Component, Ctx, Filter, esc, opt};
use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Cell;
use std::cmp::Ordering;

/// The namespace column is left out below 100 columns so the figures fit in 80.
const COLUMNS: [Column; 10] = [
    Column { title: "namespace", width: Constraint::Fill(1), numeric: false },
    Column { title: "name", width: Constraint::Fill(3), numeric: false },
    Column { title: "ready", width: Constraint::Length(7), numeric: true },
    Column { title: "cpu req", width: Constraint::Length(7), numeric: true },
    Column { title: "mem req", width: Constraint::Length(7), numeric: true },
    // Use as a share of what the ready pods request: the unit HPAs and the advisors reason in
    // (the requests columns are per pod, a usage total would not compare with them).
    Column { title: "cpu/req", width: Constraint::Length(7), numeric: true },
    Column { title: "rps", width: Constraint::Length(6), numeric: true },
    Column { title: "p99", width: Constraint::Length(8), numeric: true },
    Column { title: "slo", width: Constraint::Length(6), numeric: true },
    Column { title: "state", width: Constraint::Length(6), numeric: false },
];

#[derive(Debug, Default)]
pub struct WorkloadsView {
    pub nav: TableNav,
    selected_key: Option<String>,
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> Ordering {
    // Highest first, missing last.
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn slo_rank(s: SloState) -> u8 {
    match s {
        SloState::Breach => 0,
        SloState::Ok => 1,
        SloState::Unknown => 2,
    }
}

impl WorkloadsView {
    /// Keys in the order shown.
    pub fn shown_keys(&self, ctx: &Ctx) -> Vec<String> {
        self.nav.rows.iter().map(|&i| ctx.snap.workloads[i].key()).collect()
    }

    fn rebuild(&mut self, ctx: &Ctx) {
        let (s, d) = (ctx.snap, ctx.d);
        let f = Filter::new(&self.nav.filter);
        let mut rows: Vec<usize> =
            (0..s.workloads.len()).filter(|&i| f.matches(&d.workload_search[i])).collect();
        let col = self.nav.sort;
        let (w, st) = (&s.workloads, &s.workload_status);
        let key = |a: usize, b: usize| -> Ordering {
            match col {
                0 => w[a].namespace.cmp(&w[b].namespace).then(w[a].name.cmp(&w[b].name)),
                1 => w[a].name.cmp(&w[b].name),
                2 => (st[b].ready, w[b].replicas).cmp(&(st[a].ready, w[a].replicas)),
                3 => w[b].requests.cpu_m.total_cmp(&w[a].requests.cpu_m),
                4 => w[b].requests.mem_mib.total_cmp(&w[a].requests.mem_mib),
                5 => cmp_opt(cpu_of_requests(s, a), cpu_of_requests(s, b)),
                6 => cmp_opt(st[a].rps, st[b].rps),
                7 => cmp_opt(st[a].p99_ms, st[b].p99_ms),
                8 => cmp_opt(w[a].slo_p99_ms, w[b].slo_p99_ms),
                _ => slo_rank(d.slo[a]).cmp(&slo_rank(d.slo[b])),
            }
            .then(a.cmp(&b))
        };
        rows.sort_by(|&a, &b| key(a, b));
        if self.nav.reverse {
            rows.reverse();
        }
        self.nav.rows = rows;
        let keep = self.selected_key.as_deref().and_then(|k| s.workload_index(k));
        self.nav.reselect(keep);
        self.remember(ctx);
    }

    fn remember(&mut self, ctx: &Ctx) {
        self.selected_key = self.nav.selected_item().map(|i| ctx.snap.workloads[i].key());
    }
}

impl Component for WorkloadsView {
    fn on_snapshot(&mut self, ctx: &Ctx) {
        self.rebuild(ctx);
    }

    fn handle_key(&mut self, k: KeyEvent, ctx: &Ctx) -> Action {
        if self.nav.handle_sort_key(k, COLUMNS.len()) {
            self.rebuild(ctx);
            return Action::Render;
        }
        if k.code == KeyCode::Enter {
            return match self.nav.selected_item() {
                Some(i) => Action::Detail(Detail::Workload(ctx.snap.workloads[i].key())),
                None => Action::Noop,
            };
        }
        let a = self.nav.handle_key(k).unwrap_or(Action::Noop);
        self.remember(ctx);
        a
    }

    fn handle_mouse(&mut self, m: MouseEvent, ctx: &Ctx) -> Action {
        let a = self.nav.handle_mouse(m);
        self.remember(ctx);
        a
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let (s, d, t) = (ctx.snap, ctx.d, ctx.theme);
        let filter = if self.nav.filter.is_empty() {
            String::new()
        } else {
            format!(" · /{}", esc(&self.nav.filter))
        };
        let title =
            Line::from(format!(" workloads · {} of {}{filter} ", self.nav.rows.len(), s.workloads.len()));
        draw_table(
            f,
            area,
            TableSpec { title, columns: &COLUMNS, hidden: if area.width < 100 { &[0] } else { &[] } },
            &mut self.nav,
            |i| {
                let (w, st) = (&s.workloads[i], &s.workload_status[i]);
                let ready_style =
                    if st.ready < w.replicas { Style::new().fg(t.warn) } else { Style::new().fg(t.fg) };
                let (state, col) = match d.slo[i] {
                    SloState::Breach => ("BREACH", t.bad),
                    SloState::Ok => ("ok", t.ok),
                    SloState::Unknown => ("-", t.dim),
                };
                let p99_style =
                    if d.slo[i] == SloState::Breach { Style::new().fg(t.bad).bold() } else { Style::new() };
                vec![
                    Cell::from(esc(&w.namespace).into_owned()),
                    Cell::from(esc(&w.name).into_owned()),
                    Cell::from(Line::from(format!("{}/{}", st.ready, w.replicas)).right_aligned())
                        .style(ready_style),
                    num(format!("{:.0}m", w.requests.cpu_m)),
                    num(format!("{:.0}Mi", w.requests.mem_mib)),
                    num(opt(cpu_of_requests(s, i).map(|x| x * 100.0), 0, "%")),
                    num(opt(st.rps, 1, "")),
                    num(opt(st.p99_ms, 1, "ms")).style(p99_style),
                    num(opt(w.slo_p99_ms, 0, "ms")),
                    Cell::from(state).style(Style::new().fg(col).bold()),
                ]
            },
            t,
        );
    }

    fn filterable(&self) -> bool {
        true
    }

    fn filter(&self) -> &str {
        &self.nav.filter
    }

    fn set_filter(&mut self, filter: &str, ctx: &Ctx) {
        self.nav.filter = filter.to_string();
        self.rebuild(ctx);
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &[("↑↓/jk", "move"), ("enter", "details"), ("s", "sort"), ("S", "reverse"), ("/", "filter")]
    }
}
