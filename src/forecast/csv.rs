//! Reading `timestamp,value` series from CSV text (the caller reads the file): duplicate
//! timestamps are averaged, the series is put on a regular grid at the median step, and
//! missing steps are filled by linear interpolation and marked, so an evaluation can score
//! the observed steps only (long gaps are counted so a report can say so). The work is
//! bounded by `Limits`, checked before anything is allocated: a timestamp that jumps to 1e308
//! or a gap of 1e10 s is an error naming the row, not 80 GB. Errors name the source and line.

use chrono::{DateTime, NaiveDateTime};

/// Gaps up to this many steps count as short.
pub(crate) const SHORT_GAP: usize = 12;

/// The most grid steps (and rows) a series may have by default: a year of 5-minute steps is
/// 105,120. `twintop eval forecast --max-steps` raises it.
pub(crate) const DEFAULT_MAX_STEPS: usize = 110_000;

/// Unix seconds of 9999-12-31T23:59:59Z, the last time a date-time column can name.
const LAST_TIME: i64 = 253_402_300_799;

/// Bounds on the work a series may ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limits {
    /// Most rows read and most steps on the regular grid.
    pub max_steps: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_steps: DEFAULT_MAX_STEPS }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// Unix seconds of the first value.
    pub start: i64,
    pub step_s: i64,
    pub values: Vec<f64>,
    /// Per value: whether a row fell on it (false where it was filled by interpolation).
    pub observed: Vec<bool>,
    /// Rows merged into another row with the same (or same-slot) timestamp.
    pub duplicates: usize,
    /// Values filled in by interpolation.
    pub filled: usize,
    /// Gaps longer than `SHORT_GAP` steps (filled too, but worth a warning).
    pub long_gaps: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    #[error("{source_name}: {msg}")]
    File { source_name: String, msg: String },
    #[error("{source_name}:{line}: {msg}")]
    Line { source_name: String, line: u64, msg: String },
}

/// Parses CSV `text` (with a header) from `source_name` within the default limits.
pub fn parse(text: &str, source_name: &str, column: Option<&str>) -> Result<Series, SeriesError> {
    parse_with(text.as_bytes(), source_name, column, Limits::default())
}

/// Parses CSV from `input` (with a header) from `source_name`. The timestamp column is
/// `timestamp` or `time`, else the first; the value column is `column`, else `value`, else the
/// second. Reading stops with an error at the first row past `limits.max_steps`.
pub(crate) fn parse_with(
    input: impl std::io::Read,
    source_name: &str,
    column: Option<&str>,
    limits: Limits,
) -> Result<Series, SeriesError> {
    let file_err = |msg: String| SeriesError::File { source_name: source_name.into(), msg };
    let mut rd = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(input);
    let headers = rd.headers().map_err(|e| file_err(format!("cannot read the header: {e}")))?.clone();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let ts_col = find("timestamp").or_else(|| find("time")).unwrap_or(0);
    let val_col = match column {
        Some(c) => find(c).ok_or_else(|| {
            file_err(format!("no column {c:?} (columns: {})", headers.iter().collect::<Vec<_>>().join(", ")))
        })?,
        None => find("value").unwrap_or(1),
    };
    if val_col >= headers.len() || val_col == ts_col {
        return Err(file_err("needs a timestamp column and a value column".into()));
    }
    let mut rows: Vec<Row> = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            SeriesError::Line { source_name: source_name.into(), line, msg: e.to_string() }
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let line_err = |msg: String| SeriesError::Line { source_name: source_name.into(), line, msg };
        let ts = rec.get(ts_col).unwrap_or("");
        let t = parse_time(ts)
            .map_err(|why| line_err(format!("timestamp {:?} {why}", crate::text::escape(ts))))?;
        let v = rec.get(val_col).unwrap_or("");
        if v.is_empty() {
            continue; // a missing value is a gap
        }
        let v: f64 =
            v.parse().map_err(|_| line_err(format!("value {:?} is not a number", crate::text::escape(v))))?;
        if !v.is_finite() {
            return Err(line_err(format!("value {v} is not finite")));
        }
        if rows.len() == limits.max_steps {
            return Err(line_err(format!(
                "more than {} rows, the limit (--max-steps N raises it; the evaluation's time grows with the series' length)",
                limits.max_steps
            )));
        }
        rows.push(Row { t, v, line });
    }
    regularise_rows(rows, source_name, limits)
}

