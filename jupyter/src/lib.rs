//! The `noyau` command as a library: running scripts and notebooks, the REPL, and (later) the Jupyter kernel.
//!
//! `cli` parses the command line and dispatches; `notebook` reads `.ipynb` files and runs their
//! code cells; `repl` is the interactive loop; `output` turns a session's events into terminal
//! output and figure files. The kernel will reuse `output` and `notebook`'s value display.

pub mod cli;
pub mod notebook;
pub mod output;
pub mod repl;
