//! The what-if language: one change per line, as an SRE would say it in an incident
//! ("scale checkoutservice to 8", "fail server r3-07 at 2m", "traffic frontend x2 from 1m").
//! Parsing only: names are checked against a twin by `check`, run by the simulator elsewhere.

use serde::Serialize;
use std::fmt;

/// Simulated time offset from the start of the scenario, in seconds.
pub(crate) type Secs = f64;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// `scale W to N` / `scale W +N` / `scale W -N`
    Scale { workload: String, change: ReplicaChange },
    /// `fail server S [at T]`
    FailServer { server: String, at: Secs },
    /// `drain zone|rack|server NAME [at T]`
    Drain { scope: Scope, at: Secs },
    /// `cordon server S [at T]`
    Cordon { server: String, at: Secs },
    /// `traffic W xF [from T] [until T]` or `traffic W +P% …`
    Traffic { workload: String, factor: f64, from: Secs, until: Option<Secs> },
    /// `latency A..B +Nms [at T]` between two regions (or zones/racks)
    Latency { a: String, b: String, add_ms: f64, at: Secs },
    /// `hpa W [min N] [max N] [target P%]`
    Hpa { workload: String, min: Option<u32>, max: Option<u32>, target_pct: Option<f64> },
    /// `move W to rack|zone|server NAME` (or a bare name)
    Move { workload: String, to: Scope },
    /// `horizon T`
    Horizon { secs: Secs },
    /// `slo p99 < Nms [for W]`
    Slo { quantile: u8, below_ms: f64, workload: Option<String> },
    /// `sweep W replicas A..B`
    Sweep { workload: String, from: u32, to: u32 },
    /// `load W N rps`: users send N requests per second to W (a declaration: baseline and
    /// scenario both carry it, replacing the traffic measured entering at W).
    Load { workload: String, rps: f64 },
    /// `service W Nms [workers K]`: W's own processing time per request is N ms on average,
    /// K requests at once per pod (a declaration, like `load`).
    Service { workload: String, mean_ms: f64, workers: Option<u32> },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "n", rename_all = "snake_case")]
pub enum ReplicaChange {
    Set(u32),
    Add(i64),
}

impl ReplicaChange {
    pub(crate) fn apply(&self, current: u32) -> u32 {
        match *self {
            ReplicaChange::Set(n) => n,
            ReplicaChange::Add(d) => (current as i64 + d).clamp(0, u32::MAX as i64) as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "level", content = "name", rename_all = "snake_case")]
pub enum Scope {
    Region(String),
    Zone(String),
    Rack(String),
    Server(String),
    /// A bare name: resolved against the twin (server, rack, zone or region).
    Any(String),
}

/// One parsed line, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub line: usize,
    pub step: Step,
}

/// A parse error at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for ParseError {}

/// The verbs, for completion and help.
pub(crate) const VERBS: &[&str] = &[
    "scale", "fail", "drain", "cordon", "traffic", "latency", "hpa", "move", "horizon", "slo", "sweep",
    "load", "service",
];

/// Longest line accepted; a scenario is typed by a person.
const MAX_LINE: usize = 1000;

/// Parses a whole scenario; returns every line's error, not only the first.
pub fn parse(text: &str) -> Result<Vec<Line>, Vec<ParseError>> {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        match parse_line(raw, i + 1) {
            Ok(Some(step)) => lines.push(Line { line: i + 1, step }),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(lines) } else { Err(errors) }
}

/// A word of the line with its 1-based starting column.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    text: &'a str,
    col: usize,
}

