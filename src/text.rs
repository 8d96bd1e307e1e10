//! Making untrusted strings (cluster names, labels, LLM output) safe to show in a terminal, and
//! figures read the same wherever a table shows them.

use std::borrow::Cow;

/// Replaces control characters (including ESC, so no escape sequence survives), bidi
/// overrides and other invisible formatting characters with visible `\u{..}` escapes.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hostile(c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(c as u32,
            0x200B..=0x200F   // zero-width, LRM/RLM
            | 0x202A..=0x202E // bidi embeddings and overrides
            | 0x2066..=0x2069 // bidi isolates
            | 0xFEFF)
}

/// `v` as a table shows it with `decimals` decimals: rounded, and never -0 (a delta taken
/// between two shown figures then agrees with them).
pub(crate) fn shown(v: f64, decimals: usize) -> f64 {
    let scaled = v * 10f64.powi(decimals.min(12) as i32);
    if !scaled.is_finite() {
        return v;
    }
    let r = scaled.round() / 10f64.powi(decimals.min(12) as i32);
    if r == 0.0 { 0.0 } else { r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_figures_round_and_never_read_minus_zero() {
        assert_eq!(format!("{:.1}", shown(-0.04, 1)), "0.0");
        assert_eq!(format!("{:.1}", shown(-0.0, 1)), "0.0");
        // 120.06 and 120.14 both show as 120.1: their shown delta is 0, not 0.1.
        assert_eq!(shown(120.14, 1) - shown(120.06, 1), 0.0);
        assert_eq!(format!("{:.2}", shown(1.005, 2)), "1.00");
        assert_eq!(shown(-2.26, 1), -2.3);
    }

    #[test]
    fn escapes_terminal_sequences_and_bidi() {
        assert_eq!(escape("checkout"), "checkout");
        assert_eq!(escape("a\x1b[31mred"), "a\\u{1b}[31mred");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape("l1\nl2"), "l1\\nl2");
        assert_eq!(escape("bell\x07"), "bell\\u{7}");
        assert!(!escape("\u{9b}2J").chars().any(|c| c.is_control()), "C1 CSI must not pass");
    }
}
