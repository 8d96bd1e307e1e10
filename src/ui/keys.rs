//! Key bindings, declared once. A view lists its bindings — the keys, how help and the footer
//! name them, and the command each key gives — and its key handler looks the key up in that
//! same list, so what a key does and what the screen says it does cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key as a binding names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// A character typed without Ctrl (Shift and Alt do not matter: `S` is `Char('S')`).
    Char(char),
    /// Ctrl and a character.
    Ctrl(char),
    /// Any other key: arrows, pages, Enter, Esc, Tab.
    Code(KeyCode),
}

impl Key {
    pub(crate) fn matches(self, k: &KeyEvent) -> bool {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Char(c) => !ctrl && k.code == KeyCode::Char(c),
            Key::Ctrl(c) => ctrl && k.code == KeyCode::Char(c),
            Key::Code(code) => k.code == code,
        }
    }
}

/// One line of help and of the footer, and the keys behind it.
#[derive(Debug)]
pub(crate) struct Binding<C: 'static> {
    /// The keys as the footer writes them: `↑↓/jk`.
    pub keys: &'static str,
    /// What they do, as the footer says it.
    pub does: &'static str,
    /// Each key and the command it gives. Empty for a line that only tells (text typed into an
    /// editor, the mouse).
    pub map: &'static [(Key, C)],
    /// Help's own wording, when it says more than the footer.
    pub long: Option<(&'static str, &'static str)>,
    /// Whether the footer shows it (false: help only).
    pub footer: bool,
}

/// A binding as help or the footer shows it: (keys, what they do).
pub(crate) type Shown = (&'static str, &'static str);

impl<C> Binding<C> {
    pub(crate) const fn new(keys: &'static str, does: &'static str, map: &'static [(Key, C)]) -> Binding<C> {
        Binding { keys, does, map, long: None, footer: true }
    }

    /// Help says it with these words.
    pub(crate) const fn long(self, keys: &'static str, does: &'static str) -> Binding<C> {
        Binding { long: Some((keys, does)), ..self }
    }

    /// Help lists it; the footer does not.
    pub(crate) const fn help_only(self) -> Binding<C> {
        Binding { footer: false, ..self }
    }

    pub(crate) fn shown(&self) -> Shown {
        (self.keys, self.does)
    }
}

/// Whether two bindings name the same key: `Tab` is `tab`, but `S` is not `s`.
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    if a.chars().count() > 1 { a.eq_ignore_ascii_case(b) } else { a == b }
}

/// The command the first binding that maps `k` gives.
pub(crate) fn lookup<C: Copy>(bindings: &[Binding<C>], k: &KeyEvent) -> Option<C> {
    bindings.iter().flat_map(|b| b.map).find(|(key, _)| key.matches(k)).map(|&(_, c)| c)
}

/// The lines help shows for `bindings`, in order.
pub(crate) fn help<C>(bindings: &[Binding<C>]) -> Vec<Shown> {
    bindings.iter().map(|b| b.long.unwrap_or(b.shown())).collect()
}

/// The lines the footer shows for `bindings`, in order.
pub(crate) fn footer<C>(bindings: &[Binding<C>]) -> Vec<Shown> {
    bindings.iter().filter(|b| b.footer).map(Binding::shown).collect()
}

/// Moving a selection: the keys every list, table and grid shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Move {
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    First,
    Last,
}

const LIST: [(Key, Move); 10] = [
    (Key::Code(KeyCode::Down), Move::Down),
    (Key::Char('j'), Move::Down),
    (Key::Code(KeyCode::Up), Move::Up),
    (Key::Char('k'), Move::Up),
    (Key::Code(KeyCode::PageDown), Move::PageDown),
    (Key::Code(KeyCode::PageUp), Move::PageUp),
    (Key::Code(KeyCode::Home), Move::First),
    (Key::Char('g'), Move::First),
    (Key::Code(KeyCode::End), Move::Last),
    (Key::Char('G'), Move::Last),
];

const SIDEWAYS: [(Key, Move); 4] = [
    (Key::Code(KeyCode::Right), Move::Right),
    (Key::Char('l'), Move::Right),
    (Key::Code(KeyCode::Left), Move::Left),
    (Key::Char('h'), Move::Left),
];

