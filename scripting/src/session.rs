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

/// The stack of every thread that runs a session (`noyau run`, the REPL, the kernel's executor):
/// the depth limits below are sized for it, so deep source is an error, never a stack overflow.
pub const STACK_SIZE: usize = 256 << 20;

/// The limits of a session's Rhai engine. Formulas themselves have no depth limit (no pass
/// recurses on them); these bound what Rhai's own recursive parser and evaluator may nest.
pub mod limits {
    /// Nesting of expressions (parentheses, blocks, chained operators) at top level and in functions.
    pub const EXPR_DEPTH: usize = 512;
    /// Nested calls of script functions (recursion).
    pub const CALL_LEVELS: usize = 1000;
    /// Bytes of one string.
    pub const STRING_BYTES: usize = 256 << 20;
    /// Elements of one array (each a 16-byte value).
    pub const ARRAY_LEN: usize = 1 << 25;
    /// Entries of one object map.
    pub const MAP_LEN: usize = 1 << 24;
}

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
        // Rhai's defaults (64 levels) are for untrusted snippets; sessions run on threads of
        // STACK_SIZE, which these limits fit in with room to spare.
        engine.set_max_expr_depths(limits::EXPR_DEPTH, limits::EXPR_DEPTH);
        engine.set_max_call_levels(limits::CALL_LEVELS);
        engine.set_max_string_size(limits::STRING_BYTES);
        engine.set_max_array_size(limits::ARRAY_LEN);
        engine.set_max_map_size(limits::MAP_LEN);
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
        self.ctx.exit_code.set(None);
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
