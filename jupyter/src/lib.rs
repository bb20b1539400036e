//! The `noyau` command as a library: running scripts and notebooks, the REPL, and the Jupyter kernel.
//!
//! `cli` parses the command line and dispatches. `cells` is the one cell executor shared by
//! `noyau run nb.ipynb` and the kernel (Rhai cells, and `%%rust` cells through evcxr in
//! `rust_cells` with the `rust-cells` feature); `display` turns a cell's value into a Jupyter
//! display bundle. `notebook` reads `.ipynb` files, `repl` is the interactive loop, `output`
//! sends events to the terminal and figure files, `progress` shows long work (a terminal bar, a
//! Jupyter display), and `kernel` speaks the Jupyter protocol.

pub mod cells;
pub mod cli;
pub mod display;
pub mod filelock;
pub mod kernel;
pub mod notebook;
pub mod output;
pub mod progress;
pub mod repl;
#[cfg(feature = "rust-cells")]
pub mod rust_cells;
