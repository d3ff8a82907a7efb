//! `mimmd`: the mimm client. `mimmd run` is the daemon (procd starts it);
//! `mimmd check` validates a configuration; `mimmd replay` runs the Mobility
//! Manager over a trace.

use std::path::PathBuf;
use std::process::ExitCode;

use mimm_mimmd::replay::{self, Options};
use mimm_trace::Trace;

const USAGE: &str = "usage: mimmd run [-c /etc/config/mimm]
       mimmd check [-c /etc/config/mimm]
       mimmd cleanup [-c /etc/config/mimm]
       mimmd replay TRACE [--config FILE] [--policy mimm|best|hysteresis|single|failover]
                    [--json] [--svg OUT] [--activation-ms N] [--prepare-ms N]
       mimmd evaluate DIR [--json | --sweep | --frontier]";

const DEFAULT_CONFIG: &str = "/etc/config/mimm";

/// `-c FILE` (or `--config FILE`), the only option of run and check.
fn parse_config(mut parser: lexopt::Parser) -> Result<PathBuf, String> {
    use lexopt::prelude::*;
    let mut config = PathBuf::from(DEFAULT_CONFIG);
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Long("config") | Short('c') => config = parser.value().map_err(err)?.into(),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected())),
        }
    }
    Ok(config)
}

fn check(path: PathBuf) -> Result<(), String> {
    let cfg = mimm_mimmd::config::load(&path)?;
    println!(
        "{}: ok, {} interfaces ({})",
        path.display(),
        cfg.ifaces.len(),
        cfg.ifaces
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Removes the route-mode rules and route a killed mimmd left (the init
/// script's stop path). Refused while mimmd runs: they are its own.
fn cleanup(path: PathBuf) -> Result<(), String> {
    use mimm_mimmd::actions::route_state;
    use mimm_mimmd::control::{client, proto::Request};
    let cfg = mimm_mimmd::config::load(&path)?;
    let socket = &cfg.globals.socket;
    if client::call(socket, &Request::Status, std::time::Duration::from_secs(1)).is_ok() {
        return Err(format!(
            "mimmd is running (its socket {} answers): stop it, and it removes its rules",
            socket.display()
        ));
    }
    let mut rtnl = mimm_netlink::Rtnl::new().map_err(|e| format!("netlink: {e}"))?;
    match route_state::remove_left(&mut rtnl, &route_state::path_for(socket))? {
        Some(left) => println!("mimmd: removed {} left by an earlier run", left.describe()),
        None => println!("mimmd: nothing left behind"),
    }
    Ok(())
}

struct ReplayArgs {
    trace: PathBuf,
    config: Option<PathBuf>,
    options: Options,
    json: bool,
    svg: Option<PathBuf>,
}

fn parse_replay(mut parser: lexopt::Parser) -> Result<ReplayArgs, String> {
    use lexopt::prelude::*;
    let mut trace = None;
    let mut config = None;
    let mut options = Options::default();
    let mut json = false;
    let mut svg = None;
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Long("config") | Short('c') => config = Some(parser.value().map_err(err)?.into()),
            Long("policy") => {
                let v = parser.value().map_err(err)?;
                options.policy = v.string().map_err(err)?.parse()?;
            }
            Long("json") => json = true,
            Long("svg") => svg = Some(parser.value().map_err(err)?.into()),
            Long("activation-ms") => {
                options.activation_ms = parser.value().map_err(err)?.parse().map_err(err)?
            }
            Long("prepare-ms") => {
                options.prepare_ms = parser.value().map_err(err)?.parse().map_err(err)?
            }
            Long("help") | Short('h') => return Err(USAGE.into()),
            Value(v) if trace.is_none() => trace = Some(v.into()),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected())),
        }
    }
    Ok(ReplayArgs {
        trace: trace.ok_or_else(|| format!("missing TRACE\n{USAGE}"))?,
        config,
        options,
        json,
        svg,
    })
}

fn replay(args: ReplayArgs) -> Result<(), String> {
    let trace = Trace::from_path(&args.trace).map_err(|e| e.to_string())?;
    let config = match &args.config {
        Some(path) => mimm_mimmd::config::load(path)?.mm,
        None => replay::derive_config(&trace),
    };
    let name = args.trace.file_name().map_or_else(
        || args.trace.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let result = replay::run(&trace, &config, args.options)?;
    if let Some(path) = &args.svg {
        std::fs::write(path, replay::to_svg(&result, &name))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if args.json {
        print!("{}", replay::to_json(&result, &name));
    } else {
        print!("{}", replay::to_text(&result, &name));
    }
    Ok(())
}

/// `mimmd evaluate DIR [--json | --sweep | --frontier]`: leave-one-family-out
/// over DIR's traces, every grid setting's figures, or the goal's frontier.
fn evaluate(mut parser: lexopt::Parser) -> Result<(), String> {
    use lexopt::prelude::*;
    let err = |e: lexopt::Error| e.to_string();
    let (mut dir, mut json, mut sweep, mut frontier) = (None, false, false, false);
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Long("json") => json = true,
            Long("sweep") => sweep = true,
            Long("frontier") => frontier = true,
            Value(v) if dir.is_none() => dir = Some(PathBuf::from(v)),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected())),
        }
    }
    let dir = dir.ok_or_else(|| format!("missing DIR\n{USAGE}"))?;
    let families = replay::evaluate::families(&dir)?;
    if families.len() < 2 {
        return Err(format!(
            "{}: {} trace families; leaving one out needs at least 2",
            dir.display(),
            families.len()
        ));
    }
    if sweep {
        print!("{}", replay::evaluate::sweep(&families)?);
        return Ok(());
    }
    if frontier {
        print!(
            "{}",
            replay::frontier::to_text(&replay::frontier::frontier(&families)?)
        );
        return Ok(());
    }
    let results = replay::evaluate::evaluate(&families)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", replay::evaluate::to_text(&results));
        let all: Vec<&replay::evaluate::Family> = families.iter().collect();
        let c = replay::evaluate::choose(&all)?;
        println!(
            "chosen on all families (the built-in defaults should be these): handoff_cost_ms {}, \
             gain_spread {}, gain_alpha {}, hold_down_ms {}",
            c.handoff_cost_ms, c.gain_spread, c.gain_alpha, c.hold_down_ms
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut parser = lexopt::Parser::from_env();
    let result = match parser.next() {
        Ok(Some(lexopt::Arg::Value(cmd))) if cmd == "replay" => {
            parse_replay(parser).and_then(replay)
        }
        Ok(Some(lexopt::Arg::Value(cmd))) if cmd == "evaluate" => evaluate(parser),
        Ok(Some(lexopt::Arg::Value(cmd))) if cmd == "check" => parse_config(parser).and_then(check),
        Ok(Some(lexopt::Arg::Value(cmd))) if cmd == "cleanup" => {
            parse_config(parser).and_then(cleanup)
        }
        Ok(Some(lexopt::Arg::Value(cmd))) if cmd == "run" => {
            parse_config(parser).and_then(|path| {
                let log = mimm_mimmd::logging::LogLevel::install();
                mimm_mimmd::daemon::run(&path, log)
            })
        }
        Ok(Some(lexopt::Arg::Long("version"))) => {
            println!("mimmd {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mimmd: {e}");
            ExitCode::from(2)
        }
    }
}
