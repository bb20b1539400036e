//! `noyau repl`: an interactive session with line editing, history and multi-line input.
//!
//! A line that leaves the input incomplete (an open bracket or brace, or a parse error that
//! says the input ended too early) is continued on the next line; the whole input is then run as
//! one cell, its value printed as in a notebook. History is kept in `~/.noyau_history`.

use noyau_scripting::values::display_value;
use noyau_scripting::Session;
use rhai::{Engine, ParseErrorType};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

const PROMPT: &str = "noyau> ";
const CONTINUE: &str = "   ... ";

/// The cancel flag of the REPL's session, for the SIGINT handler.
static CANCEL: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Ctrl-C while a cell runs: stop the cell (its state is kept), as the kernel's interrupt does.
/// Storing to an atomic is all a signal handler may safely do.
extern "C" fn on_sigint(_: libc::c_int) {
    if let Some(cancel) = CANCEL.get() {
        cancel.store(true, Ordering::Relaxed);
    }
}

/// Routes SIGINT to the session's cancel flag instead of ending the process. While a line is
/// read the terminal is in raw mode, where Ctrl-C is a key that rustyline handles itself.
fn catch_sigint(session: &Session) {
    if CANCEL.set(session.cancel_flag()).is_ok() {
        let handler = on_sigint as extern "C" fn(libc::c_int);
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
    }
}

/// Runs the REPL until end of input (Ctrl-D); Ctrl-C abandons the input being typed, or stops
/// the running cell.
pub fn run(session: &mut Session) -> anyhow::Result<()> {
    let mut editor = DefaultEditor::new()?;
    catch_sigint(session);
    session.context().set_progress(crate::progress::terminal_hook());
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".noyau_history"));
    if let Some(h) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(h);
    }
    println!("Noyau {} — help() for an overview, Ctrl-D to quit.", env!("CARGO_PKG_VERSION"));
    let mut input = String::new();
    let mut cell = 0;
    loop {
        let prompt = if input.is_empty() { PROMPT } else { CONTINUE };
        match editor.readline(prompt) {
            Ok(line) => {
                input.push_str(&line);
                input.push('\n');
                if is_incomplete(session.engine(), &input) {
                    continue;
                }
                let source = std::mem::take(&mut input);
                if source.trim().is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(source.trim_end());
                cell += 1;
                match session.eval(&source, &format!("<repl {cell}>")) {
                    Ok(v) => {
                        if let Some(text) = display_value(session.engine(), &v) {
                            println!("{text}");
                        }
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
            Err(ReadlineError::Interrupted) => input.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// Whether `source` should be continued rather than run: brackets left open, or a parse error
/// at the very end of the input (Rhai's "script is incomplete" or a missing closing token).
pub fn is_incomplete(engine: &Engine, source: &str) -> bool {
    if open_brackets(source) > 0 {
        return true;
    }
    match engine.compile(source) {
        Ok(_) => false,
        Err(e) => {
            let lines = source.trim_end().lines().count();
            let at_end = e.1.line().is_none_or(|l| l > lines);
            matches!(*e.0, ParseErrorType::UnexpectedEOF)
                || (at_end && matches!(*e.0, ParseErrorType::MissingToken(..)))
        }
    }
}

/// Opening minus closing brackets, outside strings and comments (never negative at the end of a
/// valid input, so a positive count means the input goes on).
pub(crate) fn open_brackets(source: &str) -> i64 {
    let mut depth = 0i64;
    let mut chars = source.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '`' | '\'') => quote = Some(c),
            (None, '/') if chars.peek() == Some(&'/') => {
                chars.by_ref().take_while(|&c| c != '\n').for_each(drop);
            }
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_inputs_continue() {
        let engine = Engine::new();
        assert!(is_incomplete(&engine, "fn f(x) {\n"));
        assert!(is_incomplete(&engine, "let a = [1, 2,\n"));
        assert!(is_incomplete(&engine, "let s = \"(\"; foo(\n"));
        assert!(!is_incomplete(&engine, "let s = \"(\"; // (\n"));
        assert!(!is_incomplete(&engine, "let a = 1;\n"));
        assert!(!is_incomplete(&engine, "let a = ;\n"), "a plain syntax error is reported, not continued");
        assert!(!is_incomplete(&engine, "1 + 2)\n"));
    }
}
