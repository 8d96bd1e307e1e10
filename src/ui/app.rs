//! The console's state machine: which view is showing, what mode the input is in (normal,
//! `:` command, `/` filter), and the snapshot with its derived figures. Input becomes
//! `Action`s; drawing lays out header, body (the current view) and footer. The keys that work
//! in every view are declared once (`keys::GLOBAL_KEYS`), for the handler, the footer and help.

use super::command::{self, Command};
use super::derived::Derived;
use super::keys::{self, FILTER_KEY, FORCE_QUIT_KEY, GLOBAL_KEYS, Global, POPUP_KEYS, Popup, Shown};
use super::theme::{self, Theme};
use super::views::detail::{self, Detail};
use super::views::heatmap::{HeatmapView, Metric};
use super::views::recs::RecsView;
use super::views::servers::ServersView;
use super::views::whatif::{WhatIfView, WorkerMsg};
use super::views::workloads::WorkloadsView;
use super::views::{Init, View, Views};
use super::widgets::cmdline::CommandLine;
use super::widgets::footer::Footer;
use super::widgets::header::{Header, NoticeBanner, TabLine};
use super::{Ctx, MIN_HEIGHT, MIN_WIDTH};
use crate::act::operator::{Operator, OperatorOptions};
use crate::twin::Snapshot;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

/// What handling an input asks of the loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Noop,
    /// Something visible changed.
    Render,
    Quit,
    Switch(View),
    Detail(Detail),
    /// Run the What-if view's scenario from the current snapshot.
    RunWhatif,
    /// A message for the footer's status line.
    Status(String),
    /// The console wrote to the audit log: the audit view reads it again.
    AuditWritten,
    /// Changes from a what-if run to put in the recommendations queue, with the script's summary.
    Propose(Vec<crate::change::Change>, String),
    /// Stop the LLM call in flight (the event loop owns it).
    CancelLlm,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Command { line: String, candidates: Vec<String> },
    Filter { line: String },
}

/// What the console starts with besides the snapshot.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    pub theme: Theme,
    /// Messages for the operator from the console itself (bad config or theme files).
    pub notices: Vec<String>,
    pub config_dir: Option<PathBuf>,
    pub metric: Option<Metric>,
    /// Where What-if history and proposals go (the data dir when unset).
    pub data_dir: Option<PathBuf>,
    /// The cluster, guardrails and data dir the recs view acts with.
    pub operator: OperatorOptions,
}

pub struct App {
    snap: Arc<Snapshot>,
    derived: Derived,
    theme: Theme,
    view: View,
    /// The view help was opened from (Esc goes back to it).
    back: View,
    mode: Mode,
    views: Views,
    notices: Vec<String>,
    /// Who owns the data dir when this console does not (shown above the other notices).
    owner_notice: Option<String>,
    /// The last command's error or result, shown in the footer until the next key.
    status: Option<String>,
    detail: Option<Detail>,
    config_dir: Option<PathBuf>,
    /// The What-if worker's reports; the loop takes the receiver to wake on them.
    worker_rx: Option<UnboundedReceiver<WorkerMsg>>,
    /// The twin's last computed fit to the present (shown in the header).
    fit: Option<crate::sim::fidelity::Fidelity>,
}

impl App {
    pub fn new(snap: Arc<Snapshot>, opts: AppOptions) -> App {
        let derived = Derived::new(&snap);
        let (worker_tx, worker_rx) = tokio::sync::mpsc::unbounded_channel();
        let data_dir = opts.operator.data_dir.clone();
        let operator = Operator::new(opts.operator, &snap.source.context);
        let audit_path = operator.audit_path();
        let mut views = Views::new(Init {
            metric: opts.metric.unwrap_or(Metric::Cpu),
            worker_tx,
            whatif_dir: opts.data_dir.clone().unwrap_or_else(crate::paths::data_dir),
            operator,
            data_dir,
            audit_path,
        });
        {
            let ctx = Ctx { snap: &snap, d: &derived, theme: &opts.theme };
            for &v in View::ALL {
                views.get(v).on_snapshot(&ctx);
            }
        }
        App {
            snap,
            derived,
            theme: opts.theme,
            view: View::Overview,
            back: View::Overview,
            mode: Mode::Normal,
            views,
            notices: opts.notices,
            owner_notice: None,
            status: None,
            detail: None,
            config_dir: opts.config_dir,
            worker_rx: Some(worker_rx),
            fit: None,
        }
    }

