//! `[llm]` of `config.toml`: the limits on what one answer may hold. Other tables belong to
//! other parts of twintop; only `[llm]` is read here.

use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LlmConfig {
    /// At most this many actions per answer: the schema's `maxItems`; more are not read.
    pub max_actions: usize,
    /// Bytes of the model's answer read at most; reading stops there.
    pub max_answer_bytes: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            max_actions: super::DEFAULT_MAX_ACTIONS,
            max_answer_bytes: super::DEFAULT_MAX_ANSWER_BYTES,
        }
    }
}

/// Limits a user can read and raise: beyond them the value is an error naming the field.
const MAX_ACTIONS: std::ops::RangeInclusive<usize> = 1..=20;
const MAX_ANSWER_BYTES: std::ops::RangeInclusive<usize> = 1024..=1 << 20;

impl LlmConfig {
    /// `[llm]` of the config in the config dir; a missing file or table is the defaults.
    pub(crate) fn load() -> Result<LlmConfig, String> {
        Self::load_from(&crate::paths::config_dir().join("config.toml"))
    }

    pub(crate) fn load_from(path: &Path) -> Result<LlmConfig, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LlmConfig::default()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        let Some(llm) = table.get("llm") else { return Ok(LlmConfig::default()) };
        let c: LlmConfig = llm
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| format!("{}: [llm]: {}", path.display(), e.message()))?;
        c.check().map_err(|e| format!("{}: [llm] {e}", path.display()))?;
        Ok(c)
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if !MAX_ACTIONS.contains(&self.max_actions) {
            return Err(format!(
                "max_actions = {} is outside {}–{}",
                self.max_actions,
                MAX_ACTIONS.start(),
                MAX_ACTIONS.end()
            ));
        }
        if !MAX_ANSWER_BYTES.contains(&self.max_answer_bytes) {
            return Err(format!(
                "max_answer_bytes = {} is outside {}–{}",
                self.max_answer_bytes,
                MAX_ANSWER_BYTES.start(),
                MAX_ANSWER_BYTES.end()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_read_checked_and_errors_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert_eq!(LlmConfig::load_from(&path), Ok(LlmConfig::default()));
        std::fs::write(&path, "theme = \"dark\"\n[vm]\nurl = \"http://x\"\n").unwrap();
        assert_eq!(LlmConfig::load_from(&path), Ok(LlmConfig::default()));
        std::fs::write(&path, "[llm]\nmax_actions = 5\n").unwrap();
        assert_eq!(LlmConfig::load_from(&path).unwrap().max_actions, 5);
        std::fs::write(&path, "[llm]\nmax_actions = 5000\n").unwrap();
        let e = LlmConfig::load_from(&path).unwrap_err();
        assert!(e.contains("max_actions = 5000 is outside 1–20"), "{e}");
        std::fs::write(&path, "[llm]\nmax_answer_bytes = 10\n").unwrap();
        assert!(LlmConfig::load_from(&path).unwrap_err().contains("max_answer_bytes"));
        std::fs::write(&path, "[llm]\nmax_action = 2\n").unwrap();
        assert!(LlmConfig::load_from(&path).unwrap_err().contains("max_action"));
        std::fs::write(&path, "[llm]\nmax_actions = -1\n").unwrap();
        assert!(LlmConfig::load_from(&path).is_err());
    }
}
