//! The built `noyau` binary: scripts, notebooks (outputs in order, figures written), the REPL, help and exit codes.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::reproducers::{self, Expect};

/// A fresh folder for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("noyau-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).expect("write a test file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `noyau ARGS` started with piped standard streams and a temporary HOME.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_noyau"))
        .args(args)
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("noyau runs")
}

fn noyau(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = spawn(args);
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("noyau finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn a_passing_script_exits_zero() {
    let dir = TempDir::new("pass");
    let script = dir.write("ok.rhai", "let x = tensor([1.0, 2.0]);\nprint(x.sum());\nassert_close(x.sum(), 3.0);\n");
    let out = noyau(&["run", arg(&script)], None);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "tensor(3., dtype=float32)\n");
}

#[test]
fn a_failing_script_exits_non_zero_with_the_position() {
    let dir = TempDir::new("fail");
    let script = dir.write("bad.rhai", "let x = ones(2, 3);\n\nlet y = x.sum(4);\nprint(\"not reached\");\n");
    let out = noyau(&["run", arg(&script)], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.rhai:3:11: sum(dim=4): dim must be"), "{err}");
    assert!(err.contains("    let y = x.sum(4);\n              ^"), "{err}");
    assert!(!text(&out.stdout).contains("not reached"));
}

/// A notebook JSON with the given cells (cell type, source).
/// A formula of 10⁵ nodes built by a loop runs through `noyau run`: no pass recurses on formula size.
#[test]
fn a_formula_of_1e5_nodes_runs() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/deep_formula.rhai");
    let out = noyau(&["run", arg(&script)], None);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "deep formula ok\n");
}

/// Ctrl-C (SIGINT) during a REPL cell stops that cell; the REPL and its variables survive.
#[test]
fn sigint_stops_a_repl_cell_and_keeps_the_session() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    let mut child = spawn(&["repl"]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"let kept = 5;\nlet n = 0; loop { n += 1; }\nkept + 1\n").expect("write stdin");
    drop(stdin);
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stderr.take().expect("stderr");
    let sink = stderr.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // Signal until the loop reports its interrupt (a signal that comes before the cell starts
    // is forgotten when it starts, as in the kernel).
    let start = std::time::Instant::now();
    while !stderr.lock().unwrap().contains("interrupted") {
        assert!(start.elapsed().as_secs() < 60, "the loop was never interrupted: {}", stderr.lock().unwrap());
        std::thread::sleep(std::time::Duration::from_millis(300));
        // SAFETY: kill sends a signal to the child we started; no memory is involved.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    }
    let out = child.wait_with_output().expect("noyau finishes");
    reader.join().expect("the reader ends");
    assert!(out.status.success(), "stderr: {}", stderr.lock().unwrap());
    assert!(text(&out.stdout).lines().any(|l| l.trim() == "6"), "stdout: {}", text(&out.stdout));
}

