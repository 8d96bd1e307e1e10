//! The recommendations view (`:recs`): the queue of proposals, most urgent first, one card
//! each with the trust cues of UI.md (target and context, before → after, confidence and its
//! parts, the twin's predicted effect with its spread, source, reason). Keys are forwarded to
//! the operator service (`act::operator`), which decides: `a` approve → confirmation naming the
//! context with the exact diff → `y` applies; `r` rejects with a reason; `e` edits the replicas
//! and re-evaluates; `s` puts it on the calendar and `c` cancels the next one waiting; `x` shows
//! the raw LLM exchange. What the service does on its own (scheduled actions, rollbacks,
//! headless decisions) arrives as events the view shows. While the LLM advisor's call runs, a
//! line shows its progress and `C` cancels it.

use super::recs_card::{draw_card, draw_confirm};
use super::recs_exchange::ExchangeView;
use super::recs_keys::{CONFIRM_KEYS, Cmd, EXCHANGE_KEYS, LLM_KEYS, PROMPT_KEYS, QUEUE_KEYS};
use crate::act::flow::{Outcome, Pending};
use crate::act::operator::{Event, Operator, describe};
use crate::advise::{Candidate, Proposal, Status};
use crate::change::Change;
use crate::guardrails::Violation;
use crate::twin::kpi::SloState;
use crate::ui::app::Action;
use crate::ui::keys::{self, Shown};
use crate::ui::{Component, Ctx, esc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};
use std::collections::HashSet;

/// Lines one card takes, borders included.
const CARD_H: u16 = 8;

/// What the view is waiting for besides a key on the queue.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    None,
    /// Typing the reason of a rejection.
    Reject(String),
    /// Typing the new replica count.
    Edit(String),
    /// Typing when to apply (`+10m`, `+90s`, `+1h`, `HH:MM` UTC).
    Schedule(String),
    /// The raw LLM exchange, scrolled to the model's answer.
    Exchange(ExchangeView),
}

/// The LLM call in flight, as the recs view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRun {
    pub model: String,
    pub progress: crate::advise::llm::client::Progress,
}

impl LlmRun {
    /// `LLM gemma: 412 tokens · 9.8 kB · 3.1 s · C cancels`.
    pub fn line(&self) -> String {
        format!("LLM {}: {} · C cancels", esc(&self.model), self.progress.describe())
    }
}

pub struct RecsView {
    pub operator: Operator,
    /// Rollbacks first, then the advisors' proposals.
    queue: Vec<Proposal>,
    rollbacks: Vec<Proposal>,
    /// Changes of what-if scenarios the operator chose to propose (`p` in `:whatif`).
    from_whatif: Vec<Proposal>,
    advised: Vec<Proposal>,
    /// Proposals the operator applied or rejected: never shown again.
    handled: HashSet<String>,
    /// Rules that blocked an approval, per proposal id.
    blocked: Vec<(String, Vec<Violation>)>,
    selected: usize,
    pub prompt: Prompt,
    /// The last outcome, shown above the queue.
    pub message: Option<String>,
    data_dir: Option<std::path::PathBuf>,
    /// The LLM call in flight, if any.
    pub llm: Option<LlmRun>,
}

impl RecsView {
    pub fn new(operator: Operator, data_dir: Option<std::path::PathBuf>) -> RecsView {
        RecsView {
            operator,
            queue: Vec::new(),
            rollbacks: Vec::new(),
            from_whatif: Vec::new(),
            advised: Vec::new(),
            handled: HashSet::new(),
            blocked: Vec::new(),
            selected: 0,
            prompt: Prompt::None,
            message: None,
            data_dir,
            llm: None,
        }
    }

    /// Proposals in the order shown.
    pub fn queue(&self) -> &[Proposal] {
        &self.queue
    }

    /// The advisors' latest proposals replace the previous ones; the selection stays on the
    /// same proposal when it is still there.
    pub(crate) fn set_proposals(&mut self, proposals: Vec<Proposal>, ctx: &Ctx) {
        self.operator.offer(&proposals);
        self.advised = proposals;
        self.rebuild(ctx);
    }

