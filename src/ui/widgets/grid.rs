//! The heatmap grid: group boxes (one per location) laid out in bands that wrap to the
//! width, drawn straight into the buffer and only for the lines that are on screen. Cells are
//! one character wide for thousands of servers, two for hundreds, and when a small cluster
//! leaves room, a swatch above the cell's number, so the figures are on the map itself.

use crate::ui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

/// Boxes grow to show labels up to this long; longer ones are cut.
const MAX_LABEL: u16 = 32;

/// One location's box in the virtual (scrollable) grid.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupBox {
    pub x: u16,
    pub y: u32,
    pub rows: u16,
    /// Index of the box's first cell in the flat cell list.
    pub first: usize,
    pub len: usize,
}

/// How big a cell is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum CellSize {
    /// One character: thousands of servers.
    Tiny,
    /// Two characters (the glyph and a gap that carries the cursor).
    #[default]
    Small,
    /// Five characters by two lines: a four-wide swatch over the cell's number.
    Large,
}

impl CellSize {
    /// (width, height) in characters, gap included.
    pub(crate) fn dims(self) -> (u16, u16) {
        match self {
            CellSize::Tiny => (1, 1),
            CellSize::Small => (2, 1),
            CellSize::Large => (5, 2),
        }
    }
}

/// Where every group box and cell sits, for a given width.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GridLayout {
    pub width: u16,
    pub size: CellSize,
    /// Cell width and height in characters (from `size`).
    pub cw: u16,
    pub ch: u16,
    /// Cells per row inside a box.
    pub cols: u16,
    pub box_w: u16,
    /// (x, virtual y) of each cell's top-left, relative to the grid area.
    pub pos: Vec<(u16, u32)>,
    pub boxes: Vec<GroupBox>,
    pub total_h: u32,
}

impl GridLayout {
    /// The largest cells with which the whole grid fits in `height` lines; when none fits,
    /// one-character cells if `tiny_fallback` (many servers, or a pane that cannot scroll),
    /// else two-character cells (and the grid scrolls).
    pub(crate) fn fit(
        sizes: &[usize],
        width: u16,
        height: u16,
        tiny_fallback: bool,
        label_w: u16,
    ) -> GridLayout {
        let biggest = sizes.iter().copied().max().unwrap_or(1) as u16;
        for size in [CellSize::Large, CellSize::Small, CellSize::Tiny] {
            let l = GridLayout::new(sizes, width, size, label_w);
            // Large cells only while each box still holds several of them side by side.
            let roomy = size != CellSize::Large || l.cols >= biggest.clamp(1, 4);
            if roomy && l.total_h <= height as u32 {
                return l;
            }
        }
        GridLayout::new(sizes, width, if tiny_fallback { CellSize::Tiny } else { CellSize::Small }, label_w)
    }

    /// Lays out groups of the given sizes in `width` columns; boxes are wide enough for
    /// `label_w` characters of label when the width allows.
    pub(crate) fn new(sizes: &[usize], width: u16, size: CellSize, label_w: u16) -> GridLayout {
        let total: usize = sizes.iter().sum();
        let (cw, ch) = size.dims();
        let biggest = sizes.iter().copied().max().unwrap_or(1).max(1);
        let usable = width.saturating_sub(2).max(cw) / cw;
        // Boxes of about 10 (or 20 one-char) cells a row keep racks compact and side by side;
        // a group bigger than a few screens' worth spreads over the whole width instead.
        let target: u16 = if cw == 1 { 20 } else { 10 };
        let want = if biggest > (target as usize) * 12 { usable } else { target };
        let cols = (biggest as u16).min(want).min(usable).max(1);
        let box_w = (cols * cw + 2).max(label_w.min(MAX_LABEL) + 4).max(10).min(width.max(3));
        // A box widened for its label holds more cells a row.
        let cols = cols.max((box_w.saturating_sub(2) / cw).min(biggest as u16)).max(1);
        let per_row = (width / box_w).max(1) as usize;
        let mut pos = Vec::with_capacity(total);
        let mut boxes = Vec::with_capacity(sizes.len());
        let mut y = 0u32;
        let mut first = 0usize;
        for band in sizes.chunks(per_row) {
            let mut band_h = 0u16;
            for (k, &len) in band.iter().enumerate() {
                let x = k as u16 * box_w;
                let rows = len.div_ceil(cols as usize).max(1) as u16 * ch;
                for c in 0..len {
                    let (r, cc) = ((c / cols as usize) as u32, (c % cols as usize) as u16);
                    pos.push((x + 1 + cc * cw, y + 1 + r * ch as u32));
                }
                boxes.push(GroupBox { x, y, rows, first, len });
                first += len;
                band_h = band_h.max(rows + 2);
            }
            y += band_h as u32;
        }
        GridLayout { width, size, cw, ch, cols, box_w, pos, boxes, total_h: y }
    }

