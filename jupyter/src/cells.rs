//! The one cell executor behind `noyau run nb.ipynb` and the Jupyter kernel: Rhai cells in a
//! session, `%%rust` cells through evcxr (feature `rust-cells`).
//!
//! Both kinds of cell report alike: text through the sink as it is printed, rich displays
//! through the sink as they are shown, the cell's value as a display bundle, and errors as a
//! [`CellError`] (name, message, and traceback lines with the cell's line and a caret). Rhai
//! variables and functions live across cells; so do those of Rust cells, in evcxr's process.

use crate::display::{value_bundle, Bundle};
use noyau_scripting::{Error, Event, Session};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where a cell's output goes. `Send`, unlike a session's own sink, because Rust cells print
/// from evcxr's reader threads.
pub type SharedSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A failed cell, as Jupyter shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CellError {
    /// `SyntaxError`, `ScriptError`, `Interrupted`, `IOError`, `CompilationError`, `RustError`.
    pub ename: String,
    pub evalue: String,
    /// The lines to print: position and message, then the source line and a caret.
    pub traceback: Vec<String>,
}

impl CellError {
    pub fn new(ename: &str, evalue: impl Into<String>, traceback: Vec<String>) -> CellError {
        CellError { ename: ename.to_string(), evalue: evalue.into(), traceback }
    }

    /// A Rhai error: its display (`cell:line:col: message`, line, caret) as the traceback.
    /// `interrupted` says that an interrupt was requested: a reduction stopped by it fails with
    /// the engine's error, which the interpreter cannot tell from others.
    pub fn from_script(e: &Error, interrupted: bool) -> CellError {
        let traceback = e.to_string().lines().map(str::to_string).collect();
        match e {
            Error::Script(s) if s.interrupted || interrupted => {
                CellError::new("Interrupted", s.message.clone(), traceback)
            }
            Error::Script(s) if s.message.starts_with("syntax error") => {
                CellError::new("SyntaxError", s.message.clone(), traceback)
            }
            Error::Script(s) => CellError::new("ScriptError", s.message.clone(), traceback),
            Error::Io { .. } => CellError::new("IOError", e.to_string(), traceback),
        }
    }

    /// The whole error as terminal text.
    pub fn text(&self) -> String {
        self.traceback.join("\n")
    }
}

/// Whether a cell is for Rust (evcxr) rather than Rhai.
pub fn is_rust_cell(source: &str) -> bool {
    source.trim_start().starts_with("%%rust")
}

/// Stops the running cell from another thread; the state of the cells stays.
#[derive(Clone)]
pub struct Interrupter {
    cancel: Arc<AtomicBool>,
    /// The evcxr process running a Rust cell, while one runs.
    rust: Arc<Mutex<Option<RustProcess>>>,
}

/// What interrupting a Rust cell stops: the process running the compiled code.
pub type RustProcess = Arc<Mutex<std::process::Child>>;

impl Interrupter {
    /// Rhai loops and reductions stop at their next check of the flag; a Rust cell's process is
    /// killed (Rust cells have no safe point to stop at), which loses the Rust cells' variables.
    pub fn interrupt(&self) {
        self.cancel.store(true, Ordering::Relaxed);
        if let Some(child) = self.rust.lock().ok().and_then(|r| r.clone()) {
            if let Ok(mut c) = child.lock() {
                // An already finished process is fine: the cell is ending anyway.
                let _ = c.kill();
            }
        }
    }
}

/// Runs cells, Rhai or Rust, in one persistent state.
pub struct Cells {
    session: Session,
    /// Where the refusal of a Rust cell is printed when evcxr is not built in.
    #[cfg(not(feature = "rust-cells"))]
    sink: SharedSink,
    interrupter: Interrupter,
    #[cfg(feature = "rust-cells")]
    rust: crate::rust_cells::RustCells,
}

