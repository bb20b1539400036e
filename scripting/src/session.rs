//! A scripting session: one Rhai engine with Noyau's API, whose variables and functions live across runs.
//!
//! Scripts and notebook cells go through [`Session::eval`]. Top-level `let` bindings stay in the
//! session's scope; functions defined by a cell are kept in a functions-only AST merged into
//! every later cell, so a notebook behaves like one long script. An error, or an interrupt,
//! leaves both intact.

use crate::context::{Context, Event, Sink};
use crate::error::{Error, ScriptError};
use rhai::{Dynamic, Engine, Scope, AST};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct Session {
    engine: Engine,
    scope: Scope<'static>,
    /// Every script function defined so far.
    lib: AST,
    ctx: Rc<Context>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

/// Prints stdout events to stdout and stderr events to stderr; rich displays are ignored.
pub fn terminal_sink() -> Sink {
    Rc::new(|e| match e {
        Event::Stdout(s) => println!("{s}"),
        Event::Stderr(s) => eprintln!("{s}"),
        Event::Display(_) => {}
    })
}

impl Session {
    /// A session printing to the terminal.
    pub fn new() -> Session {
        Session::with_sink(terminal_sink())
    }

    /// A session sending its output to `sink`.
    pub fn with_sink(sink: Sink) -> Session {
        let ctx = Context::new(sink);
        let mut engine = Engine::new();
        // Formulas built in loops and deep expressions are normal here; the defaults are for untrusted code.
        engine.set_max_expr_depths(0, 0);
        let c = ctx.clone();
        engine.on_print(move |s| c.emit(Event::Stdout(s.to_string())));
        let c = ctx.clone();
        engine.on_debug(move |s, _, pos| c.emit(Event::Stderr(format!("[{pos}] {s}"))));
        let cancel = ctx.cancel.clone();
        engine.on_progress(move |_| cancel.load(Ordering::Relaxed).then(|| Dynamic::from("interrupted")));
        crate::register_all(&mut engine, &ctx);
        Session { engine, scope: Scope::new(), lib: AST::empty(), ctx }
    }

    /// Runs `source` (named `name` in errors) and returns the value of its last expression.
    pub fn eval(&mut self, source: &str, name: &str) -> Result<Dynamic, Error> {
        self.ctx.cancel.store(false, Ordering::Relaxed);
        let mut ast =
            self.engine.compile(source).map_err(|e| Error::Script(ScriptError::from_parse(name, source, &e)))?;
        ast.set_source(name);
        self.lib = self.lib.merge(&ast.clone_functions_only());
        let run = self.lib.merge(&ast);
        let result = self.engine.eval_ast_with_scope::<Dynamic>(&mut self.scope, &run);
        result.map_err(|e| Error::Script(ScriptError::from_eval(name, source, &e)))
    }

    /// Runs a script file; relative paths inside it resolve against its folder.
    pub fn run_file(&mut self, path: &Path) -> Result<Dynamic, Error> {
        let source = std::fs::read_to_string(path)
            .map_err(|e| Error::Io { path: path.display().to_string(), msg: e.to_string() })?;
        if let Some(dir) = path.parent() {
            *self.ctx.base_dir.borrow_mut() = dir.to_path_buf();
        }
        self.eval(&source, &path.display().to_string())
    }

    /// Set it to true from any thread to stop the running script (its state is kept).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.ctx.cancel.clone()
    }

    pub fn context(&self) -> &Rc<Context> {
        &self.ctx
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn scope(&self) -> &Scope<'static> {
        &self.scope
    }

    /// Names of the script functions defined so far.
    pub fn script_functions(&self) -> Vec<String> {
        self.lib.iter_functions().map(|f| f.name.to_string()).collect()
    }
}