struct Cursor<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    line: usize,
    end_col: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, col: usize, msg: impl Into<String>) -> ParseError {
        ParseError { line: self.line, col, message: msg.into() }
    }

    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn next(&mut self, what: &str) -> Result<Tok<'a>, ParseError> {
        let t = self.peek().ok_or_else(|| self.err(self.end_col, format!("expected {what}")))?;
        self.pos += 1;
        Ok(t)
    }

    fn keyword(&mut self, kw: &str) -> Result<(), ParseError> {
        let t = self.next(&format!("`{kw}`"))?;
        if t.text.eq_ignore_ascii_case(kw) {
            Ok(())
        } else {
            Err(self.err(t.col, format!("expected `{kw}`, found `{}`", t.text)))
        }
    }

    fn eat(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(t) if t.text.eq_ignore_ascii_case(kw) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn name(&mut self, what: &str) -> Result<String, ParseError> {
        let t = self.next(what)?;
        if t.text.chars().all(|c| c.is_alphanumeric() || "-_./:".contains(c)) {
            Ok(t.text.to_string())
        } else {
            Err(self.err(t.col, format!("`{}` is not a valid {what}", t.text)))
        }
    }

    fn done(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(self.err(t.col, format!("unexpected `{}` at the end of the line", t.text))),
        }
    }

    /// An optional `at T`.
    fn at(&mut self) -> Result<Secs, ParseError> {
        if self.eat("at") { self.duration() } else { Ok(0.0) }
    }

    fn duration(&mut self) -> Result<Secs, ParseError> {
        let t = self.next("a duration like 90s, 2m or 1h30m")?;
        parse_duration(t.text).ok_or_else(|| {
            self.err(t.col, format!("`{}` is not a duration (use e.g. 30s, 2m, 1h30m)", t.text))
        })
    }

    fn count(&mut self, what: &str) -> Result<u32, ParseError> {
        let t = self.next(what)?;
        t.text
            .parse::<u32>()
            .map_err(|_| self.err(t.col, format!("`{}` is not a whole number ({what})", t.text)))
    }
}

fn tokenize(raw: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    let mut start: Option<usize> = None;
    let mut col = 0;
    let mut start_col = 0;
    for (i, c) in raw.char_indices() {
        col += 1;
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                toks.push(Tok { text: &raw[s..i], col: start_col });
            }
        } else if start.is_none() {
            start = Some(i);
            start_col = col;
        }
    }
    if let Some(s) = start {
        toks.push(Tok { text: &raw[s..], col: start_col });
    }
    toks
}

