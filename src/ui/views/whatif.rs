//! The What-if view: a scenario editor (name completion, errors as you type), runs on a worker
//! thread with progress and cancel, and the results side by side — baseline vs scenario
//! table, p99 and replicas over the horizon (or the sweep's curve), and the scenario's
//! end-state heatmap beside the current one. History and proposals live in the data dir.

use super::whatif_results::{draw_charts, draw_heatmaps, draw_table};
use super::whatif_worker::worker;
pub(crate) use super::whatif_worker::{PARTIAL_S, WorkerMsg};
use crate::twin::Snapshot;
use crate::ui::app::Action;
use crate::ui::keys::{self, Binding, Key, Shown};
use crate::ui::{Component, Ctx, esc};
use crate::whatif::check::Names;
use crate::whatif::lang::{ParseError, VERBS};
use crate::whatif::run::WhatIfReport;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph};
use ratatui_textarea::TextArea;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc::UnboundedSender;

/// Scenarios kept in the history file.
const HISTORY_MAX: usize = 100;
enum RunState {
    Idle,
    Running { id: u64, cancel: Arc<AtomicBool>, fraction: f64, partial: Option<Box<WhatIfReport>> },
    Done { report: Box<WhatIfReport>, script: String },
    Failed(String),
}

pub struct WhatIfView {
    editor: TextArea<'static>,
    /// Keys go to the editor (else to the console: q, :, Tab…).
    pub editing: bool,
    names: Names,
    errors: Vec<ParseError>,
    candidates: Vec<String>,
    state: RunState,
    script_running: String,
    next_id: u64,
    history: Vec<String>,
    hist_pos: Option<usize>,
    data_dir: PathBuf,
    tx: UnboundedSender<WorkerMsg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Run,
    Edit,
    Propose,
    /// Esc in the editor: cancel a run, or else leave the editor.
    Leave,
    Complete,
    Older,
    Newer,
}

/// While the editor has focus; every other key is text for the editor.
const EDITOR_KEYS: &[Binding<Cmd>] = &[
    Binding::new("type", "scenario", &[]),
    Binding::new("Tab", "complete", &[(Key::Code(KeyCode::Tab), Cmd::Complete)]),
    Binding::new("C-r", "run", &[(Key::Ctrl('r'), Cmd::Run)]),
    Binding::new(
        "↑↓",
        "history",
        &[(Key::Code(KeyCode::Up), Cmd::Older), (Key::Code(KeyCode::Down), Cmd::Newer)],
    ),
    Binding::new("Esc", "cancel/leave editor", &[(Key::Code(KeyCode::Esc), Cmd::Leave)]),
];

/// Once Esc left the editor (the console's keys work again).
const RESULT_KEYS: &[Binding<Cmd>] = &[
    Binding::new("i", "edit", &[(Key::Char('i'), Cmd::Edit), (Key::Code(KeyCode::Enter), Cmd::Edit)]),
    Binding::new("C-r", "run", &[(Key::Ctrl('r'), Cmd::Run)]),
    Binding::new("p", "propose", &[(Key::Char('p'), Cmd::Propose)]),
    // The console's Esc reaches `escape`, which cancels a run.
    Binding::new("Esc", "cancel", &[]),
];

const PLACEHOLDER: &str = "e.g. scale checkoutservice to 8";

/// The forms a scenario line takes, shown before the first run (docs: README, What-if).
const SCRIPT_FORMS: [&str; 12] = [
    "scale W to N · scale W +N",
    "hpa W min 5 max 30 target 70%",
    "traffic W x2 from 1m until 5m · traffic W +50%",
    "fail server S at 2m",
    "drain zone|rack|server NAME at 1m",
    "cordon server S",
    "move W to rack|zone|server NAME",
    "latency A..B +20ms at 30s",
    "slo p99 < 60ms [for W]",
    "sweep W replicas 2..20",
    "load W 200 rps · service W 20ms workers 8",
    "horizon 15m (the default)",
];

impl WhatIfView {
    pub(crate) fn new(tx: UnboundedSender<WorkerMsg>, data_dir: PathBuf) -> WhatIfView {
        let history = load_history(&data_dir.join("whatif-history.jsonl"));
        let mut editor = TextArea::default();
        editor.set_placeholder_text(PLACEHOLDER);
        WhatIfView {
            editor,
            editing: true,
            names: Names::default(),
            errors: Vec::new(),
            candidates: Vec::new(),
            state: RunState::Idle,
            script_running: String::new(),
            next_id: 1,
            history,
            hist_pos: None,
            data_dir,
            tx,
        }
    }

    pub fn text(&self) -> String {
        self.editor.lines().join("\n")
    }

