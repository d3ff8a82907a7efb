//! `mimm-testbed demo`: the whole system on the built-in testbed in about
//! two minutes. The anchored mode by default: a PPP link, a raw-IP modem
//! and a Wi-Fi client on three ISPs that NAT (links driven by a real drive
//! trace) bonded in the VSD behind one home address through the anchor in
//! the core; `--shadow`: three 5G modems in Ethernet mode on one segment
//! behind the shadow-MAC VSD (see [`variant`]). mimmd steers the VSD from
//! the same trace; a 1 kHz loss-meter stream and a TCP download run through
//! the router; a live timeline of handoffs with their reasons, the packets
//! lost at each, and an HTML report. Everything is torn down at the end
//! (and on Ctrl-C).

mod alarm;
mod files;
mod procs;
mod report;
mod sources;
mod variant;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mimm_testbed::Testbed;
use mimm_testbed::probe::{self, Options};
use mimm_trace::Trace;

use files::Files;
use procs::{Daemon, sibling};
pub use report::Handoff;
pub use variant::Variant;

/// The shipped trace (see its header for where it comes from).
const DRIVE: &str = include_str!("../../../demo/drive.csv");

pub struct DemoArgs {
    pub trace: Option<PathBuf>,
    pub out: PathBuf,
    pub speed: f64,
    pub variant: Variant,
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

/// The drive, sped up, and its interfaces: (trace name, device).
fn load_trace(args: &DemoArgs) -> Result<(Trace, Vec<(String, String)>), String> {
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
    let names = trace.ifaces();
    if names.len() < 2 {
        return Err("the demo needs a trace with two interfaces or more".into());
    }
    let ifaces = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), args.variant.device(i)))
        .collect();
    Ok((trace, ifaces))
}

