//! `vsd`: the virtual subnet device daemon (`vsd run`, procd starts it),
//! its configuration check, and `vsd ctl`, the command-line client of its
//! control socket.

use std::path::PathBuf;
use std::process::ExitCode;

use mimm_vsd::config;
use mimm_vsd::control::{self, Request};

mod ctl_render;

const USAGE: &str = "usage: vsd run [-c /etc/config/mimm] [--name VSD]
       vsd check [-c /etc/config/mimm]
       vsd cleanup [-c /etc/config/mimm] [--name VSD]
                                  give back the members a killed VSD left taken
       vsd hold TAP               (vsd run starts it) keep TAP's carrier while no VSD runs
       vsd ctl [-c /etc/config/mimm] [--name VSD | -s SOCKET] [--json] COMMAND
commands:
  status                      members, the active one, counters
  add MEMBER [PRIORITY]       take a device in
  remove MEMBER               give it back
  priority MEMBER PRIORITY    higher is preferred on failover
  prepare MEMBER              accept its frames too (make-before-break)
  commit                      move transmission to the prepared member
  set-active MEMBER           prepare and commit at once
  backups [MEMBER...]         where a carrier loss goes, best first (mimmd keeps it; none: by priority)
  duplicate [MEMBER]          anchored: send over MEMBER too (none: stop)
  events [--follow]           recent events (and new ones)";

struct Args {
    config: PathBuf,
    name: Option<String>,
    socket: Option<PathBuf>,
    json: bool,
    follow: bool,
    words: Vec<String>,
}

fn parse(mut parser: lexopt::Parser) -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut a = Args {
        config: PathBuf::from("/etc/config/mimm"),
        name: None,
        socket: None,
        json: false,
        follow: false,
        words: Vec::new(),
    };
    let err = |e: lexopt::Error| e.to_string();
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Short('c') | Long("config") => a.config = parser.value().map_err(err)?.into(),
            Long("name") => a.name = Some(parser.value().map_err(err)?.string().map_err(err)?),
            Short('s') | Long("socket") => a.socket = Some(parser.value().map_err(err)?.into()),
            Long("json") => a.json = true,
            Short('f') | Long("follow") => a.follow = true,
            Short('h') | Long("help") => return Err(USAGE.into()),
            Value(v) => a.words.push(v.string().map_err(err)?),
            _ => return Err(format!("{}\n{USAGE}", arg.unexpected())),
        }
    }
    Ok(a)
}