    /// The box holding cell `i`.
    pub(crate) fn box_of(&self, i: usize) -> Option<&GroupBox> {
        self.boxes.iter().find(|b| i >= b.first && i < b.first + b.len)
    }

    /// The cell at (x, virtual y) relative to the grid area.
    pub(crate) fn cell_at(&self, x: u16, y: u32) -> Option<usize> {
        self.pos
            .iter()
            .position(|&(cx, cy)| y >= cy && y < cy + self.ch as u32 && x >= cx && x < cx + self.cw)
    }

    /// The nearest cell on the closest line above (`up`) or below the cell `i`.
    pub(crate) fn vertical_neighbour(&self, i: usize, up: bool) -> Option<usize> {
        let (x, y) = *self.pos.get(i)?;
        let line = self
            .pos
            .iter()
            .map(|&(_, cy)| cy)
            .filter(|&cy| if up { cy < y } else { cy > y })
            .reduce(|a, b| if up { a.max(b) } else { a.min(b) })?;
        self.pos
            .iter()
            .enumerate()
            .filter(|(_, p)| p.1 == line)
            .min_by_key(|(_, p)| (p.0 as i32 - x as i32).abs())
            .map(|(k, _)| k)
    }
}

/// How one cell looks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CellLook {
    pub glyph: char,
    pub color: Color,
}

/// The visible part of the grid: box borders with their labels, and the cells.
pub(crate) struct Grid<'a, F: Fn(usize) -> CellLook> {
    pub layout: &'a GridLayout,
    /// First virtual line shown.
    pub scroll: u32,
    /// (full, short) label of each box, already escaped.
    pub labels: &'a [(&'a str, &'a str)],
    pub cursor: Option<usize>,
    pub look: F,
    /// The number a large cell shows under its swatch (at most four characters).
    pub text: Option<&'a dyn Fn(usize) -> String>,
    pub theme: &'a Theme,
}