fn parse_line(raw: &str, line: usize) -> Result<Option<Step>, ParseError> {
    let text = raw.split('#').next().unwrap_or("");
    if text.chars().count() > MAX_LINE {
        return Err(ParseError {
            line,
            col: MAX_LINE,
            message: format!("line longer than {MAX_LINE} characters"),
        });
    }
    if let Some((i, c)) = text.chars().enumerate().find(|(_, c)| c.is_control() && *c != '\t') {
        return Err(ParseError {
            line,
            col: i + 1,
            message: format!("control character U+{:04X}", c as u32),
        });
    }
    let toks = tokenize(text);
    if toks.is_empty() {
        return Ok(None);
    }
    let end_col = text.chars().count() + 1;
    let mut c = Cursor { toks, pos: 0, line, end_col };
    let verb = c.next("a verb")?;
    let step = match verb.text.to_ascii_lowercase().as_str() {
        "scale" => {
            let workload = c.name("workload")?;
            let t = c.next("`to N`, `+N` or `-N`")?;
            let change = if t.text.eq_ignore_ascii_case("to") {
                ReplicaChange::Set(c.count("replicas")?)
            } else if let Some(n) = t.text.strip_prefix('+').and_then(|n| n.parse::<u32>().ok()) {
                ReplicaChange::Add(n as i64)
            } else if let Some(n) = t.text.strip_prefix('-').and_then(|n| n.parse::<u32>().ok()) {
                ReplicaChange::Add(-(n as i64))
            } else {
                return Err(c.err(t.col, format!("expected `to N`, `+N` or `-N`, found `{}`", t.text)));
            };
            Step::Scale { workload, change }
        }
        "fail" => {
            c.eat("server");
            let server = c.name("server")?;
            Step::FailServer { server, at: c.at()? }
        }
        "cordon" => {
            c.eat("server");
            let server = c.name("server")?;
            Step::Cordon { server, at: c.at()? }
        }
        "drain" => {
            let scope = scope(&mut c)?;
            Step::Drain { scope, at: c.at()? }
        }
        "traffic" => {
            let workload = c.name("workload")?;
            let t = c.next("a factor like x2 or +50%")?;
            let factor = parse_factor(t.text).ok_or_else(|| {
                c.err(t.col, format!("`{}` is not a traffic factor (use x2, x0.5, +50% or -30%)", t.text))
            })?;
            let mut from = 0.0;
            let mut until = None;
            loop {
                if c.eat("from") || c.eat("at") {
                    from = c.duration()?;
                } else if c.eat("until") || c.eat("to") || c.eat("for") {
                    let was_for = c.toks[c.pos - 1].text.eq_ignore_ascii_case("for");
                    let d = c.duration()?;
                    until = Some(if was_for { from + d } else { d });
                } else {
                    break;
                }
            }
            Step::Traffic { workload, factor, from, until }
        }
        "latency" => {
            let t = c.next("two locations like eu-south-1..eu-central-1")?;
            let (a, b) = t
                .text
                .split_once("..")
                .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                .ok_or_else(|| c.err(t.col, format!("expected A..B, found `{}`", t.text)))?;
            let d = c.next("a latency like +20ms")?;
            let add_ms = d.text.strip_prefix('+').and_then(parse_ms).ok_or_else(|| {
                c.err(d.col, format!("expected an added latency like +20ms, found `{}`", d.text))
            })?;
            Step::Latency { a: a.into(), b: b.into(), add_ms, at: c.at()? }
        }
        "hpa" => {
            let workload = c.name("workload")?;
            let (mut min, mut max, mut target_pct) = (None, None, None);
            while let Some(t) = c.peek() {
                match t.text.to_ascii_lowercase().as_str() {
                    "min" => {
                        c.pos += 1;
                        min = Some(c.count("minimum replicas")?);
                    }
                    "max" => {
                        c.pos += 1;
                        max = Some(c.count("maximum replicas")?);
                    }
                    "target" => {
                        c.pos += 1;
                        let v = c.next("a target like 70%")?;
                        target_pct = Some(
                            v.text
                                .strip_suffix('%')
                                .and_then(|n| n.parse::<f64>().ok())
                                .filter(|p| *p > 0.0 && *p <= 1000.0)
                                .ok_or_else(|| {
                                    c.err(v.col, format!("expected a target like 70%, found `{}`", v.text))
                                })?,
                        );
                    }
                    _ => return Err(c.err(t.col, format!("expected min, max or target, found `{}`", t.text))),
                }
            }
            if min.is_none() && max.is_none() && target_pct.is_none() {
                return Err(c.err(c.end_col, "hpa needs at least one of min N, max N, target P%"));
            }
            if let (Some(a), Some(b)) = (min, max)
                && a > b
            {
                return Err(c.err(verb.col, format!("hpa min {a} is above max {b}")));
            }
            Step::Hpa { workload, min, max, target_pct }
        }
        "move" => {
            let workload = c.name("workload")?;
            c.keyword("to")?;
            Step::Move { workload, to: scope(&mut c)? }
        }
        "horizon" => {
            let d = c.duration()?;
            if d <= 0.0 || d > 86_400.0 {
                return Err(c.err(c.toks[1].col, "horizon must be between 1s and 24h"));
            }
            Step::Horizon { secs: d }
        }
        "slo" => {
            let q = c.next("p50, p95 or p99")?;
            let quantile = match q.text.to_ascii_lowercase().as_str() {
                "p50" => 50,
                "p90" => 90,
                "p95" => 95,
                "p99" => 99,
                _ => return Err(c.err(q.col, format!("expected p50, p90, p95 or p99, found `{}`", q.text))),
            };
            c.keyword("<")?;
            let v = c.next("a latency like 60ms")?;
            let below_ms = parse_ms(v.text)
                .filter(|ms| *ms > 0.0)
                .ok_or_else(|| c.err(v.col, format!("expected a latency like 60ms, found `{}`", v.text)))?;
            let workload = if c.eat("for") { Some(c.name("workload")?) } else { None };
            Step::Slo { quantile, below_ms, workload }
        }
        "sweep" => {
            let workload = c.name("workload")?;
            c.keyword("replicas")?;
            let r = c.next("a range like 2..20")?;
            let (a, b) = r
                .text
                .split_once("..")
                .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                .filter(|(a, b)| a <= b && *b <= 1000 && *a >= 1)
                .ok_or_else(|| {
                    c.err(
                        r.col,
                        format!("expected a range like 2..20 (1 ≤ from ≤ to ≤ 1000), found `{}`", r.text),
                    )
                })?;
            Step::Sweep { workload, from: a, to: b }
        }
        "load" => {
            let workload = c.name("workload")?;
            let t = c.next("a rate like 200 rps")?;
            // `200 rps`, `200rps` or `200/s`.
            let (num, unit_given) = match t.text.strip_suffix("rps").or_else(|| t.text.strip_suffix("/s")) {
                Some(n) => (n, true),
                None => (t.text, false),
            };
            let rps = num
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0 && *r <= 10_000_000.0)
                .ok_or_else(|| c.err(t.col, format!("expected a rate like 200 rps, found `{}`", t.text)))?;
            if !unit_given {
                c.keyword("rps")?;
            }
            Step::Load { workload, rps }
        }
        "service" => {
            let workload = c.name("workload")?;
            let t = c.next("a time like 20ms")?;
            let mean_ms = parse_ms(t.text)
                .filter(|ms| *ms > 0.0)
                .ok_or_else(|| c.err(t.col, format!("expected a time like 20ms, found `{}`", t.text)))?;
            let workers = if c.eat("workers") {
                let n = c.count("workers per pod")?;
                if n == 0 || n > 100_000 {
                    return Err(c.err(c.toks[c.pos - 1].col, "workers must be between 1 and 100000"));
                }
                Some(n)
            } else {
                None
            };
            Step::Service { workload, mean_ms, workers }
        }
        other => {
            return Err(c.err(verb.col, format!("unknown verb `{other}`; one of: {}", VERBS.join(", "))));
        }
    };
    c.done()?;
    Ok(Some(step))
}

