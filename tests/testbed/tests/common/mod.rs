//! Helpers shared by the testbed's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use mimm_testbed::Testbed;
use mimm_testbed::netns;

#[allow(unused_imports)]
pub use mimm_requires::root as root_or_skip;

/// Timing-sensitive tests run one at a time: two cores are easily saturated.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Pings `dest` from a role's namespace; extra args e.g. `-I wwan0`.
pub fn ping(bed: &Testbed, role: &str, extra: &[&str], dest: &str) -> Output {
    let mut args = vec!["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2"];
    args.extend_from_slice(extra);
    args.push(dest);
    bed.exec(role, &args).expect("ping runs")
}

/// iperf3 TCP throughput in Mbit/s at the receiver, from a role to inet.
pub fn iperf3_mbps(bed: &Testbed, role: &str, extra: &[&str]) -> f64 {
    let mut args = vec!["iperf3", "-c", "198.51.100.1", "-J"];
    args.extend_from_slice(extra);
    let out = bed.exec(role, &args).expect("iperf3 runs");
    assert!(out.status.success(), "iperf3 failed: {}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
    json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .expect("bits_per_second")
        / 1e6
}

/// The router's view of a device, as `ip -o link show` prints it.
pub fn router_link(bed: &Testbed, dev: &str) -> String {
    text(
        &bed.exec("router", &["ip", "-o", "link", "show", dev])
            .expect("ip runs"),
    )
}

/// Namespaces of a run still present on the machine.
pub fn namespaces_of(id: &str) -> Vec<String> {
    let prefix = format!("mtb-{id}-");
    netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

pub const TESTBED: &str = env!("CARGO_BIN_EXE_mimm-testbed");

/// vsd, mimmd and mimm-server must sit next to mimm-testbed, as after
/// `cargo build`.
pub fn build_siblings() {
    let dir = Path::new(TESTBED).parent().unwrap();
    if ["vsd", "mimmd", "mimm-server"]
        .iter()
        .all(|b| dir.join(b).exists())
    {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "mimm-vsd",
        "-p",
        "mimm-mimmd",
        "-p",
        "mimm-server",
        "--bins",
    ]);
    if TESTBED.contains("/release/") {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().unwrap().success(),
        "building vsd, mimmd and mimm-server failed"
    );
}

/// A binary of the workspace next to mimm-testbed (see [`build_siblings`]).
pub fn sibling(name: &str) -> PathBuf {
    build_siblings();
    Path::new(TESTBED).with_file_name(name)
}
