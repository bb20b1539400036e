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
//!
//! evcxr writes cargo's `Compiling <crate>` lines on this process's stderr, which for a kernel is
//! the Jupyter server's terminal. With [`RustCells::stream_compile_output`] (the kernel sets it),
//! stderr is redirected into a pipe while a cell compiles and runs: the crates being compiled
//! show in the cell as an updating progress display (the first cell compiles the engine and its
//! dependencies, a minute or more), and any other line as the cell's stderr. Compile errors keep rustc's whole diagnostic: every span
//! with its label under the cell's line (expected/found), then the notes and help.

use crate::cells::{CellError, RustProcess, SharedSink};
use crate::display::Bundle;
use crate::filelock::FileLock;
use evcxr::{CommandContext, Error as EvcxrError};
use noyau_engine::progress::ProgressHook;
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

static WORK: std::sync::OnceLock<WorkDir> = std::sync::OnceLock::new();

/// Where evcxr works (its crate and target folder), and whether the folder is shared.
struct WorkDir {
    path: std::path::PathBuf,
    /// Held while this process uses a shared folder; None for a private one.
    _lock: Option<FileLock>,
}

/// The folder Rust cells compile in. `NOYAU_RUST_CELLS_DIR` names a folder shared by the runs
/// that set it (kept after them, so the engine compiled by the first is reused by the next:
/// CI's several runs of notebook 07 compile it once); a process that finds it in use by another
/// works in a private folder instead. Without it, a private folder under the system's temporary
/// folder, removed at exit (evcxr's compiled files are hundreds of megabytes).
fn work() -> &'static WorkDir {
    WORK.get_or_init(|| {
        let private = || WorkDir {
            path: std::env::temp_dir().join(format!("noyau-rust-cells-{}", std::process::id())),
            _lock: None,
        };
        let Some(shared) = std::env::var_os("NOYAU_RUST_CELLS_DIR").filter(|d| !d.is_empty()) else {
            return private();
        };
        let shared = std::path::PathBuf::from(shared);
        let lock = std::fs::create_dir_all(&shared)
            .and_then(|()| {
                std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(shared.join(".lock"))
            })
            .and_then(FileLock::try_lock);
        match lock {
            Ok(Some(lock)) => WorkDir { path: shared, _lock: Some(lock) },
            // In use by another process, or unusable: this process compiles on its own.
            _ => private(),
        }
    })
}

/// This process's folder for evcxr's work.
pub fn work_dir() -> std::path::PathBuf {
    work().path.clone()
}

/// Removes the work folder, unless it is the shared one (kept for the next run); nothing when
/// no Rust cell ran.
pub fn remove_work_dir() {
    if let Some(w) = WORK.get().filter(|w| w._lock.is_none()) {
        let _ = std::fs::remove_dir_all(&w.path);
    }
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
    /// Where the compile reports the crates it builds.
    progress: Option<ProgressHook>,
    /// Whether this process's stderr goes to the cell while it runs (in the kernel).
    stream_compile_output: bool,
}

impl RustCells {
    pub fn new(sink: SharedSink, running: Arc<Mutex<Option<RustProcess>>>) -> RustCells {
        RustCells { context: None, sink, running, progress: None, stream_compile_output: false }
    }

    pub fn set_progress(&mut self, hook: ProgressHook) {
        self.progress = Some(hook);
    }

    /// Sends what this process writes on stderr while a cell runs (cargo's `Compiling` lines)
    /// to the cell's output instead. Only where the sink itself does not write on stderr.
    pub fn stream_compile_output(&mut self) {
        self.stream_compile_output = true;
    }

    /// Compiles and runs `code` (the cell without its `%%rust` line).
    pub fn run(&mut self, code: &str, name: &str) -> Result<Bundle, CellError> {
        let capture = if self.stream_compile_output {
            let compiling = Compiling::new(self.sink.clone(), self.progress.clone());
            // Without the redirection (no pipe, say), the lines go to the terminal as before.
            StderrLines::start(move |line| compiling.line(line)).ok()
        } else {
            None
        };
        let result = self.compile_and_run(code, name);
        drop(capture);
        result
    }