fn init_logging() {
    let level = std::env::var("VSD_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(tracing::level_filters::LevelFilter::INFO);
    mimm_io::log::install(level);
}

fn run(a: Args) -> Result<(), String> {
    let cfg = config::load(&a.config, a.name.as_deref())?;
    init_logging();
    if cfg.anchored.is_some() {
        let mut engine = mimm_vsd::anchored::engine::Engine::new(cfg)?;
        engine.reload_from(a.config.clone());
        return engine.run().map_err(|e| e.to_string());
    }
    let mut engine = mimm_vsd::engine::Engine::new(cfg)?;
    engine.reload_from(a.config.clone());
    engine.run().map_err(|e| e.to_string())
}

fn check(a: Args) -> Result<(), String> {
    let package = mimm_uci::Package::from_path(&a.config).map_err(|e| e.to_string())?;
    let all = config::from_package(&package, &a.config).map_err(|e| e.to_string())?;
    for v in &all {
        println!(
            "{}: vsd {} ok: members {}, mac_policy {}",
            a.config.display(),
            v.name,
            v.members.join(", "),
            v.mac_policy.name()
        );
    }
    if all.is_empty() {
        return Err(format!("{}: no config vsd section", a.config.display()));
    }
    Ok(())
}

/// What `vsd run` does first, by hand (an init script's stop path after a
/// crash): the members a killed run left taken given back from its state
/// file, its persistent TAP and (anchored) its TCP MSS clamp removed. Refused while that VSD runs (its
/// socket answers).
fn cleanup(a: Args) -> Result<(), String> {
    let cfg = config::load(&a.config, a.name.as_deref())?;
    // Untyped: a typed Status would link its whole parser (46 KiB on mips).
    if control::call_value(&cfg.socket, &Request::Status).is_ok() {
        return Err(format!(
            "{} is running (its socket {} answers): stop it, and it gives its members back",
            cfg.name,
            cfg.socket.display()
        ));
    }
    let mut rtnl = mimm_netlink::Rtnl::new().map_err(|e| format!("netlink: {e}"))?;
    let path = mimm_vsd::host_state::path_for(&cfg.name, &cfg.socket);
    let mut state = mimm_vsd::host_state::HostState::load(path)?;
    let restored = state.give_back_members(&mut rtnl, &cfg.name)?;
    let removed = state.remove_left_device()?;
    let mut done = Vec::new();
    if !restored.is_empty() {
        done.push(format!("gave back {}", restored.join(", ")));
    }
    if let Some(device) = removed {
        done.push(format!("removed {device}"));
    }
    if cfg.anchored.is_some() && mimm_vsd::anchored::mss::remove(&cfg.name) {
        done.push("removed its TCP MSS clamp".into());
    }
    if done.is_empty() {
        done.push("nothing left taken".into());
    }
    println!("{}: {}", cfg.name, done.join("; "));
    Ok(())
}

/// The status object of an answer line `{"ok":{"status":{...}}}`.
fn status_part(line: &str) -> &str {
    let line = line.trim_end();
    line.strip_prefix(r#"{"ok":{"status":"#)
        .and_then(|rest| rest.strip_suffix("}}"))
        .unwrap_or(line)
}

fn ctl(a: Args) -> Result<(), String> {
    let socket = match (&a.socket, &a.name) {
        (Some(s), _) => s.clone(),
        (None, name) => config::load(&a.config, name.as_deref())
            .map(|c| c.socket)
            .or_else(|e| name.as_deref().map(config::default_socket).ok_or(e))?,
    };
    let words: Vec<&str> = a.words.iter().map(String::as_str).collect();
    let number = |w: &str| {
        w.parse::<i32>()
            .map_err(|_| format!("{w:?} is not a priority"))
    };
    let request = match words.as_slice() {
        ["status"] => Request::Status,
        ["add", m] => Request::Add {
            member: m.to_string(),
            priority: None,
        },
        ["add", m, p] => Request::Add {
            member: m.to_string(),
            priority: Some(number(p)?),
        },
        ["remove", m] => Request::Remove {
            member: m.to_string(),
        },
        ["priority", m, p] => Request::Priority {
            member: m.to_string(),
            priority: number(p)?,
        },
        ["prepare", m] => Request::Prepare {
            member: m.to_string(),
        },
        ["commit"] => Request::Commit,
        ["set-active", m] => Request::SetActive {
            member: m.to_string(),
        },
        ["backups", members @ ..] => Request::Backups {
            members: members.iter().map(|m| m.to_string()).collect(),
        },
        ["duplicate"] => Request::Duplicate { member: None },
        ["duplicate", m] => Request::Duplicate {
            member: Some(m.to_string()),
        },
        ["events"] => {
            return control::events(&socket, a.follow, |line| {
                println!("{line}");
                true
            })
            .map_err(|e| e.to_string());
        }
        _ => return Err(USAGE.into()),
    };
    let (reply, line) = control::call_value(&socket, &request).map_err(|e| e.to_string())?;
    let status = &reply["status"];
    match (status.is_object(), a.json) {
        // The status as the VSD wrote it, one line (`jq` makes it pretty):
        // written again here it would cost the router's binary 3 KiB.
        (true, true) => println!("{}", status_part(&line)),
        (true, false) => print!("{}", ctl_render::render(status)),
        (false, true) => println!("{{\"ok\":\"done\"}}"),
        (false, false) => {}
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut parser = lexopt::Parser::from_env();
    let result = match parser.next() {
        Ok(Some(lexopt::Arg::Value(cmd))) => {
            let cmd = cmd.to_string_lossy().into_owned();
            parse(parser).and_then(|a| match cmd.as_str() {
                "run" => run(a),
                "check" => check(a),
                "cleanup" => cleanup(a),
                "ctl" => ctl(a),
                mimm_vsd::holder::HOLD => match a.words.as_slice() {
                    [tap] => mimm_vsd::holder::run(tap),
                    _ => Err(USAGE.into()),
                },
                _ => Err(USAGE.into()),
            })
        }
        Ok(Some(lexopt::Arg::Long("version"))) => {
            println!("vsd {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vsd: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::status_part;

    #[test]
    fn the_status_part_of_an_answer_is_the_status_as_the_vsd_wrote_it() {
        let status = r#"{"name":"vsd0","members":[{"name":"m1"}],"active":"m1"}"#;
        let line = format!("{{\"ok\":{{\"status\":{status}}}}}\n");
        assert_eq!(status_part(&line), status);
        let parsed: serde_json::Value = serde_json::from_str(status_part(&line)).unwrap();
        assert_eq!(parsed["active"], "m1");
        assert_eq!(
            status_part("{\"ok\":\"done\"}"),
            "{\"ok\":\"done\"}",
            "anything else whole"
        );
    }
}