    fn rebuild(&mut self, ctx: &Ctx) {
        let keep = self.queue.get(self.selected).map(|p| p.id.clone());
        let mut advised: Vec<Proposal> =
            self.advised.iter().filter(|p| !self.handled.contains(&p.id)).cloned().collect();
        let urgency = |p: &Proposal| {
            let breach = ctx
                .snap
                .workload_index(&p.target)
                .is_some_and(|w| ctx.d.slo.get(w) == Some(&SloState::Breach));
            (p.status == Status::Rejected, !breach, std::cmp::Reverse(p.confidence.score))
        };
        advised.sort_by_key(|p| urgency(p));
        self.queue = self
            .rollbacks
            .iter()
            .chain(&self.from_whatif)
            .filter(|p| !self.handled.contains(&p.id))
            .cloned()
            .chain(advised)
            .collect();
        self.selected = keep
            .and_then(|id| self.queue.iter().position(|p| p.id == id))
            .unwrap_or(self.selected)
            .min(self.queue.len().saturating_sub(1));
    }

    fn approve(&mut self, ctx: &Ctx) -> Action {
        let Some(p) = self.queue.get(self.selected) else { return Action::Noop };
        if p.status == Status::Rejected {
            self.message = Some("a rejected proposal cannot be approved".into());
            return Action::Render;
        }
        let Some(pending) = Pending::of(p) else { return Action::Noop };
        let id = p.id.clone();
        self.blocked.retain(|(b, _)| *b != id);
        match self.operator.approve(pending, ctx.snap, ctx.snap.time) {
            Outcome::Blocked(v) => {
                self.message = Some(format!("blocked by {}", rule_list(&v)));
                self.blocked.push((id, v));
            }
            Outcome::AwaitingConfirmation => self.message = None,
            Outcome::Failed(e) => self.message = Some(esc(&e).into_owned()),
            other => self.message = Some(esc(&format!("{other:?}")).into_owned()),
        }
        Action::Render
    }

    fn confirm(&mut self, ctx: &Ctx) -> Action {
        let id = self.operator.confirming().map(|(p, _)| p.id.clone());
        let out = self.operator.confirm(ctx.snap, ctx.snap.time);
        if let Ok(Outcome::Applied(_)) = &out {
            self.handled.extend(id);
        }
        self.message = Some(esc(&describe(&out)).into_owned());
        self.rebuild(ctx);
        Action::AuditWritten
    }

    fn reject(&mut self, reason: &str, ctx: &Ctx) -> Action {
        let Some(p) = self.queue.get(self.selected) else { return Action::Render };
        let Some(pending) = Pending::of(p) else {
            self.message = Some("this proposal has no action to reject".into());
            return Action::Render;
        };
        match self.operator.reject(&pending, reason, ctx.snap.time) {
            Ok(_) => {
                self.handled.insert(pending.id);
                self.message = Some(format!("rejected: {}", esc(reason)));
            }
            Err(e) => self.message = Some(format!("rejection not recorded: {}", esc(&e))),
        }
        self.rebuild(ctx);
        Action::AuditWritten
    }

    /// `e`: the selected proposal with new replicas, validated and predicted again.
    fn edit(&mut self, text: &str, ctx: &Ctx) -> Action {
        let Some(p) = self.queue.get(self.selected).cloned() else { return Action::Render };
        let Ok(n) = text.trim().parse::<u32>() else {
            self.message = Some(format!("not a replica count: {}", esc(text)));
            return Action::Render;
        };
        let change = match &p.action {
            Some(Change::Scale { workload, .. }) => Change::Scale { workload: workload.clone(), replicas: n },
            Some(Change::HpaBounds { workload, min, .. }) => {
                Change::HpaBounds { workload: workload.clone(), min: (*min).min(n), max: n }
            }
            _ => {
                self.message = Some("only replica counts can be edited".into());
                return Action::Render;
            }
        };
        let mut c = Candidate::new(&p.source, change, format!("edited by the operator; was: {}", p.reason));
        c.exchange = p.exchange.clone();
        let edited = self.operator.reassess(ctx.snap, c);
        self.handled.insert(p.id.clone());
        self.advised.retain(|x| x.id != p.id);
        self.rollbacks.retain(|x| x.id != p.id);
        let id = edited.id.clone();
        self.operator.offer(std::slice::from_ref(&edited));
        self.message = Some(format!("edited; re-evaluated: confidence {}", edited.confidence.score));
        self.handled.remove(&id);
        self.rollbacks.insert(0, edited);
        self.rebuild(ctx);
        self.selected = self.queue.iter().position(|x| x.id == id).unwrap_or(0);
        Action::Render
    }

