//! What the VSD's throughput benchmarks share: namespaces and children
//! cleaned up on every path, a process's CPU seconds, one iperf3 run.
#![allow(dead_code)]

use std::process::{Child, Command};

use mimm_testbed::netns;

/// Seconds per iperf3 run, and the first seconds it leaves out (slow start).
const SECONDS: u32 = 5;
const OMIT: u32 = 1;
const SHORT_SECONDS: u32 = 1;
const SHORT_OMIT: u32 = 0;

/// `MIMM_BENCH_SHORT=1`: (seconds, omitted) of the short mode.
pub fn timing() -> (u32, u32) {
    if std::env::var("MIMM_BENCH_SHORT").is_ok_and(|v| v == "1") {
        (SHORT_SECONDS, SHORT_OMIT)
    } else {
        (SECONDS, OMIT)
    }
}

/// Parallel TCP flows per figure (iperf3 `-P`): one, and more to show how
/// the path spreads over the cores (`MIMM_BENCH_FLOWS=1,2`; default 1,2,4).
pub fn flows() -> Vec<u32> {
    let list = std::env::var("MIMM_BENCH_FLOWS").unwrap_or_else(|_| "1,2,4".into());
    list.split(',')
        .map(|n| match n.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => panic!("MIMM_BENCH_FLOWS: {n:?} is not a flow count (1, 2, ...)"),
        })
        .collect()
}

/// Rounds per figure: 3, or 1 in the short mode.
pub fn rounds() -> usize {
    if timing().0 == SHORT_SECONDS { 1 } else { 3 }
}

/// CPU seconds per GB moved (NaN when nothing moved).
pub fn per_gb(seconds: f64, bytes: f64) -> f64 {
    if bytes > 0.0 {
        seconds / (bytes / 1e9)
    } else {
        f64::NAN
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub struct Namespaces(pub [String; 2]);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = netns::delete(ns);
        }
    }
}

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the
    // 14th field overall, stime the 15th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// CPU seconds every core of the machine has spent busy (not idle or
/// waiting), from /proc/stat: what a path costs wherever it runs (the
/// kernel path forwards in the senders' and receivers' own contexts).
pub fn host_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or("");
    let f: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: f64 = f
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    busy / 100.0
}

/// Gbit/s and bytes of one iperf3 run from namespace `a` to `target`
/// (`reverse`: the server sends) with `flows` parallel TCP flows.
pub fn iperf3(a: &str, target: &str, reverse: bool, flows: u32) -> (f64, f64) {
    let (seconds, omit) = timing();
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns", "exec", a, "iperf3", "-c", target, "-J", "-C", "cubic",
    ])
    .args(["-t", &seconds.to_string(), "-O", &omit.to_string()])
    .args(["-P", &flows.to_string()]);
    if reverse {
        cmd.arg("-R");
    }
    let out = cmd.output().expect("iperf3");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let sum = &json["end"]["sum_received"];
    (
        sum["bits_per_second"].as_f64().unwrap_or(0.0) / 1e9,
        sum["bytes"].as_f64().unwrap_or(0.0),
    )
}