/// Polls `ready` every 50 ms for up to `limit`; else fails with `what`
/// and the daemon's log.
fn wait_for(
    what: &str,
    daemon: &Daemon,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let until = Instant::now() + limit;
    while !ready() {
        if Instant::now() > until {
            return Err(format!("{what} did not come up:\n{}", daemon.log_text()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The daemons, held to be stopped when dropped in this order (mimmd
/// first; the anchor last, so the VSD can deregister).
struct Daemons {
    _mimmd: Daemon,
    _vsd: Daemon,
    _server: Daemon,
    _anchor: Option<Daemon>,
}

const SECOND: Duration = Duration::from_secs(1);

/// mimm-server in `role` with config `file`, once it listens.
fn start_server(bed: &Testbed, role: &str, file: &str, log: PathBuf) -> Result<Daemon, String> {
    let server = Daemon::start(
        &bed.ns(role),
        &sibling("mimm-server")?,
        &["run", "-c", file],
        log,
    )?;
    wait_for("mimm-server", &server, 5 * SECOND, || {
        server.log_text().contains("listening")
    })?;
    Ok(server)
}

/// The anchor in the core (anchored), the advice server in `inet`, the VSD
/// on the router with the default route through it, then mimmd steering it.
fn start_daemons(bed: &Testbed, files: &Files, variant: Variant) -> Result<Daemons, String> {
    let (vsd_bin, mimmd_bin) = (sibling("vsd")?, sibling("mimmd")?);
    let anchor = match &files.anchor_config {
        Some(file) => Some(start_server(bed, "core", file, files.path("anchor.log"))?),
        None => None,
    };
    let server = start_server(bed, "inet", &files.server_config, files.path("server.log"))?;
    let router = bed.ns("router");
    let run = ["run", "-c", &files.config];
    let vsd = Daemon::start(&router, &vsd_bin, &run, files.path("vsd.log"))?;
    let vsd_socket = files.path("vsd0.sock");
    // Registering every member at the anchor takes a round trip or a few.
    wait_for("the VSD", &vsd, 10 * SECOND, || {
        ask(&vsd_socket, r#"{"cmd":"status"}"#).is_some_and(|s| variant.vsd_ready(&s))
    })?;
    variant.route_through_vsd(bed)?;
    let mimmd = Daemon::start(&router, &mimmd_bin, &run, files.path("mimmd.log"))?;
    let mimmd_socket = files.path("mimmd.sock");
    wait_for("mimmd", &mimmd, 5 * SECOND, || {
        ask(&mimmd_socket, r#"{"cmd":"status"}"#).is_some()
    })?;
    Ok(Daemons {
        _mimmd: mimmd,
        _vsd: vsd,
        _server: server,
        _anchor: anchor,
    })
}

/// The home address the anchor gave the VSD (anchored mode only).
fn home_address(files: &Files) -> Option<std::net::Ipv4Addr> {
    let status = ask(&files.path("vsd0.sock"), r#"{"cmd":"status"}"#)?;
    status["ok"]["status"]["anchored"]["home"]
        .as_str()?
        .parse()
        .ok()
}

/// A TCP download from the server side to the LAN, for `seconds`.
fn start_download(
    bed: &Testbed,
    seconds: f64,
) -> std::thread::JoinHandle<std::io::Result<std::process::Output>> {
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
            ])
            .args(["-C", "cubic", "-i", "1", "-t", &secs])
            .output()
    })
}

/// What the demo does to the system as it runs: a third of the way in, the
/// operator's alarm for the active modem's network; near the end the active
/// modem is unplugged for 5 s (the VSD's own failover).
struct Script<'a> {
    bed: &'a Testbed,
    files: &'a Files,
    variant: Variant,
    alarm_at: Option<f64>,
    expiry_s: u64,
    unplug_at: f64,
    /// The modem unplugged, until it is plugged back in (then empty).
    unplugged: Option<String>,
}

impl Script<'_> {
    fn active(&self) -> Option<String> {
        let status = ask(&self.files.path("vsd0.sock"), r#"{"cmd":"status"}"#)?;
        status["ok"]["status"]["active"]
            .as_str()
            .map(str::to_string)
    }

    fn step(&mut self, t: f64) -> Result<(), String> {
        if self.alarm_at.is_some_and(|at| t >= at) {
            let uci = &self.files.uci;
            if let Some(k) = self
                .active()
                .and_then(|dev| uci.iter().position(|(_, d)| *d == dev))
            {
                println!(
                    "{t:7.1} s  demo  SNMP linkDown trap for network {}, the active modem's: \
                     the server advises avoiding it for {} s",
                    uci[k].0, self.expiry_s
                );
                alarm::trap(self.bed, k)?;
                self.alarm_at = None;
            }
        }
        if self.unplugged.is_none() && t >= self.unplug_at {
            if let Some(active) = self.active() {
                println!("{t:7.1} s  demo  unplugging the active modem ({active}) for 5 s");
                self.variant
                    .unplug(self.bed, &active, false)
                    .map_err(|e| e.to_string())?;
                self.unplugged = Some(active);
            }
        }
        if let Some(dev) = self.unplugged.as_mut() {
            if t >= self.unplug_at + 5.0 && !dev.is_empty() {
                println!("{t:7.1} s  demo  {dev} plugged back in");
                self.variant
                    .unplug(self.bed, dev, true)
                    .map_err(|e| e.to_string())?;
                dev.clear();
            }
        }
        Ok(())
    }
}

pub fn demo(args: DemoArgs) -> Result<(), String> {
    if !mimm_testbed::netns::is_root() {
        return Err("the demo needs root (network namespaces); try sudo".into());
    }
    // Before any thread or child exists, so Ctrl-C reaches only the waiter.
    let stop = Arc::new(AtomicBool::new(false));
    install_ctrl_c(stop.clone());
    let (trace, ifaces) = load_trace(&args)?;
    let seconds = (trace.duration_ms() as f64 / 1000.0).ceil().max(10.0);
    // The server's alarm lasts 20 s of the drive.
    let expiry_s = (20.0 / args.speed).round().max(5.0) as u64;
    let variant = args.variant;
    let files = Files::write(&trace, &ifaces, expiry_s, variant)?;
    let devices: Vec<&str> = ifaces.iter().map(|(_, d)| d.as_str()).collect();
    println!(
        "mimm demo: {}, {seconds:.0} s of a real drive",
        variant.headline(&devices)
    );
    let bed = variant
        .up(&variant.description(&devices))
        .map_err(|e| format!("testbed: {e}"))?;
    let traps = alarm::have_snmptrap();
    if !traps {
        println!("(snmptrap is not installed: no network alarm; apt-get install snmp)");
    }
    let daemons = start_daemons(&bed, &files, variant)?;
    let home = home_address(&files);
    if let Some(home) = home {
        println!("vsd0 has the home address {home}: every member bound at the anchor");
        sources::count(&bed, home)?;
    }
    // The links follow the same trace as mimmd's signal source.
    bed.client()
        .replay("drive", &trace, &ifaces, 1.0, false)
        .map_err(|e| format!("replay: {e}"))?;

    let options = Options {
        duration: Duration::from_secs_f64(seconds),
        ..Options::default()
    };
    let stream = probe::start(&bed.plan, options).map_err(|e| format!("loss meter: {e}"))?;
    // Every time below is on the stream's clock, as the report reads it.
    let started = Instant::now() - Duration::from_secs_f64(stream.elapsed_s());
    let download = start_download(&bed, seconds);
    let handoffs = Arc::new(Mutex::new(Vec::new()));
    let followers = [
        follow(files.path("mimmd.sock"), "mimmd", started, handoffs.clone()),
        follow(files.path("vsd0.sock"), "vsd", started, handoffs.clone()),
    ];
    println!("   time  who   what (a TCP download and a 1 kHz stream run through the router)");
    let mut script = Script {
        bed: &bed,
        files: &files,
        variant,
        alarm_at: traps.then_some(seconds * 0.35),
        expiry_s,
        unplug_at: (seconds - 12.0).max(seconds * 0.8),
        unplugged: None,
    };
    while started.elapsed().as_secs_f64() < seconds && !stop.load(Ordering::SeqCst) {
        script.step(started.elapsed().as_secs_f64())?;
        std::thread::sleep(Duration::from_millis(100));
    }
    let loss = stream.finish().map_err(|e| format!("loss meter: {e}"))?;
    let download = download
        .join()
        .map_err(|_| "iperf3 thread".to_string())?
        .map_err(|e| format!("iperf3: {e}"))?;
    let iperf: serde_json::Value = serde_json::from_slice(&download.stdout).unwrap_or_default();
    drop(daemons);
    for f in followers {
        let _ = f.join();
    }
    let handoffs = handoffs.lock().map(|h| h.clone()).unwrap_or_default();
    let summary = report::Summary::new(&trace, &ifaces, &handoffs, &loss.stream, &iperf);
    print!("{}", summary.to_text());
    if let Some(home) = home {
        let (from_home, others) = sources::read(&bed)?;
        println!(
            "inet received {from_home} packets from the home address {home} and {others} from any \
             other address, whichever ISP carried them"
        );
    }
    std::fs::write(&args.out, summary.to_html())
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("report: {}", args.out.display());
    drop(bed);
    Ok(())
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
