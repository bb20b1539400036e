//! The command line: `noyau run FILE`, `noyau repl`, `noyau help [NAME]`, the Jupyter kernel and its install.
//!
//! Exit codes: 0 on success, 1 when a script or notebook fails (the error is printed as
//! `file:line:col: message` with the offending line and a caret), 2 for a wrong command line or
//! a file that cannot be read. Every subcommand answers `--help` (or `-h`) with its usage and
//! options, from the one table [`COMMANDS`] that the overview is also made of.

use crate::cells::{CellError, Cells};
use crate::kernel::{self, install};
use crate::output::terminal_sink;
use crate::{notebook, progress, repl};
use noyau_scripting::help::{help_for, overview};
use noyau_scripting::{Error, Session};
use std::path::Path;

/// One subcommand: the words that select it, its arguments, what it does (in a line, then in
/// full) and its options.
pub struct Command {
    pub words: &'static [&'static str],
    pub args: &'static str,
    pub summary: &'static str,
    pub about: &'static str,
    /// (option, meaning); every subcommand also takes `--help`.
    pub options: &'static [(&'static str, &'static str)],
}

/// Every subcommand, in the order the overview lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        words: &["run"],
        args: "FILE",
        summary: "run a Rhai script (.rhai) or a notebook's code cells (.ipynb)",
        about: "run a Rhai script (FILE.rhai; relative paths in it start at its folder) or a notebook's \
                code cells in order (FILE.ipynb), printing each cell's value; figures are written beside \
                FILE as <stem>-fig<N>.png, and a progress bar shows long work on a terminal",
        options: &[],
    },
    Command {
        words: &["repl"],
        args: "",
        summary: "an interactive session",
        about: "an interactive session (line editing, history in ~/.noyau_history, multi-line input)",
        options: &[],
    },
    Command {
        words: &["help"],
        args: "[NAME]",
        summary: "the overview of the script API, or the documentation of NAME",
        about: "the overview of the script API, or the documentation of the function or type NAME",
        options: &[],
    },
    Command {
        words: &["jupyter", "install"],
        args: "[--user | --sys-prefix | --prefix PATH]",
        summary: "install the Jupyter kernelspec \"noyau\" (default: --user)",
        about: "install the Jupyter kernelspec \"noyau\", pointing at this executable",
        options: &[
            ("--user", "in the user's Jupyter data folder (the default; JUPYTER_DATA_DIR overrides it)"),
            ("--sys-prefix", "in the active Python environment (VIRTUAL_ENV or CONDA_PREFIX)"),
            ("--prefix PATH", "in PATH/share/jupyter/kernels"),
        ],
    },
    Command {
        words: &["kernel"],
        args: "--connection-file FILE",
        summary: "run the Jupyter kernel (Jupyter starts it through the kernelspec)",
        about: "run the Jupyter kernel (Jupyter starts it through the kernelspec)",
        options: &[("--connection-file FILE, -f FILE", "the connection file Jupyter wrote (ports and key)")],
    },
];

/// The overview: every subcommand's usage line and what it does.
pub fn usage() -> String {
    let mut out = String::from("noyau: kernel reductions on point clouds, scripted in Rhai\n\nUsage:\n");
    for c in COMMANDS {
        out += &format!("  {}\n      {}\n", synopsis(c), c.summary);
    }
    out += "  noyau --help | --version\n\n";
    out += "`noyau COMMAND --help` describes a command and its options.\n";
    out += "Exit status: 0 on success, 1 if the script fails, 2 for a usage or file error.";
    out
}

/// `noyau jupyter install [--user | ...]`.
fn synopsis(c: &Command) -> String {
    let words = c.words.join(" ");
    if c.args.is_empty() {
        format!("noyau {words}")
    } else {
        format!("noyau {words} {}", c.args)
    }
}

/// `noyau COMMAND --help`: usage, description and options.
pub fn command_help(c: &Command) -> String {
    let mut out = format!("Usage: {}\n\n{}.\n\nOptions:\n", synopsis(c), wrap(&capitalised(c.about), 90));
    let width = c.options.iter().map(|(o, _)| o.len()).chain([10]).max().unwrap_or(10);
    for (option, meaning) in c.options.iter().copied().chain([("-h, --help", "print this help")]) {
        out += &format!("  {option:<width$}  {meaning}\n");
    }
    out.trim_end().to_string()
}

