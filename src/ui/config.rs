//! The console's settings: `config.toml` in the config dir (`~/.config/twintop/` on Linux),
//! and the one-line error format for every TOML file the console reads (config, themes).

use super::views::heatmap::Metric;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Settings from `config.toml`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Theme name (built-in `dark`, `light`, `colorblind`, or a file in `themes/`).
    pub theme: Option<String>,
    /// Heatmap metric shown first: `rub`, `cpu`, `mem`, `bw` or `lat`.
    pub metric: Option<Metric>,
    /// Capture the mouse (click to select, wheel to scroll). Default true.
    pub mouse: Option<bool>,
    /// `[vm]`: read by the VictoriaMetrics source (`source::victoria::VmConfig::load`).
    pub vm: Option<toml::Table>,
    /// `[guardrails]`: read by the approval flow (`act::guardrails::Guardrails`).
    pub guardrails: Option<toml::Table>,
    /// `[llm]`: limits on an LLM answer (`advise::llm::config::LlmConfig`).
    pub llm: Option<toml::Table>,
    /// Workloads (key or name) whose rollback after a failed change is applied without asking.
    pub auto_rollback: Option<Vec<String>>,
}

/// `[guardrails]` of `config.toml` as the approval flow's rules. Errors name file, line and key.
pub fn load_guardrails(dir: Option<&Path>) -> Result<crate::act::guardrails::Guardrails, String> {
    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        guardrails: crate::act::guardrails::Guardrails,
    }
    let Some(path) = dir.map(|d| d.join("config.toml")) else { return Ok(Default::default()) };
    let Ok(src) = std::fs::read_to_string(&path) else { return Ok(Default::default()) };
    toml::from_str::<Doc>(&src).map(|d| d.guardrails).map_err(|e| toml_error(&path, &src, &e))
}

/// Where twintop keeps its config (`config.toml`, `themes/`), if the platform has a home.
pub fn config_dir() -> Option<PathBuf> {
    Some(crate::paths::config_dir())
}

/// Reads `config.toml` from `dir`. A missing file is the default config; a malformed one is
/// the default config plus a one-line error naming file, line and key.
pub fn load_config(dir: Option<&Path>) -> (Config, Option<String>) {
    let Some(path) = dir.map(|d| d.join("config.toml")) else { return (Config::default(), None) };
    match std::fs::read_to_string(&path) {
        Ok(src) => match parse_config(&src) {
            Ok(c) => (c, None),
            Err(e) => (Config::default(), Some(toml_error(&path, &src, &e) + "; using defaults")),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Config::default(), None),
        Err(e) => (Config::default(), Some(format!("{}: {e}; using defaults", path.display()))),
    }
}

pub fn parse_config(src: &str) -> Result<Config, toml::de::Error> {
    toml::from_str(src)
}

/// `FILE: line N, key K: MESSAGE` on one line, from toml's error span.
pub fn toml_error(path: &Path, src: &str, e: &toml::de::Error) -> String {
    let msg = e.message().lines().next().unwrap_or("invalid TOML").trim().to_string();
    let Some(span) = e.span() else { return format!("{}: {msg}", path.display()) };
    let start = span.start.min(src.len());
    let line_no = src[..start].matches('\n').count() + 1;
    match key_at(src, line_no) {
        Some(key) => format!("{}: line {line_no}, key `{key}`: {msg}", path.display()),
        None => format!("{}: line {line_no}: {msg}", path.display()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_config_names_file_line_and_key() {
        let src = "theme = \"dark\"\nmouse = \"yes\"\n";
        let e = parse_config(src).unwrap_err();
        let line = toml_error(Path::new("/x/config.toml"), src, &e);
        assert!(line.starts_with("/x/config.toml: line 2, key `mouse`:"), "{line}");
        assert_eq!(line.lines().count(), 1);
    }

    #[test]
    fn unknown_metric_is_reported_with_its_key() {
        let src = "metric = \"heat\"\n";
        let e = parse_config(src).unwrap_err();
        let line = toml_error(Path::new("c.toml"), src, &e);
        assert!(line.contains("line 1, key `metric`: unknown metric \"heat\""), "{line}");
        assert_eq!(parse_config("metric = \"RUB\"").unwrap().metric, Some(Metric::Rub));
    }

    #[test]
    fn unknown_key_is_reported_on_its_line() {
        let src = "# settings\n\nthem = \"light\"\n";
        let e = parse_config(src).unwrap_err();
        let line = toml_error(Path::new("c.toml"), src, &e);
        assert!(line.contains("line 3") && line.contains("`them`"), "{line}");
    }

    #[test]
    fn missing_config_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_config(Some(dir.path())), (Config::default(), None));
        std::fs::write(dir.path().join("config.toml"), "theme = \"light\"\nmetric = \"rub\"\n").unwrap();
        let (c, err) = load_config(Some(dir.path()));
        assert_eq!(err, None);
        assert_eq!(c.theme.as_deref(), Some("light"));
    }

    #[test]
    fn guardrails_table_parses_and_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_guardrails(Some(dir.path())), Ok(Default::default()));
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "theme = \"dark\"\n[guardrails]\nreadonly = true\nmax_replica_change = 3\n")
            .unwrap();
        let g = load_guardrails(Some(dir.path())).unwrap();
        assert!(g.readonly && g.max_replica_change == 3 && g.cooldown_secs == 300);
        assert_eq!(load_config(Some(dir.path())).1, None, "the console's config accepts the table");
        std::fs::write(&cfg, "[guardrails]\nreadonly = true\ncooldown = 5\n").unwrap();
        let e = load_guardrails(Some(dir.path())).unwrap_err();
        assert!(e.contains("config.toml: line 3") && e.contains("cooldown"), "{e}");
    }
}