    pub fn errors(&self) -> &[ParseError] {
        &self.errors
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, RunState::Running { .. })
    }

    pub fn report(&self) -> Option<&WhatIfReport> {
        match &self.state {
            RunState::Done { report, .. } => Some(report),
            _ => None,
        }
    }

    fn recheck(&mut self, snap: &Snapshot) {
        self.errors = match crate::whatif::parse_checked(&self.text(), snap) {
            Ok(_) => Vec::new(),
            Err(e) => e,
        };
    }

    /// Starts the script on a worker thread from `snap`; the worker reports through the
    /// channel (which wakes the console's loop). A short first pass gives results quickly.
    pub(crate) fn start(&mut self, snap: Arc<Snapshot>) -> Action {
        if self.is_running() {
            return Action::Status("a run is going: Esc cancels it".into());
        }
        let text = self.text();
        let lines = match crate::whatif::parse_checked(&text, &snap) {
            Ok(l) if l.is_empty() => return Action::Status("the scenario is empty".into()),
            Ok(l) => l,
            Err(e) => {
                self.errors = e;
                return Action::Status(format!("fix the scenario first: {}", self.errors[0]));
            }
        };
        self.remember(&text);
        let id = self.next_id;
        self.next_id += 1;
        let cancel = Arc::new(AtomicBool::new(false));
        self.state = RunState::Running { id, cancel: cancel.clone(), fraction: 0.0, partial: None };
        self.script_running = text;
        let tx = self.tx.clone();
        std::thread::spawn(move || worker(id, snap, lines, cancel, tx));
        Action::Render
    }

    /// A message from the worker; stale ones (a cancelled run) are dropped.
    pub(crate) fn on_worker(&mut self, msg: WorkerMsg) -> Action {
        let RunState::Running { id, fraction, partial, .. } = &mut self.state else { return Action::Noop };
        match msg {
            WorkerMsg::Progress { id: i, fraction: f } if i == *id => *fraction = f,
            WorkerMsg::Partial { id: i, report } if i == *id => *partial = Some(report),
            WorkerMsg::Done { id: i, report } if i == *id => {
                self.state = RunState::Done { report, script: std::mem::take(&mut self.script_running) }
            }
            WorkerMsg::Failed { id: i, error } if i == *id => self.state = RunState::Failed(error),
            _ => return Action::Noop,
        }
        Action::Render
    }

    fn cancel(&mut self) -> bool {
        if let RunState::Running { cancel, .. } = &self.state {
            cancel.store(true, Ordering::Relaxed);
            self.state = RunState::Failed("cancelled".into());
            return true;
        }
        false
    }

    fn remember(&mut self, text: &str) {
        self.history.retain(|h| h != text);
        self.history.push(text.to_string());
        let n = self.history.len();
        if n > HISTORY_MAX {
            self.history.drain(..n - HISTORY_MAX);
        }
        self.hist_pos = None;
        let body: String =
            self.history.iter().map(|h| serde_json::json!({ "script": h }).to_string() + "\n").collect();
        // History is a convenience: a read-only data dir must not stop a run.
        let _ = crate::paths::write_private(&self.data_dir.join("whatif-history.jsonl"), body.as_bytes());
    }

    fn recall(&mut self, up: bool) -> bool {
        if self.history.is_empty() {
            return false;
        }
        let pos = match (self.hist_pos, up) {
            (None, true) => self.history.len() - 1,
            (None, false) => return false,
            (Some(p), true) => p.saturating_sub(1),
            (Some(p), false) if p + 1 < self.history.len() => p + 1,
            (Some(_), false) => {
                self.set_text("");
                self.hist_pos = None;
                return true;
            }
        };
        let text = self.history[pos].clone();
        self.set_text(&text);
        self.hist_pos = Some(pos);
        true
    }

    fn set_text(&mut self, text: &str) {
        let mut e = TextArea::new(text.lines().map(String::from).collect());
        e.set_placeholder_text(PLACEHOLDER);
        e.move_cursor(ratatui_textarea::CursorMove::Bottom);
        e.move_cursor(ratatui_textarea::CursorMove::End);
        self.editor = e;
    }

    /// Saves a finished run as a proposal for the approval queue.
    fn propose(&self, snap: &Snapshot) -> Action {
        let RunState::Done { report, script } = &self.state else {
            return Action::Status("run a scenario first (Ctrl-R)".into());
        };
        let doc = serde_json::json!({
            "time": snap.time.to_rfc3339(),
            "source": snap.source.name,
            "context": snap.source.context,
            "script": script,
            "baseline": report.baseline,
            "scenario": report.scenario,
            "delta": report.delta,
        });
        let path = self.data_dir.join("whatif-proposals.jsonl");
        let res = crate::paths::open_private_append(&path).and_then(|mut f| {
            use std::io::Write;
            writeln!(f, "{doc}")
        });
        if let Err(e) = res {
            return Action::Status(format!(
                "could not save the proposal to {}: {e}",
                esc(&path.display().to_string())
            ));
        }
        let changes = cluster_changes(script, snap);
        if changes.is_empty() {
            return Action::Status(format!(
                "saved to {}; nothing in it is a cluster change (scale, hpa min+max, cordon) to approve",
                esc(&path.display().to_string())
            ));
        }
        let first = script.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        Action::Propose(changes, first)
    }

    /// Tab: completes the word before the cursor with a verb or a twin name.
    fn complete(&mut self) {
        let ratatui_textarea::DataCursor(row, col) = self.editor.cursor();
        let line = self.editor.lines().get(row).cloned().unwrap_or_default();
        let before: String = line.chars().take(col).collect();
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let word = &before[start..];
        let first = before[..start].trim().is_empty();
        let found: Vec<String> = if first {
            VERBS.iter().filter(|v| v.starts_with(word) && **v != word).map(|v| v.to_string()).collect()
        } else if word.is_empty() {
            Vec::new()
        } else {
            self.names.complete(word, 12)
        };
        let common = found.first().map(|f| {
            let n = found.iter().map(|s| s.bytes().zip(f.bytes()).take_while(|(a, b)| a == b).count()).min();
            f[..n.unwrap_or(0)].to_string()
        });
        if let Some(c) = common
            && c.len() > word.len()
        {
            self.editor.insert_str(&c[word.len()..]);
        }
        self.candidates = if found.len() > 1 { found } else { Vec::new() };
    }
}

