//! `mimm-testbed`: build, steer, measure and tear down testbeds.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Args::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("mimm-testbed: {e}");
        std::process::exit(1);
    }
}
