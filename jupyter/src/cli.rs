//! The command line: `noyau run FILE`, `noyau repl`, `noyau help [NAME]`, the Jupyter kernel and its install.
//!
//! Exit codes: 0 on success, 1 when a script or notebook fails (the error is printed as
//! `file:line:col: message` with the offending line and a caret), 2 for a wrong command line or
//! a file that cannot be read.

use crate::cells::{CellError, Cells};
use crate::kernel::{self, install};
use crate::output::terminal_sink;
use crate::{notebook, repl};
use noyau_scripting::help::{help_for, overview};
use noyau_scripting::{Error, Session};
use std::path::Path;

pub const USAGE: &str = "\
noyau: kernel reductions on point clouds, scripted in Rhai

Usage:
  noyau run SCRIPT.rhai      run a script (relative paths in it start at its folder)
  noyau run NOTEBOOK.ipynb   run a notebook's code cells in order, printing each cell's value
  noyau repl                 an interactive session (line editing, history, multi-line input)
  noyau help [NAME]          the overview of the script API, or the documentation of NAME
  noyau jupyter install [--user | --sys-prefix | --prefix PATH]
                             install the Jupyter kernelspec \"noyau\" (default: --user)
  noyau kernel --connection-file FILE
                             run the Jupyter kernel (Jupyter starts it through the kernelspec)
  noyau --help               this message

Figures shown by a script are written beside it as <stem>-fig<N>.png.
Exit status: 0 on success, 1 if the script fails, 2 for a usage or file error.";

/// Runs the command with `args` (without the program name) and returns the exit status.
pub fn main(args: &[String]) -> i32 {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
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
            println!("{USAGE}");
            Ok(0)
        }
        ["--version" | "-V"] => {
            println!("noyau {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        _ => {
            eprintln!("{USAGE}");
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
    let outcome = if path.extension().is_some_and(|e| e == "ipynb") {
        notebook::run(&mut cells, path)?
    } else {
        match cells.session_mut().run_file(path) {
            Err(Error::Io { path, msg }) => anyhow::bail!("cannot read {path}: {msg}"),
            other => other.map(drop).map_err(|e| CellError::from_script(&e, false)),
        }
    };
    Ok(match outcome {
        Ok(()) => 0,
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
