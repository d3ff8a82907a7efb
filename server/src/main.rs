//! `mimm-server run [-c /etc/config/mimm-server]`, `mimm-server check [-c FILE]`.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: mimm-server run [-c /etc/config/mimm-server]
       mimm-server check [-c /etc/config/mimm-server]";

/// `-c FILE` (or `--config FILE`), in the style of mimmd's and the VSD's
/// command lines (lexopt).
fn parse_config(mut parser: lexopt::Parser) -> Result<PathBuf, String> {
    use lexopt::prelude::*;
    let mut file = PathBuf::from(mimm_server::config::DEFAULT_FILE);
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Long("config") | Short('c') => file = parser.value().map_err(err)?.into(),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected())),
        }
    }
    Ok(file)
}

fn main() -> ExitCode {
    let mut parser = lexopt::Parser::from_env();
    let command = match parser.next() {
        Ok(Some(lexopt::Arg::Value(cmd))) => cmd.to_string_lossy().into_owned(),
        Ok(Some(lexopt::Arg::Long("version"))) => {
            println!("mimm-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => String::new(),
    };
    if command != "run" && command != "check" {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let file = match parse_config(parser) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("mimm-server: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = match mimm_server::config::load(&file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mimm-server: {e}");
            return ExitCode::from(1);
        }
    };
    match command.as_str() {
        "check" => {
            let anchor = cfg.server.anchor.as_ref().zip(cfg.anchor_tun.as_ref());
            println!(
                "{}: ok, {} clients, {} networks, listening on {}{}",
                file.display(),
                cfg.server.clients.len(),
                cfg.server.networks.len(),
                cfg.listen,
                anchor.map_or(String::new(), |(a, tun)| format!(
                    ", anchor {} on TUN {}",
                    a.address, tun.name
                ))
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