/// Every reproducer of tests/reproducers through `noyau run`: a clean error at its position, the
/// exit status it asks for, or a run to its end; never a crash.
#[test]
fn every_reproducer_ends_cleanly() {
    let mut failures = Vec::new();
    for case in reproducers::cases() {
        let out = Command::new(env!("CARGO_BIN_EXE_noyau"))
            .args(["run", arg(&case.path)])
            .env("HOME", std::env::temp_dir())
            .env("NOYAU_MEMORY_LIMIT", reproducers::MEMORY_LIMIT)
            .output()
            .expect("noyau runs");
        let (code, stderr) = (out.status.code(), text(&out.stderr));
        let ok = !stderr.contains("panicked")
            && match &case.expect {
                Expect::Ok => code == Some(0),
                Expect::Exit(n) => code == Some(*n),
                Expect::Error(t) => {
                    code == Some(1) && reproducers::has_position(&stderr, &case.name) && stderr.contains(t.as_str())
                }
            };
        if !ok {
            failures.push(format!("{} ({:?}): status {code:?}\n{stderr}", case.name, case.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn notebook(cells: &[(&str, &str)]) -> String {
    let cells: Vec<serde_json::Value> = cells
        .iter()
        .map(|(kind, source)| serde_json::json!({"cell_type": kind, "metadata": {}, "source": source}))
        .collect();
    serde_json::json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}).to_string()
}

#[test]
fn a_notebook_prints_outputs_in_order_and_writes_figures() {
    let dir = TempDir::new("notebook");
    let nb = dir.write(
        "nb.ipynb",
        &notebook(&[
            ("markdown", "# A title"),
            ("code", "let x = tensor([1.0, 2.0]);\nprint(\"hello\");"),
            ("code", "save_npy(\"v.npy\", x);\nx.sum()"),
            // Rust cells see the notebook's folder as the current one, as Rhai cells do.
            ("code", "%%rust\nlet v = load_npy(\"v.npy\").unwrap();\nprintln!(\"from rust {}\", v.to_vec_f64().iter().sum::<f64>());\nv.shape().len()"),
            // The first bytes of a PNG file, as base64: the figure is written as given.
            ("code", "display(#{\"image/png\": \"iVBORw0KGgo=\", \"text/plain\": \"<figure>\"});"),
            ("code", "\"last\""),
        ]),
    );
    let out = noyau(&["run", arg(&nb)], None);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let fig = dir.0.join("nb-fig1.png");
    // The Rust cell runs through evcxr when the binary has it, and is skipped otherwise.
    let rust = if cfg!(feature = "rust-cells") { "from rust 3\n1\n" } else { "" };
    assert_eq!(
        text(&out.stdout),
        format!("hello\ntensor(3., dtype=float32)\n{rust}[figure {}]\n\"last\"\n", fig.display())
    );
    assert_eq!(std::fs::read(&fig).expect("the figure file"), b"\x89PNG\r\n\x1a\n");
    if !cfg!(feature = "rust-cells") {
        assert!(
            text(&out.stderr).contains("cell 4: %%rust cells need a noyau built with the rust-cells feature"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_notebook_error_names_the_cell_and_stops() {
    let dir = TempDir::new("notebook-error");
    let nb = dir.write(
        "nb.ipynb",
        &notebook(&[("code", "let x = 1;"), ("code", "let y = x.foo();"), ("code", "print(\"after\")")]),
    );
    let out = noyau(&["run", arg(&nb)], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nb.ipynb:cell 2:1:11: "), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("after"));
}

#[test]
fn the_repl_continues_incomplete_input_and_prints_values() {
    let out = noyau(
        &["repl"],
        Some("fn double(v) {\n  v * 2\n}\ndouble(tensor([1.0, 2.0]))\nlet a = [1,\n 2];\na\nnope()\n21 * 2\n"),
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tensor([2., 4.], dtype=float32)\n[1, 2]\n42\n"), "{stdout}");
    assert!(text(&out.stderr).contains("no function nope"), "{}", text(&out.stderr));
}

#[test]
fn help_usage_and_exit_codes() {
    let out = noyau(&["--help"], None);
    assert!(out.status.success() && text(&out.stdout).contains("noyau run FILE"));
    let out = noyau(&["help", "sum"], None);
    assert!(out.status.success() && text(&out.stdout).contains("sum(x: Tensor, dim: int) -> Tensor"));
    let out = noyau(&["help"], None);
    assert!(out.status.success() && text(&out.stdout).contains("Functions:"));
    assert_eq!(noyau(&["help", "sumn"], None).status.code(), Some(1));
    assert_eq!(noyau(&[], None).status.code(), Some(2));
    assert_eq!(noyau(&["frobnicate"], None).status.code(), Some(2));
    assert_eq!(noyau(&["frobnicate", "--help"], None).status.code(), Some(2));
    let out = noyau(&["run", "/no/such/script.rhai"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /no/such/script.rhai"), "{}", text(&out.stderr));
}

#[test]
fn every_subcommand_answers_help_with_its_options() {
    for (args, expected) in [
        (&["run", "--help"][..], &["Usage: noyau run FILE", "-h, --help"][..]),
        (&["repl", "-h"], &["Usage: noyau repl"]),
        (&["help", "--help"], &["Usage: noyau help [NAME]"]),
        (&["jupyter", "install", "--help"], &["--user", "--sys-prefix", "--prefix PATH"]),
        (&["jupyter", "--help"], &["noyau jupyter install"]),
        (&["kernel", "--help"], &["--connection-file FILE"]),
    ] {
        let out = noyau(args, None);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        for e in expected {
            assert!(stdout.contains(e), "{args:?}: {e:?} missing from\n{stdout}");
        }
    }
    // `--help` is never mistaken for a file to run or a folder to install into.
    assert!(!Path::new("--help").exists());
}
