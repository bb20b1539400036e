//! `%%rust` cells: Rust code compiled and run by evcxr, with `noyau-engine` as a dependency.
//!
//! evcxr keeps one child process (this very binary, re-entered through `evcxr::runtime_hook`
//! at the top of `main`) that loads each compiled cell; variables live there across cells. It
//! starts on the first Rust cell, which also compiles the engine once (the cost of that cell
//! is mostly this compile). The engine is found at the path this crate was built from, or at
//! `NOYAU_ENGINE_PATH`. A prelude gives every cell `noyau_engine`, `ndarray` and
//! `load_npy`/`save_npy`, so tensors cross from Rhai cells (`save_npy` there) in one line.
//!
//! Cells compile like release code: no debug assertions or overflow checks, opt-level 2 for the
//! cell (`:opt` changes it) and 3 for the dependencies, set through a cargo config above evcxr's
//! work folder. The engine's reductions are generic, so they are compiled in the cell's crate:
//! with evcxr's defaults (debug assertions on) a Gaussian sum ran 15 times slower than in
//! release; with these settings it runs at release speed, and the first cell takes no longer.
//!
//! Printed lines stream through the sink while the cell runs; the value of the cell's last
//! expression and what it displays (evcxr's `EVCXR_BEGIN_CONTENT` protocol) form its bundle.
//! An interrupt kills the child process: evcxr restarts it, and the Rust variables are lost
//! (Rhai's are not).

use crate::cells::{CellError, RustProcess, SharedSink};
use crate::display::Bundle;
use evcxr::{CommandContext, Error as EvcxrError};
use noyau_scripting::Event;
use std::sync::{Arc, Mutex};

/// The optimisation level of compiled cells, unless `NOYAU_RUST_OPT` says otherwise (a cell can
/// also say `:opt 1`, which compiles faster).
pub const DEFAULT_OPT: &str = "2";

/// Definitions every Rust cell sees. `load_npy` reads float32 or float64 files (what Rhai's
/// `save_npy` writes) as a `Tensor`; `save_npy` writes one back for Rhai's `load_npy`.
const PRELUDE: &str = r#"
#[allow(unused_imports)] use noyau_engine::{Axis, DType, Genred, Reduction, Tensor};
#[allow(unused_imports)] use ndarray::prelude::*;
fn load_npy(path: &str) -> Result<Tensor, String> {
    match ndarray_npy::read_npy::<_, ArrayD<f32>>(path) {
        Ok(a) => Ok(Tensor::from_array(a)),
        Err(_) => ndarray_npy::read_npy::<_, ArrayD<f64>>(path).map(Tensor::from_array).map_err(|e| format!("{path}: {e}")),
    }
}
fn save_npy(path: &str, t: &Tensor) -> Result<(), String> {
    ndarray_npy::write_npy(path, &t.to_f64_array()).map_err(|e| format!("{path}: {e}"))
}
"#;

/// Cargo configuration above evcxr's work folder: cargo merges it into the profile of the crate
/// evcxr writes (config files override manifests).
const RELEASE_LIKE_PROFILE: &str = "\
[profile.dev]
debug-assertions = false
overflow-checks = false
[profile.dev.package.\"*\"]
opt-level = 3
debug-assertions = false
overflow-checks = false
";

/// This process's folder for evcxr's work (crates, target folder), under the system's temporary folder.
pub fn work_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("noyau-rust-cells-{}", std::process::id()))
}

/// Removes the work folder; evcxr's compiled files are hundreds of megabytes.
pub fn remove_work_dir() {
    // Nothing to remove when no Rust cell ran.
    let _ = std::fs::remove_dir_all(work_dir());
}

/// The folder of the `noyau-engine` crate that Rust cells depend on.
pub fn engine_path() -> String {
    std::env::var("NOYAU_ENGINE_PATH").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../engine").to_string())
}

/// The evcxr context, started on the first Rust cell.
pub struct RustCells {
    context: Option<CommandContext>,
    sink: SharedSink,
    /// Shared with the interrupter: the child process while a cell runs.
    running: Arc<Mutex<Option<RustProcess>>>,
}

impl RustCells {
    pub fn new(sink: SharedSink, running: Arc<Mutex<Option<RustProcess>>>) -> RustCells {
        RustCells { context: None, sink, running }
    }

