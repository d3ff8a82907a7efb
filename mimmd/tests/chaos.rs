//! Chaos (issue 17): a carrier flap storm on the VSD's active member, and a
//! soak replaying a trace, each with mimmd in vsd mode, the VSD and a 1 kHz
//! stream through them. Neither daemon may crash, grow, leak descriptors,
//! spin or flood its log, and traffic must end up on the best link.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::vsd_bed::{Member, VsdBed};
use common::{Mimmd, root_or_skip, serial};
use mimm_requires::margin;
use mimm_testbed::probe::{self, Options, ProbeHandle};
use mimm_testbed::{Change, Client, Dir};

/// A daemon watched from outside: its pid and its log.
struct Watched {
    name: &'static str,
    pid: i32,
    log: PathBuf,
}

/// One look at a daemon through /proc.
#[derive(Debug, Clone, Copy)]
struct Usage {
    at: Instant,
    rss_kib: u64,
    fds: usize,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    log_lines: usize,
}

impl Watched {
    fn new(name: &'static str, pid: i32, log: &Path) -> Watched {
        Watched {
            name,
            pid,
            log: log.to_path_buf(),
        }
    }

    /// Panics naming the daemon if it is gone: a crash is what this catches.
    fn usage(&self) -> Usage {
        let status = self.proc_file("status");
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{}: no VmRSS in {status}", self.name));
        Usage {
            at: Instant::now(),
            rss_kib,
            fds: self.steady_fds(),
            cpu_ticks: cpu_ticks(&self.proc_file("stat")),
            log_lines: log_lines(&self.log),
        }
    }

    fn proc_file(&self, name: &str) -> String {
        let text = std::fs::read_to_string(format!("/proc/{}/{name}", self.pid));
        match text {
            Ok(t) if !is_zombie(&t, name) => t,
            _ => panic!(
                "{} (pid {}) is gone; its log:\n{}",
                self.name,
                self.pid,
                tail(&self.log, 40)
            ),
        }
    }

    /// Open descriptors, the least of a few looks 10 ms apart: a control
    /// connection or a netlink request open at one instant is not a leak.
    fn steady_fds(&self) -> usize {
        (0..3)
            .map(|k| {
                if k > 0 {
                    std::thread::sleep(Duration::from_millis(10));
                }
                std::fs::read_dir(format!("/proc/{}/fd", self.pid))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .min()
            .unwrap_or(0)
    }

    fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .is_ok_and(|t| !is_zombie(&t, "stat"))
    }
}

/// A dead child not yet reaped still has /proc entries, in state Z.
fn is_zombie(text: &str, name: &str) -> bool {
    match name {
        "stat" => stat_fields(text).first() == Some(&"Z"),
        "status" => text
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z')),
        _ => false,
    }
}

/// /proc/PID/stat's fields after `(comm)` (which may hold spaces): state
/// first, so field n of proc(5) is index n - 3.
fn stat_fields(text: &str) -> Vec<&str> {
    text.rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect())
}

fn cpu_ticks(stat: &str) -> u64 {
    let f = stat_fields(stat);
    let field = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// CPU used between two looks, in % of one core.
fn cpu_pct(from: &Usage, to: &Usage) -> f64 {
    let secs = to.at.duration_since(from.at).as_secs_f64();
    let used = to.cpu_ticks.saturating_sub(from.cpu_ticks) as f64 / clock_ticks_per_s();
    100.0 * used / secs.max(1e-3)
}

/// Log lines written between two looks, per minute.
fn lines_per_min(from: &Usage, to: &Usage) -> f64 {
    let mins = to.at.duration_since(from.at).as_secs_f64() / 60.0;
    to.log_lines.saturating_sub(from.log_lines) as f64 / mins.max(1e-3)
}

fn log_lines(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Lines of a daemon's log containing `what`.
fn count_in_log(log: &Path, what: &str) -> usize {
    count_in_log_all(log, &[what])
}

/// Lines of a daemon's log containing every one of `all`.
fn count_in_log_all(log: &Path, all: &[&str]) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| all.iter().all(|w| l.contains(w)))
        .count()
}