fn load_history(path: &std::path::Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("script").and_then(|s| s.as_str()).map(String::from))
        .collect();
    let n = v.len();
    if n > HISTORY_MAX {
        v.drain(..n - HISTORY_MAX);
    }
    v
}

impl Component for WhatIfView {
    fn on_snapshot(&mut self, ctx: &Ctx) {
        self.names = Names::of(ctx.snap);
        self.recheck(ctx.snap);
    }

    fn handle_key(&mut self, k: KeyEvent, ctx: &Ctx) -> Action {
        if !self.editing {
            return match keys::lookup(RESULT_KEYS, &k) {
                Some(Cmd::Run) => Action::RunWhatif,
                Some(Cmd::Propose) => self.propose(ctx.snap),
                Some(Cmd::Edit) => {
                    self.editing = true;
                    Action::Render
                }
                _ => Action::Noop,
            };
        }
        match keys::lookup(EDITOR_KEYS, &k) {
            Some(Cmd::Run) => return Action::RunWhatif,
            Some(Cmd::Leave) => {
                if !self.cancel() {
                    self.editing = false;
                    self.candidates.clear();
                }
                return Action::Render;
            }
            Some(Cmd::Complete) => {
                self.complete();
                return Action::Render;
            }
            // History only from an empty editor (or while going through it); else the cursor moves.
            Some(c @ (Cmd::Older | Cmd::Newer))
                if (self.editor.is_empty() || self.hist_pos.is_some()) && self.recall(c == Cmd::Older) =>
            {
                self.recheck(ctx.snap);
                return Action::Render;
            }
            _ => {}
        }
        if self.editor.input(k) {
            self.hist_pos = None;
            self.candidates.clear();
            self.recheck(ctx.snap);
        }
        Action::Render
    }

    fn escape(&mut self, _ctx: &Ctx) -> bool {
        self.cancel()
    }

    fn captures_input(&self) -> bool {
        self.editing
    }

    /// The editor's keys, then those that work once Esc left it.
    fn keys(&self) -> Vec<Shown> {
        let mut all = keys::help(EDITOR_KEYS);
        for k in keys::help(RESULT_KEYS) {
            if !all.contains(&k) {
                all.push(k);
            }
        }
        all
    }

