//! The servers table: name, location, cpu/mem/bw utilisation, pods, schedulable; sortable
//! with `s`/`S`, filtered with `/`.

use super::detail::Detail;
use crate::ui::app::Action;
use crate::ui::widgets::table::{Column, TableNav, TableSpec, draw_table, num};
use crate::ui::{Component, Ctx, Filter, esc, pct};
use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Cell;
use std::cmp::Ordering;

const COLUMNS: [Column; 7] = [
    Column { title: "name", width: Constraint::Fill(2), numeric: false },
    Column { title: "location", width: Constraint::Fill(3), numeric: false },
    Column { title: "cpu", width: Constraint::Length(6), numeric: true },
    Column { title: "mem", width: Constraint::Length(6), numeric: true },
    Column { title: "bw", width: Constraint::Length(6), numeric: true },
    Column { title: "pods", width: Constraint::Length(6), numeric: true },
    Column { title: "sched", width: Constraint::Length(9), numeric: false },
];

#[derive(Debug, Default)]
pub struct ServersView {
    pub nav: TableNav,
    /// The selected server's name, kept across snapshots.
    selected_name: Option<String>,
}

impl ServersView {
    /// Names in the order shown.
    pub fn shown_names<'a>(&self, ctx: &'a Ctx) -> Vec<&'a str> {
        self.nav.rows.iter().map(|&i| ctx.snap.servers[i].name.as_str()).collect()
    }

    fn rebuild(&mut self, ctx: &Ctx) {
        let (s, d) = (ctx.snap, ctx.d);
        let f = Filter::new(&self.nav.filter);
        let mut rows: Vec<usize> = (0..s.servers.len()).filter(|&i| f.matches(&d.server_search[i])).collect();
        let col = self.nav.sort;
        let key = |a: usize, b: usize| -> Ordering {
            let (ua, ub) = (&d.utils[a], &d.utils[b]);
            match col {
                0 => s.servers[a].name.cmp(&s.servers[b].name),
                1 => s.servers[a].location.cmp(&s.servers[b].location),
                2 => ub.cpu.total_cmp(&ua.cpu),
                3 => ub.mem.total_cmp(&ua.mem),
                4 => ub.bw.total_cmp(&ua.bw),
                5 => s.server_status[b].pods.cmp(&s.server_status[a].pods),
                _ => s.servers[a].schedulable.cmp(&s.servers[b].schedulable),
            }
            .then(a.cmp(&b))
        };
        rows.sort_by(|&a, &b| key(a, b));
        if self.nav.reverse {
            rows.reverse();
        }
        self.nav.rows = rows;
        let keep = self.selected_name.as_deref().and_then(|n| s.server_index(n));
        self.nav.reselect(keep);
        self.remember(ctx);
    }

    fn remember(&mut self, ctx: &Ctx) {
        self.selected_name = self.nav.selected_item().map(|i| ctx.snap.servers[i].name.clone());
    }
}

impl Component for ServersView {
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
                Some(i) => Action::Detail(Detail::Server(ctx.snap.servers[i].name.clone())),
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
        let title = Line::from(format!(" servers · {} of {}{filter} ", self.nav.rows.len(), s.servers.len()));
        let level = |x: f64| {
            let c = if x >= 0.9 {
                t.bad
            } else if x >= 0.75 {
                t.warn
            } else {
                t.fg
            };
            Cell::from(Line::from(pct(x)).right_aligned()).style(Style::new().fg(c))
        };
        draw_table(
            f,
            area,
            TableSpec { title, columns: &COLUMNS, hidden: &[] },
            &mut self.nav,
            |i| {
                let (sv, u) = (&s.servers[i], &d.utils[i]);
                let sched = if sv.schedulable {
                    Cell::from("yes").style(Style::new().fg(t.ok))
                } else {
                    Cell::from("cordoned").style(Style::new().fg(t.warn))
                };
                vec![
                    Cell::from(esc(&sv.name).into_owned()),
                    Cell::from(esc(&sv.location.group_label()).into_owned()),
                    level(u.cpu),
                    level(u.mem),
                    level(u.bw),
                    num(s.server_status[i].pods.to_string()),
                    sched,
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

/// Column titles, for tests.
pub fn column_titles() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.title).collect()
}
