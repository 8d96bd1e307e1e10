//! The servers table: name, location, cpu/mem/bw utilisation, pods, schedulable; sortable
//! with `s`/`S`, filtered with `/` (the shared `TableView`).

use super::detail::Detail;
use super::table::{Rows, TableView};
use crate::twin::Snapshot;
use crate::ui::derived::Derived;
use crate::ui::widgets::table::{Column, num};
use crate::ui::{Ctx, esc, pct};
use ratatui::layout::Constraint;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Cell;

pub(crate) type ServersView = TableView<Servers>;

#[derive(Debug)]
pub struct Servers;

/// A utilisation, coloured by how loaded it is.
fn level(ctx: &Ctx, x: f64) -> Cell<'static> {
    Cell::from(Line::from(pct(x)).right_aligned()).style(Style::new().fg(ctx.theme.utilisation(x)))
}

impl Rows for Servers {
    const NAME: &'static str = "servers";
    const COLUMNS: &'static [Column] = &[
        Column {
            title: "name",
            width: Constraint::Fill(2),
            min_width: 0,
            order: |c, a, b| c.snap.servers[a].name.cmp(&c.snap.servers[b].name),
            cell: |c, i| Cell::from(esc(&c.snap.servers[i].name).into_owned()),
        },
        Column {
            title: "location",
            width: Constraint::Fill(3),
            min_width: 0,
            order: |c, a, b| c.snap.servers[a].location.cmp(&c.snap.servers[b].location),
            cell: |c, i| Cell::from(esc(&c.snap.servers[i].location.group_label()).into_owned()),
        },
        Column {
            title: "cpu",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| c.d.utils[b].cpu.total_cmp(&c.d.utils[a].cpu),
            cell: |c, i| level(c, c.d.utils[i].cpu),
        },
        Column {
            title: "mem",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| c.d.utils[b].mem.total_cmp(&c.d.utils[a].mem),
            cell: |c, i| level(c, c.d.utils[i].mem),
        },
        Column {
            title: "bw",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| c.d.utils[b].bw.total_cmp(&c.d.utils[a].bw),
            cell: |c, i| level(c, c.d.utils[i].bw),
        },
        Column {
            title: "pods",
            width: Constraint::Length(6),
            min_width: 0,
            order: |c, a, b| c.snap.server_status[b].pods.cmp(&c.snap.server_status[a].pods),
            cell: |c, i| num(c.snap.server_status[i].pods.to_string()),
        },
        Column {
            title: "sched",
            width: Constraint::Length(9),
            min_width: 0,
            order: |c, a, b| c.snap.servers[a].schedulable.cmp(&c.snap.servers[b].schedulable),
            cell: |c, i| {
                if c.snap.servers[i].schedulable {
                    Cell::from("yes").style(Style::new().fg(c.theme.ok))
                } else {
                    Cell::from("cordoned").style(Style::new().fg(c.theme.warn))
                }
            },
        },
    ];

    fn count(s: &Snapshot) -> usize {
        s.servers.len()
    }

    fn search(d: &Derived, i: usize) -> &str {
        &d.server_search[i]
    }

    fn key(s: &Snapshot, i: usize) -> String {
        s.servers[i].name.clone()
    }

    fn find(s: &Snapshot, key: &str) -> Option<usize> {
        s.server_index(key)
    }

    fn detail(key: String) -> Detail {
        Detail::Server(key)
    }
}
