//! The anchor (mimm-server with `config anchor`) restarted under traffic:
//! killed with SIGKILL and started again at once (procd's respawn), then
//! stopped with SIGTERM and started again, while a 1 kHz echo stream and
//! one TCP download run from the LAN through an anchored VSD with two
//! members (`wwan0`, `wlan0`, each behind its own NAT).
//!
//! The restarted anchor remembers no binding. It answers the first tunnel
//! packet of each path with a notice that it has none, and the VSD
//! registers that path again at once (signed, with a fresh timestamp the
//! new process has no memory against): the same home address, so the TCP
//! connection only pauses. Asserted: nothing of the killed anchor (its
//! TUN, the address and routes on it) is left to block the restart; each
//! path is bound again; the stream flows again within 1 s of the anchor
//! being back and loses nothing after; the hole, the losses and the time
//! to re-bind within the margin of the figures printed; iperf3 completes
//! over its one connection and no TCP reset is seen.

mod common;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{root_or_skip, serial, sibling, text};
use mimm_requires::margin_over_noise;
use mimm_testbed::anchored::{self as core_net, AnchorClient};
use mimm_testbed::daemon::{Daemon, Scratch, ask};
use mimm_testbed::probe::{self, Cost, Options, ProbeHandle, ProbeReport};
use mimm_testbed::{Description, LinkSpec, LinkType, Testbed, netns};

const CLIENT: AnchorClient = AnchorClient {
    name: "router",
    spi: 4000,
    key_hex: "00112233445566778899aabbccddeeff",
};
const MEMBERS: [(&str, LinkType, f64); 2] = [
    ("wwan0", LinkType::Ptp, 5.0),
    ("wlan0", LinkType::Ether, 2.0),
];
const RATE_KBPS: u64 = 20_000;
const KEEPALIVE_MS: u64 = 200;
/// The anchor's TUN: not persistent, so it goes with the process.
const TUN: &str = "mar-anchor0";
/// What mimm-server logs once its socket (and, before, its TUN) is up.
const LISTENING: &str = "mimm-server listening on UDP";
/// The TCP download's pace: well under the links' rate, so its queue
/// does not delay the stream.
const TCP_RATE: &str = "5M";
/// When (stream seconds) the anchor is killed, then stopped.
const KILL_AT_S: f64 = 3.0;
const STOP_AT_S: f64 = 8.0;
const STREAM_S: u64 = 13;
/// The bar: the stream flows again within this of the anchor being back.
const BACK_WITHIN_MS: f64 = 1000.0;
/// The top of the printed ranges (README), each restart: the hole in the
/// stream, the packets it lost, and from the anchor being back to the
/// first path bound again and to every path (a backup registers on its
/// next keepalive, up to [`KEEPALIVE_MS`] later).
const HOLE_MS: f64 = 66.0;
const LOST: f64 = 64.0;
const FIRST_MS: f64 = 12.0;
const REBOUND_MS: f64 = 156.0;

fn bed() -> Testbed {
    let links = MEMBERS
        .iter()
        .map(|&(dev, ty, delay)| LinkSpec::new(dev, ty).delay_ms(delay).rate_kbps(RATE_KBPS))
        .collect();
    let desc = Description {
        lan: true,
        seed: 1,
        links,
    };
    Testbed::up_anchored(&desc).unwrap()
}

struct Anchored {
    anchor: Daemon,
    vsd: Daemon,
    socket: std::path::PathBuf,
}

