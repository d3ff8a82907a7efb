//! `mimmctl`: look at and steer a running mimmd through its control socket.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mimm_mimmd::config::store;
use mimm_mimmd::control::proto::{Event, Reply, Request, Status};
use mimm_mimmd::control::{client, rpc};

const USAGE: &str = "usage: mimmctl [-s SOCKET] [-t TIMEOUT_MS] [-c FILE] [--json] COMMAND
commands:
  status              interfaces, their state and the primary
  interfaces          the interfaces alone (with --json: {\"interfaces\": [...]})
  history             recent events (with --json: {\"events\": [...]})
  recent              the last minutes of averaged metrics and primaries, as
                      JSON (LuCI's chart)
  rpc list | rpc call METHOD
                      rpcd's exec-plugin protocol (arguments: JSON on stdin)
  netifd ACTION IFACE [DEVICE]
                      netifd's hotplug news (ifup, ifupdate, ifdown), as the
                      /etc/hotplug.d/iface script sends it
  prefer IFACE|none [--save]
                      prefer an interface (none: no preference); --save
                      also makes it the preference at start in FILE
                      (/etc/config/mimm), through uci where there is uci
  handoff IFACE       hand off to an interface now
  events [--follow] [--samples]
                      recent events (and new ones as they come; with
                      --samples also each interface's sample every period)
  reload              re-read the configuration (a bad one is refused)";

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| format!("{v}{unit}"))
}

fn render(status: &Status) -> String {
    let mut out = format!(
        "primary: {}{}   mode {}   up {:.0} s   {}\n",
        status.primary.as_deref().unwrap_or("none"),
        status
            .primary_for_s
            .map_or(String::new(), |s| format!(" (for {s:.1} s)")),
        status.mode,
        status.uptime_s,
        status.config
    );
    if let Some(p) = &status.preferred {
        let _ = writeln!(out, "preferred: {p}");
    }
    if let Some(h) = &status.last_handoff {
        let _ = writeln!(
            out,
            "last handoff: {:.1} s ago, {} -> {}: {}",
            h.ago_s,
            h.from.as_deref().unwrap_or("-"),
            h.to,
            h.reason
        );
    }
    let row = |out: &mut String, cells: [&str; 12]| {
        let [a, b, c, d, e, f, g, h, i, j, k, l] = cells;
        let _ = writeln!(
            out,
            "{a:<12} {b:<10} {c:<11} {d:<7} {e:<5} {f:>9} {g:>9} {h:>8} {i:>5}  {j:<16} {k:>8} {l:>6}",
        );
    };
    out.push('\n');
    row(
        &mut out,
        [
            "interface",
            "device",
            "state",
            "carrier",
            "path",
            "signal",
            "rate kbps",
            "rtt",
            "loss",
            "metric",
            "average",
            "score",
        ],
    );
    for i in &status.interfaces {
        let path = match i.reachable {
            Some(true) => "ok",
            Some(false) => "lost",
            None => "-",
        };
        let metric = format!("{} {}", i.metric, opt(i.raw, ""));
        row(
            &mut out,
            [
                &i.name,
                &i.device,
                &i.state,
                if i.carrier { "yes" } else { "no" },
                path,
                &opt(i.signal_dbm, " dBm"),
                &opt(i.rate_kbps, ""),
                &opt(i.rtt_ms, " ms"),
                &opt(i.loss_pct, "%"),
                &metric,
                &opt(i.average, ""),
                &i.score.to_string(),
            ],
        );
    }
    let _ = writeln!(
        out,
        "\n{:<12} {:<13} {:>9} {:>9} {:>13} {:>9} {:>9}",
        "thresholds", "metric", "available", "inactive", "deteriorating", "active", "stable"
    );
    for i in &status.interfaces {
        let t = &i.thresholds;
        let _ = writeln!(
            out,
            "{:<12} {:<13} {:>9} {:>9} {:>13} {:>9} {:>9}",
            i.name,
            i.metric,
            t.available.map_or("none".into(), |v| v.to_string()),
            t.inactive,
            t.deteriorating,
            t.active,
            t.stable
        );
    }
    out.push('\n');
    for i in &status.interfaces {
        for s in i.sources.iter().filter(|s| s.kind != "none") {
            let state = match (&s.error, s.waiting) {
                (Some(e), _) => format!("failing: {e}"),
                (None, true) => "asking".into(),
                (None, false) => "ok".into(),
            };
            let _ = writeln!(
                out,
                "{:<12} {:<8} {} ({} updates, {} failures): {state}",
                i.name, s.kind, s.detail, s.updates, s.failures
            );
        }
        if let Some(b) = &i.binding {
            let rtt = i.rtt_ms.map_or("-".into(), |r| format!("{r:.1} ms"));
            let loss = i.loss_pct.map_or("-".into(), |l| format!("{l:.0} %"));
            let _ = writeln!(
                out,
                "{:<12} anchor   {b}; path rtt {rtt}, loss {loss}",
                i.name
            );
        }
    }
    let c = &status.counters;
    let _ = writeln!(
        out,
        "\nhandoffs {} (emergencies {}, forced {}), prepared ahead {}, held {} + {}, failures {}",
        c.handoffs,
        c.emergencies,
        c.forced,
        c.prepared_ahead,
        c.held_by_dwell,
        c.held_by_hold_down,
        c.failures
    );
    if let Some(server) = &status.server {
        let c = &server.counters;
        let _ = writeln!(
            out,
            "server {}: reports {}, handoff requests {} (answered {}, unanswered {}), \
             advice {}, acks {}, retransmissions {}, refused {}, dropped {}",
            server.address,
            c.reports,
            c.handoff_requests,
            c.answers,
            c.unanswered,
            c.advice,
            c.acks,
            c.retransmissions,
            c.refused,
            c.dropped
        );
    }
    out
}

fn main() -> ExitCode {
    let mut socket = PathBuf::from("/var/run/mimmd.sock");
    let mut timeout = Duration::from_secs(10);
    let mut json = false;
    let mut follow = false;
    let mut samples = false;
    let mut save = false;
    let mut config = PathBuf::from("/etc/config/mimm");
    let mut words: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-s" | "--socket" => match args.next() {
                Some(s) => socket = s.into(),
                None => return fail("-s needs a path"),
            },
            "-t" | "--timeout" => match args.next().and_then(|t| t.parse().ok()) {
                Some(ms) => timeout = Duration::from_millis(ms),
                None => return fail("-t needs a timeout in milliseconds"),
            },
            "-c" | "--config" => match args.next() {
                Some(c) => config = c.into(),
                None => return fail("-c needs a file"),
            },
            "--save" => save = true,
            "--json" => json = true,
            "-f" | "--follow" => follow = true,
            "--samples" => samples = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => words.push(arg),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let request = match words.as_slice() {
        ["status" | "interfaces"] | [] => Request::Status,
        ["netifd", action, iface, device @ ..] if device.len() <= 1 => Request::Netifd {
            action: action.to_string(),
            iface: iface.to_string(),
            device: device.first().map(|d| d.to_string()),
        },
        ["history"] => return history(&socket, json),
        ["rpc", "list"] => {
            println!("{}", rpc::list());
            return ExitCode::SUCCESS;
        }
        ["rpc", "call", method] => {
            let mut args = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut args) {
                return fail(&format!("rpc call {method}: stdin: {e}"));
            }
            println!("{}", rpc::call(&socket, method, &args, timeout));
            return ExitCode::SUCCESS;
        }
        ["prefer", "none"] => Request::Prefer { iface: None },
        ["prefer", iface] => Request::Prefer {
            iface: Some(iface.to_string()),
        },
        ["handoff", iface] => Request::Handoff {
            iface: iface.to_string(),
        },
        ["reload"] => Request::Reload,
        ["recent"] => Request::Recent,
        ["events"] => {
            let result = client::events(&socket, follow, samples, |line| {
                println!("{line}");
                true
            });
            return match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            };
        }
        _ => return fail(USAGE),
    };
    if save && !matches!(request, Request::Prefer { .. }) {
        return fail("--save goes with prefer only");
    }
    let reply = client::call(&socket, &request, timeout);
    if let (Ok(_), Request::Prefer { iface }) = (&reply, &request) {
        // Saved only once mimmd took it: a name it refuses is never written.
        if save {
            if let Err(e) = store::save_preferred(&config, iface.as_deref()) {
                return fail(&e);
            }
        }
    }
    match reply {
        Ok(Reply::Status(status)) if words.first() == Some(&"interfaces") => {
            if json {
                let all = serde_json::json!({ "interfaces": status.interfaces });
                println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            } else {
                print!("{}", render(&status));
            }
            ExitCode::SUCCESS
        }
        Ok(Reply::Status(status)) if json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&status).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(Reply::Status(status)) => {
            print!("{}", render(&status));
            ExitCode::SUCCESS
        }
        Ok(Reply::Done) if json => {
            println!("{{\"ok\":\"done\"}}");
            ExitCode::SUCCESS
        }
        Ok(Reply::Done) => ExitCode::SUCCESS,
        Ok(Reply::Recent(recent)) => {
            println!("{}", serde_json::to_string(&recent).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

/// The recent events, as one JSON object (rpcd wants one) or one line each.
fn history(socket: &std::path::Path, json: bool) -> ExitCode {
    let mut events: Vec<Event> = Vec::new();
    let mut bad = None;
    let result = client::events(socket, false, false, |line| {
        match serde_json::from_str(line) {
            Ok(e) => events.push(e),
            Err(e) => bad = Some(format!("mimmd sent an event mimmctl cannot read: {e}")),
        }
        bad.is_none()
    });
    if let Some(e) = bad.or(result.err().map(|e| e.to_string())) {
        return fail(&e);
    }
    if json {
        let all = serde_json::json!({ "events": events });
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
    } else {
        for e in &events {
            println!(
                "{:>10.3} s  {:<12} {:<12} {}",
                e.t_s,
                e.kind,
                e.iface.as_deref().unwrap_or("-"),
                e.detail
            );
        }
    }
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("mimmctl: {message}");
    ExitCode::from(1)
}
