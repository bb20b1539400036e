//! The `noyau` command: runs Rhai scripts and notebooks, a REPL, and (later) the Jupyter kernel.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") if args.len() == 2 => {
            let mut session = noyau_scripting::Session::new();
            if let Err(e) = session.run_file(std::path::Path::new(&args[1])) {
                eprintln!("{e}");
                std::process::exit(1);
            }
            Ok(())
        }
        _ => {
            println!("usage: noyau run SCRIPT.rhai");
            Ok(())
        }
    }
}
