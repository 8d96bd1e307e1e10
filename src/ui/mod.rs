//! The console: a ratatui + crossterm application over the twin's snapshots. `App` owns the
//! state and turns input into `Action`s; each view is a component that owns its own state
//! and draws itself, registered once in `views`; its key bindings are declared once (`keys`)
//! for its handler, the footer and help; small widgets draw the header, footer, command line,
//! tables, sparklines and the heatmap grid. Only the binary (`main.rs`) depends on this module.

pub(crate) mod advising;
pub mod app;
pub mod bench;
pub(crate) mod command;
pub mod config;
pub mod derived;
pub(crate) mod faults;
pub(crate) mod keys;
pub mod run;
pub mod supervise;
pub mod terminal;
pub mod theme;
pub mod views;
pub(crate) mod widgets;

pub use app::{Action, App, AppOptions};
pub use run::{Options, run};
pub use views::View;

use crate::twin::Snapshot;
use crossterm::event::{KeyEvent, MouseEvent};
use derived::Derived;
use ratatui::Frame;
use ratatui::layout::Rect;
use std::borrow::Cow;
use theme::Theme;

/// Smallest terminal any view is drawn in; below it the console says so in one line.
pub(crate) const MIN_WIDTH: u16 = 60;
pub(crate) const MIN_HEIGHT: u16 = 16;

/// What a view reads while it handles input or draws.
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub d: &'a Derived,
    pub theme: &'a Theme,
}

/// One view of the console.
pub(crate) trait Component {
    /// A new snapshot arrived (derived figures are already fresh in `ctx`).
    fn on_snapshot(&mut self, ctx: &Ctx);
    fn handle_key(&mut self, key: KeyEvent, ctx: &Ctx) -> Action;
    fn handle_mouse(&mut self, _m: MouseEvent, _ctx: &Ctx) -> Action {
        Action::Noop
    }
    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx);
    /// Whether `/` filters this view.
    fn filterable(&self) -> bool {
        false
    }
    fn filter(&self) -> &str {
        ""
    }
    fn set_filter(&mut self, _filter: &str, _ctx: &Ctx) {}
    /// Every key binding of the view, for help (`keys::help` of its bindings).
    fn keys(&self) -> Vec<keys::Shown>;
    /// The bindings that work now, for the footer (a dialog or an editor narrows them).
    fn footer_keys(&self) -> Vec<keys::Shown> {
        self.keys()
    }
    /// Whether every key goes to the view (a dialog or a text prompt is open): `q`, `:`,
    /// `?`, Tab and Esc then mean what the view says.
    fn captures_input(&self) -> bool {
        false
    }
    /// Esc in normal mode: close something (by default, clear the filter); false when there
    /// was nothing to close.
    fn escape(&mut self, ctx: &Ctx) -> bool {
        if self.filter().is_empty() {
            return false;
        }
        self.set_filter("", ctx);
        true
    }
}

/// Every string from the twin passes through here before it reaches a buffer.
pub(crate) fn esc(s: &str) -> Cow<'_, str> {
    crate::text::escape(s)
}

/// A `/` filter: case-insensitive substring; a leading `!` keeps what does not match.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Filter {
    needle: String,
    negate: bool,
}

impl Filter {
    pub(crate) fn new(text: &str) -> Filter {
        let (negate, rest) = match text.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, text),
        };
        Filter { needle: rest.to_lowercase(), negate }
    }

    /// `haystack` must already be lower case.
    pub(crate) fn matches(&self, haystack: &str) -> bool {
        self.needle.is_empty() || haystack.contains(&self.needle) != self.negate
    }
}

/// Formats a fraction as a whole percentage.
pub(crate) fn pct(x: f64) -> String {
    if x.is_finite() { format!("{:.0}%", x * 100.0) } else { "-".into() }
}

/// Formats an optional figure with a unit, `-` when missing.
pub(crate) fn opt(x: Option<f64>, decimals: usize, unit: &str) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.decimals$}{unit}"),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_substring_and_negation() {
        let f = Filter::new("Rack-2");
        assert!(f.matches("r2-01 dc/dc-a/rack-2"));
        assert!(!f.matches("r1-01 dc/dc-a/rack-1"));
        let n = Filter::new("!rack-2");
        assert!(!n.matches("r2-01 dc/dc-a/rack-2"));
        assert!(n.matches("r1-01 dc/dc-a/rack-1"));
        assert!(Filter::new("!").matches("anything"));
    }
}
