//! The module layering docs/ARCHITECTURE.md states, checked on the source: `ui` and `cli` do
//! not import each other (only the binary, `main.rs`, knows both).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// Lines of the files under `src/{module}` (and `src/{module}.rs`) that name `crate::{other}`.
fn imports(module: &str, other: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = rust_files(&src.join(module));
    files.push(src.join(format!("{module}.rs")));
    let needle = format!("crate::{other}");
    let mut found = Vec::new();
    for f in files.iter().filter(|f| f.exists()) {
        for (i, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            if line.contains(&needle) {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn ui_and_cli_do_not_import_each_other() {
    assert_eq!(imports("cli", "ui"), Vec::<String>::new(), "cli uses everything but ui");
    assert_eq!(imports("ui", "cli"), Vec::<String>::new(), "ui does not use cli");
}

#[test]
fn the_check_finds_an_import_where_there_is_one() {
    assert!(!imports("cli", "source").is_empty(), "cli reads the source flags");
}
