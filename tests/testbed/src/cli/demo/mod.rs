//! `mimm-testbed demo`: the whole system on the built-in testbed in about
//! two minutes. Three 5G modems in Ethernet mode (links driven by a real
//! drive trace) behind the VSD, mimmd steering it from the same trace, a
//! 1 kHz loss-meter stream and a TCP download through the router; a live
//! timeline of handoffs with their reasons, the packets lost at each, and
//! an HTML report. Everything is torn down at the end (and on Ctrl-C).

mod alarm;
mod procs;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mimm_testbed::probe::{self, Options};
use mimm_testbed::{Change, Description, LinkSpec, LinkType, Testbed};
use mimm_trace::Trace;

use procs::{Daemon, sibling};
pub use report::Handoff;

/// The shipped trace (see its header for where it comes from).
const DRIVE: &str = include_str!("../../../demo/drive.csv");
/// The VSD's address on the upstream segment.
const VSD_ADDR: &str = "10.200.0.50/24";

pub struct DemoArgs {
    pub trace: Option<PathBuf>,
    pub out: PathBuf,
    pub speed: f64,
}

fn config(dir: &Path, trace: &Path, ifaces: &[(String, String)]) -> String {
    let mut text = format!(
        "# written by mimm-testbed demo\nconfig globals\n\toption mode 'vsd'\n\toption socket '{}'\n\n\
         config vsd 'vsd0'\n\toption socket '{}'\n",
        dir.join("mimmd.sock").display(),
        dir.join("vsd0.sock").display()
    );
    for (_, dev) in ifaces {
        text.push_str(&format!("\tlist member '{dev}'\n"));
    }
    for (name, dev) in ifaces {
        text.push_str(&format!(
            "\nconfig interface '{name}'\n\toption device '{dev}'\n\toption kind '5g'\n\
             \toption metric 'rate_kbps'\n\toption signal_source 'trace:{}'\n\
             \tlist probe '198.51.100.1'\n",
            trace.display()
        ));
    }
    text.push_str(&alarm::client_section());
    text
}

/// UCI names are `[A-Za-z0-9_]`; trace interface names may not be.
fn uci_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn sh(bed: &Testbed, role: &str, args: &[&str]) -> Result<(), String> {
    let out = bed.exec(role, args).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// One JSON request to a daemon's control socket.
fn ask(socket: &Path, request: &str) -> Option<serde_json::Value> {
    let line =
        mimm_io::client::request(socket, "daemon", request.as_bytes(), Duration::from_secs(2))
            .ok()?;
    serde_json::from_str(&line).ok()
}

/// Follows a daemon's events, printing and keeping its switches.
fn follow(
    socket: PathBuf,
    who: &'static str,
    started: Instant,
    handoffs: Arc<Mutex<Vec<Handoff>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let _ =
            mimm_io::client::stream(&socket, who, br#"{"cmd":"events","follow":true}"#, |line| {
                let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
                    return true;
                };
                let t = started.elapsed().as_secs_f64();
                if e["kind"] == "advice" {
                    let detail = e["detail"].as_str().unwrap_or("");
                    println!("{t:7.1} s  {who:<5} {detail}");
                }
                if e["kind"] == "switch" {
                    let detail = e["detail"].as_str().unwrap_or("").to_string();
                    println!("{t:7.1} s  {who:<5} {detail}");
                    if let Ok(mut h) = handoffs.lock() {
                        h.push(Handoff {
                            t_s: t,
                            who,
                            detail,
                        });
                    }
                }
                true
            });
    })
}

