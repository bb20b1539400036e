//! The reproducer scripts of `tests/reproducers/` and what each must do, read from its first line.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;

/// The memory budget the reproducers run under, so that the allocation cases fail alike on
/// every machine.
pub const MEMORY_LIMIT: &str = "4G";

/// What a reproducer must do.
#[derive(Debug)]
pub enum Expect {
    /// Run to its end (it asserts its own values).
    Ok,
    /// End with this exit status under `noyau run`.
    Exit(i32),
    /// Stop with an error whose message contains this text.
    Error(String),
}

pub struct Case {
    pub name: String,
    pub path: PathBuf,
    pub source: String,
    pub expect: Expect,
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reproducers")
}

/// Every reproducer, in file-name order.
pub fn cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/reproducers exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "only {} reproducers found", paths.len());
    paths
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path).expect("a readable reproducer");
            let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 name").to_string();
            let header = source.lines().next().and_then(|l| l.strip_prefix("// expect: ")).unwrap_or("");
            let expect = match header.split_once(' ').unwrap_or((header, "")) {
                ("ok", "") => Expect::Ok,
                ("exit", n) => Expect::Exit(n.parse().expect("exit N")),
                ("error", text) => Expect::Error(text.to_string()),
                _ => panic!("{name}: the first line must be `// expect: ok`, `exit N` or `error TEXT`"),
            };
            Case { name, path, source, expect }
        })
        .collect()
}

/// Whether `stderr` names `name` at a `line:col` position: `…/name.rhai:3:11: …`.
pub fn has_position(stderr: &str, name: &str) -> bool {
    stderr.match_indices(&format!("{name}:")).any(|(k, m)| {
        let rest = &stderr[k + m.len()..];
        let mut parts = rest.splitn(3, ':');
        let numeric = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
        numeric(parts.next()) && numeric(parts.next())
    })
}