/// The kernel's count of carrier changes of a router device (each flap is
/// two: off, on), read in the router's namespace.
fn carrier_changes(bed: &mimm_testbed::Testbed, dev: &str) -> u64 {
    let path = format!("/sys/class/net/{dev}/carrier_changes");
    let out = bed.exec("router", &["cat", &path]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

// ---------------------------------------------------------------- storm ---

/// The storm: 100 flaps a second (carrier off, then on, half a period
/// each) for 60 s.
const FLAPS_PER_S: u32 = 100;
const STORM: Duration = Duration::from_secs(60);
/// Allocators and buffers settle in the first seconds; growth is counted
/// from here to the end.
const WARM_UP: Duration = Duration::from_secs(5);
/// What "flat" allows: RSS may grow by this much (allocator slack, a
/// buffer grown once, the 200 recent events each keeps filling). Measured
/// from warm-up to end: storm mimmd +4..8 KiB, the VSD +20..108; soak
/// (110 s) mimmd 0, the VSD +20..92; a 10 min soak mimmd +32, the VSD +64,
/// nearly all of it in its first 4 min. A leak of a frame's worth per
/// packet or per flap would pass 1 MiB within seconds.
const RSS_SLACK_KIB: u64 = 1024;
/// wlan1's one-way delay: the storm member wlan0 (1 ms) is the best link by
/// far once it is steady (probe quality 100 against 82 for a 200 ms round
/// trip, more than `better_margin` apart in score).
const SLOW_MS: f64 = 100.0;

/// What the flapping thread did.
#[derive(Debug, Default)]
struct Flaps {
    done: u64,
    failed: u64,
    elapsed: Duration,
    /// Flaps that started more than a period late (the testbed lagging).
    late: u64,
}

/// Flaps `link` from another thread through the testbed's control socket,
/// paced on a deadline so that a slow request does not slow the rate.
fn start_storm(client: Client, link: &'static str, stop: Arc<AtomicBool>) -> JoinHandle<Flaps> {
    std::thread::spawn(move || {
        let period = Duration::from_secs(1) / FLAPS_PER_S;
        let total = u64::from(FLAPS_PER_S) * STORM.as_secs();
        let start = Instant::now();
        let mut flaps = Flaps::default();
        for k in 0..total {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let due = start + period * k as u32;
            if Instant::now() > due + period {
                flaps.late += 1;
            }
            sleep_until(due);
            let off = client.set(link, Change::CarrierOff, Dir::Both);
            sleep_until(due + period / 2);
            let on = client.set(link, Change::CarrierOn, Dir::Both);
            match (off, on) {
                (Ok(()), Ok(())) => flaps.done += 1,
                _ => flaps.failed += 1,
            }
        }
        flaps.elapsed = start.elapsed();
        flaps
    })
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

/// Stops the flapping thread if the test fails while it runs.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn storm_bed() -> VsdBed {
    let fast = Member::wifi("wlan0", "wifi0");
    let slow = Member {
        delay_ms: SLOW_MS,
        ..Member::wifi("wlan1", "wifi1")
    };
    VsdBed::up("chaos-storm", &[fast, slow], "")
}

fn stream(bed: &mimm_testbed::Testbed, duration: Duration) -> ProbeHandle {
    probe::start(
        &bed.plan,
        Options {
            duration,
            echo: true,
            ..Options::default()
        },
    )
    .unwrap()
}

/// What a daemon may use; RSS may always grow by [`RSS_SLACK_KIB`].
struct Bounds {
    fd_slack: usize,
    /// CPU over the whole run, % of one core.
    cpu_pct: f64,
    lines_per_min: f64,
}

/// Both daemons looked at through /proc at one moment.
fn look(daemons: &[Watched]) -> Vec<Usage> {
    daemons.iter().map(Watched::usage).collect()
}

/// RSS and descriptors flat from `warm` to `end`, CPU and log lines over
/// `from..end` within their bounds; the figures printed first.
fn assert_flat(daemons: &[Watched], [from, warm, end]: [&[Usage]; 3], bounds: &Bounds) {
    for (i, w) in daemons.iter().enumerate() {
        let (cpu, lines) = (cpu_pct(&from[i], &end[i]), lines_per_min(&from[i], &end[i]));
        eprintln!(
            "{:>6}: rss {} -> {} KiB, fds {} -> {}, cpu {cpu:.2} % of a core, log {lines:.0} lines/min",
            w.name, warm[i].rss_kib, end[i].rss_kib, warm[i].fds, end[i].fds
        );
        assert!(
            end[i].rss_kib <= warm[i].rss_kib + RSS_SLACK_KIB,
            "{} grew: {warm:?} -> {end:?}",
            w.name
        );
        assert!(
            end[i].fds.abs_diff(warm[i].fds) <= bounds.fd_slack,
            "{} descriptors: {} -> {}",
            w.name,
            warm[i].fds,
            end[i].fds
        );
        assert!(cpu < bounds.cpu_pct, "{} used {cpu:.2} % of a core", w.name);
        assert!(
            lines < bounds.lines_per_min,
            "{} logged {lines:.0} lines/min; its log ends:\n{}",
            w.name,
            tail(&w.log, 40)
        );
    }
}

/// The storm's bounds. CPU: measured 0.08-0.10 % (mimmd) and 4.2-5.3 %
/// (the VSD, nearly all of it the 1 kHz stream's 4000 frames/s with
/// echoes) of a core; 10 % is twice that, room for a loaded host, while a
/// busy loop (100 %) still fails. Log: 56-89 lines/min each, one per
/// carrier change the kernel announces (its link watch reports a TAP's
/// carrier in rounds of about one a second, however often it flips) plus
/// the switches; bound at about three times that, while a line per flap
/// would be 12,000.
const STORM_BOUNDS: Bounds = Bounds {
    fd_slack: 2,
    cpu_pct: 10.0,
    lines_per_min: 250.0,
};
/// The flap rate the storm must reach (a lagging testbed would make it a
/// milder storm than the test claims).
const MIN_FLAPS_PER_S: f64 = 0.9 * FLAPS_PER_S as f64;
/// Carrier events each daemon must have seen: it is the daemons' reaction
/// being tested, not only the kernel's (they see a round a second).
const MIN_CARRIER_EVENTS: usize = 10;

/// The storm as it went: what the flapper did, the kernel's count, the
/// daemons before, after the warm-up and at the end, and when it ended.
struct StormRun {
    flaps: Flaps,
    carrier_changes: u64,
    usage: [Vec<Usage>; 3],
    ended: Instant,
}

fn run_storm(b: &VsdBed, daemons: &[Watched]) -> StormRun {
    let changes = carrier_changes(&b.bed, "wlan0");
    let stop = Arc::new(AtomicBool::new(false));
    let _stop = StopOnDrop(stop.clone());
    let before = look(daemons);
    let storm = start_storm(b.bed.client(), "wlan0", stop);
    std::thread::sleep(WARM_UP);
    let warm = look(daemons);
    let flaps = storm.join().unwrap();
    let ended = Instant::now();
    let end = look(daemons);
    StormRun {
        flaps,
        carrier_changes: carrier_changes(&b.bed, "wlan0") - changes,
        usage: [before, warm, end],
        ended,
    }
}

/// The flaps happened, at the rate, and reached the kernel and both daemons.
fn assert_stormed(run: &StormRun, b: &VsdBed, m: &Mimmd) {
    let f = &run.flaps;
    let rate = f.done as f64 / f.elapsed.as_secs_f64();
    let (vsd_saw, mimmd_saw) = (
        count_in_log(&b.vsd.log, "kind=\"carrier\""),
        count_in_log(&m.log, "kind=\"link\""),
    );
    eprintln!(
        "storm: {} flaps in {:.1} s ({rate:.1}/s), {} failed, {} late; the kernel counted {} \
         carrier changes; carrier events seen by the VSD {vsd_saw}, by mimmd {mimmd_saw}",
        f.done,
        f.elapsed.as_secs_f64(),
        f.failed,
        f.late,
        run.carrier_changes
    );
    let all = u64::from(FLAPS_PER_S) * STORM.as_secs();
    assert_eq!((f.done, f.failed), (all, 0), "{f:?}");
    assert!(rate >= MIN_FLAPS_PER_S, "{f:?}");
    assert!(run.carrier_changes >= 2 * f.done, "{f:?}");
    assert!(
        vsd_saw >= MIN_CARRIER_EVENTS && mimmd_saw >= MIN_CARRIER_EVENTS,
        "{vsd_saw} {mimmd_saw}"
    );
}

/// How long after `since` mimmd's primary and the VSD's active member are
/// both the best link (wifi0 on wlan0); panics after `limit`.
fn wait_for_best_link(b: &VsdBed, m: &Mimmd, since: Instant, limit: Duration) -> Duration {
    loop {
        let active = b.vsd.status().and_then(|s| s.active);
        let primary = m.primary();
        if primary.as_deref() == Some("wifi0") && active.as_deref() == Some("wlan0") {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "not back on wlan0 within {limit:?}: mimmd {primary:?}, the VSD {active:?}\n{}\n{}",
            m.events(),
            tail(&m.log, 40)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Once back, the stream flows on the best link: nothing lost and, in the
/// seconds wholly after `t` (stream clock), wlan0's delay, not wlan1's.
fn assert_flows_on_best_link(traffic: ProbeHandle, t: f64) {
    std::thread::sleep(Duration::from_secs(3));
    let r = traffic.stop().unwrap();
    let after = r.stream.cost(t, r.duration_s);
    let delays: Vec<f64> = r
        .stream
        .timeline
        .iter()
        .filter(|s| s.t_s as f64 > t && s.received > 0)
        .filter_map(|s| s.owd_avg_ms)
        .collect();
    eprintln!(
        "the whole stream: {} sent, {} lost, {} holes; once back: {after}, one-way delay {delays:?} ms",
        r.stream.sent,
        r.stream.lost,
        r.stream.gaps.len()
    );
    assert_eq!(after.lost, 0, "{}", r.to_text());
    assert!(!delays.is_empty(), "{}", r.to_text());
    assert!(
        delays.iter().all(|&d| d < SLOW_MS / 2.0),
        "not on wlan0: {}",
        r.to_text()
    );
}

/// Moves mimmd made to wifi0 of its own (not the VSD's failovers it took over).
fn moves_to_wifi0(m: &Mimmd) -> usize {
    m.events()
        .lines()
        .filter(|l| l.contains("\"kind\":\"switch\"") && l.contains("-> wifi0:"))
        .filter(|l| !l.contains("without a switch"))
        .count()
}

/// 100 carrier flaps a second for 60 s on the VSD's active member, wlan0,
/// the better of its two links: traffic flees to wlan1 and must be back on
/// wlan0 within one hold-down of the storm's end, neither daemon crashing,
/// growing, leaking descriptors, spinning or flooding its log.
#[test]
fn a_flap_storm_on_the_active_member_leaks_nothing_and_traffic_ends_on_the_best_link() {
    if !root_or_skip(
        "a_flap_storm_on_the_active_member_leaks_nothing_and_traffic_ends_on_the_best_link",
    ) {
        return;
    }
    let _serial = serial();
    let b = storm_bed();
    let log = b.dir.0.join("mimmd.log");
    let m = Mimmd::start_until(
        &b.bed,
        &b.config,
        &b.socket,
        &log,
        "taken over without a switch",
    );
    assert_eq!(m.primary().as_deref(), Some("wifi0"));
    let cfg = mimm_mimmd::config::load(&b.config).unwrap();
    let hold_down = Duration::from_millis(cfg.mm.timing.hold_down_ms);
    let daemons = [
        Watched::new("mimmd", m.pid(), &m.log),
        Watched::new("vsd", b.vsd.pid(), &b.vsd.log),
    ];
    let switches = b.vsd.status().unwrap().switches;
    // Long enough for the storm and the way back; stopped once there.
    let traffic = stream(&b.bed, STORM + hold_down * 2);

    let run = run_storm(&b, &daemons);
    assert_stormed(&run, &b, &m);
    let [from, warm, end] = &run.usage;
    assert_flat(&daemons, [from, warm, end], &STORM_BOUNDS);
    // Traffic fled wlan0 (else being back on it would prove nothing).
    let fled = b.vsd.status().unwrap().switches - switches;
    eprintln!(
        "during the storm: the VSD switched {fled} times, mimmd moved to wifi0 {} times",
        moves_to_wifi0(&m)
    );
    assert!(fled >= 1, "{}", m.events());
    // Each time the VSD leaves wlan0 it is held down, as after mimmd's own
    // switch: mimmd tries it again once per hold-down at most (before the
    // MM held down what a takeover left, every 2 s: 4 moves in one run).
    let tries = STORM.as_secs() / hold_down.as_secs().max(1) + 1;
    assert!(moves_to_wifi0(&m) as u64 <= tries, "{}", m.events());

    // The hold-down keeps traffic off wlan0 for that long after it was last
    // left, at worst just before the storm ended; the MM's timer moves it
    // then, seen here within the polling and a sample's margin.
    let limit = hold_down + Duration::from_millis(margin(cfg.globals.sample_ms as f64) as u64);
    let back = wait_for_best_link(&b, &m, run.ended, limit);
    eprintln!(
        "back on the best link {:.1} s after the storm (hold-down {:?})",
        back.as_secs_f64(),
        hold_down
    );
    let t = traffic.elapsed_s();
    let switches = b.vsd.status().unwrap().switches;
    assert_flows_on_best_link(traffic, t);
    assert_eq!(b.vsd.status().unwrap().switches, switches, "it stays there");
    for d in &daemons {
        assert!(d.alive(), "{} died", d.name);
    }
}

// ----------------------------------------------------------------- soak ---

/// The soak's length unless `MIMM_SOAK_S` says otherwise (3600: the hour).
const SOAK_DEFAULT: Duration = Duration::from_secs(120);
const SOAK_EVERY: Duration = Duration::from_secs(10);
/// The shipped trace the soak plays (cell fades at 10 s, is back at 30 s,
/// the Wi-Fi association drops from 40 to 50 s), one round a minute for as
/// long as the soak lasts.
const SOAK_TRACE: &str = "tests/data/handoff.csv";
const TRACE_ROUND_MS: u64 = 60_000;
/// The soak's bounds. Descriptors: equal (the steady count, see
/// `Watched::steady_fds`; measured 13 and 18 throughout). CPU: measured
/// 0.07-0.08 % (mimmd) and 4.3-4.8 % (the VSD, the stream's frames) of a
/// core over the soak, 3.7-5.5 % in any 10 s; 10 % is twice that, and a
/// busy loop still fails. Log: 4 lines/min each (the trace's two or three
/// handoffs a minute and the Wi-Fi's carrier); bound at five times that.
const SOAK_BOUNDS: Bounds = Bounds {
    fd_slack: 0,
    cpu_pct: 10.0,
    lines_per_min: 20.0,
};
/// Packets a carrier loss on the active member costs (README, the VSD's
/// carrier loss: 1-2 lost); each trace round has one when the Wi-Fi drops
/// while it carries traffic, planned handoffs lose none.
const CARRIER_LOSS_LOST: f64 = 2.0;

fn soak_duration() -> Duration {
    std::env::var("MIMM_SOAK_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(SOAK_DEFAULT, Duration::from_secs)
}

/// `csv`'s rows again every `round_ms`, `rounds` times: a trace the link
/// emulator and mimmd's trace sources play for the whole soak (neither
/// loops by itself the same way: mimmd's source holds the last row).
fn repeated_trace(csv: &str, round_ms: u64, rounds: u64) -> String {
    let (header, rows): (Vec<&str>, Vec<&str>) = csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .partition(|l| l.starts_with("t_ms"));
    let mut out = header.concat() + "\n";
    for k in 0..rounds {
        for row in &rows {
            let (t, rest) = row.split_once(',').expect("a trace row");
            let t: u64 = t.parse().expect("t_ms");
            out += &format!("{},{rest}\n", t + k * round_ms);
        }
    }
    out
}

/// wlan0 is mimmd's "wifi", wlan1 its "cell", both fed their signal from
/// the trace and probed through vsd0.
fn soak_bed(trace: &str) -> VsdBed {
    let member = |device, iface, kind| Member {
        options: format!(
            "\toption kind {kind}\n\toption signal_source 'trace:{trace}'\n\
             \tlist probe 198.51.100.1\n"
        ),
        ..Member::wifi(device, iface)
    };
    VsdBed::up(
        "chaos-soak",
        &[
            member("wlan0", "wifi", "wifi"),
            member("wlan1", "cell", "lte"),
        ],
        "",
    )
}

/// The trace did drive the soak: each whole round has mimmd hand off at
/// least twice (the cell fading, the Wi-Fi dropping) and the VSD see the
/// Wi-Fi's carrier go.
fn assert_traced(m: &Mimmd, b: &VsdBed, duration: Duration) {
    let rounds = duration.as_millis() as usize / TRACE_ROUND_MS as usize;
    let handoffs = count_in_log(&m.log, "kind=\"switch\"")
        - count_in_log(&m.log, "taken over without a switch");
    let carrier_lost = count_in_log_all(&b.vsd.log, &["carrier lost", "kind=\"carrier\""]);
    eprintln!(
        "{rounds} whole trace rounds: mimmd handed off {handoffs} times, the VSD saw {carrier_lost} carrier losses"
    );
    assert!(handoffs >= 2 * rounds, "{}", m.log_text());
    assert!(carrier_lost >= rounds, "{}", tail(&b.vsd.log, 40));
}

/// Looks at both daemons every [`SOAK_EVERY`] for `duration`.
fn sample_soak(daemons: &[Watched], duration: Duration) -> Vec<Vec<Usage>> {
    let start = Instant::now();
    let mut samples = vec![look(daemons)];
    for k in 1..=duration.as_secs() / SOAK_EVERY.as_secs() {
        sleep_until(start + SOAK_EVERY * k as u32);
        samples.push(look(daemons));
    }
    samples
}

fn print_soak_table(daemons: &[Watched], samples: &[Vec<Usage>]) {
    let mut head = format!("{:>6}", "t_s");
    for w in daemons {
        head += &format!(" | {:>6} rss_KiB fds cpu_%  lines", w.name);
    }
    eprintln!("{head}");
    let t0 = samples[0][0].at;
    for (k, sample) in samples.iter().enumerate() {
        let mut row = format!("{:>6.1}", sample[0].at.duration_since(t0).as_secs_f64());
        for (i, u) in sample.iter().enumerate() {
            let cpu = k.checked_sub(1).map_or(0.0, |p| cpu_pct(&samples[p][i], u));
            row += &format!(
                " | {:>14} {:>3} {:>5.2} {:>6}",
                u.rss_kib, u.fds, cpu, u.log_lines
            );
        }
        eprintln!("{row}");
    }
}

/// mimmd and the VSD carry a 1 kHz stream for the soak's length while a
/// trace drives mimmd's signal and the links (handoffs, the Wi-Fi dropping
/// out once a minute); sampled every 10 s, both stay flat.
#[test]
fn a_soak_under_a_replayed_trace_leaves_both_daemons_flat() {
    if !root_or_skip("a_soak_under_a_replayed_trace_leaves_both_daemons_flat") {
        return;
    }
    let _serial = serial();
    let duration = soak_duration();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(SOAK_TRACE);
    let rounds = duration.as_millis() as u64 / TRACE_ROUND_MS + 2;
    let csv = repeated_trace(
        &std::fs::read_to_string(&shipped).unwrap(),
        TRACE_ROUND_MS,
        rounds,
    );
    let dir = common::Scratch::new("chaos-soak-trace");
    let trace_path = dir.file("soak.csv", &csv);
    let b = soak_bed(&trace_path.display().to_string());
    let log = b.dir.0.join("mimmd.log");
    let m = Mimmd::start_until(
        &b.bed,
        &b.config,
        &b.socket,
        &log,
        "taken over without a switch",
    );
    let trace = mimm_trace::Trace::from_path(&trace_path).unwrap();
    let map = [("wifi", "wlan0"), ("cell", "wlan1")].map(|(a, b)| (a.to_string(), b.to_string()));
    b.bed
        .client()
        .replay("soak.csv", &trace, &map, 1.0, false)
        .unwrap();
    let daemons = [
        Watched::new("mimmd", m.pid(), &m.log),
        Watched::new("vsd", b.vsd.pid(), &b.vsd.log),
    ];
    let traffic = stream(&b.bed, duration);
    let samples = sample_soak(&daemons, duration);
    let r = traffic.finish().unwrap();
    print_soak_table(&daemons, &samples);
    eprintln!(
        "the stream: {} sent, {} lost, {} holes, longest {:.1} ms",
        r.stream.sent,
        r.stream.lost,
        r.stream.gaps.len(),
        r.stream.longest_gap_ms
    );
    let last = samples.len() - 1;
    assert!(last >= 2, "too short a soak to compare: {duration:?}");
    // From the first sample after the start's own lines and allocations.
    let (warm, end) = (&samples[1], &samples[last]);
    assert_flat(&daemons, [warm, warm, end], &SOAK_BOUNDS);
    assert_traced(&m, &b, duration);
    let rounds_begun = duration.as_millis() as u64 / TRACE_ROUND_MS + 1;
    let lost_bound = rounds_begun as f64 * margin(CARRIER_LOSS_LOST);
    assert!(r.stream.lost as f64 <= lost_bound, "{}", r.to_text());
}
