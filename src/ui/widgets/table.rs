//! A sortable, filterable, scrolling table: `TableNav` keeps order, selection and scroll;
//! `draw_table` builds rows only for the visible window, so 5,000 rows cost what 40 do.

use crate::ui::app::{Action, hit};
use crate::ui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};

pub struct Column {
    pub title: &'static str,
    pub width: Constraint,
    /// Numbers sort high-first by default and align right.
    pub numeric: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TableNav {
    /// Item indices (into the snapshot's servers or workloads), filtered and sorted.
    pub rows: Vec<usize>,
    pub selected: usize,
    pub offset: usize,
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
    pub fn reselect(&mut self, item: Option<usize>) {
        self.selected = item
            .and_then(|i| self.rows.iter().position(|&r| r == i))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
    }

    fn page(&self) -> usize {
        (self.body.height as usize).max(1)
    }

    /// Movement keys; `None` when the key is not one.
    pub fn handle_key(&mut self, k: KeyEvent) -> Option<Action> {
        let last = self.rows.len().saturating_sub(1);
        let sel = self.selected;
        self.selected = match k.code {
            KeyCode::Down | KeyCode::Char('j') => (sel + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => sel.saturating_sub(1),
            KeyCode::PageDown => (sel + self.page()).min(last),
            KeyCode::PageUp => sel.saturating_sub(self.page()),
            KeyCode::Home | KeyCode::Char('g') => 0,
            KeyCode::End | KeyCode::Char('G') => last,
            _ => return None,
        };
        Some(if self.selected != sel { Action::Render } else { Action::Noop })
    }

    pub fn handle_mouse(&mut self, m: MouseEvent) -> Action {
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

    /// `s`: next sort column (numbers high-first); `S`: reverse.
    pub fn handle_sort_key(&mut self, k: KeyEvent, ncols: usize) -> bool {
        match k.code {
            KeyCode::Char('s') => {
                self.sort = (self.sort + 1) % ncols;
                self.reverse = false;
                true
            }
            KeyCode::Char('S') => {
                self.reverse = !self.reverse;
                true
            }
            _ => false,
        }
    }
}

/// What `draw_table` draws: the title, the columns, and the ones left out for width.
pub struct TableSpec<'a, 'c> {
    pub title: Line<'a>,
    pub columns: &'c [Column],
    /// Indices of columns not drawn (narrow terminals).
    pub hidden: &'c [usize],
}

pub fn draw_table<'a>(
    f: &mut Frame,
    area: Rect,
    spec: TableSpec<'a, '_>,
    nav: &mut TableNav,
    mut cells: impl FnMut(usize) -> Vec<Cell<'a>>,
    t: &Theme,
) {
    let TableSpec { title, columns, hidden } = spec;
    let shown = |i: &usize| !hidden.contains(i);
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
    let header = Row::new(columns.iter().enumerate().filter(|(i, _)| shown(i)).map(|(i, c)| {
        let mark = if i == nav.sort { if nav.reverse { " ▲" } else { " ▼" } } else { "" };
        Cell::from(format!("{}{mark}", c.title))
    }))
    .style(Style::new().fg(t.accent).bold());
    let rows: Vec<Row> = nav
        .rows
        .iter()
        .skip(nav.offset)
        .take(body_h)
        .map(|&i| Row::new(cells(i).into_iter().enumerate().filter(|(k, _)| shown(k)).map(|(_, c)| c)))
        .collect();
    let empty = rows.is_empty();
    let widths = columns.iter().enumerate().filter(|(i, _)| shown(i)).map(|(_, c)| c.width);
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
pub fn num<'a>(s: String) -> Cell<'a> {
    Cell::from(Line::from(s).right_aligned())
}
