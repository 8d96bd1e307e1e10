//! The console's settings: `config.toml` in the config dir (`~/.config/twintop/` on Linux),
//! and the one-line error format for every TOML file the console reads (config, themes).

use super::views::heatmap::Metric;
pub(crate) use crate::config_file::toml_error;
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
    /// `[guardrails]`: read by validation and approval alike (`guardrails::load`).
    pub guardrails: Option<toml::Table>,
    /// `[llm]`: limits on an LLM answer (`advise::llm::config::LlmConfig`).
    pub llm: Option<toml::Table>,
    /// Workloads (key or name) whose rollback after a failed change is applied without asking.
    pub auto_rollback: Option<Vec<String>>,
}

/// Where twintop keeps its config (`config.toml`, `themes/`), if the platform has a home.
pub(crate) fn config_dir() -> Option<PathBuf> {
    Some(crate::paths::config_dir())
}

/// Reads `config.toml` from `dir`. A missing file is the default config; a malformed one is
/// the default config plus a one-line error naming file, line and key.
pub(crate) fn load_config(dir: Option<&Path>) -> (Config, Option<String>) {
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
}