    /// Compiles and runs `code` (the cell without its `%%rust` line).
    pub fn run(&mut self, code: &str, name: &str) -> Result<Bundle, CellError> {
        if self.context.is_none() {
            self.context = Some(self.start()?);
        }
        let context = self.context.as_mut().expect("started above");
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(context.process_handle());
        let result = context.execute(code);
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match result {
            Ok(outputs) => {
                let mut bundle: Bundle = outputs.content_by_mime_type.into_iter().collect();
                // text/plain first, as for Rhai values (the order of a HashMap is arbitrary).
                bundle.sort_by_key(|(mime, _)| (mime != "text/plain", mime.clone()));
                Ok(bundle)
            }
            Err(e) => Err(cell_error(&e, code, name)),
        }
    }

    /// Starts evcxr (its child process and a first compile), sets the dependencies and the prelude.
    fn start(&mut self) -> Result<CommandContext, CellError> {
        let root = work_dir();
        let io = |e: std::io::Error| {
            CellError::new("RustError", format!("{}: {e}", root.display()), vec![format!("{}: {e}", root.display())])
        };
        std::fs::create_dir_all(root.join(".cargo")).map_err(io)?;
        std::fs::write(root.join(".cargo/config.toml"), RELEASE_LIKE_PROFILE).map_err(io)?;
        if std::env::var_os("EVCXR_TMPDIR").is_none() {
            // evcxr takes its work folder from the environment only. Set once, before evcxr
            // starts, by the thread that runs cells; nothing else reads it concurrently.
            std::env::set_var("EVCXR_TMPDIR", root.join("evcxr"));
        }
        let (mut context, outputs) = CommandContext::new().map_err(|e| cell_error(&e, "", "evcxr"))?;
        // evcxr hands printed lines over channels; forward them while cells run.
        let (out, err) = (self.sink.clone(), self.sink.clone());
        std::thread::spawn(move || outputs.stdout.iter().for_each(|line| out(Event::Stdout(line))));
        std::thread::spawn(move || outputs.stderr.iter().for_each(|line| err(Event::Stderr(line))));
        let opt = std::env::var("NOYAU_RUST_OPT").unwrap_or_else(|_| DEFAULT_OPT.to_string());
        let setup = format!(
            ":opt {opt}\n:dep noyau-engine = {{ path = \"{}\" }}\n:dep ndarray = \"0.17\"\n:dep ndarray-npy = {{ version = \"0.10\", default-features = false }}\n{PRELUDE}",
            engine_path().replace('\\', "/")
        );
        context.execute(&setup).map_err(|e| cell_error(&e, &setup, "Rust cells' prelude"))?;
        Ok(context)
    }
}

impl Drop for RustCells {
    fn drop(&mut self) {
        if self.context.take().is_some() {
            remove_work_dir();
        }
    }
}

/// An evcxr error as a cell error: compilation errors as `name:line:col: error[E..]: message`
/// with the line and carets under the span (lines counted in the whole cell, `%%rust` being 1).
fn cell_error(e: &EvcxrError, code: &str, name: &str) -> CellError {
    match e {
        EvcxrError::CompilationErrors(errors) => {
            let lines: Vec<&str> = code.lines().collect();
            let mut traceback = Vec::new();
            for error in errors {
                let code = error.code().map(|c| format!("[{c}]")).unwrap_or_default();
                let primary = error.primary_spanned_message().and_then(|m| m.span);
                match primary {
                    Some(span) => {
                        traceback.push(format!(
                            "{name}:{}:{}: error{code}: {}",
                            span.start_line + 1,
                            span.start_column,
                            error.message()
                        ));
                        if let Some(text) = lines.get(span.start_line - 1) {
                            let width = if span.end_line == span.start_line {
                                span.end_column.saturating_sub(span.start_column)
                            } else {
                                1
                            };
                            traceback.push(format!("    {text}"));
                            traceback.push(format!(
                                "    {}{}",
                                " ".repeat(span.start_column - 1),
                                "^".repeat(width.max(1))
                            ));
                        }
                    }
                    None => traceback.push(format!("{name}: error{code}: {}", error.message())),
                }
                traceback.extend(error.help().into_iter().map(|h| format!("help: {h}")));
            }
            let evalue = errors.first().map(|e| e.message()).unwrap_or_default();
            CellError::new("CompilationError", evalue, traceback)
        }
        EvcxrError::SubprocessTerminated(msg) => {
            let msg = format!("{msg} (the Rust cells' variables are lost; Rhai's are kept)");
            CellError::new("Interrupted", msg.clone(), vec![msg])
        }
        other => {
            CellError::new("RustError", other.to_string(), other.to_string().lines().map(str::to_string).collect())
        }
    }
}