impl Cells {
    pub fn new(sink: SharedSink) -> Cells {
        let s = sink.clone();
        let session = Session::with_sink(Rc::new(move |e| s(e)));
        let interrupter = Interrupter { cancel: session.cancel_flag(), rust: Arc::new(Mutex::new(None)) };
        Cells {
            #[cfg(feature = "rust-cells")]
            rust: crate::rust_cells::RustCells::new(sink, interrupter.rust.clone()),
            #[cfg(not(feature = "rust-cells"))]
            sink,
            session,
            interrupter,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    pub fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    /// Shows what the process writes on stderr while a Rust cell runs (cargo's progress while
    /// it compiles) in the cell's output: for the kernel, whose sink does not write on stderr.
    pub fn stream_compile_output(&mut self) {
        #[cfg(feature = "rust-cells")]
        self.rust.stream_compile_output();
    }

    /// Where long work reports its progress: reductions and Sinkhorn loops of Rhai cells, and
    /// the compile of Rust cells.
    pub fn set_progress(&mut self, hook: noyau_engine::progress::ProgressHook) {
        #[cfg(feature = "rust-cells")]
        self.rust.set_progress(hook.clone());
        self.session.context().set_progress(Some(hook));
    }

    /// Runs one cell (named `name` in error positions) and returns the bundle showing its value,
    /// empty when the cell ends with a statement.
    pub fn run(&mut self, source: &str, name: &str) -> Result<Bundle, CellError> {
        if is_rust_cell(source) {
            return self.run_rust(source, name);
        }
        let interrupted = || self.interrupter.cancel.load(Ordering::Relaxed);
        let value = self.session.eval(source, name).map_err(|e| CellError::from_script(&e, interrupted()))?;
        Ok(value_bundle(&self.session, &value))
    }

    #[cfg(feature = "rust-cells")]
    fn run_rust(&mut self, source: &str, name: &str) -> Result<Bundle, CellError> {
        self.interrupter.cancel.store(false, Ordering::Relaxed);
        self.rust.run(strip_magic(source), name)
    }

    #[cfg(not(feature = "rust-cells"))]
    fn run_rust(&mut self, _source: &str, _name: &str) -> Result<Bundle, CellError> {
        let msg = "%%rust cells need a noyau built with the `rust-cells` feature";
        (self.sink)(Event::Stderr(msg.to_string()));
        Err(CellError::new("RustError", msg, vec![msg.to_string()]))
    }
}

/// The cell's code after its `%%rust` line.
pub fn strip_magic(source: &str) -> &str {
    let rest = source.trim_start().strip_prefix("%%rust").unwrap_or(source);
    rest.split_once('\n').map_or("", |(_, code)| code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collecting() -> (SharedSink, Arc<Mutex<Vec<Event>>>) {
        let events = Arc::new(Mutex::new(Vec::new()));
        let e = events.clone();
        (Arc::new(move |ev| e.lock().unwrap().push(ev)), events)
    }

    #[test]
    fn state_survives_errors_and_errors_carry_a_caret() {
        let (sink, events) = collecting();
        let mut cells = Cells::new(sink);
        assert_eq!(cells.run("let x = 2;\nfn sq(v) { v * v }", "cell 1").unwrap(), Bundle::new());
        let err = cells.run("print(\"before\");\nlet y = x.sum(4);", "cell 2").unwrap_err();
        assert_eq!(err.ename, "ScriptError");
        assert_eq!(err.traceback[0], format!("cell 2:2:11: {}", err.evalue));
        assert_eq!(&err.traceback[1..], ["    let y = x.sum(4);", "              ^"]);
        let syntax = cells.run("let = 3;", "cell 3").unwrap_err();
        assert_eq!(syntax.ename, "SyntaxError");
        let value = cells.run("sq(x) + 1", "cell 4").unwrap();
        assert_eq!(value, vec![("text/plain".to_string(), "5".to_string())]);
        assert_eq!(*events.lock().unwrap(), [Event::Stdout("before".into())]);
    }

    #[test]
    fn an_interrupt_stops_a_loop_and_keeps_the_variables() {
        let (sink, _) = collecting();
        let mut cells = Cells::new(sink);
        cells.run("let kept = 41;", "cell 1").unwrap();
        let stopper = cells.interrupter();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            stopper.interrupt();
        });
        let err = cells.run("let n = 0; loop { n += 1; }", "cell 2").unwrap_err();
        t.join().unwrap();
        assert_eq!(err.ename, "Interrupted");
        assert_eq!(cells.run("kept + 1", "cell 3").unwrap()[0].1, "42");
    }

    #[test]
    fn the_magic_line_is_removed() {
        assert!(is_rust_cell("  %%rust\nlet a = 1;"));
        assert_eq!(strip_magic("%%rust\nlet a = 1;\na"), "let a = 1;\na");
        assert_eq!(strip_magic("%%rust"), "");
        assert!(!is_rust_cell("let a = \"%%rust\";"));
    }
}
