//! The tutorial notebooks of `notebooks/`: each runs headless through `noyau run` (its cells check
//! their own numbers with `assert_close`), in a copy under a temporary folder so that the figures
//! it writes stay out of the repository, and declares the Noyau kernel.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn notebooks() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../notebooks");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("notebooks/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    found.sort();
    found
}

#[test]
fn every_notebook_declares_the_noyau_kernel() {
    let found = notebooks();
    assert!(!found.is_empty(), "no notebook in notebooks/");
    for path in found {
        let nb: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
        let name = path.display();
        assert_eq!(nb["nbformat"], 4, "{name}");
        assert_eq!(nb["metadata"]["kernelspec"]["name"], "noyau", "{name}");
        assert_eq!(nb["metadata"]["kernelspec"]["language"], "rhai", "{name}");
        assert_eq!(nb["metadata"]["language_info"]["name"], "rhai", "{name}");
        let cells = nb["cells"].as_array().expect("a cell list");
        assert!(cells.iter().all(|c| c["id"].is_string()), "{name}: every cell has an id (nbformat 4.5)");
        assert_eq!(cells[0]["cell_type"], "markdown", "{name}: opens with its title");
    }
}

#[test]
fn every_notebook_runs_and_checks_itself() {
    let tmp = std::env::temp_dir().join(format!("noyau-notebooks-{}", std::process::id()));
    let mut failures = Vec::new();
    for path in notebooks() {
        let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        let dir = tmp.join(path.file_stem().expect("a stem"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let copy = dir.join(&name);
        std::fs::copy(&path, &copy).expect("copy the notebook");
        let start = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_noyau"))
            .arg("run")
            .arg(&copy)
            .env("HOME", &tmp)
            .output()
            .expect("noyau runs");
        println!("{name}: {:.1} s", start.elapsed().as_secs_f64());
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            failures.push(format!("{name} failed ({}):\n{err}", out.status));
        } else if !std::fs::read_dir(&dir)
            .expect("temp dir")
            .any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png")))
        {
            failures.push(format!("{name} drew no figure"));
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
