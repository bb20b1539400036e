//! The `noyau` command: runs Rhai scripts and notebooks, a REPL, and the Jupyter kernel.

fn main() {
    // evcxr runs Rust cells in a child process that is this binary started again: the hook
    // takes over (and never returns) in that process, before anything else runs.
    #[cfg(feature = "rust-cells")]
    evcxr::runtime_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(noyau_jupyter::cli::main(&args));
}
