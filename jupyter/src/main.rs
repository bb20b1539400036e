//! The `noyau` command: runs Rhai scripts and notebooks, a REPL, and (later) the Jupyter kernel.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(noyau_jupyter::cli::main(&args));
}