impl<F: Fn(usize) -> CellLook> Grid<'_, F> {
    pub(crate) fn draw(self, buf: &mut Buffer, area: Rect) {
        let Grid { layout, scroll, labels, cursor, look, text, theme: t } = self;
        let border = Style::new().fg(t.border);
        let label_style = Style::new().fg(t.title);
        let bottom = scroll + area.height as u32;
        let put = |buf: &mut Buffer, x: u16, vy: u32, s: &str, st: Style| {
            if vy >= scroll && vy < bottom && x < area.width {
                let max = (area.width - x) as usize;
                buf.set_stringn(area.x + x, area.y + (vy - scroll) as u16, s, max, st);
            }
        };
        for (bi, b) in layout.boxes.iter().enumerate() {
            let h = b.rows as u32 + 2;
            if b.y + h <= scroll || b.y >= bottom {
                continue;
            }
            let w = layout.box_w.min(area.width.saturating_sub(b.x)) as usize;
            if w < 3 {
                continue;
            }
            let inner = w - 2;
            let (full, short) = labels.get(bi).copied().unwrap_or(("", ""));
            let room = inner.saturating_sub(2);
            let label: String = if full.chars().count() <= room {
                full.to_string()
            } else if short.chars().count() + 1 < room {
                // Keep the most specific part (the rack) and as much of the rest as fits.
                let n = full.chars().count();
                let tail: String = full.chars().skip(n + 1 - room).collect();
                format!("…{tail}")
            } else {
                short.chars().take(room).collect()
            };
            let fill = inner.saturating_sub(label.chars().count() + 2);
            put(buf, b.x, b.y, "┌", border);
            put(buf, b.x + 1, b.y, &format!(" {label} "), label_style);
            put(buf, b.x + 1 + label.chars().count() as u16 + 2, b.y, &"─".repeat(fill), border);
            put(buf, b.x + w as u16 - 1, b.y, "┐", border);
            for r in 1..=b.rows as u32 {
                put(buf, b.x, b.y + r, "│", border);
                put(buf, b.x + w as u16 - 1, b.y + r, "│", border);
            }
            put(buf, b.x, b.y + h - 1, &format!("└{}┘", "─".repeat(inner)), border);
            for i in b.first..b.first + b.len {
                let (x, vy) = layout.pos[i];
                if vy < scroll || vy >= bottom || x + layout.cw > area.width || x + 1 >= b.x + w as u16 {
                    continue;
                }
                let c = look(i);
                let (sx, sy) = (area.x + x, area.y + (vy - scroll) as u16);
                let is_cursor = cursor == Some(i);
                if is_cursor && layout.cw == 1 {
                    buf[(sx, sy)].set_char('◆').set_fg(c.color).set_bg(t.cursor);
                    continue;
                }
                let swatch = layout.cw.max(2) - 1;
                for dx in 0..swatch {
                    buf[(sx + dx, sy)].set_char(c.glyph).set_fg(c.color);
                }
                if layout.cw >= 2 {
                    let (ch, fg) = if is_cursor { ('◀', t.cursor) } else { (' ', c.color) };
                    buf[(sx + swatch, sy)].set_char(ch).set_fg(fg);
                }
                if layout.ch >= 2 && vy + 1 < bottom {
                    let value = text.map(|f| f(i)).unwrap_or_default();
                    let style =
                        if is_cursor { Style::new().fg(t.fg).bg(t.cursor) } else { Style::new().fg(t.fg) };
                    let shown = format!("{value:>w$.w$}", w = swatch as usize);
                    buf.set_stringn(sx, sy + 1, shown, swatch as usize, style);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_wrap_into_bands_and_cells_do_not_overlap() {
        let l = GridLayout::new(&[10, 10, 10, 10, 10], 100, CellSize::Small, 6);
        assert_eq!(l.cw, 2);
        assert_eq!(l.box_w, 22);
        // four boxes of 22 fit in 100 columns; the fifth wraps to a second band
        assert_eq!(l.boxes[3].y, 0);
        assert_eq!(l.boxes[4].y, 3);
        assert_eq!(l.total_h, 6);
        let mut seen = std::collections::HashSet::new();
        assert!(l.pos.iter().all(|p| seen.insert(*p)));
        assert_eq!(l.vertical_neighbour(2, false), Some(42));
        assert_eq!(l.vertical_neighbour(42, true), Some(2));
        assert_eq!(l.cell_at(l.pos[13].0, l.pos[13].1), Some(13));
    }

    #[test]
    fn many_servers_use_one_char_cells() {
        let sizes = vec![40; 125];
        let l = GridLayout::new(&sizes, 120, CellSize::Tiny, 22);
        assert_eq!(l.cw, 1);
        assert_eq!(l.pos.len(), 5000);
        assert!(l.pos.iter().all(|&(x, _)| x < 120));
    }

    #[test]
    fn a_small_cluster_gets_large_cells_when_they_fit() {
        let sizes = [10; 5];
        let l = GridLayout::fit(&sizes, 124, 40, false, 14);
        assert_eq!((l.size, l.cw, l.ch), (CellSize::Large, 5, 2));
        // Two boxes of ten 5-wide cells a band, three bands of one 2-line row and borders.
        assert_eq!((l.cols, l.box_w, l.total_h), (10, 52, 12));
        assert_eq!(l.cell_at(l.pos[7].0 + 4, l.pos[7].1 + 1), Some(7), "the number line is the cell too");
        assert_eq!(l.vertical_neighbour(3, false), Some(23));
        // Too short a screen: two-character cells, which scroll.
        assert_eq!(GridLayout::fit(&sizes, 124, 8, false, 14).size, CellSize::Small);
        // Not even one-character cells fit: hundreds of servers scroll with two-character
        // cells, thousands with one.
        assert_eq!(GridLayout::fit(&[10; 50], 124, 8, false, 14).size, CellSize::Small);
        assert_eq!(GridLayout::fit(&[40; 125], 124, 40, true, 22).size, CellSize::Tiny);
    }
}