    fn footer_keys(&self) -> Vec<Shown> {
        keys::footer(if self.editing { EDITOR_KEYS } else { RESULT_KEYS })
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        // Charts and heatmaps take the lower half once there are results to chart; before, the
        // editor and the language reference have the whole view.
        let charted =
            matches!(self.state, RunState::Done { .. } | RunState::Running { partial: Some(_), .. });
        let [top, bottom] = if charted {
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area)
        } else {
            [area, Rect::default()]
        };
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
        // Editor and its errors.
        let err_h = (self.errors.len().min(3) + usize::from(!self.candidates.is_empty())) as u16;
        let [ed, errs] = Layout::vertical([Constraint::Min(3), Constraint::Length(err_h)]).areas(left);
        let border = if self.editing { t.accent } else { t.border };
        self.editor.set_block(
            Block::new()
                .borders(Borders::ALL)
                .border_style(Style::new().fg(border))
                .title(Span::styled(" scenario ", Style::new().fg(t.title).bold())),
        );
        self.editor.set_cursor_line_style(Style::new());
        f.render_widget(&self.editor, ed);
        let mut el: Vec<Line> = self
            .errors
            .iter()
            .take(3)
            .map(|e| Line::styled(esc(&e.to_string()).into_owned(), Style::new().fg(t.bad)))
            .collect();
        if !self.candidates.is_empty() {
            el.push(Line::styled(esc(&self.candidates.join("  ")).into_owned(), Style::new().fg(t.dim)));
        }
        f.render_widget(Paragraph::new(el), errs);
        // Results.
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(" results: baseline vs scenario ", Style::new().fg(t.title).bold()));
        let inner = block.inner(right);
        f.render_widget(block, right);
        let (report, note): (Option<&WhatIfReport>, String) = match &self.state {
            RunState::Idle => {
                let mut lines = vec![Line::styled(
                    "Ctrl-R runs the scenario from the current twin. One change per line:",
                    Style::new().fg(t.fg),
                )];
                lines.extend(
                    SCRIPT_FORMS.iter().map(|l| Line::styled(format!("  {l}"), Style::new().fg(t.dim))),
                );
                f.render_widget(Paragraph::new(lines), inner);
                (None, String::new())
            }
            RunState::Failed(e) => (None, esc(e).into_owned()),
            RunState::Running { fraction, partial, .. } => {
                let [g, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
                f.render_widget(
                    Gauge::default()
                        .gauge_style(Style::new().fg(t.accent))
                        .ratio(fraction.clamp(0.0, 1.0))
                        .label(format!("running {:.0}% · Esc cancels", fraction * 100.0)),
                    g,
                );
                if let Some(p) = partial {
                    draw_table(f, rest, p, &format!("partial: first {PARTIAL_S:.0} s, 1 seed"), ctx);
                }
                (None, String::new())
            }
            RunState::Done { report, .. } => (Some(report), String::new()),
        };
        if let Some(r) = report {
            let tag = format!("horizon {:.0} s · {} seeds · p to propose", r.horizon_s, r.seeds.len());
            draw_table(f, inner, r, &tag, ctx);
        } else if !note.is_empty() {
            f.render_widget(Paragraph::new(Line::styled(note, Style::new().fg(t.dim))), inner);
        }
        let shown = match &self.state {
            RunState::Done { report, .. } => Some(report.as_ref()),
            RunState::Running { partial: Some(p), .. } => Some(p.as_ref()),
            _ => None,
        };
        let [chart, maps] =
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
        if let Some(r) = shown {
            draw_charts(f, chart, r, ctx);
            draw_heatmaps(f, maps, r, ctx);
        }
    }
}

/// The lines of a what-if script that are changes a cluster accepts (what `:recs` can approve):
/// scale, an HPA's min and max, cordon. Failures, traffic and latency are what-ifs, not actions.
pub(crate) fn cluster_changes(script: &str, snap: &Snapshot) -> Vec<crate::change::Change> {
    use crate::change::Change;
    use crate::whatif::lang::Step;
    let Ok(lines) = crate::whatif::parse_checked(script, snap) else { return Vec::new() };
    let key = |w: &str| snap.workload_index(w).map(|i| (snap.workloads[i].key(), i));
    lines
        .into_iter()
        .filter_map(|l| match l.step {
            Step::Scale { workload, change } => key(&workload).map(|(k, i)| Change::Scale {
                workload: k,
                replicas: change.apply(snap.workloads[i].replicas),
            }),
            Step::Hpa { workload, min: Some(min), max: Some(max), .. } => {
                key(&workload).map(|(k, _)| Change::HpaBounds { workload: k, min, max })
            }
            Step::Cordon { server, .. } => Some(Change::Cordon { server, cordon: true }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::SCRIPT_FORMS;

    #[test]
    fn every_form_shown_parses_once_its_names_are_filled_in() {
        for form in SCRIPT_FORMS {
            for example in form.split(" · ") {
                let line = example
                    .replace(" (the default)", "")
                    .replace("rack|zone|server NAME", "rack rack-1")
                    .replace("zone|rack|server NAME", "rack rack-1")
                    .replace("[for W]", "for checkoutservice")
                    .replace("A..B", "frontend..checkoutservice")
                    .replace("server S", "server r1-01")
                    .replace(" W ", " checkoutservice ")
                    .replace(" N", " 4")
                    .replace("+N", "+2");
                let line = line.strip_suffix(" W").map(|l| format!("{l} checkoutservice")).unwrap_or(line);
                assert!(crate::whatif::lang::parse(&line).is_ok(), "{line:?} from {form:?}");
            }
        }
    }
}