fn scope(c: &mut Cursor<'_>) -> Result<Scope, ParseError> {
    let level = c.peek().map(|t| t.text.to_ascii_lowercase());
    let ctor: Option<fn(String) -> Scope> = match level.as_deref() {
        Some("region") => Some(Scope::Region),
        Some("zone") => Some(Scope::Zone),
        Some("rack") => Some(Scope::Rack),
        Some("server") | Some("node") => Some(Scope::Server),
        _ => None,
    };
    match ctor {
        Some(f) => {
            c.pos += 1;
            Ok(f(c.name("name")?))
        }
        None => Ok(Scope::Any(c.name("server, rack, zone or region")?)),
    }
}

/// `90s`, `2m`, `1h30m`, `1.5m`, a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Option<Secs> {
    if let Ok(v) = s.parse::<f64>() {
        return (v.is_finite() && v >= 0.0).then_some(v);
    }
    let mut total = 0.0;
    let mut num = String::new();
    let mut any = false;
    for ch in s.chars() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => return None,
        };
        let v: f64 = num.parse().ok()?;
        total += v * unit;
        num.clear();
        any = true;
    }
    (any && num.is_empty() && total.is_finite()).then_some(total)
}

/// `20ms`, `1.5s`, `20` (ms).
fn parse_ms(s: &str) -> Option<f64> {
    let v = if let Some(n) = s.strip_suffix("ms") {
        n.parse::<f64>().ok()?
    } else if let Some(n) = s.strip_suffix('s') {
        n.parse::<f64>().ok()? * 1000.0
    } else {
        s.parse::<f64>().ok()?
    };
    (v.is_finite() && (0.0..3.6e6).contains(&v)).then_some(v)
}

/// `x2`, `×2`, `x0.5`, `+50%`, `-30%`.
fn parse_factor(s: &str) -> Option<f64> {
    let f = if let Some(n) =
        s.strip_prefix('x').or_else(|| s.strip_prefix('×')).or_else(|| s.strip_prefix('*'))
    {
        n.parse::<f64>().ok()?
    } else if let Some(p) = s.strip_suffix('%') {
        1.0 + p.parse::<f64>().ok()? / 100.0
    } else {
        return None;
    };
    (f.is_finite() && (0.0..=1000.0).contains(&f)).then_some(f)
}

#[cfg(test)]
#[path = "lang_tests.rs"]
mod tests;
