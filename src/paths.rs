//! Where twintop keeps files: config (themes, key bindings), data that must survive a crash
//! (audit log, scheduled actions, LLM exchanges) and logs. `TWINTOP_CONFIG_DIR`,
//! `TWINTOP_DATA_DIR` and `TWINTOP_STATE_DIR` override the platform defaults (tests use them).

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "twintop")
}

fn dir(env: &str, pick: fn(&directories::ProjectDirs) -> PathBuf) -> PathBuf {
    if let Some(v) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return PathBuf::from(v);
    }
    project().map(|p| pick(&p)).unwrap_or_else(|| std::env::temp_dir().join("twintop"))
}

/// `~/.config/twintop` on Linux.
pub fn config_dir() -> PathBuf {
    dir("TWINTOP_CONFIG_DIR", |p| p.config_dir().to_path_buf())
}

/// `~/.local/share/twintop` on Linux.
pub fn data_dir() -> PathBuf {
    dir("TWINTOP_DATA_DIR", |p| p.data_dir().to_path_buf())
}

/// `~/.local/state/twintop` on Linux (logs).
pub fn state_dir() -> PathBuf {
    dir("TWINTOP_STATE_DIR", |p| p.state_dir().unwrap_or(p.cache_dir()).to_path_buf())
}
