//! Where twintop keeps files: config (themes, key bindings), data that must survive a crash
//! (audit log, scheduled actions, LLM exchanges) and logs. `TWINTOP_CONFIG_DIR`,
//! `TWINTOP_DATA_DIR` and `TWINTOP_STATE_DIR` override the platform defaults (tests use them).

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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
pub(crate) fn config_dir() -> PathBuf {
    dir("TWINTOP_CONFIG_DIR", |p| p.config_dir().to_path_buf())
}

/// `~/.local/share/twintop` on Linux.
pub(crate) fn data_dir() -> PathBuf {
    dir("TWINTOP_DATA_DIR", |p| p.data_dir().to_path_buf())
}

/// `~/.local/state/twintop` on Linux (logs).
pub(crate) fn state_dir() -> PathBuf {
    dir("TWINTOP_STATE_DIR", |p| p.state_dir().unwrap_or(p.cache_dir()).to_path_buf())
}

// Files twintop writes (the audit log and its seal, LLM exchanges, the calendar, the log) hold
// what operators decided and what the cluster looks like: they are created 0600, in
// directories twintop creates 0700. A directory that already exists keeps its mode (it may be
// one the user chose, such as a shared parent); the files in it are still 0600.

/// Creates `dir` (and missing parents) if needed: the directory itself 0700, parents with the
/// usual mode.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    b.mode(0o700);
    match b.create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        r => r,
    }
}

/// Options that create a file 0600 (an existing file keeps its mode: see `tighten`).
pub(crate) fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    o.mode(0o600);
    o
}

/// Makes an existing file of ours 0600 (files written by older versions were 0644).
pub(crate) fn tighten(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    Ok(())
}

/// Opens `path` for appending (and reading), creating it 0600 in a private directory.
pub(crate) fn open_private_append(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir(dir)?;
    }
    let f = private_options().create(true).read(true).append(true).open(path)?;
    tighten(&f)?;
    Ok(f)
}

/// Replaces `path` with `bytes` atomically and durably: a 0600 temporary file in the same
/// directory, fsync'd, renamed over `path`, then the directory fsync'd. A crash leaves the old
/// file or the new one, never a mix.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    private_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    remove_orphaned_temps(dir, name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = private_options().write(true).create(true).truncate(true).open(&tmp)?;
        tighten(&f)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written.and_then(|_| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Removes `.NAME.PID.tmp` files of processes that are gone (killed mid-write).
pub(crate) fn remove_orphaned_temps(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let prefix = format!(".{name}.");
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_and_dirs_are_owner_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/twintop");
        let f = dir.join("x.json");
        write_private(&f, b"{}").unwrap();
        assert_eq!((mode(&dir), mode(&f)), (0o700, 0o600));
        let g = dir.join("log.jsonl");
        std::fs::write(&g, "old\n").unwrap();
        std::fs::set_permissions(&g, std::fs::Permissions::from_mode(0o644)).unwrap();
        open_private_append(&g).unwrap();
        assert_eq!(mode(&g), 0o600, "a file an older version left 0644 is tightened");
        write_private(&f, b"{\"b\":1}").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "{\"b\":1}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "no temporary file is left");
    }
}