/// `text` on lines of at most `width` characters (words are never cut).
fn wrap(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines.join("\n")
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The help that `args` asks for with `--help` or `-h` after a subcommand, and the exit status:
/// the subcommand's help, the list of subcommands under a group word (`noyau jupyter --help`),
/// or the overview with status 2 for an unknown command.
fn subcommand_help(args: &[&str]) -> Option<(String, i32)> {
    if !args.iter().skip(1).any(|a| matches!(*a, "--help" | "-h")) {
        return None;
    }
    // The longest command whose words begin the arguments: `jupyter install` rather than a group.
    let found = COMMANDS
        .iter()
        .filter(|c| args.len() > c.words.len() && args[..c.words.len()] == *c.words)
        .max_by_key(|c| c.words.len());
    if let Some(c) = found {
        return Some((command_help(c), 0));
    }
    let group: Vec<String> =
        COMMANDS.iter().filter(|c| c.words[0] == args[0]).map(|c| format!("  {}", synopsis(c))).collect();
    if group.is_empty() {
        return Some((format!("noyau: unknown command `{}`\n\n{}", args[0], usage()), 2));
    }
    Some((format!("Usage:\n{}\n\n`noyau {} ... --help` describes one of them.", group.join("\n"), args[0]), 0))
}

/// Runs the command with `args` (without the program name) and returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some((text, status)) = subcommand_help(&args) {
        if status == 0 {
            println!("{text}");
        } else {
            eprintln!("{text}");
        }
        return status;
    }
    let result = match args[..] {
        ["run", file] => run(Path::new(file)),
        ["repl"] => repl::run(&mut Session::new()).map(|_| 0),
        ["help"] => {
            println!("{}", overview(Session::new().engine()));
            Ok(0)
        }
        ["help", name] => match help_for(Session::new().engine(), name) {
            Ok(text) => {
                println!("{text}");
                Ok(0)
            }
            Err(msg) => {
                eprintln!("{msg}");
                Ok(1)
            }
        },
        ["jupyter", "install", ref rest @ ..] => jupyter_install(rest),
        ["kernel", "--connection-file" | "-f", file] => kernel::run(Path::new(file)).map(|_| 0),
        ["--help" | "-h"] => {
            println!("{}", usage());
            Ok(0)
        }
        ["--version" | "-V"] => {
            println!("noyau {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        _ => {
            eprintln!("{}", usage());
            Ok(2)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("noyau: {e:#}");
        2
    })
}

/// `noyau run FILE`: a notebook if it ends in `.ipynb`, else a Rhai script.
fn run(path: &Path) -> anyhow::Result<i32> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // Absolute, so that figures land beside the file even after a notebook enters its folder.
    let dir = &dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("figure");
    let mut cells = Cells::new(terminal_sink(dir, stem));
    if let Some(hook) = progress::terminal_hook() {
        cells.set_progress(hook);
    }
    let outcome = if path.extension().is_some_and(|e| e == "ipynb") {
        notebook::run(&mut cells, path)?
    } else {
        match cells.session_mut().run_file(path) {
            Err(Error::Io { path, msg }) => anyhow::bail!("cannot read {path}: {msg}"),
            other => other.map(drop).map_err(|e| CellError::from_script(&e, false)),
        }
    };
    Ok(match outcome {
        // A script that called exit(code) exits with it.
        Ok(()) => cells.session().context().exit_code.get().unwrap_or(0),
        Err(e) => {
            eprintln!("{}", e.text());
            1
        }
    })
}

/// `noyau jupyter install [...]`: the kernelspec pointing at this very executable.
fn jupyter_install(args: &[&str]) -> anyhow::Result<i32> {
    let target = install::Target::from_args(args)?;
    let exe = std::env::current_exe()?.canonicalize()?;
    let dir = install::install(&target, &exe)?;
    println!("installed the Jupyter kernel \"{}\" in {}", install::KERNEL_NAME, dir.display());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_and_each_help_come_from_the_table() {
        let overview = usage();
        for c in COMMANDS {
            assert!(overview.contains(&synopsis(c)), "{}", synopsis(c));
            let help = command_help(c);
            assert!(help.starts_with(&format!("Usage: {}", synopsis(c))), "{help}");
            for (option, _) in c.options {
                assert!(help.contains(option), "{help}");
            }
        }
        assert_eq!(subcommand_help(&["run", "x.rhai"]), None);
        assert_eq!(subcommand_help(&["--help"]), None);
        assert_eq!(subcommand_help(&["jupyter", "install", "--prefix", "p", "-h"]).map(|h| h.1), Some(0));
        assert_eq!(subcommand_help(&["nope", "-h"]).map(|h| h.1), Some(2));
        assert_eq!(wrap("a bb ccc dddd", 6), "a bb\nccc\ndddd");
    }
}