/// Up and down a list or table, a page at a time, to either end.
pub(crate) const LIST_MOVES: &[(Key, Move)] = &LIST;
/// A list's moves and left and right, for a grid.
pub(crate) const GRID_MOVES: &[(Key, Move)] = &concat::<_, 4, 10, 14>(SIDEWAYS, LIST);

const fn concat<T: Copy, const A: usize, const B: usize, const N: usize>(a: [T; A], b: [T; B]) -> [T; N] {
    assert!(A > 0 && A + B == N);
    let mut out = [a[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < A { a[i] } else { b[i - A] };
        i += 1;
    }
    out
}

/// What a key does in every view (unless the view takes every key: an editor, a prompt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Global {
    Command,
    Next,
    Previous,
    Filter,
    Help,
    Back,
    Quit,
    /// Ctrl-C: quits whatever mode the console is in.
    ForceQuit,
}

/// The console's keys, which work in every view, in help's order. The footer shows them short after the view's own;
/// `/` shows among the keys of the views it filters.
pub(crate) const GLOBAL_KEYS: &[Binding<Global>] = &[
    Binding::new(":", "cmd", &[(Key::Char(':'), Global::Command)])
        .long(":", "command line (tab completes; see commands)"),
    Binding::new(
        "tab",
        "view",
        &[(Key::Code(KeyCode::Tab), Global::Next), (Key::Code(KeyCode::BackTab), Global::Previous)],
    )
    .long("tab / shift-tab", "next / previous view"),
    FILTER_KEY.long("/", "filter (substring; a leading ! negates)").help_only(),
    Binding::new("?", "help", &[(Key::Char('?'), Global::Help)]).long("?", "help for the current view"),
    Binding::new("esc", "back", &[(Key::Code(KeyCode::Esc), Global::Back)])
        .long("esc", "back, close, or clear the filter"),
    Binding::new("mouse", "", &[])
        .long("mouse", "click selects a cell or row; the wheel scrolls")
        .help_only(),
    Binding::new("q", "quit", &[(Key::Char('q'), Global::Quit)]).long("q", "quit (the terminal is restored)"),
    FORCE_QUIT_KEY.help_only(),
];

pub(crate) const FILTER_KEY: Binding<Global> =
    Binding::new("/", "filter", &[(Key::Char('/'), Global::Filter)]);
pub(crate) const FORCE_QUIT_KEY: Binding<Global> =
    Binding::new("ctrl-c", "quit", &[(Key::Ctrl('c'), Global::ForceQuit)]);

/// The keys of the popup Enter opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Popup {
    Close,
    Quit,
}

pub(crate) const POPUP_KEYS: &[Binding<Popup>] = &[
    Binding::new(
        "esc",
        "close",
        &[(Key::Code(KeyCode::Esc), Popup::Close), (Key::Code(KeyCode::Enter), Popup::Close)],
    ),
    Binding::new("q", "quit", &[(Key::Char('q'), Popup::Quit)]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Cmd {
        Sort,
        Reverse,
        Run,
    }

    const KEYS: &[Binding<Cmd>] = &[
        Binding::new("s", "sort", &[(Key::Char('s'), Cmd::Sort)]),
        Binding::new("S", "reverse", &[(Key::Char('S'), Cmd::Reverse)]).long("S", "reverse the order"),
        Binding::new("C-r", "run", &[(Key::Ctrl('r'), Cmd::Run)]).help_only(),
    ];

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn a_key_gives_its_bindings_command_and_ctrl_is_not_the_plain_key() {
        assert_eq!(lookup(KEYS, &ev(KeyCode::Char('s'), KeyModifiers::NONE)), Some(Cmd::Sort));
        assert_eq!(lookup(KEYS, &ev(KeyCode::Char('S'), KeyModifiers::SHIFT)), Some(Cmd::Reverse));
        assert_eq!(lookup(KEYS, &ev(KeyCode::Char('r'), KeyModifiers::CONTROL)), Some(Cmd::Run));
        assert_eq!(lookup(KEYS, &ev(KeyCode::Char('r'), KeyModifiers::NONE)), None);
        assert_eq!(lookup(KEYS, &ev(KeyCode::Char('s'), KeyModifiers::CONTROL)), None);
    }

    #[test]
    fn help_and_footer_list_the_same_bindings() {
        assert_eq!(help(KEYS), [("s", "sort"), ("S", "reverse the order"), ("C-r", "run")]);
        assert_eq!(footer(KEYS), [("s", "sort"), ("S", "reverse")]);
    }
}
