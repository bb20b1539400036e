//! Runs every script of `tests/scripts/`: each asserts its own results (with `assert` and `assert_close`).

use noyau_scripting::Session;
use std::path::PathBuf;

#[test]
fn every_script_passes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/scripts exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no script in {}", dir.display());
    let mut failures = Vec::new();
    for path in &scripts {
        let mut session = Session::new();
        match session.run_file(path) {
            Ok(_) => println!("ok   {}", path.display()),
            Err(e) => failures.push(format!("FAIL {}\n{e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{} of {} scripts failed:\n{}", failures.len(), scripts.len(), failures.join("\n\n"));
}

/// Whether `text` calls `name` (as `name(` or `.name(` not preceded by an identifier character).
fn calls(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(k, _)| {
        let before = text[..k].chars().next_back();
        let after = &text[k + name.len()..];
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with('(')
    })
}

#[test]
fn every_function_is_used_by_some_script() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let text: String = std::fs::read_dir(&dir)
        .expect("tests/scripts exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    let session = Session::new();
    let json = session.engine().gen_fn_metadata_to_json(false).expect("metadata");
    let meta: serde_json::Value = serde_json::from_str(&json).expect("metadata is JSON");
    let mut missing: Vec<String> = meta["functions"]
        .as_array()
        .expect("a function list")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .filter(|name| match name.strip_prefix("get$") {
            Some(prop) => !text.contains(&format!(".{prop}")),
            None => name.starts_with(|c: char| c.is_alphabetic()) && !name.contains('$') && !calls(&text, name),
        })
        .map(str::to_string)
        .collect();
    missing.dedup();
    assert!(missing.is_empty(), "functions that no script in tests/scripts uses: {}", missing.join(", "));
}
