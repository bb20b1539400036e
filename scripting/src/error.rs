//! Script errors: the file, line and column of the mistake, shown with the offending line and a caret.

use rhai::{EvalAltResult, ParseError, Position};
use std::fmt;

/// What running a script or a cell can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A parse or run-time error in a script, with its position.
    #[error("{0}")]
    Script(ScriptError),
    /// A file that could not be read or written.
    #[error("{path}: {msg}")]
    Io { path: String, msg: String },
}

/// An error located in a script's source.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    /// The script's name (its path, or `cell[3]` in a notebook).
    pub source_name: String,
    /// 1-based line and column, when the error has a position.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What went wrong, naming the function and the problem.
    pub message: String,
    /// The source line the error points at.
    pub line_text: Option<String>,
    /// True when the run was stopped by an interrupt rather than by a mistake.
    pub interrupted: bool,
}

impl ScriptError {
    fn new(source_name: &str, source: &str, pos: Position, message: String, interrupted: bool) -> ScriptError {
        let (line, column) = (pos.line(), pos.position());
        let line_text = line.and_then(|l| source.lines().nth(l - 1)).map(str::to_string);
        ScriptError { source_name: source_name.to_string(), line, column, message, line_text, interrupted }
    }

    /// A parse error of `source`.
    pub fn from_parse(source_name: &str, source: &str, e: &ParseError) -> ScriptError {
        let msg = strip_position(&e.0.to_string());
        ScriptError::new(source_name, source, e.1, format!("syntax error: {msg}"), false)
    }

    /// A run-time error of `source`. Errors inside script functions point at the innermost line.
    pub fn from_eval(source_name: &str, source: &str, e: &EvalAltResult) -> ScriptError {
        let (pos, message, interrupted) = describe(e);
        ScriptError::new(source_name, source, pos, message, interrupted)
    }

    /// The source line and a caret under the column, indented.
    pub fn caret(&self) -> Option<String> {
        let (text, col) = (self.line_text.as_ref()?, self.column?);
        Some(format!("    {text}\n    {}^", " ".repeat(col.saturating_sub(1))))
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.source_name, self.message)?,
            (Some(l), None) => write!(f, "{}:{l}: {}", self.source_name, self.message)?,
            _ => write!(f, "{}: {}", self.source_name, self.message)?,
        }
        if let Some(c) = self.caret() {
            write!(f, "\n{c}")?;
        }
        Ok(())
    }
}

/// Rhai appends " (line L, position C)" to its messages; positions are reported separately here.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" (line ") {
        Some(k) if msg.ends_with(')') => msg[..k].to_string(),
        _ => msg.to_string(),
    }
}

/// The position, message and interrupt flag of a run-time error, unwrapping calls of script functions.
fn describe(e: &EvalAltResult) -> (Position, String, bool) {
    match e {
        EvalAltResult::ErrorInFunctionCall(name, _, inner, pos) => {
            let (ipos, msg, interrupted) = describe(inner);
            let pos = if ipos.is_none() { *pos } else { ipos };
            (pos, format!("{msg} (in function {name})"), interrupted)
        }
        EvalAltResult::ErrorRuntime(v, pos) => (*pos, v.to_string(), false),
        EvalAltResult::ErrorTerminated(_, pos) => (*pos, "interrupted".to_string(), true),
        // Rhai says "Stack overflow" for its call-depth limit, which is checked before any real
        // overflow can happen.
        EvalAltResult::ErrorStackOverflow(pos) => (
            *pos,
            format!(
                "too many nested function calls (more than {}): does a recursion miss its base case?",
                crate::session::limits::CALL_LEVELS
            ),
            false,
        ),
        EvalAltResult::ErrorFunctionNotFound(sig, pos) => {
            (*pos, format!("no function {sig}: check the name and the types of the arguments (see help())"), false)
        }
        other => (other.position(), strip_position(&other.to_string()), false),
    }
}

/// Turns an engine error (or any message) into a Rhai run-time error, prefixed by the failing call.
pub fn rt(context: &str, e: impl fmt::Display) -> Box<EvalAltResult> {
    let msg = if context.is_empty() { e.to_string() } else { format!("{context}: {e}") };
    EvalAltResult::ErrorRuntime(msg.into(), Position::NONE).into()
}

/// The `Result` type of registered functions.
pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;