    fn show_exchange(&mut self) -> Action {
        let Some(p) = self.queue.get(self.selected) else { return Action::Noop };
        let Some(sha) = &p.exchange else {
            self.message = Some("no LLM exchange: this proposal is from a built-in advisor".into());
            return Action::Render;
        };
        let dir = self.data_dir.as_deref().map(crate::advise::llm::audit::exchanges_dir);
        let text = dir
            .and_then(|d| crate::advise::llm::audit::find(&d, sha))
            .and_then(|f| std::fs::read_to_string(f).ok());
        match text {
            Some(t) => {
                self.prompt =
                    Prompt::Exchange(ExchangeView::new(t.lines().map(|l| esc(l).into_owned()).collect()))
            }
            None => self.message = Some(format!("LLM exchange {} not found in the data dir", esc(sha))),
        }
        Action::Render
    }

    fn prompt_key(&mut self, k: KeyEvent, ctx: &Ctx) -> Action {
        if let Prompt::Exchange(view) = &mut self.prompt {
            match keys::lookup(EXCHANGE_KEYS, &k) {
                Some(Cmd::Close) => self.prompt = Prompt::None,
                Some(Cmd::Scroll(m)) => view.scroll(m),
                Some(Cmd::Answer) => view.jump_to_answer(),
                _ => {}
            }
            return Action::Render;
        }
        let cmd = keys::lookup(PROMPT_KEYS, &k);
        let (Prompt::Reject(line) | Prompt::Edit(line) | Prompt::Schedule(line)) = &mut self.prompt else {
            return Action::Noop;
        };
        match (cmd, k.code) {
            (Some(Cmd::Cancel), _) => {
                self.prompt = Prompt::None;
                Action::Render
            }
            (Some(Cmd::Done), _) => {
                let text = std::mem::take(line);
                match std::mem::replace(&mut self.prompt, Prompt::None) {
                    Prompt::Reject(_) if text.trim().is_empty() => {
                        self.message = Some("a rejection needs a reason".into());
                        Action::Render
                    }
                    Prompt::Reject(_) => self.reject(text.trim(), ctx),
                    Prompt::Schedule(_) => self.schedule(&text, ctx),
                    _ => self.edit(&text, ctx),
                }
            }
            // Every other key is the text typed.
            (_, KeyCode::Backspace) => {
                line.pop();
                Action::Render
            }
            (_, KeyCode::Char(c)) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
                line.push(c);
                Action::Render
            }
            _ => Action::Noop,
        }
    }

    /// `s`: the selected proposal goes on the calendar; it is re-validated and re-evaluated
    /// when its time comes, then applied through the flow.
    fn schedule(&mut self, text: &str, ctx: &Ctx) -> Action {
        let Some(p) = self.queue.get(self.selected) else { return Action::Render };
        if p.status == Status::Rejected {
            self.message = Some("a rejected proposal cannot be scheduled".into());
            return Action::Render;
        }
        let now = ctx.snap.time;
        let Some(at) = parse_when(text, now) else {
            self.message = Some(format!(
                "not a time: {} (use +10m, +90s, +1h or HH:MM UTC, at most {MAX_AHEAD_DAYS} days ahead)",
                esc(text)
            ));
            return Action::Render;
        };
        let Some(pending) = Pending::of(p) else { return Action::Render };
        let id = pending.id.clone();
        match self.operator.schedule(pending, at, now) {
            Ok(()) => {
                self.handled.insert(id);
                self.message = Some(format!("scheduled at {}Z", at.format("%H:%M:%S")));
            }
            Err(e) => self.message = Some(format!("not scheduled: {}", esc(&e))),
        }
        self.rebuild(ctx);
        Action::AuditWritten
    }

    /// Waiting and missed calendar entries with their countdowns.
    fn calendar_line(&self, ctx: &Ctx) -> String {
        use crate::act::schedule::{Calendar, Status as S};
        if let Some(e) = &self.operator.calendar_error {
            return format!("calendar unreadable: {}", esc(e));
        }
        let items: Vec<String> = self
            .operator
            .calendar
            .actions
            .iter()
            .filter(|a| matches!(a.status, S::Waiting | S::Missed))
            .map(|a| {
                let when = match a.status {
                    S::Missed => format!("MISSED at {}Z, needs a and y", a.at.format("%H:%M")),
                    _ => Calendar::countdown(a, ctx.snap.time),
                };
                format!("{} {when}", esc(&a.pending.change.to_string()))
            })
            .collect();
        if items.is_empty() { String::new() } else { format!("calendar: {}", items.join(" · ")) }
    }

    /// Changes from a finished what-if run, proposed like any other: validated, evaluated and
    /// scored on this twin, then approved (or not) through the same flow.
    pub(crate) fn propose(&mut self, changes: Vec<Change>, why: &str, ctx: &Ctx) {
        for change in changes {
            let mut c = Candidate::new(WHATIF_SOURCE, change, format!("what-if: {why}"));
            c.stated_confidence = None;
            let p = self.operator.reassess(ctx.snap, c);
            self.operator.offer(std::slice::from_ref(&p));
            self.from_whatif.retain(|x| x.id != p.id);
            self.from_whatif.insert(0, p);
        }
        self.rebuild(ctx);
    }

    /// What the operator service did on its own or for a headless command: notes for the
    /// message line, proposals that need the operator (at the top), decided ones out of the
    /// queue.
    fn apply_events(&mut self, events: Vec<Event>, ctx: &Ctx) {
        let mut notes = Vec::new();
        for e in events {
            match e {
                Event::Note(n) => notes.push(n),
                Event::Propose(p) => {
                    self.handled.remove(&p.id);
                    self.rollbacks.retain(|x| x.id != p.id);
                    self.rollbacks.insert(0, *p);
                }
                Event::Decided(id) => {
                    self.handled.insert(id);
                }
            }
        }
        if !notes.is_empty() {
            // Sources and errors quote advisor names and paths: escaped like all data.
            self.message = Some(esc(&notes.join("; ")).into_owned());
        }
        self.rebuild(ctx);
    }

    /// Answers a headless request (`twintop approve`, `reject`, `schedule`) through the
    /// service, and shows what it decided.
    pub(crate) fn handle_request(
        &mut self,
        req: crate::act::operator_requests::Request,
        owner: &str,
        ctx: &Ctx,
    ) -> crate::act::operator_requests::Reply {
        let reply = self.operator.handle(req, ctx.snap, owner);
        let events = self.operator.take_events();
        self.apply_events(events, ctx);
        reply
    }
}