    /// The twin's fit to the present, computed off the UI thread with an advisors' round.
    pub fn set_fit(&mut self, fit: crate::sim::fidelity::Fidelity) {
        self.fit = Some(fit);
    }

    /// A notice above the others (a worker's failure), shown until the console ends.
    pub(crate) fn push_notice(&mut self, notice: String) {
        self.notices.insert(0, notice);
    }

    /// Another process owns the data dir (`Some(its description)`): this console shows its
    /// calendar and decides nothing, and says so; None when this console has become the owner.
    pub(crate) fn set_owned_by(&mut self, owner: Option<String>, data_dir: &std::path::Path) {
        self.owner_notice = owner.as_ref().map(|o| {
            format!(
                "{o} owns {}: it fires the calendar and writes the audit log; this console decides nothing",
                data_dir.display()
            )
        });
        self.views.recs.operator.owned_by = owner;
    }

    /// The channel the What-if worker reports on (once): the loop waits on it with input.
    pub fn take_worker_rx(&mut self) -> Option<UnboundedReceiver<WorkerMsg>> {
        self.worker_rx.take()
    }

    /// A report from the What-if worker.
    pub fn on_worker(&mut self, msg: WorkerMsg) -> Action {
        self.views.whatif.on_worker(msg)
    }

    pub fn whatif(&self) -> &WhatIfView {
        &self.views.whatif
    }

    pub fn view(&self) -> View {
        self.view
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    pub fn status(&self) -> Option<&str> {
        self.status.as_deref()
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snap
    }

    pub fn heatmap(&self) -> &HeatmapView {
        &self.views.heatmap
    }

    pub fn servers(&self) -> &ServersView {
        &self.views.servers
    }

    pub fn workloads(&self) -> &WorkloadsView {
        &self.views.workloads
    }

    pub fn recs(&self) -> &RecsView {
        &self.views.recs
    }

    /// The advisors' newest proposals (from the worker the event loop runs).
    pub fn set_proposals(&mut self, proposals: Vec<crate::advise::Proposal>) {
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        self.views.recs.set_proposals(proposals, &ctx);
    }

    /// A headless request (`twintop approve`, `reject`, `schedule`) to this console, which
    /// owns the data dir: the operator service decides, the recs view shows what it did.
    pub fn handle_request(
        &mut self,
        req: crate::act::operator_requests::Request,
        owner: &str,
    ) -> crate::act::operator_requests::Reply {
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        let reply = self.views.recs.handle_request(req, owner, &ctx);
        self.views.audit.reload();
        reply
    }

    /// How the LLM call in flight is going; None when no call is running.
    pub fn set_llm_progress(&mut self, run: Option<crate::ui::views::recs::LlmRun>) {
        self.views.recs.llm = run;
    }

    /// Moves the heatmap cursor one cell on (the render benchmark's "operator").
    pub(crate) fn step_heatmap_cursor(&mut self) {
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        self.views.heatmap.step(&ctx);
    }

    /// Puts the heatmap cursor on a server; false when it is not shown.
    pub fn select_server(&mut self, name: &str) -> bool {
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        self.views.heatmap.select(name, &ctx)
    }

    /// A new snapshot: derive its figures once, then let every view re-sort and re-filter.
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.derived = Derived::new(&snap);
        self.snap = snap;
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        for &v in View::ALL {
            self.views.get(v).on_snapshot(&ctx);
        }
    }

    pub fn switch(&mut self, v: View) {
        if v == View::Help {
            let from = if self.view == View::Help { self.back } else { self.view };
            self.back = from;
            let keys = self.view_keys(from, false);
            self.views.help.show_for(from, keys);
        }
        if v == View::Audit {
            self.views.audit.reload();
        }
        self.view = v;
        self.detail = None;
    }

