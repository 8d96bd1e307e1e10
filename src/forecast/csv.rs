//! Reading `timestamp,value` series from CSV text (the caller reads the file): duplicate
//! timestamps are averaged, the series is put on a regular grid at the median step, and
//! missing steps are filled by linear interpolation (long gaps are counted so a report can
//! say so). Errors name the source and line.

use chrono::{DateTime, NaiveDateTime};

/// Gaps up to this many steps count as short.
pub const SHORT_GAP: usize = 12;

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// Unix seconds of the first value.
    pub start: i64,
    pub step_s: i64,
    pub values: Vec<f64>,
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

/// Parses CSV `text` (with a header) from `source_name`. The timestamp column is `timestamp`
/// or `time`, else the first; the value column is `column`, else `value`, else the second.
pub fn parse(text: &str, source_name: &str, column: Option<&str>) -> Result<Series, SeriesError> {
    let file_err = |msg: String| SeriesError::File { source_name: source_name.into(), msg };
    let mut rd = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
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
    let mut rows: Vec<(i64, f64)> = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            SeriesError::Line { source_name: source_name.into(), line, msg: e.to_string() }
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let line_err = |msg: String| SeriesError::Line { source_name: source_name.into(), line, msg };
        let ts = rec.get(ts_col).unwrap_or("");
        let t = parse_time(ts)
            .ok_or_else(|| line_err(format!("timestamp {ts:?} is not a date-time or unix time")))?;
        let v = rec.get(val_col).unwrap_or("");
        if v.is_empty() {
            continue; // a missing value is a gap
        }
        let v: f64 = v.parse().map_err(|_| line_err(format!("value {v:?} is not a number")))?;
        if !v.is_finite() {
            return Err(line_err(format!("value {v} is not finite")));
        }
        rows.push((t, v));
    }
    regularise(rows, source_name).map_err(file_err)
}

fn parse_time(s: &str) -> Option<i64> {
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    let n: f64 = s.parse().ok()?;
    // Unix time in ms when it is too large for seconds.
    n.is_finite().then(|| if n.abs() > 1e11 { (n / 1000.0) as i64 } else { n as i64 })
}

/// Sorts, merges duplicates, snaps to the median step and interpolates gaps.
pub fn regularise(mut rows: Vec<(i64, f64)>, name: &str) -> Result<Series, String> {
    if rows.len() < 2 {
        return Err(format!("{} value(s): a series needs at least 2", rows.len()));
    }
    rows.sort_by_key(|r| r.0);
    let mut steps: Vec<i64> = rows.windows(2).map(|w| w[1].0 - w[0].0).filter(|d| *d > 0).collect();
    if steps.is_empty() {
        return Err("every row has the same timestamp".into());
    }
    steps.sort_unstable();
    let step = steps[steps.len() / 2];
    let start = rows[0].0;
    let len = ((rows[rows.len() - 1].0 - start) as f64 / step as f64).round() as usize + 1;
    let (mut sum, mut count) = (vec![0.0; len], vec![0usize; len]);
    for (t, v) in &rows {
        let i = (((t - start) as f64 / step as f64).round() as usize).min(len - 1);
        sum[i] += v;
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
    Ok(Series { name: name.into(), start, step_s: step, values, duplicates, filled, long_gaps })
}