use crate::act::schedule::{MAX_AHEAD_DAYS, parse_when};

/// The source of proposals made from a what-if scenario.
pub(crate) const WHATIF_SOURCE: &str = "whatif";

/// `rule cooldown: …; rule stale-feed: …`, escaped for the screen.
pub(super) fn rule_list(v: &[Violation]) -> String {
    esc(&crate::act::operator::rules(v)).into_owned()
}

impl Component for RecsView {
    fn on_snapshot(&mut self, ctx: &Ctx) {
        // The first snapshot can come before the source has named its context.
        self.operator.set_context(&ctx.snap.source.context);
        let events = self.operator.observe(ctx.snap);
        self.apply_events(events, ctx);
    }

    fn captures_input(&self) -> bool {
        self.prompt != Prompt::None || self.operator.confirming().is_some()
    }

    fn handle_key(&mut self, k: KeyEvent, ctx: &Ctx) -> Action {
        if self.operator.confirming().is_some() {
            return match keys::lookup(CONFIRM_KEYS, &k) {
                Some(Cmd::Confirm) => self.confirm(ctx),
                Some(Cmd::Cancel) => {
                    self.operator.cancel();
                    self.message = Some("cancelled: nothing applied".into());
                    Action::Render
                }
                _ => Action::Noop,
            };
        }
        if self.prompt != Prompt::None {
            return self.prompt_key(k, ctx);
        }
        let cmd = keys::lookup(QUEUE_KEYS, &k).or(self.llm.as_ref().and(keys::lookup(LLM_KEYS, &k)));
        let any = !self.queue.is_empty();
        match cmd {
            Some(Cmd::Next) if self.selected + 1 < self.queue.len() => {
                self.selected += 1;
                Action::Render
            }
            Some(Cmd::Previous) if self.selected > 0 => {
                self.selected -= 1;
                Action::Render
            }
            Some(Cmd::Approve) => self.approve(ctx),
            Some(Cmd::Reject) if any => {
                self.prompt = Prompt::Reject(String::new());
                Action::Render
            }
            Some(Cmd::Edit) if any => {
                self.prompt = Prompt::Edit(String::new());
                Action::Render
            }
            Some(Cmd::Schedule) if any => {
                self.prompt = Prompt::Schedule(String::new());
                Action::Render
            }
            Some(Cmd::Exchange) => self.show_exchange(),
            Some(Cmd::CancelLlm) => {
                self.message = Some("cancelling the LLM call…".into());
                Action::CancelLlm
            }
            Some(Cmd::CancelScheduled) => {
                self.message = Some(match self.operator.cancel_next_scheduled(ctx.snap.time) {
                    Ok(Some(what)) => format!("cancelled scheduled: {}", esc(&what)),
                    Ok(None) => "nothing scheduled to cancel".into(),
                    Err(e) => format!("not cancelled: {}", esc(&e)),
                });
                Action::AuditWritten
            }
            _ => Action::Noop,
        }
    }

