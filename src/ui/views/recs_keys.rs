//! The recommendations view's key bindings: the queue's, the LLM call's, the confirmation's
//! and the prompts'. `RecsView` looks keys up here, and its footer and help list them.

use crate::ui::keys::{Binding, Key};
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
/// While the raw LLM exchange is open.
pub(super) const EXCHANGE_KEYS: &[Binding<Cmd>] = &[Binding::new(
    "esc/enter/x",
    "close",
    &[
        (Key::Code(KeyCode::Esc), Cmd::Close),
        (Key::Code(KeyCode::Enter), Cmd::Close),
        (Key::Char('x'), Cmd::Close),
        (Key::Char('q'), Cmd::Close),
    ],
)];
