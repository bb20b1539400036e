//! The `noyau` command: runs Rhai scripts and notebooks, a REPL, and the Jupyter kernel.

fn main() {
    // evcxr runs Rust cells in a child process that is this binary started again: the hook
    // takes over (and never returns) in that process, before anything else runs.
    #[cfg(feature = "rust-cells")]
    evcxr::runtime_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Scripts and the REPL run on a thread whose stack fits the sessions' depth limits (the
    // main thread's 8 MiB does not); the kernel gives its executor thread the same.
    let command = std::thread::Builder::new()
        .name("noyau".into())
        .stack_size(noyau_scripting::session::STACK_SIZE)
        .spawn(move || noyau_jupyter::cli::main(&args));
    let status = match command.map(|t| t.join()) {
        Ok(Ok(status)) => status,
        Ok(Err(_)) => 101,
        Err(e) => {
            eprintln!("noyau: cannot start the command's thread: {e}");
            2
        }
    };
    std::process::exit(status);
}
