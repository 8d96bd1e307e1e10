//! What-if scenarios typed by an operator: the language (`lang`), on a twin snapshot the
//! checks of its names (`check`), what a script declares about the world (`declare`), its
//! scenarios (`plan`), running them in the simulator (`run`) and what a run reports (`report`).

pub mod check;
pub mod declare;
pub mod lang;
pub mod plan;
pub(crate) mod report;
pub mod run;

use crate::twin::Snapshot;

/// Parses a script and checks its names against the twin: every error, by line and column.
pub(crate) fn parse_checked(text: &str, snap: &Snapshot) -> Result<Vec<lang::Line>, Vec<lang::ParseError>> {
    let lines = lang::parse(text)?;
    let errors = check::check(&lines, &check::Names::of(snap));
    if errors.is_empty() { Ok(lines) } else { Err(errors) }
}