    fn compile_and_run(&mut self, code: &str, name: &str) -> Result<Bundle, CellError> {
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

/// An evcxr error as a cell error: each compilation error as `name:line:col: error[E..]: message`
/// followed by rustc's whole diagnostic on the cell's lines (lines counted in the whole cell,
/// `%%rust` being 1): every span with carets (`^` for the primary one, `-` for the others) and
/// its label ("expected `i32`, found `&str`"), then the notes and help.
fn cell_error(e: &EvcxrError, code: &str, name: &str) -> CellError {
    match e {
        EvcxrError::CompilationErrors(errors) => {
            let lines: Vec<&str> = code.lines().collect();
            let mut traceback = Vec::new();
            for error in errors {
                traceback.extend(diagnostic(error, &lines, name));
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

/// One compilation error as rustc shows it, on the cell's `lines`.
fn diagnostic(error: &evcxr::CompilationError, lines: &[&str], name: &str) -> Vec<String> {
    let level = match error.level() {
        "" => "error",
        l => l,
    };
    let code = error.code().map(|c| format!("[{c}]")).unwrap_or_default();
    let mut out = Vec::new();
    let primary = error.primary_spanned_message().and_then(|m| m.span);
    out.push(match primary {
        Some(span) => {
            format!("{name}:{}:{}: {level}{code}: {}", span.start_line + 1, span.start_column, error.message())
        }
        None => format!("{name}: {level}{code}: {}", error.message()),
    });
    // Each line with a span once, the primary span's line first, then a marker line per span
    // on it: carets for the primary span, dashes for the others, each with its label.
    let mut spans: Vec<_> = error.spanned_messages().iter().filter_map(|m| m.span.map(|s| (s, m))).collect();
    spans.sort_by_key(|(s, m)| (!m.is_primary, s.start_line, s.start_column));
    let width = spans.iter().map(|(s, _)| (s.start_line + 1).to_string().len()).max().unwrap_or(1);
    let mut shown_lines: Vec<usize> = Vec::new();
    for (span, _) in &spans {
        if shown_lines.contains(&span.start_line) {
            continue;
        }
        shown_lines.push(span.start_line);
        let Some(text) = lines.get(span.start_line - 1) else { continue };
        out.push(format!("{:>width$} | {text}", span.start_line + 1));
        for (s, m) in spans.iter().filter(|(s, _)| s.start_line == span.start_line) {
            let marks = if s.end_line == s.start_line { s.end_column.saturating_sub(s.start_column) } else { 1 };
            let mark = if m.is_primary { "^" } else { "-" };
            let label = if m.label.is_empty() { String::new() } else { format!(" {}", m.label) };
            out.push(format!(
                "{:>width$} | {}{}{label}",
                "",
                " ".repeat(s.start_column - 1),
                mark.repeat(marks.max(1))
            ));
        }
    }
    // Notes and help, as rustc's children (with a suggested replacement when there is one).
    for child in error.json["children"].as_array().into_iter().flatten() {
        let (Some(level), Some(message)) = (child["level"].as_str(), child["message"].as_str()) else { continue };
        out.push(format!("{level}: {message}"));
        if let Some(replacement) = child["spans"][0]["suggested_replacement"].as_str() {
            out.extend(replacement.trim_end().lines().map(|l| format!("    {l}")));
        }
    }
    if let Some(hint) = error.evcxr_extra_hint() {
        out.push(format!("note: {hint}"));
    }
    if let Some(c) = error.code() {
        out.push(format!("(rustc --explain {c} explains this error)"));
    }
    out
}

/// What the process writes on stderr while a Rust cell runs: the crates cargo compiles feed the
/// progress hook (`compiling Rust  37 crates (noyau_engine)  45.0 s`), other lines go to the cell.
struct Compiling {
    sink: SharedSink,
    progress: Option<ProgressHook>,
    started: std::time::Instant,
    crates: std::sync::atomic::AtomicU64,
    last: Mutex<String>,
}

impl Compiling {
    fn new(sink: SharedSink, progress: Option<ProgressHook>) -> Arc<Compiling> {
        Arc::new(Compiling {
            sink,
            progress,
            started: std::time::Instant::now(),
            crates: Default::default(),
            last: Mutex::new(String::new()),
        })
    }

    /// A line of stderr: cargo's `Compiling` lines become progress (an updating display rather
    /// than a cell output whose presence would depend on what was already compiled); anything
    /// else is the cell's stderr.
    fn line(&self, line: String) {
        match line.trim_start().strip_prefix("Compiling ") {
            Some(krate) => {
                let krate = krate.split_whitespace().next().unwrap_or("").to_string();
                let done = self.crates.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let detail = format!("crates ({krate})");
                *self.last.lock().unwrap_or_else(|e| e.into_inner()) = detail.clone();
                self.report(done, detail, false);
            }
            None => (self.sink)(Event::Stderr(line)),
        }
    }

    fn report(&self, done: u64, detail: String, finished: bool) {
        if let Some(hook) = &self.progress {
            hook.call(&noyau_engine::Progress {
                task: "compiling Rust".into(),
                detail,
                done,
                total: 0,
                elapsed: self.started.elapsed(),
                finished,
            });
        }
    }
}

impl Drop for Compiling {
    fn drop(&mut self) {
        let done = *self.crates.get_mut();
        if done > 0 {
            let last = std::mem::take(&mut *self.last.lock().unwrap_or_else(|e| e.into_inner()));
            self.report(done, last, true);
        }
    }
}

/// While alive, this process's stderr (descriptor 2) is a pipe whose lines go to a callback on
/// a thread of their own; dropping it puts stderr back. Unix only (elsewhere `start` fails and
/// nothing is redirected).
struct StderrLines {
    #[cfg(unix)]
    saved: std::os::fd::OwnedFd,
}

impl StderrLines {
    #[cfg(unix)]
    fn start(on_line: impl Fn(String) + Send + 'static) -> std::io::Result<StderrLines> {
        use std::io::BufRead;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        let (reader, writer) = std::io::pipe()?;
        // SAFETY: dup of the process's own stderr; the new descriptor is owned by `saved`.
        let saved = unsafe { libc::dup(2) };
        if saved < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let saved = unsafe { OwnedFd::from_raw_fd(saved) };
        // SAFETY: descriptor 2 now names the pipe; `writer`'s own descriptor is closed below.
        if unsafe { libc::dup2(writer.as_raw_fd(), 2) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        drop(writer);
        // The thread ends when every write end is closed: when stderr is put back.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(reader).lines().map_while(Result::ok) {
                on_line(line);
            }
        });
        Ok(StderrLines { saved })
    }

    #[cfg(not(unix))]
    fn start(_on_line: impl Fn(String) + Send + 'static) -> std::io::Result<StderrLines> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "stderr redirection needs Unix"))
    }
}

#[cfg(unix)]
impl Drop for StderrLines {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: restores descriptor 2 from the copy this value owns (closing the pipe's end).
        unsafe { libc::dup2(self.saved.as_raw_fd(), 2) };
    }
}
