//! `mimm-testbed`: build, steer, measure and tear down testbeds.

mod cli;

fn main() {
    let result = cli::parse(std::env::args_os().skip(1)).and_then(cli::run);
    if let Err(e) = result {
        // Help and version are asked for, not errors.
        if e == cli::USAGE || e.starts_with("mimm-testbed ") {
            println!("{e}");
            return;
        }
        eprintln!("mimm-testbed: {e}");
        std::process::exit(1);
    }
}