    pub fn handle_event(&mut self, ev: Event) -> Action {
        let action = match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.handle_key(k),
            Event::Mouse(m) => self.handle_mouse(m),
            Event::Resize(..) => Action::Render,
            _ => Action::Noop,
        };
        self.apply(action)
    }

    fn apply(&mut self, a: Action) -> Action {
        match a {
            Action::Switch(v) => {
                self.switch(v);
                Action::Render
            }
            Action::Detail(d) => {
                self.detail = Some(d);
                Action::Render
            }
            Action::RunWhatif => {
                self.view = View::Whatif;
                let a = self.views.whatif.start(self.snap.clone());
                self.apply(a)
            }
            Action::Status(s) => {
                self.status = Some(s);
                Action::Render
            }
            Action::AuditWritten => {
                self.views.audit.reload();
                Action::Render
            }
            Action::Propose(changes, why) => {
                let n = changes.len();
                let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
                self.views.recs.propose(changes, &why, &ctx);
                self.status = Some(format!("{n} change(s) proposed in :recs, to approve there"));
                Action::Render
            }
            other => other,
        }
    }

    fn handle_key(&mut self, k: KeyEvent) -> Action {
        if keys::lookup(GLOBAL_KEYS, &k) == Some(Global::ForceQuit) {
            return Action::Quit;
        }
        let had_status = self.status.take().is_some();
        let a = match self.mode {
            Mode::Command { .. } => self.command_key(k),
            Mode::Filter { .. } => self.filter_key(k),
            Mode::Normal => self.normal_key(k),
        };
        if a == Action::Noop && had_status { Action::Render } else { a }
    }

    fn normal_key(&mut self, k: KeyEvent) -> Action {
        if self.detail.is_some() {
            return match keys::lookup(POPUP_KEYS, &k) {
                Some(Popup::Close) => {
                    self.detail = None;
                    Action::Render
                }
                Some(Popup::Quit) => Action::Quit,
                None => Action::Noop,
            };
        }
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        if self.captured() {
            return self.views.get(self.view).handle_key(k, &ctx);
        }
        match keys::lookup(GLOBAL_KEYS, &k) {
            Some(Global::Quit) => Action::Quit,
            Some(Global::Command) => {
                self.mode = Mode::Command { line: String::new(), candidates: Vec::new() };
                Action::Render
            }
            Some(Global::Filter) if self.views.get_ref(self.view).filterable() => {
                // Like k9s: a new filter replaces the old one as you type.
                self.views.get(self.view).set_filter("", &ctx);
                self.mode = Mode::Filter { line: String::new() };
                Action::Render
            }
            Some(Global::Help) => Action::Switch(View::Help),
            Some(Global::Next) => Action::Switch(self.cycle(1)),
            Some(Global::Previous) => Action::Switch(self.cycle(View::CYCLE.len() - 1)),
            Some(Global::Back) if self.view == View::Help => Action::Switch(self.back),
            Some(Global::Back) => {
                if self.views.get(self.view).escape(&ctx) {
                    Action::Render
                } else {
                    Action::Noop
                }
            }
            _ => self.views.get(self.view).handle_key(k, &ctx),
        }
    }

    /// Whether the current view takes every key (an editor, a prompt or a dialog is open).
    fn captured(&self) -> bool {
        self.view != View::Help && self.views.get_ref(self.view).captures_input()
    }

    /// A view's keys, with `/` when it filters: for help (every binding), or for the footer
    /// (the ones that work now).
    fn view_keys(&self, v: View, footer: bool) -> Vec<Shown> {
        let view = self.views.get_ref(v);
        let mut keys = if footer { view.footer_keys() } else { view.keys() };
        if view.filterable() && !view.captures_input() {
            keys.push(FILTER_KEY.shown());
        }
        keys
    }

    /// The footer's keys: the view's that work now, then the global ones that do.
    fn footer_keys(&self) -> Vec<Shown> {
        if self.detail.is_some() {
            return keys::footer(POPUP_KEYS);
        }
        let mut shown = self.view_keys(self.view, true);
        if self.captured() {
            shown.push(FORCE_QUIT_KEY.shown());
        } else {
            // A key the view describes (What-if's Esc cancels a run) is not described twice.
            let global: Vec<Shown> = keys::footer(GLOBAL_KEYS)
                .into_iter()
                .filter(|(g, _)| !shown.iter().any(|(k, _)| keys::same_key(k, g)))
                .collect();
            shown.extend(global);
        }
        shown
    }

    fn cycle(&self, step: usize) -> View {
        let cur = if self.view == View::Help { self.back } else { self.view };
        let i = View::CYCLE.iter().position(|v| *v == cur).unwrap_or(0);
        let step = if self.view == View::Help && step == 1 { 0 } else { step };
        View::CYCLE[(i + step) % View::CYCLE.len()]
    }

    fn command_key(&mut self, k: KeyEvent) -> Action {
        let Mode::Command { line, candidates } = &mut self.mode else { return Action::Noop };
        match k.code {
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Backspace if line.is_empty() => self.mode = Mode::Normal,
            KeyCode::Backspace => {
                line.pop();
                candidates.clear();
            }
            KeyCode::Tab => {
                let themes = theme::available(self.config_dir.as_deref());
                let c = command::complete(line, &themes);
                *line = c.line;
                *candidates = c.candidates;
            }
            KeyCode::Enter => {
                let text = std::mem::take(line);
                self.mode = Mode::Normal;
                return self.run_command(&text);
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                line.push(c);
                candidates.clear();
            }
            _ => return Action::Noop,
        }
        Action::Render
    }

    fn run_command(&mut self, text: &str) -> Action {
        match command::parse(text) {
            Ok(Command::Quit) => Action::Quit,
            Ok(Command::View(v)) => Action::Switch(v),
            Ok(Command::Run) => Action::RunWhatif,
            Ok(Command::Theme(name)) => {
                let (t, err) = Theme::load(&name, self.config_dir.as_deref());
                self.status = Some(match err {
                    Some(e) => e,
                    None => format!("theme {}", t.name),
                });
                self.theme = t;
                Action::Render
            }
            Err(e) => {
                self.status = Some(e);
                Action::Render
            }
        }
    }

    fn filter_key(&mut self, k: KeyEvent) -> Action {
        let Mode::Filter { line } = &mut self.mode else { return Action::Noop };
        match k.code {
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                return Action::Render;
            }
            KeyCode::Esc => {
                line.clear();
                let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
                self.views.get(self.view).set_filter("", &ctx);
                self.mode = Mode::Normal;
                return Action::Render;
            }
            KeyCode::Backspace => {
                line.pop();
            }
            KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => line.push(c),
            _ => return Action::Noop,
        }
        let text = line.clone();
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        self.views.get(self.view).set_filter(&text, &ctx);
        Action::Render
    }

    fn handle_mouse(&mut self, m: MouseEvent) -> Action {
        if self.detail.is_some() || self.mode != Mode::Normal {
            return Action::Noop;
        }
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        self.views.get(self.view).handle_mouse(m, &ctx)
    }

    pub fn draw(&mut self, f: &mut Frame) {
        let area = f.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let msg = format!(
                "terminal too small: need ≥ {MIN_WIDTH}×{MIN_HEIGHT} (have {}×{})",
                area.width, area.height
            );
            f.render_widget(Line::from(msg).style(Style::new().fg(self.theme.warn).bold()), area);
            return;
        }
        // Config and theme errors quote files, so they are escaped like the twin's notices.
        let notices: Vec<String> = self
            .owner_notice
            .iter()
            .chain(&self.notices)
            .chain(&self.snap.notices)
            .map(|n| super::esc(n).into_owned())
            .collect();
        let banner_h = notices.len().min(2) as u16;
        let [header, banner, tabs, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(banner_h),
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let ctx = Ctx { snap: &self.snap, d: &self.derived, theme: &self.theme };
        let waiting =
            self.views.recs.queue().iter().filter(|p| p.status == crate::advise::Status::Valid).count();
        f.render_widget(Header { ctx: &ctx, waiting, fit: self.fit.as_ref() }, header);
        f.render_widget(NoticeBanner { notices: &notices, theme: &self.theme }, banner);
        let current = self.views.get_ref(self.view);
        f.render_widget(
            TabLine { view: self.view, filter: current.filter(), theme: &self.theme, ctx: &ctx },
            tabs,
        );
        let keys = self.footer_keys();
        self.views.get(self.view).draw(f, body, &ctx);
        if let Some(d) = &self.detail {
            detail::draw_popup(f, body, d, &ctx);
        }
        match &self.mode {
            Mode::Command { line, candidates } => {
                f.render_widget(CommandLine { prefix: ':', line, candidates, theme: &self.theme }, footer)
            }
            Mode::Filter { line } => f.render_widget(
                CommandLine { prefix: '/', line, candidates: &[], theme: &self.theme },
                footer,
            ),
            Mode::Normal => f.render_widget(
                Footer { keys: &keys, status: self.status.as_deref(), theme: &self.theme },
                footer,
            ),
        }
    }
}

/// Where a body area's inner region starts, for mouse hit-tests: `None` when outside.
pub(crate) fn hit(area: Rect, col: u16, row: u16) -> Option<(u16, u16)> {
    (col >= area.x && col < area.right() && row >= area.y && row < area.bottom())
        .then(|| (col - area.x, row - area.y))
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
