//! The engine's one error type: every failure a caller can cause is a variant here, never a panic.

use std::fmt;

/// Everything that can go wrong in the engine, with enough context for a person to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A formula string or alias that does not parse; `column` is 1-based, counted in characters.
    #[error("{}", ParseDisplay(.0))]
    Parse(ParseError),
    /// An operation name the formula language does not know.
    #[error("unknown operation `{0}`")]
    UnknownOp(String),
    /// An operation called with the wrong number of operands.
    #[error("{op}: expects {expected} argument(s), got {got}")]
    Arity { op: String, expected: String, got: usize },
    /// Two operands whose dimensions cannot be combined.
    #[error("{op}: dimensions {a} and {b} differ")]
    DimMismatch { op: String, a: usize, b: usize },
    /// An operation whose operands or parameters are out of range (index past the end, bad shape, ...).
    #[error("{op}: {msg}")]
    InvalidOp { op: String, msg: String },
    /// A name used in a formula that no alias declares.
    #[error("unknown variable `{0}`: declare it in the aliases, e.g. \"{0} = Vi(3)\"")]
    UnknownVariable(String),
    /// A name or argument position declared twice with conflicting meanings.
    #[error("variable `{0}` is declared twice")]
    DuplicateVariable(String),
    /// The formula string is empty.
    #[error("empty formula")]
    EmptyFormula,
    /// Wrong number of input arrays for a reduction.
    #[error("expected {expected} input array(s), got {got}{detail}")]
    ArgCount { expected: usize, got: usize, detail: String },
    /// An input array whose shape does not match its declaration.
    #[error("variable {name} is declared {decl} but got an array of shape {shape:?}{detail}")]
    Shape { name: String, decl: String, shape: Vec<usize>, detail: String },
    /// A reduction that cannot be computed as asked (K out of range, weight of the wrong dimension, ...).
    #[error("{reduction}: {msg}")]
    Reduction { reduction: String, msg: String },
    /// A backend that is not available on this machine or in this build.
    #[error("backend {backend}: {msg}")]
    Backend { backend: String, msg: String },
    /// CUDA code that NVRTC could not compile (a bug of the code generator, or an NVRTC too old):
    /// its log, and the generated source that was compiled.
    #[error("{msg}\n{log}")]
    Cuda { msg: String, log: String, generated: String },
    /// The computation was cancelled through its cancel flag (a Jupyter interrupt, say).
    #[error("interrupted")]
    Interrupted,
    /// Input data that no computation can use (an index that is not an integer, ...).
    #[error("{0}")]
    Data(String),
    /// A dense tensor operation given operands it cannot combine (shapes, dims, dtypes, autograd misuse).
    #[error("{op}: {msg}")]
    Tensor { op: String, msg: String },
    /// An allocation larger than the memory budget (`budget.rs`), refused before it is made.
    #[error(
        "{op}: needs {} but only {} of memory is available (set {} to change the budget)",
        crate::budget::human(*.asked),
        crate::budget::human(*.limit as u128),
        crate::budget::LIMIT_VAR
    )]
    Memory { op: String, asked: u128, limit: u64 },
}

/// A parse error at a position of a formula string.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    /// The text that was being parsed.
    pub source: String,
    /// 1-based line of the error in `source`.
    pub line: usize,
    /// 1-based column (in characters) of the error in its line.
    pub column: usize,
}

impl ParseError {
    /// Builds an error at a character offset of `source`, computing line and column.
    pub fn at(source: &str, char_offset: usize, message: impl Into<String>) -> Self {
        let mut line = 1;
        let mut column = 1;
        for (k, c) in source.chars().enumerate() {
            if k == char_offset {
                break;
            }
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        ParseError { message: message.into(), source: source.to_string(), line, column }
    }

    /// The offending line of the source followed by a caret under the column.
    pub fn caret(&self) -> String {
        let text = self.source.lines().nth(self.line - 1).unwrap_or("");
        format!("{text}\n{}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

struct ParseDisplay<'a>(&'a ParseError);

impl fmt::Display for ParseDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if e.source.contains('\n') {
            write!(f, "line {}, column {}: {}", e.line, e.column, e.message)?;
        } else {
            write!(f, "column {}: {}", e.column, e.message)?;
        }
        for l in e.caret().lines() {
            write!(f, "\n    {l}")?;
        }
        Ok(())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(op: &str, msg: impl Into<String>) -> Self {
        Error::InvalidOp { op: op.to_string(), msg: msg.into() }
    }

    pub(crate) fn tensor(op: &str, msg: impl Into<String>) -> Self {
        Error::Tensor { op: op.to_string(), msg: msg.into() }
    }
}
