//! The commands that act on a running testbed (or its leftovers).

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mimm_testbed::control::{Change, Status};
use mimm_testbed::emu::link::LaneStatus;
use mimm_testbed::probe::{self, Options};
use mimm_testbed::run::{self, RunState};
use mimm_testbed::{Client, Dir};
use mimm_trace::Trace;

use mimm_io::signals::{Signals, Wake};

/// Which running emulator a command talks to: a testbed (by id, or the only
/// one up) or an `emulate` process by its control socket.
pub struct Target<'a> {
    pub id: Option<&'a str>,
    pub control: Option<&'a Path>,
}

impl Target<'_> {
    fn resolve(&self) -> Result<(Option<RunState>, Client), String> {
        if let Some(socket) = self.control {
            return Ok((None, Client::at(socket)));
        }
        let state = run::resolve(self.id)?;
        let client = Client::new(&state.id);
        Ok((Some(state), client))
    }
}

fn resolve(id: Option<&str>) -> Result<(RunState, Client), String> {
    let state = run::resolve(id)?;
    let client = Client::new(&state.id);
    Ok((state, client))
}

pub fn down(id: Option<&str>) -> Result<(), String> {
    let (state, client) = resolve(id)?;
    if let Err(e) = client.shutdown() {
        eprintln!(
            "mimm-testbed: {e}; stopping its owner (pid {})",
            state.owner_pid
        );
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(state.owner_pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while state.owner_alive() && run::run_dir(&state.id).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The owner tears down itself; if it could not, finish the job.
    let left = run::remove(&state.id);
    for item in &left {
        println!("removed {item}");
    }
    println!("testbed {} down", state.id);
    Ok(())
}

fn rate(p: &LaneStatus) -> String {
    p.params
        .rate_bps
        .map_or("unlimited".into(), |r| format!("{}", r / 1000))
}

pub fn status(target: &Target, json: bool) -> Result<(), String> {
    let (state, client) = target.resolve()?;
    let status = client.status().map_err(|e| e.to_string())?;
    if json {
        let value = match &state {
            Some(state) => {
                let plan = state.plan();
                serde_json::json!({
                    "id": state.id,
                    "owner_pid": state.owner_pid,
                    "namespaces": plan.roles().iter().map(|r| plan.ns(r)).collect::<Vec<_>>(),
                    "plan": plan,
                    "status": status,
                })
            }
            None => serde_json::json!({ "status": status }),
        };
        let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    print!("{}", render_status(state.as_ref(), &status));
    Ok(())
}

fn render_status(state: Option<&RunState>, status: &Status) -> String {
    let mut out = match state {
        Some(state) => {
            let plan = state.plan();
            let namespaces: Vec<String> = plan.roles().iter().map(|r| plan.ns(r)).collect();
            format!(
                "testbed {} (owner pid {}): {}\n",
                state.id,
                state.owner_pid,
                namespaces.join(" ")
            )
        }
        None => format!("emulator {}\n", status.id),
    };
    let _ = writeln!(
        out,
        "{:<10} {:<5} {:<11} {:>9} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "link",
        "type",
        "state",
        "rate kbps",
        "delay ms",
        "loss %",
        "up pkts",
        "up drop",
        "down pkts",
        "down drop",
        "signal"
    );
    for l in &status.links {
        let drops = |s: &LaneStatus| {
            let c = &s.counters;
            c.lost + c.queue_full + c.blackholed + c.down + c.overflow + c.send_failed
        };
        let _ = writeln!(
            out,
            "{:<10} {:<5} {:<11} {:>9} {:>8.1} {:>6.2} {:>9} {:>9} {:>9} {:>9} {:>7}",
            l.name,
            format!("{:?}", l.link_type).to_lowercase(),
            serde_json::to_value(l.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            rate(&l.uplink),
            l.uplink.params.delay.as_ms_f64(),
            l.uplink.params.loss * 100.0,
            l.uplink.counters.delivered,
            drops(&l.uplink),
            l.downlink.counters.delivered,
            drops(&l.downlink),
            l.signal_dbm.map_or("-".into(), |s| format!("{s}")),
        );
    }
    if let Some(r) = &status.replay {
        let map: Vec<String> = r.mapping.iter().map(|(i, l)| format!("{i}->{l}")).collect();
        let _ = writeln!(
            out,
            "replay {}: {:.1} of {:.1} s at speed {}{}{} ({})",
            r.name,
            r.position_ms as f64 / 1e3,
            r.duration_ms as f64 / 1e3,
            r.speed,
            if r.repeat { ", repeating" } else { "" },
            if r.finished { ", finished" } else { "" },
            map.join(" ")
        );
    }
    if state.is_some() {
        let _ = writeln!(
            out,
            "inet services: {} echoed, {} discarded",
            status.services.echoed, status.services.discarded
        );
    }
    out
}

pub fn exec(id: Option<&str>, role: &str, command: &[String]) -> Result<(), String> {
    let state = run::resolve(id)?;
    let plan = state.plan();
    if !plan.roles().iter().any(|r| r == role) {
        return Err(format!(
            "testbed {} has no namespace {role:?} (it has: {})",
            state.id,
            plan.roles().join(", ")
        ));
    }
    // Replaces this process, so the command's exit status becomes ours.
    let err = Command::new("ip")
        .args(["netns", "exec", &plan.ns(role)])
        .args(command)
        .exec();
    Err(format!("cannot run ip netns exec: {err}"))
}

/// Parses `set LINK WHAT [VALUE]` into a change.
pub fn parse_change(what: &str, value: Option<&str>) -> Result<Change, String> {
    let number = |unit: &str| -> Result<f64, String> {
        let v = value.ok_or_else(|| format!("{what} needs a value in {unit}"))?;
        v.trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("{what}: {v:?} is not a number of {unit}"))
    };
    let no_value = |c: Change| match value {
        Some(v) => Err(format!("{what} takes no value (got {v:?})")),
        None => Ok(c),
    };
    match what {
        "rate" => match value {
            Some("unlimited" | "none") => Ok(Change::Rate(None)),
            _ => Ok(Change::Rate(Some(number("kbit/s")? as u64))),
        },
        "delay" => Ok(Change::Delay(number("ms")?)),
        "loss" => Ok(Change::Loss(number("percent")?)),
        "queue" => Ok(Change::Queue(number("ms")? as u64)),
        "blackhole" => match value {
            None => Ok(Change::Blackhole(None)),
            Some(_) => Ok(Change::Blackhole(Some(number("ms")? as u64))),
        },
        "down" => no_value(Change::Down),
        "up" => no_value(Change::Up),
        "carrier-off" => no_value(Change::CarrierOff),
        "carrier-on" => no_value(Change::CarrierOn),
        other => Err(format!(
            "unknown setting {other:?}: use rate, delay, loss, queue, down, up, blackhole, \
             carrier-off or carrier-on"
        )),
    }
}

pub fn set(
    target: &Target,
    link: &str,
    what: &str,
    value: Option<&str>,
    dir: Dir,
) -> Result<(), String> {
    let change = parse_change(what, value)?;
    let (_, client) = target.resolve()?;
    client.set(link, change, dir).map_err(|e| e.to_string())
}

pub fn replay(
    target: &Target,
    path: &Path,
    speed: f64,
    map: &[String],
    repeat: bool,
    detach: bool,
) -> Result<(), String> {
    let trace = Trace::from_path(path).map_err(|e| e.to_string())?;
    let map = map
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("--map {pair:?}: expected IFACE=LINK"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (_, client) = target.resolve()?;
    let signals = Signals::block()?;
    let name = path.display().to_string();
    let started = client
        .replay(&name, &trace, &map, speed, repeat)
        .map_err(|e| e.to_string())?;
    let pairs: Vec<String> = started
        .mapping
        .iter()
        .map(|(i, l)| format!("{i} -> {l}"))
        .collect();
    println!(
        "replaying {name} ({:.1} s of trace at speed {speed}): {}",
        started.duration_ms as f64 / 1e3,
        pairs.join(", ")
    );
    if detach {
        return Ok(());
    }
    loop {
        if let Wake::Signal(_) = signals.wait(Some(Duration::from_secs(1)), None) {
            client.stop_replay().map_err(|e| e.to_string())?;
            println!("replay stopped; links keep their last state");
            return Ok(());
        }
        let status = client.status().map_err(|e| e.to_string())?;
        let Some(r) = &status.replay else {
            println!("replay stopped");
            return Ok(());
        };
        let mut line = format!("t={:7.1}s", r.position_ms as f64 / 1e3);
        for l in &status.links {
            let state = serde_json::to_value(l.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            let _ = write!(
                line,
                "  {} {} {} kbps {:.0} ms",
                l.name,
                state.unwrap_or_default(),
                rate(&l.downlink),
                l.downlink.params.delay.as_ms_f64()
            );
        }
        println!("{line}");
        if r.finished {
            println!("replay finished");
            return Ok(());
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn probe(
    id: Option<&str>,
    from: String,
    to: String,
    rate_pps: u32,
    duration: f64,
    size: usize,
    echo: bool,
    drain_ms: u64,
    json: bool,
) -> Result<(), String> {
    if !(duration > 0.0 && duration <= 86_400.0) {
        return Err(format!(
            "--duration {duration} must be more than 0 and at most 86400 s"
        ));
    }
    let state = run::resolve(id)?;
    let options = Options {
        from,
        to,
        rate_pps,
        duration: Duration::from_secs_f64(duration),
        size,
        echo,
        drain: Duration::from_millis(drain_ms),
    };
    let report = probe::run(&state.plan(), options).map_err(|e| e.to_string())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

pub fn cleanup(all: bool) -> Result<(), String> {
    let mut anything = false;
    for found in run::list() {
        if found.alive() && !all {
            let pid = found.state.as_ref().map_or(0, |s| s.owner_pid);
            println!(
                "testbed {} is up (owner pid {pid}); left alone (use down or --all)",
                found.id
            );
            continue;
        }
        if found.alive() {
            if let Some(state) = &found.state {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(state.owner_pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        for item in run::remove(&found.id) {
            println!("removed {item}");
            anything = true;
        }
    }
    if !anything {
        println!("nothing to clean up");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_settings() {
        assert_eq!(
            parse_change("rate", Some("20000")),
            Ok(Change::Rate(Some(20000)))
        );
        assert_eq!(
            parse_change("rate", Some("unlimited")),
            Ok(Change::Rate(None))
        );
        assert_eq!(parse_change("loss", Some("5%")), Ok(Change::Loss(5.0)));
        assert_eq!(parse_change("blackhole", None), Ok(Change::Blackhole(None)));
        assert_eq!(
            parse_change("blackhole", Some("300")),
            Ok(Change::Blackhole(Some(300)))
        );
        assert!(
            parse_change("delay", None)
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(parse_change("delay", Some("-3")).is_err());
        assert!(
            parse_change("down", Some("1"))
                .unwrap_err()
                .contains("takes no value")
        );
        assert!(
            parse_change("jitter", Some("1"))
                .unwrap_err()
                .contains("unknown setting")
        );
    }
}
