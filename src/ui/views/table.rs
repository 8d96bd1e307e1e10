//! The component the table views share: one row per item of the snapshot (a server, a
//! workload), typed columns that sort with `s`/`S`, a `/` filter, a selection kept by name
//! across snapshots, and Enter for the item's details. What differs per table is its `Rows`.

use super::detail::Detail;
use crate::twin::Snapshot;
use crate::ui::app::Action;
use crate::ui::derived::Derived;
use crate::ui::keys::{self, Binding, Key, LIST_MOVES, Move, Shown};
use crate::ui::widgets::table::{Column, TableNav, draw_table};
use crate::ui::{Component, Ctx, Filter, esc};
use crossterm::event::{KeyCode, KeyEvent, MouseEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use std::marker::PhantomData;

/// What a table lists.
pub trait Rows {
    /// The title's noun ("servers").
    const NAME: &'static str;
    const COLUMNS: &'static [Column];
    fn count(s: &Snapshot) -> usize;
    /// The lower-case text `/` matches.
    fn search(d: &Derived, i: usize) -> &str;
    /// The item's name, which keeps the selection across snapshots.
    fn key(s: &Snapshot, i: usize) -> String;
    fn find(s: &Snapshot, key: &str) -> Option<usize>;
    fn detail(key: String) -> Detail;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Details,
    Sort,
    Reverse,
}

const MOVE_KEYS: &[Binding<Move>] = &[Binding::new("↑↓/jk", "move", LIST_MOVES)];
const KEYS: &[Binding<Cmd>] = &[
    Binding::new("enter", "details", &[(Key::Code(KeyCode::Enter), Cmd::Details)]),
    Binding::new("s", "sort", &[(Key::Char('s'), Cmd::Sort)]),
    Binding::new("S", "reverse", &[(Key::Char('S'), Cmd::Reverse)]),
];

#[derive(Debug)]
pub struct TableView<R> {
    pub nav: TableNav,
    /// The selected item's name, kept across snapshots.
    selected: Option<String>,
    rows: PhantomData<R>,
}

impl<R> Default for TableView<R> {
    fn default() -> Self {
        TableView { nav: TableNav::default(), selected: None, rows: PhantomData }
    }
}

impl<R: Rows> TableView<R> {
    fn rebuild(&mut self, ctx: &Ctx) {
        let f = Filter::new(&self.nav.filter);
        self.nav.order(ctx, R::COLUMNS, R::count(ctx.snap), |i| f.matches(R::search(ctx.d, i)));
        let keep = self.selected.as_deref().and_then(|k| R::find(ctx.snap, k));
        self.nav.reselect(keep);
        self.remember(ctx);
    }

    fn remember(&mut self, ctx: &Ctx) {
        self.selected = self.nav.selected_item().map(|i| R::key(ctx.snap, i));
    }
}

impl<R: Rows> Component for TableView<R> {
    fn on_snapshot(&mut self, ctx: &Ctx) {
        self.rebuild(ctx);
    }

    fn handle_key(&mut self, k: KeyEvent, ctx: &Ctx) -> Action {
        if let Some(m) = keys::lookup(MOVE_KEYS, &k) {
            let a = self.nav.go(m);
            self.remember(ctx);
            return a;
        }
        match keys::lookup(KEYS, &k) {
            Some(Cmd::Details) => match self.nav.selected_item() {
                Some(i) => Action::Detail(R::detail(R::key(ctx.snap, i))),
                None => Action::Noop,
            },
            Some(Cmd::Sort) => {
                self.nav.sort_next(R::COLUMNS.len());
                self.rebuild(ctx);
                Action::Render
            }
            Some(Cmd::Reverse) => {
                self.nav.reverse = !self.nav.reverse;
                self.rebuild(ctx);
                Action::Render
            }
            None => Action::Noop,
        }
    }

    fn handle_mouse(&mut self, m: MouseEvent, ctx: &Ctx) -> Action {
        let a = self.nav.handle_mouse(m);
        self.remember(ctx);
        a
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let filter = if self.nav.filter.is_empty() {
            String::new()
        } else {
            format!(" · /{}", esc(&self.nav.filter))
        };
        let title =
            Line::from(format!(" {} · {} of {}{filter} ", R::NAME, self.nav.rows.len(), R::count(ctx.snap)));
        draw_table(f, area, title, R::COLUMNS, &mut self.nav, ctx);
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

    fn keys(&self) -> Vec<Shown> {
        [keys::help(MOVE_KEYS), keys::help(KEYS)].concat()
    }
}