    fn draw(&mut self, f: &mut Frame, area: Rect, ctx: &Ctx) {
        let t = ctx.theme;
        let title = format!(
            " recs · {} proposals · ctx {} {}",
            self.queue.len(),
            esc(&self.operator.flow.context),
            if self.operator.flow.guardrails.readonly { "· READ-ONLY " } else { "" }
        );
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(Style::new().fg(t.border))
            .title(Span::styled(title, Style::new().fg(t.title).bold()));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let msg = match (&self.prompt, &self.message) {
            (Prompt::Reject(l), _) => format!("reject — reason: {}▏ (enter records, esc cancels)", esc(l)),
            (Prompt::Edit(l), _) => {
                format!("edit — new replicas: {}▏ (enter re-evaluates, esc cancels)", esc(l))
            }
            (Prompt::Schedule(l), _) => format!(
                "schedule — when (+10m, +90s, +1h or HH:MM UTC): {}▏ (enter schedules, esc cancels)",
                esc(l)
            ),
            (_, Some(m)) => m.clone(),
            _ => {
                let watching: Vec<String> =
                    self.operator.watching().map(|w| esc(&w.workload).into_owned()).collect();
                if watching.is_empty() {
                    String::new()
                } else {
                    format!("watching the SLO of {}", watching.join(", "))
                }
            }
        };
        let llm_h = u16::from(self.llm.is_some());
        // The message and calendar lines take room only when they say something.
        let calendar = self.calendar_line(ctx);
        let [llm_area, msg_area, cal_area, list] = Layout::vertical([
            Constraint::Length(llm_h),
            Constraint::Length(u16::from(!msg.is_empty())),
            Constraint::Length(u16::from(!calendar.is_empty())),
            Constraint::Min(1),
        ])
        .areas(inner);
        if let Some(run) = &self.llm {
            f.render_widget(Line::from(run.line()).style(Style::new().fg(t.warn)), llm_area);
        }
        f.render_widget(Line::from(calendar).style(Style::new().fg(t.fg)), cal_area);
        f.render_widget(Line::from(msg).style(Style::new().fg(t.accent)), msg_area);
        if self.queue.is_empty() {
            f.render_widget(
                Line::from("no proposals: no SLO breach, overloaded workload or hot server found")
                    .style(Style::new().fg(t.dim)),
                list,
            );
        } else {
            // Below 110 columns a card's lines wrap: two more lines keep its reason on screen.
            let card_h = if list.width < 110 { CARD_H + 2 } else { CARD_H };
            let fit = (list.height / card_h).max(1) as usize;
            let first = self.selected.saturating_sub(fit - 1);
            // The selected card is always whole; the one after it shows as far as room allows.
            for (slot, i) in (first..self.queue.len()).take(fit + 1).enumerate() {
                let y = list.y + slot as u16 * card_h;
                let h = card_h.min(list.bottom().saturating_sub(y));
                if h < 3 {
                    break;
                }
                let r = Rect { x: list.x, y, width: list.width, height: h };
                let blocked =
                    self.blocked.iter().find(|(id, _)| *id == self.queue[i].id).map(|(_, v)| v.as_slice());
                draw_card(
                    f,
                    r,
                    &self.queue[i],
                    i == self.selected,
                    blocked,
                    &self.operator.flow.context,
                    ctx,
                );
            }
        }
        if let Some((p, diff)) = self.operator.confirming() {
            draw_confirm(f, area, p, diff, &self.operator.flow.context, ctx);
        }
        if let Prompt::Exchange(view) = &mut self.prompt {
            view.draw(f, area, ctx);
        }
    }

    fn escape(&mut self, _ctx: &Ctx) -> bool {
        self.message.take().is_some()
    }

    /// The queue's keys, the LLM call's, then the confirmation's.
    fn keys(&self) -> Vec<Shown> {
        [keys::help(QUEUE_KEYS), keys::help(LLM_KEYS), keys::help(CONFIRM_KEYS)].concat()
    }

    fn footer_keys(&self) -> Vec<Shown> {
        if self.operator.confirming().is_some() {
            return keys::footer(CONFIRM_KEYS);
        }
        match self.prompt {
            Prompt::None if self.llm.is_some() => [keys::footer(QUEUE_KEYS), keys::footer(LLM_KEYS)].concat(),
            Prompt::None => keys::footer(QUEUE_KEYS),
            Prompt::Exchange(_) => keys::footer(EXCHANGE_KEYS),
            _ => keys::footer(PROMPT_KEYS),
        }
    }
}