pub fn demo(args: DemoArgs) -> Result<(), String> {
    if !mimm_testbed::netns::is_root() {
        return Err("the demo needs root (network namespaces); try sudo".into());
    }
    // Before any thread or child exists, so Ctrl-C reaches only the waiter.
    let stop = Arc::new(AtomicBool::new(false));
    install_ctrl_c(stop.clone());
    let vsd_bin = sibling("vsd")?;
    let mimmd_bin = sibling("mimmd")?;
    let server_bin = sibling("mimm-server")?;
    let mut trace = match &args.trace {
        Some(p) => Trace::from_path(p).map_err(|e| e.to_string())?,
        None => Trace::parse(DRIVE).map_err(|e| e.to_string())?,
    };
    if !(args.speed > 0.0 && args.speed.is_finite()) {
        return Err(format!("speed {} must be more than 0", args.speed));
    }
    // mimmd plays its signal source in real time: a faster demo is a
    // shorter trace for both it and the links.
    for row in &mut trace.rows {
        row.t_ms = (row.t_ms as f64 / args.speed).round() as u64;
    }
    let names: Vec<String> = trace.ifaces().iter().map(|s| s.to_string()).collect();
    if names.len() < 2 {
        return Err("the demo needs a trace with two interfaces or more".into());
    }
    let ifaces: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), format!("wwan{i}")))
        .collect();
    let seconds = (trace.duration_ms() as f64 / 1000.0).ceil().max(10.0);

    let dir = std::env::temp_dir().join(format!("mimm-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let _cleanup = RemoveDir(dir.clone());
    let trace_path = dir.join("drive.csv");
    // mimmd plays the trace with the interface names as UCI wants them.
    let mut renamed = trace.clone();
    for row in &mut renamed.rows {
        row.iface = uci_name(&row.iface);
    }
    std::fs::write(&trace_path, renamed.to_csv()).map_err(|e| e.to_string())?;
    let uci: Vec<(String, String)> = ifaces
        .iter()
        .map(|(n, d)| (uci_name(n), d.clone()))
        .collect();
    let config_path = dir.join("mimm");
    std::fs::write(&config_path, config(&dir, &trace_path, &uci)).map_err(|e| e.to_string())?;

    println!(
        "mimm demo: {} modems ({}) behind vsd0, {seconds:.0} s of a real drive",
        ifaces.len(),
        names.join(", ")
    );
    let desc = Description {
        lan: true,
        seed: 1,
        links: ifaces
            .iter()
            .map(|(_, d)| {
                LinkSpec::new(d, LinkType::Ether)
                    .upstream()
                    .no_address()
                    .delay_ms(10.0)
            })
            .collect(),
    };
    let bed = Testbed::up(&desc).map_err(|e| format!("testbed: {e}"))?;
    // The server's alarm lasts 20 s of the drive.
    let expiry_s = (20.0 / args.speed).round().max(5.0) as u64;
    let networks: Vec<String> = uci.iter().map(|(n, _)| n.clone()).collect();
    let server_path = dir.join("mimm-server");
    std::fs::write(&server_path, alarm::server_config(&networks, expiry_s))
        .map_err(|e| e.to_string())?;
    let server_arg = server_path.display().to_string();
    let server = Daemon::start(
        &bed.ns("inet"),
        &server_bin,
        &["run", "-c", &server_arg],
        dir.join("server.log"),
    )?;
    let until = Instant::now() + Duration::from_secs(5);
    while !server.log_text().contains("listening") {
        if Instant::now() > until {
            return Err(format!(
                "mimm-server did not come up:\n{}",
                server.log_text()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let traps = alarm::have_snmptrap();
    if !traps {
        println!("(snmptrap is not installed: no network alarm; apt-get install snmp)");
    }
    let router = bed.ns("router");
    let config_arg = config_path.display().to_string();
    let vsd = Daemon::start(
        &router,
        &vsd_bin,
        &["run", "-c", &config_arg],
        dir.join("vsd.log"),
    )?;
    let vsd_socket = dir.join("vsd0.sock");
    let until = Instant::now() + Duration::from_secs(5);
    while ask(&vsd_socket, r#"{"cmd":"status"}"#)
        .is_none_or(|s| s["ok"]["status"]["active"].is_null())
    {
        if Instant::now() > until {
            return Err(format!("the VSD did not come up:\n{}", vsd.log_text()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    sh(
        &bed,
        "router",
        &["ip", "addr", "add", VSD_ADDR, "dev", "vsd0"],
    )?;
    sh(
        &bed,
        "router",
        &[
            "ip",
            "route",
            "replace",
            "default",
            "via",
            "10.200.0.1",
            "dev",
            "vsd0",
        ],
    )?;
    let mimmd = Daemon::start(
        &router,
        &mimmd_bin,
        &["run", "-c", &config_arg],
        dir.join("mimmd.log"),
    )?;
    // The links follow the same trace as mimmd's signal source.
    let map: Vec<(String, String)> = ifaces.clone();
    bed.client()
        .replay("drive", &trace, &map, 1.0, false)
        .map_err(|e| format!("replay: {e}"))?;
    let mimmd_socket = dir.join("mimmd.sock");
    let until = Instant::now() + Duration::from_secs(5);
    while ask(&mimmd_socket, r#"{"cmd":"status"}"#).is_none() {
        if Instant::now() > until {
            return Err(format!("mimmd did not come up:\n{}", mimmd.log_text()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs_f64(seconds),
            ..Options::default()
        },
    )
    .map_err(|e| format!("loss meter: {e}"))?;
    // Every time below is on the stream's clock, as the report reads it.
    let started = Instant::now() - Duration::from_secs_f64(stream.elapsed_s());
    let download = {
        let lan = bed.ns("lan");
        let secs = format!("{}", seconds as u64);
        std::thread::spawn(move || {
            std::process::Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &lan,
                    "iperf3",
                    "-c",
                    "198.51.100.1",
                    "-R",
                    "-J",
                    "-C",
                    "cubic",
                ])
                .args(["-i", "1", "-t", &secs])
                .output()
        })
    };
    let handoffs = Arc::new(Mutex::new(Vec::new()));
    let mimmd_events = follow(mimmd_socket, "mimmd", started, handoffs.clone());
    let vsd_events = follow(vsd_socket.clone(), "vsd", started, handoffs.clone());
    println!("   time  who   what (a TCP download and a 1 kHz stream run through the router)");

    // A third of the way in, the operator's alarm for the active modem's
    // network; near the end the active modem is unplugged: the VSD's own
    // failover.
    let alarm_at = seconds * 0.35;
    let mut alarmed = !traps;
    let unplug_at = (seconds - 12.0).max(seconds * 0.8);
    let mut unplugged: Option<String> = None;
    while started.elapsed().as_secs_f64() < seconds && !stop.load(Ordering::SeqCst) {
        let t = started.elapsed().as_secs_f64();
        if !alarmed && t >= alarm_at {
            let status = ask(&vsd_socket, r#"{"cmd":"status"}"#);
            let active = status
                .as_ref()
                .and_then(|s| s["ok"]["status"]["active"].as_str())
                .and_then(|dev| uci.iter().position(|(_, d)| d == dev));
            if let Some(k) = active {
                println!(
                    "{t:7.1} s  demo  SNMP linkDown trap for network {}, the active modem's: \
                     the server advises avoiding it for {expiry_s} s",
                    uci[k].0
                );
                alarm::trap(&bed, k)?;
                alarmed = true;
            }
        }
        if unplugged.is_none() && t >= unplug_at {
            let status = ask(&vsd_socket, r#"{"cmd":"status"}"#);
            if let Some(active) = status
                .as_ref()
                .and_then(|s| s["ok"]["status"]["active"].as_str())
            {
                println!("{t:7.1} s  demo  unplugging the active modem ({active}) for 5 s");
                bed.set(active, Change::CarrierOff)
                    .map_err(|e| e.to_string())?;
                unplugged = Some(active.to_string());
            }
        }
        if let Some(dev) = &unplugged {
            if t >= unplug_at + 5.0 && !dev.is_empty() {
                println!("{t:7.1} s  demo  {dev} plugged back in");
                bed.set(dev, Change::CarrierOn).map_err(|e| e.to_string())?;
                unplugged = Some(String::new());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let loss = stream.finish().map_err(|e| format!("loss meter: {e}"))?;
    let download = download
        .join()
        .map_err(|_| "iperf3 thread".to_string())?
        .map_err(|e| format!("iperf3: {e}"))?;
    let iperf: serde_json::Value = serde_json::from_slice(&download.stdout).unwrap_or_default();
    drop(mimmd);
    drop(vsd);
    drop(server);
    let _ = mimmd_events.join();
    let _ = vsd_events.join();
    let handoffs = handoffs.lock().map(|h| h.clone()).unwrap_or_default();
    let summary = report::Summary::new(&trace, &ifaces, &handoffs, &loss.stream, &iperf);
    print!("{}", summary.to_text());
    std::fs::write(&args.out, summary.to_html())
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("report: {}", args.out.display());
    drop(bed);
    Ok(())
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Ctrl-C ends the demo early but still tears everything down.
fn install_ctrl_c(stop: Arc<AtomicBool>) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            stop.store(true, Ordering::SeqCst);
        }
    });
}
