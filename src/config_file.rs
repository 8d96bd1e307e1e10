//! config.toml: the one-line error format (file, line, key) every TOML file twintop reads
//! reports with — the console's settings, its themes, and the guardrails the headless commands
//! read too.

use std::path::Path;

/// `auto_rollback` of `config.toml` in `config_dir`: the workloads whose rollback is applied
/// without asking (the console reads it with the rest of its settings).
pub(crate) fn auto_rollback(config_dir: &Path) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        auto_rollback: Vec<String>,
    }
    let path = config_dir.join("config.toml");
    let Ok(src) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    toml::from_str::<Doc>(&src).map(|d| d.auto_rollback).map_err(|e| toml_error(&path, &src, &e))
}

/// `FILE: line N, key K: MESSAGE` on one line, from toml's error span.
pub(crate) fn toml_error(path: &Path, src: &str, e: &toml::de::Error) -> String {
    let msg = e.message().lines().next().unwrap_or("invalid TOML").trim().to_string();
    let Some(span) = e.span() else { return format!("{}: {msg}", path.display()) };
    let start = span.start.min(src.len());
    let line_no = src[..start].matches('\n').count() + 1;
    match key_at(src, line_no) {
        Some(key) => format!("{}: line {line_no}, key `{key}`: {msg}", path.display()),
        None => format!("{}: line {line_no}: {msg}", path.display()),
    }
}

/// `FILE: line N, key `TABLE.KEY`: MESSAGE` for a value TOML accepts but its reader refuses
/// (a NaN share, a negative time).
pub(crate) fn value_error(path: &Path, src: &str, table: &str, key: &str, msg: &str) -> String {
    let mut inside = false;
    for (i, l) in src.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            inside = t.trim_matches(|c| c == '[' || c == ']').trim() == table;
        } else if inside && t.split('=').next().is_some_and(|k| k.trim().trim_matches('"') == key) {
            return format!("{}: line {}, key `{table}.{key}`: {msg}", path.display(), i + 1);
        }
    }
    format!("{}: key `{table}.{key}`: {msg}", path.display())
}

/// The dotted key whose value spans `line_no` (1-based): the nearest `key =` at or above
/// it, prefixed by the `[table]` it sits in.
fn key_at(src: &str, line_no: usize) -> Option<String> {
    let lines: Vec<&str> = src.lines().collect();
    let upto = line_no.min(lines.len());
    let mut key = None;
    for l in lines[..upto].iter().rev() {
        let t = l.trim();
        if t.starts_with('[') {
            let table = t.trim_matches(|c| c == '[' || c == ']').trim();
            return Some(match key {
                Some(k) => format!("{table}.{k}"),
                None => table.to_string(),
            });
        }
        if key.is_none()
            && !t.starts_with('#')
            && let Some((k, _)) = t.split_once('=')
        {
            key = Some(k.trim().trim_matches('"').to_string());
        }
    }
    key
}
