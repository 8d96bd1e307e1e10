//! The recommendations view's key bindings: the queue's, the LLM call's, the confirmation's
//! and the prompts'. `RecsView` looks keys up here, and its footer and help list them.

use crate::ui::keys::{Binding, Key, Move};
use crossterm::event::KeyCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmd {
    Next,
    Previous,
    Approve,
    Reject,
    Edit,
    Schedule,
    Exchange,
    CancelScheduled,
    CancelLlm,
    Confirm,
    Cancel,
    Done,
    Close,
    /// In the raw exchange: scroll.
    Scroll(Move),
    /// In the raw exchange: back to the model's answer.
    Answer,
}

/// The queue's keys (the footer's while nothing is open).
pub(super) const QUEUE_KEYS: &[Binding<Cmd>] = &[
    Binding::new(
        "↑↓/jk",
        "move",
        &[
            (Key::Code(KeyCode::Down), Cmd::Next),
            (Key::Char('j'), Cmd::Next),
            (Key::Code(KeyCode::Up), Cmd::Previous),
            (Key::Char('k'), Cmd::Previous),
        ],
    ),
    Binding::new("a", "approve", &[(Key::Char('a'), Cmd::Approve)]),
    Binding::new("r", "reject", &[(Key::Char('r'), Cmd::Reject)]),
    Binding::new("e", "edit replicas", &[(Key::Char('e'), Cmd::Edit)]),
    Binding::new("s", "schedule", &[(Key::Char('s'), Cmd::Schedule)]),
    Binding::new("x", "raw LLM exchange", &[(Key::Char('x'), Cmd::Exchange)]),
    Binding::new("c", "cancel the next scheduled", &[(Key::Char('c'), Cmd::CancelScheduled)]),
];
/// Only while an LLM call runs.
pub(super) const LLM_KEYS: &[Binding<Cmd>] =
    &[Binding::new("C", "cancel the LLM call", &[(Key::Char('C'), Cmd::CancelLlm)])];
/// While a confirmation is open: nothing else works.
pub(super) const CONFIRM_KEYS: &[Binding<Cmd>] = &[
    Binding::new("y", "confirm", &[(Key::Char('y'), Cmd::Confirm)]),
    Binding::new("n/esc", "cancel", &[(Key::Char('n'), Cmd::Cancel), (Key::Code(KeyCode::Esc), Cmd::Cancel)]),
];
/// While a reason, a replica count or a time is typed (every other key is the text).
pub(super) const PROMPT_KEYS: &[Binding<Cmd>] = &[
    Binding::new("enter", "done", &[(Key::Code(KeyCode::Enter), Cmd::Done)]),
    Binding::new("esc", "cancel", &[(Key::Code(KeyCode::Esc), Cmd::Cancel)]),
];
/// While the raw LLM exchange is open (it opens at the model's answer).
pub(super) const EXCHANGE_KEYS: &[Binding<Cmd>] = &[
    Binding::new(
        "↑↓/jk/PgUp/PgDn",
        "scroll",
        &[
            (Key::Code(KeyCode::Down), Cmd::Scroll(Move::Down)),
            (Key::Char('j'), Cmd::Scroll(Move::Down)),
            (Key::Code(KeyCode::Up), Cmd::Scroll(Move::Up)),
            (Key::Char('k'), Cmd::Scroll(Move::Up)),
            (Key::Code(KeyCode::PageDown), Cmd::Scroll(Move::PageDown)),
            (Key::Char(' '), Cmd::Scroll(Move::PageDown)),
            (Key::Code(KeyCode::PageUp), Cmd::Scroll(Move::PageUp)),
        ],
    ),
    Binding::new(
        "g/G",
        "top/end",
        &[
            (Key::Char('g'), Cmd::Scroll(Move::First)),
            (Key::Code(KeyCode::Home), Cmd::Scroll(Move::First)),
            (Key::Char('G'), Cmd::Scroll(Move::Last)),
            (Key::Code(KeyCode::End), Cmd::Scroll(Move::Last)),
        ],
    ),
    Binding::new("a", "the answer", &[(Key::Char('a'), Cmd::Answer)]),
    Binding::new(
        "esc/enter/x",
        "close",
        &[
            (Key::Code(KeyCode::Esc), Cmd::Close),
            (Key::Code(KeyCode::Enter), Cmd::Close),
            (Key::Char('x'), Cmd::Close),
            (Key::Char('q'), Cmd::Close),
        ],
    ),
];
