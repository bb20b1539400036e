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