/// One row read: unix seconds, value and the line it came from.
#[derive(Debug, Clone, Copy)]
struct Row {
    t: i64,
    v: f64,
    line: u64,
}

/// A date-time (`%Y-%m-%d %H:%M:%S`, RFC 3339, …) or a unix time in seconds or milliseconds,
/// between year 0 and 9999.
fn parse_time(s: &str) -> Result<i64, &'static str> {
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc().timestamp());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let n: f64 = s.parse().map_err(|_| "is not a date-time or unix time")?;
    if !n.is_finite() {
        return Err("is not finite");
    }
    // Unix time in ms when it is too large for seconds.
    let secs = if n.abs() > 1e11 { n / 1000.0 } else { n };
    if !(0.0..=LAST_TIME as f64).contains(&secs) {
        return Err("is outside the years 1970 to 9999 (as unix seconds or milliseconds)");
    }
    Ok(secs as i64)
}

fn regularise_rows(mut rows: Vec<Row>, name: &str, limits: Limits) -> Result<Series, SeriesError> {
    let file_err = |msg: String| SeriesError::File { source_name: name.into(), msg };
    if rows.len() < 2 {
        return Err(file_err(format!("{} value(s): a series needs at least 2", rows.len())));
    }
    rows.sort_by_key(|r| r.t);
    let mut steps: Vec<i64> = rows.windows(2).map(|w| w[1].t - w[0].t).filter(|d| *d > 0).collect();
    if steps.is_empty() {
        return Err(file_err("every row has the same timestamp".into()));
    }
    steps.sort_unstable();
    let step = steps[steps.len() / 2];
    let start = rows[0].t;
    // The grid's length, checked before it is allocated: the row that takes it past the limit
    // is named (with the gap before it).
    let slot = |t: i64| ((t - start) as f64 / step as f64).round();
    if let Some(i) = rows.iter().position(|r| slot(r.t) >= limits.max_steps as f64) {
        let (r, prev) = (rows[i], rows[i.saturating_sub(1)]);
        return Err(SeriesError::Line {
            source_name: name.into(),
            line: r.line,
            msg: format!(
                "timestamp {} is {} steps of {step} s after the first row ({} s after the row before it): more than {} \
                 steps, the limit (--max-steps N raises it)",
                r.t,
                slot(r.t),
                r.t - prev.t,
                limits.max_steps
            ),
        });
    }
    let len = slot(rows[rows.len() - 1].t) as usize + 1;
    let (mut sum, mut count) = (vec![0.0; len], vec![0usize; len]);
    for r in &rows {
        let i = (slot(r.t) as usize).min(len - 1);
        sum[i] += r.v;
        count[i] += 1;
    }
    let duplicates = count.iter().map(|c| c.saturating_sub(1)).sum();
    let mut values: Vec<f64> =
        sum.iter().zip(&count).map(|(s, &c)| if c > 0 { s / c as f64 } else { f64::NAN }).collect();
    let (mut filled, mut long_gaps) = (0, 0);
    let mut last = 0;
    for i in 1..len {
        if count[i] == 0 {
            continue;
        }
        let gap = i - last - 1;
        if gap > 0 {
            filled += gap;
            long_gaps += usize::from(gap > SHORT_GAP);
            let (a, b) = (values[last], values[i]);
            for k in 1..=gap {
                values[last + k] = a + (b - a) * k as f64 / (gap + 1) as f64;
            }
        }
        last = i;
    }
    let observed = count.iter().map(|&c| c > 0).collect();
    Ok(Series { name: name.into(), start, step_s: step, values, observed, duplicates, filled, long_gaps })
}
