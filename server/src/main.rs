//! `mimm-server run [-c /etc/config/mimm-server]`, `mimm-server check [-c FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: mimm-server run [-c /etc/config/mimm-server]
       mimm-server check [-c /etc/config/mimm-server]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let mut file = PathBuf::from(mimm_server::config::DEFAULT_FILE);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("-c" | "--config", Some(f)) => file = f.into(),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let cfg = match mimm_server::config::load(&file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mimm-server: {e}");
            return ExitCode::from(1);
        }
    };
    match command.as_str() {
        "check" => {
            println!(
                "{}: ok, {} clients, {} networks, listening on {}",
                file.display(),
                cfg.server.clients.len(),
                cfg.server.networks.len(),
                cfg.listen
            );
            ExitCode::SUCCESS
        }
        "run" => {
            mimm_io::log::install(tracing::level_filters::LevelFilter::INFO);
            let result = mimm_server::run::Loop::new(cfg, &file)
                .and_then(|l| l.run().map_err(|e| e.to_string()));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mimm-server: {e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
