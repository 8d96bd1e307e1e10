//! A sortable, filterable, scrolling table of snapshot items (servers, workloads): typed
//! `Column`s say how each one sorts and draws; `TableNav` keeps order, selection and scroll;
//! `draw_table` builds rows only for the visible window, so 5,000 rows cost what 40 do.

use crate::ui::Ctx;
use crate::ui::app::{Action, hit};
use crate::ui::keys::Move;
use crossterm::event::{MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};
use std::cmp::Ordering;

/// One column of a table whose rows are items of the snapshot, by index.
pub struct Column {
    pub title: &'static str,
    pub width: Constraint,
    /// Drawn only on terminals at least this wide (0: always).
    pub min_width: u16,
    /// The order `s` sorts by: highest first for figures, alphabetical for names.
    pub order: fn(&Ctx, usize, usize) -> Ordering,
    pub cell: fn(&Ctx, usize) -> Cell<'static>,
}

/// Highest first, missing last.
pub fn high_first(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[derive(Debug, Clone, Default)]
pub struct TableNav {
    /// Item indices (into the snapshot's servers or workloads), filtered and sorted.
    pub rows: Vec<usize>,
    pub selected: usize,
    pub offset: usize,
    /// The column sorted by.
    pub sort: usize,
    pub reverse: bool,
    pub filter: String,
    /// Where the body rows were last drawn, for mouse hit-tests.
    body: Rect,
}

impl TableNav {
    pub fn selected_item(&self) -> Option<usize> {
        self.rows.get(self.selected).copied()
    }

    /// Keeps the selection on the same item after rows were rebuilt.
    pub(crate) fn reselect(&mut self, item: Option<usize>) {
        self.selected = item
            .and_then(|i| self.rows.iter().position(|&r| r == i))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
    }

    fn page(&self) -> usize {
        (self.body.height as usize).max(1)
    }

    /// Moves the selection (a table has no left or right).
    pub(crate) fn go(&mut self, m: Move) -> Action {
        let last = self.rows.len().saturating_sub(1);
        let sel = self.selected;
        self.selected = match m {
            Move::Down => (sel + 1).min(last),
            Move::Up => sel.saturating_sub(1),
            Move::PageDown => (sel + self.page()).min(last),
            Move::PageUp => sel.saturating_sub(self.page()),
            Move::First => 0,
            Move::Last => last,
            Move::Left | Move::Right => sel,
        };
        if self.selected != sel { Action::Render } else { Action::Noop }
    }

    pub(crate) fn handle_mouse(&mut self, m: MouseEvent) -> Action {
        let last = self.rows.len().saturating_sub(1);
        match m.kind {
            MouseEventKind::Down(_) => match hit(self.body, m.column, m.row) {
                Some((_, y)) if self.offset + (y as usize) <= last && !self.rows.is_empty() => {
                    self.selected = self.offset + y as usize;
                    Action::Render
                }
                _ => Action::Noop,
            },
            MouseEventKind::ScrollDown => {
                self.selected = (self.selected + 3).min(last);
                Action::Render
            }
            MouseEventKind::ScrollUp => {
                self.selected = self.selected.saturating_sub(3);
                Action::Render
            }
            _ => Action::Noop,
        }
    }

    /// `s`: the next column's order, unreversed.
    pub(crate) fn sort_next(&mut self, columns: usize) {
        self.sort = (self.sort + 1) % columns.max(1);
        self.reverse = false;
    }

    /// Filters and sorts `0..count` by the current column (ties by index), reversed with `S`.
    pub(crate) fn order(
        &mut self,
        ctx: &Ctx,
        columns: &[Column],
        count: usize,
        matches: impl Fn(usize) -> bool,
    ) {
        let mut rows: Vec<usize> = (0..count).filter(|&i| matches(i)).collect();
        if let Some(col) = columns.get(self.sort) {
            rows.sort_by(|&a, &b| (col.order)(ctx, a, b).then(a.cmp(&b)));
        }
        if self.reverse {
            rows.reverse();
        }
        self.rows = rows;
    }
}

/// Draws the visible rows of `nav` with `columns` (those the width allows) under `title`.
pub(crate) fn draw_table(
    f: &mut Frame,
    area: Rect,
    title: Line<'_>,
    columns: &[Column],
    nav: &mut TableNav,
    ctx: &Ctx,
) {
    let t = ctx.theme;
    let shown: Vec<usize> = (0..columns.len()).filter(|&i| area.width >= columns[i].min_width).collect();
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(Style::new().fg(t.border))
        .title(title.style(Style::new().fg(t.title).bold()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let body_h = inner.height.saturating_sub(1) as usize;
    nav.body = Rect { y: inner.y + 1, height: body_h as u16, ..inner };
    if nav.selected < nav.offset {
        nav.offset = nav.selected;
    } else if body_h > 0 && nav.selected >= nav.offset + body_h {
        nav.offset = nav.selected + 1 - body_h;
    }
    nav.offset = nav.offset.min(nav.rows.len().saturating_sub(body_h.max(1)));
    let header = Row::new(shown.iter().map(|&i| {
        let mark = if i == nav.sort { if nav.reverse { " ▲" } else { " ▼" } } else { "" };
        Cell::from(format!("{}{mark}", columns[i].title))
    }))
    .style(Style::new().fg(t.accent).bold());
    let rows: Vec<Row> = nav
        .rows
        .iter()
        .skip(nav.offset)
        .take(body_h)
        .map(|&item| Row::new(shown.iter().map(|&i| (columns[i].cell)(ctx, item))))
        .collect();
    let empty = rows.is_empty();
    let widths = shown.iter().map(|&i| columns[i].width);
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .style(Style::new().fg(t.fg))
        .row_highlight_style(Style::new().fg(t.selected_fg).bg(t.selected_bg).bold())
        .highlight_symbol("▶");
    let mut state = TableState::default().with_selected((!empty).then(|| nav.selected - nav.offset));
    f.render_stateful_widget(table, inner, &mut state);
    if empty && body_h > 0 {
        let msg =
            if nav.filter.is_empty() { "nothing to show" } else { "no row matches the filter (esc clears)" };
        f.render_widget(Line::from(msg).style(Style::new().fg(t.dim)), nav.body);
    }
}

/// Right-aligned text cell.
pub(crate) fn num<'a>(s: String) -> Cell<'a> {
    Cell::from(Line::from(s).right_aligned())
}