impl Anchored {
    fn status(&self) -> serde_json::Value {
        ask(&self.socket, r#"{"cmd":"status"}"#).unwrap_or_default()["ok"]["status"].clone()
    }

    fn members(&self) -> Vec<serde_json::Value> {
        self.status()["members"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        format!(
            "vsd:\n{}\nanchor:\n{}",
            self.vsd.log_text(),
            self.anchor.log_text()
        )
    }

    /// Looks every 5 ms until `ready`; how long it took, `None` after `limit`.
    fn wait_for(&self, limit: Duration, ready: impl Fn(&Anchored) -> bool) -> Option<Duration> {
        let start = Instant::now();
        while !ready(self) {
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(start.elapsed())
    }
}

/// Every member bound, measured by its keepalives and nearly lossless.
fn settled(a: &Anchored) -> bool {
    let members = a.members();
    members.len() == MEMBERS.len()
        && members.iter().all(|m| {
            let p = &m["path"];
            p["bound"].as_bool() == Some(true)
                && p["srtt_ms"].is_number()
                && p["loss_pct"].as_f64().is_some_and(|l| l <= 10.0)
        })
}

/// Each member's count of registrations made again because the anchor
/// had no binding for it.
fn rebinds(a: &Anchored) -> Vec<u64> {
    let members = a.members();
    members
        .iter()
        .map(|m| m["path"]["rebinds"].as_u64().unwrap_or(0))
        .collect()
}

/// How many members are bound again since `before`, and answered.
fn rebound(a: &Anchored, before: &[u64]) -> usize {
    let members = a.members();
    let again = |(m, &b): (&serde_json::Value, &u64)| {
        let p = &m["path"];
        p["rebinds"].as_u64().is_some_and(|n| n > b)
            && p["bound"].as_bool() == Some(true)
            && p["asking_tries"].as_u64() == Some(0)
            && p["missed"].as_u64() == Some(0)
    };
    members.iter().zip(before).filter(|&m| again(m)).count()
}

/// Looks every 5 ms for members bound again: ms until the first was, and
/// until every one was (the backup registers on its next keepalive).
fn wait_rebound(a: &Anchored, before: &[u64], limit: Duration) -> (Option<f64>, Option<f64>) {
    let start = Instant::now();
    let mut first = None;
    while start.elapsed() < limit {
        let n = rebound(a, before);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if n > 0 && first.is_none() {
            first = Some(ms);
        }
        if n == before.len() {
            return (first, Some(ms));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (first, None)
}

/// The anchor in `core`, the VSD in `router` settled on both members, and
/// the router's default route through it.
fn start(bed: &Testbed, dir: &Scratch) -> Anchored {
    let anchor_file = dir.join("mimm-server");
    std::fs::write(&anchor_file, core_net::anchor_config(&CLIENT, TUN)).unwrap();
    let socket = dir.join("vsd0.sock");
    let names: Vec<&str> = MEMBERS.iter().map(|m| m.0).collect();
    let section = core_net::anchored_vsd_section("vsd0", &names, &CLIENT, KEEPALIVE_MS, &socket);
    let vsd_file = dir.join("mimm");
    std::fs::write(&vsd_file, section).unwrap();
    let run_anchor = ["run", "-c", anchor_file.to_str().unwrap()];
    let anchor = Daemon::start(
        bed,
        "core",
        &sibling("mimm-server"),
        &run_anchor,
        dir.join("anchor.log"),
    )
    .unwrap();
    let run_vsd = ["run", "-c", vsd_file.to_str().unwrap()];
    let vsd = Daemon::start(
        bed,
        "router",
        &sibling("vsd"),
        &run_vsd,
        dir.join("vsd.log"),
    )
    .unwrap();
    let a = Anchored {
        anchor,
        vsd,
        socket,
    };
    let took = a.wait_for(Duration::from_secs(15), settled);
    assert!(took.is_some(), "not settled:\n{}", a.logs());
    let route = ["ip", "route", "replace", "default", "dev", "vsd0"];
    let out = bed.exec("router", &route).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    a
}

/// What the anchor left in its namespace: its TUN, and routes over it.
fn anchor_leftovers(bed: &Testbed) -> Vec<String> {
    let link = bed.exec("core", &["ip", "-o", "link", "show", "dev", TUN]);
    let mut left: Vec<String> = link
        .ok()
        .filter(|out| out.status.success())
        .map(|out| text(&out).trim().to_string())
        .into_iter()
        .collect();
    let routes = bed
        .exec("core", &["ip", "-4", "route", "show", "table", "all"])
        .unwrap();
    left.extend(
        text(&routes)
            .lines()
            .filter(|l| l.contains(TUN) || l.contains(core_net::HOME_PREFIX))
            .map(str::to_string),
    );
    left
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum How {
    Kill,
    Stop,
}

/// One restart, on the stream's clock: when the anchor went down, when it
/// was back (listening again), and how long after that the first path,
/// and every path, was bound again.
#[derive(Debug, Clone, Copy)]
struct Restart {
    how: How,
    down_s: f64,
    back_s: f64,
    /// Of the time down, what the test's own look for leftovers took
    /// (procd would have started it again at once).
    looked_ms: f64,
    first_ms: Option<f64>,
    rebound_ms: Option<f64>,
}

fn restart(bed: &Testbed, a: &mut Anchored, probe: &ProbeHandle, how: How) -> Restart {
    let before = rebinds(a);
    let listened = a.anchor.logged(LISTENING);
    let down_s = probe.elapsed_s();
    let exit = match how {
        How::Kill => a.anchor.kill(),
        How::Stop => a.anchor.stop(),
    }
    .unwrap();
    if how == How::Stop {
        assert!(exit.success(), "SIGTERM: {exit}:\n{}", a.logs());
    }
    // Nothing is left to block the restart: the TUN (not persistent) went
    // with the process's descriptor, its address and routes with it.
    let looking = Instant::now();
    let left = anchor_leftovers(bed);
    let looked_ms = looking.elapsed().as_secs_f64() * 1e3;
    assert!(left.is_empty(), "after {how:?}, the anchor left {left:?}");
    a.anchor.respawn().unwrap();
    let back = a
        .anchor
        .wait_logged(LISTENING, listened, Duration::from_secs(5));
    assert!(back, "the anchor did not start again:\n{}", a.logs());
    let back_s = probe.elapsed_s();
    let (first_ms, rebound_ms) = wait_rebound(a, &before, Duration::from_secs(5));
    Restart {
        how,
        down_s,
        back_s,
        looked_ms,
        first_ms,
        rebound_ms,
    }
}

/// Counts TCP resets in inet, each way.
fn count_resets(bed: &Testbed) {
    let rules = "table ip resets {\n chain input {\n  type filter hook input priority 0;\n  \
                 tcp flags & rst == rst counter\n }\n chain output {\n  \
                 type filter hook output priority 0;\n  tcp flags & rst == rst counter\n }\n}\n";
    netns::nft(&bed.ns("inet"), rules).unwrap();
}

fn resets(bed: &Testbed) -> u64 {
    let (counts, listing) = netns::nft_counters(&bed.ns("inet"), "ip", "resets").unwrap();
    assert_eq!(counts.len(), 2, "{listing}");
    counts.iter().sum()
}

/// A paced TCP download from inet to the LAN client (`iperf3 -R`).
fn download(bed: &Testbed, seconds: u64) -> std::thread::JoinHandle<Output> {
    let mut cmd = bed.command("lan", "iperf3");
    cmd.args(["-c", "198.51.100.1", "-R", "-J", "-C", "cubic"])
        .args(["-b", TCP_RATE, "-t", &seconds.to_string()])
        // A stalled flow fails the run instead of holding it for 2 min.
        .args(["--rcv-timeout", "5000"])
        .stdin(Stdio::null());
    std::thread::spawn(move || cmd.output().unwrap())
}

/// What iperf3 said: Mbit/s received, and in its slowest second; an
/// error unless it completed over its one connection.
fn received(out: &Output) -> Result<(f64, f64), String> {
    if !out.status.success() {
        return Err(format!("iperf3 failed: {}", text(out)));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    if let Some(e) = json.get("error") {
        return Err(format!("iperf3: {e}"));
    }
    let connected = json["start"]["connected"].as_array().map_or(0, Vec::len);
    if connected != 1 {
        return Err(format!("{connected} connections"));
    }
    let mbps = |v: &serde_json::Value| v["bits_per_second"].as_f64().unwrap_or(0.0) / 1e6;
    let slowest = json["intervals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| mbps(&i["sum"]))
        .fold(f64::INFINITY, f64::min);
    Ok((mbps(&json["end"]["sum_received"]), slowest))
}

/// What one restart cost the stream.
struct Figures {
    how: How,
    /// The longest hole and the packets lost around the restart.
    cost: Cost,
    /// From the anchor being back to the stream arriving again.
    flowing_ms: f64,
    first_ms: Option<f64>,
    rebound_ms: Option<f64>,
    /// Lost from 1 s after the anchor was back to the next event.
    after: Cost,
    noise: Cost,
}

/// `events`: every restart's down and back times, which the noise is
/// measured away from.
fn figures(report: &ProbeReport, r: &Restart, until_s: f64, events: &[f64]) -> Figures {
    let s = &report.stream;
    let window_end = r.back_s + BACK_WITHIN_MS / 1e3;
    let cost = s.cost(r.down_s - 0.05, window_end);
    // When packets arrived again: the end of the hole the anchor's absence
    // made (the down time lies in it).
    let hole_end = (s.gaps.iter())
        .filter(|g| g.end_s >= r.down_s && g.start_s <= r.back_s)
        .map(|g| g.end_s)
        .fold(r.back_s, f64::max);
    let f = Figures {
        how: r.how,
        cost,
        flowing_ms: (hole_end - r.back_s) * 1e3,
        first_ms: r.first_ms,
        rebound_ms: r.rebound_ms,
        after: s.cost(window_end, until_s),
        noise: s.noise(events),
    };
    eprintln!(
        "anchor {:?}: down {:.0} ms (until listening again; {:.0} ms of it the test's look at \
         its TUN), {}; flowing again {:.1} ms \
         after it was back; bound again after {} ms (first path), {} ms (every path); \
         after: {}; noise: {}",
        f.how,
        (r.back_s - r.down_s) * 1e3,
        r.looked_ms,
        f.cost,
        f.flowing_ms,
        ms(f.first_ms),
        ms(f.rebound_ms),
        f.after,
        f.noise
    );
    f
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |m| format!("{m:.1}"))
}

fn check(f: &Figures) {
    let how = f.how;
    assert!(
        f.flowing_ms <= BACK_WITHIN_MS,
        "{how:?}: the stream flowed again {:.1} ms after the anchor was back",
        f.flowing_ms
    );
    assert_eq!(f.after.lost, 0, "{how:?}: lost after recovery: {}", f.after);
    let noise = f.noise;
    let first = f.first_ms.expect("a path bound again");
    assert!(
        first <= margin_over_noise(FIRST_MS, noise.gap_ms),
        "{how:?}: {first:.1} ms"
    );
    let every = f.rebound_ms.expect("every path bound again");
    assert!(
        every <= margin_over_noise(REBOUND_MS, noise.gap_ms),
        "{how:?}: {every:.1} ms"
    );
    assert!(
        f.cost.gap_ms <= margin_over_noise(HOLE_MS, noise.gap_ms),
        "{how:?}: {}",
        f.cost
    );
    let lost_bound = margin_over_noise(LOST, noise.lost as f64);
    assert!(f.cost.lost as f64 <= lost_bound, "{how:?}: {}", f.cost);
}

/// The anchor's counters as it logs them on exit: the tunnels it had.
fn last_counters(anchor: &Daemon) -> String {
    let log = anchor.log_text();
    log.lines()
        .rev()
        .find(|l| l.contains(" tunnels; registrations "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_restarted_anchor_rebinds_its_clients_and_keeps_their_flows() {
    let test = "a_restarted_anchor_rebinds_its_clients_and_keeps_their_flows";
    if !root_or_skip(test) || !mimm_requires::tool(test, "iperf3", "iperf3") {
        return;
    }
    let _serial = serial();
    let dir = Scratch::new("mimm-anchor-restart").unwrap();
    let bed = bed();
    let mut a = start(&bed, &dir);
    let home = a.status()["anchored"]["home"].clone();
    assert_eq!(home, core_net::FIRST_HOME.to_string(), "{}", a.logs());
    count_resets(&bed);
    let tcp = download(&bed, STREAM_S + 1);
    let options = Options {
        echo: true,
        duration: Duration::from_secs(STREAM_S),
        ..Options::default()
    };
    let probe = probe::start(&bed.plan, options).unwrap();

    let mut restarts = Vec::new();
    for (at_s, how) in [(KILL_AT_S, How::Kill), (STOP_AT_S, How::Stop)] {
        std::thread::sleep(Duration::from_secs_f64((at_s - probe.elapsed_s()).max(0.0)));
        restarts.push(restart(&bed, &mut a, &probe, how));
    }
    // Read before iperf3 ends: its own close is not the restarts' doing.
    std::thread::sleep(Duration::from_secs(1));
    let resets = resets(&bed);
    let report = probe.finish().unwrap();
    let tcp = received(&tcp.join().unwrap());
    let ends = [STOP_AT_S, STREAM_S as f64];
    let events: Vec<f64> = restarts.iter().flat_map(|r| [r.down_s, r.back_s]).collect();
    let figures: Vec<Figures> = (restarts.iter().zip(ends))
        .map(|(r, until_s)| figures(&report, r, until_s - 0.05, &events))
        .collect();
    let rtt = report.rtt.as_ref().unwrap();
    eprintln!(
        "stream: {} sent, {} lost, {} echoes lost; TCP download (Mbit/s, slowest second): \
         {tcp:.2?}; {resets} resets",
        report.stream.sent, report.stream.lost, rtt.lost
    );
    figures.iter().for_each(check);
    if let Err(e) = tcp {
        panic!("the TCP flow did not survive: {e}\n{}", a.logs());
    }
    assert_eq!(resets, 0, "TCP resets seen in inet");
    assert_eq!(
        a.status()["anchored"]["home"],
        home,
        "the home address moved"
    );
    // The anchor knows both bindings again: its counters, on a last stop.
    assert!(a.anchor.stop().unwrap().success(), "{}", a.logs());
    let counters = last_counters(&a.anchor);
    eprintln!("the restarted anchor on exit: {counters}");
    assert!(
        counters.contains(&format!("anchor: {} tunnels;", MEMBERS.len())),
        "{}",
        a.logs()
    );
    // Each path was told once (the rest held back), not once a packet.
    let told: Option<u64> = (counters.split("no-binding notices ").nth(1))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    assert_eq!(told, Some(MEMBERS.len() as u64), "{counters}");
}
