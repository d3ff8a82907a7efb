//! `up`: build a testbed and supervise it until Ctrl-C or `down`; with
//! `--detach`, hand it to a background copy of this program.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mimm_testbed::description::Description;
use mimm_testbed::plan::{self, Plan};
use mimm_testbed::{Segment, Testbed, netns, run};

use mimm_io::signals::{Signals, Wake};

/// Set in the background copy started by `--detach`.
const DETACHED_ENV: &str = "MIMM_TESTBED_DETACHED";

pub fn up(
    id: Option<&str>,
    file: Option<PathBuf>,
    links: &[String],
    lan: bool,
    detach: bool,
) -> Result<(), String> {
    let mut desc = match &file {
        Some(path) => Description::from_path(path)?,
        None if !links.is_empty() => Description::from_shorthand(links, lan)?,
        None => Description::default(),
    };
    if !lan {
        desc.lan = false;
    }
    if !netns::is_root() {
        return Err("up needs root (network namespaces, TUN/TAP)".into());
    }
    let id = match id {
        Some(id) if !run::valid_id(id) => {
            return Err(format!("{id:?} is not a run id (six hex digits)"));
        }
        Some(id) if run::run_dir(id).join("state.json").exists() => {
            return Err(format!("testbed {id} exists already"));
        }
        Some(id) => id.to_string(),
        None => run::new_id().map_err(|e| e.to_string())?,
    };
    if detach {
        return start_detached(&id, file, links, desc.lan);
    }
    supervise(&id, &desc)
}

fn supervise(id: &str, desc: &Description) -> Result<(), String> {
    // Before any thread starts, so they all inherit the blocked mask.
    let signals = Signals::block()?;
    // Release builds abort on panic without unwinding; remove the run first.
    let run_id = id.to_string();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        run::remove(&run_id);
    }));
    let bed = Testbed::up_with_id(desc, id).map_err(|e| format!("up: {e}"))?;
    print!("{}", summary(&bed.plan, desc));
    if std::env::var_os(DETACHED_ENV).is_some() {
        println!("ready");
        redirect_output(id);
    } else {
        println!("Ctrl-C (or `mimm-testbed down`) tears it down.");
    }
    let _ = std::io::stdout().flush();
    // Sleeps until a signal, or until the emulator stops (`down` asks it to).
    if let Wake::Signal(signal) = signals.wait(None, Some(bed.stopped_fd())) {
        eprintln!("signal {signal}: tearing down testbed {id}");
    }
    bed.down().map_err(|e| format!("down: {e}"))?;
    println!("testbed {id} down");
    Ok(())
}

/// After the handover, output goes to the run's log instead of the pipe the
/// foreground copy has stopped reading.
fn redirect_output(id: &str) {
    let _ = std::io::stdout().flush();
    if let Ok(log) = std::fs::File::create(run::run_dir(id).join("up.log")) {
        let _ = rustix::stdio::dup2_stdout(&log);
        let _ = rustix::stdio::dup2_stderr(&log);
    }
}

fn start_detached(
    id: &str,
    file: Option<PathBuf>,
    links: &[String],
    lan: bool,
) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.args(["--id", id, "up"]);
    if let Some(file) = file {
        let file = std::fs::canonicalize(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        cmd.arg(file);
    }
    if !links.is_empty() {
        cmd.arg("--links").arg(links.join(","));
    }
    if !lan {
        cmd.arg("--no-lan");
    }
    // CLOEXEC: only the child's stdout and stderr may hold the write end, or
    // the read below never sees end-of-file.
    let (reader, writer) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| e.to_string())?;
    let writer2 = writer.try_clone().map_err(|e| e.to_string())?;
    cmd.env(DETACHED_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2));
    // SAFETY: setsid is async-signal-safe; it detaches from our terminal so a
    // Ctrl-C here does not reach the background copy.
    unsafe {
        cmd.pre_exec(|| rustix::process::setsid().map(|_| ()).map_err(Into::into));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start background copy: {e}"))?;
    drop(cmd);
    let mut ready = false;
    for line in BufReader::new(std::fs::File::from(reader)).lines() {
        let Ok(line) = line else { break };
        if line == "ready" {
            ready = true;
        } else {
            println!("{line}");
        }
    }
    match child.try_wait() {
        Ok(None) if ready => {
            println!(
                "running in the background (pid {}); `mimm-testbed down` tears it down.",
                child.id()
            );
            Ok(())
        }
        _ => Err(format!("testbed {id} did not come up")),
    }
}

/// What was built, where, and how to use it.
pub fn summary(plan: &Plan, desc: &Description) -> String {
    let mut out = format!(
        "testbed {} up: namespaces {}\n",
        plan.id,
        plan.roles()
            .iter()
            .map(|r| plan.ns(r))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        out,
        "{:<16} {:<6} {:<22} {:<18} {:>10} {:>8} {:>6}",
        "link", "type", "router address", "far end", "rate kbps", "delay ms", "loss %"
    );
    for (spec, lp) in desc.links.iter().zip(&plan.links) {
        let addr = match lp.router_addr {
            Some(a) if spec.link_type == mimm_testbed::LinkType::Ptp => {
                format!("{a} peer {}", lp.gateway)
            }
            Some(a) => format!("{a}/24 gw {}", lp.gateway),
            None => "(none)".into(),
        };
        let rate = spec
            .rate_kbps
            .map_or("unlimited".to_string(), |r| r.to_string());
        let far = format!("{}/{}", lp.far_role, lp.far_dev);
        let _ = writeln!(
            out,
            "{:<16} {:<6} {:<22} {:<18} {:>10} {:>8} {:>6}",
            lp.name,
            format!("{:?}", spec.link_type).to_lowercase(),
            addr,
            far,
            rate,
            spec.delay_ms,
            spec.loss_pct
        );
    }
    let _ = writeln!(
        out,
        "inet {} serves iperf3 (5201), UDP echo (7), discard (9)",
        plan::INET_ADDR
    );
    if plan.lan {
        let _ = writeln!(
            out,
            "lan {} behind router {} (NAT)",
            plan::LAN_ADDR,
            plan::ROUTER_LAN_ADDR
        );
    }
    if desc.links.iter().any(|l| l.segment == Segment::Upstream) {
        let _ = writeln!(
            out,
            "upstream segment 10.200.0.0/24, gateway {}",
            plan::UPSTREAM_GW
        );
    }
    if let Some(first) = plan.links.first() {
        let _ = writeln!(
            out,
            "try: mimm-testbed exec router -- ping -c 3 -I {} {}",
            first.name,
            plan::INET_ADDR
        );
    }
    out
}
