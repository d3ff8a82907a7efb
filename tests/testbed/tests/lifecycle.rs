//! A testbed comes up as described, passes traffic through every ISP, and
//! leaves nothing behind on every way out: drop, error, panic, Ctrl-C, `down`,
//! and `cleanup` after kill -9.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{namespaces_of, ping, root_or_skip, router_link, serial, text};
use mimm_testbed::{Description, LinkSpec, LinkType, Testbed, netns, run};

const BIN: &str = env!("CARGO_BIN_EXE_mimm-testbed");

fn root_links() -> String {
    let out = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
        .collect();
    names.sort();
    names.join(" ")
}

#[test]
fn two_ptp_one_ether_up_ping_each_isp_and_down() {
    if !root_or_skip("two_ptp_one_ether_up_ping_each_isp_and_down") {
        return;
    }
    let _serial = serial();
    let links_before = root_links();
    let bed = Testbed::up(&Description::default()).unwrap();
    let id = bed.id().to_string();
    assert_eq!(
        namespaces_of(&id).len(),
        6,
        "router, isp1-3, inet, lan: {:?}",
        namespaces_of(&id)
    );
    let status = bed.status().unwrap();
    let names: Vec<&str> = status.links.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["wwan0", "wwan1", "wlan0"]);

    // Through each ISP from the router, by device and by source address.
    for (dev, src) in [
        ("wwan0", "10.1.0.2"),
        ("wwan1", "10.2.0.2"),
        ("wlan0", "10.3.0.2"),
    ] {
        let out = ping(&bed, "router", &["-I", dev], "198.51.100.1");
        assert!(out.status.success(), "ping via {dev}: {}", text(&out));
        let out = ping(&bed, "router", &["-I", src], "198.51.100.1");
        assert!(out.status.success(), "ping from {src}: {}", text(&out));
    }
    // The LAN client reaches inet through the router's NAT.
    let out = ping(&bed, "lan", &[], "198.51.100.1");
    assert!(out.status.success(), "ping from lan: {}", text(&out));
    // ptp devices have no MAC; the ether device has one.
    assert!(
        router_link(&bed, "wwan0").contains("link/none"),
        "{}",
        router_link(&bed, "wwan0")
    );
    assert!(router_link(&bed, "wlan0").contains("link/ether"));
    // The pings crossed the emulator on every link.
    let status = bed.status().unwrap();
    for link in &status.links {
        assert!(
            link.uplink.counters.delivered >= 6,
            "{}: {:?}",
            link.name,
            link.uplink
        );
        assert!(
            link.downlink.counters.delivered >= 6,
            "{}: {:?}",
            link.name,
            link.downlink
        );
    }

    bed.down().unwrap();
    assert!(namespaces_of(&id).is_empty(), "{:?}", namespaces_of(&id));
    assert!(!run::run_dir(&id).exists());
    assert_eq!(
        root_links(),
        links_before,
        "nothing appears in the root namespace"
    );
}

#[test]
fn upstream_segment_shares_one_subnet() {
    if !root_or_skip("upstream_segment_shares_one_subnet") {
        return;
    }
    let _serial = serial();
    let desc = Description {
        lan: false,
        seed: 1,
        links: vec![
            LinkSpec::new("wlan0", LinkType::Ether).upstream(),
            LinkSpec::new("eth1", LinkType::Ether).upstream(),
            LinkSpec::new("wwan0", LinkType::Ptp),
        ],
    };
    let bed = Testbed::up(&desc).unwrap();
    let roles = bed.plan.roles();
    assert_eq!(roles, ["router", "isp1", "inet", "upstream"]);
    for dev in ["wlan0", "eth1", "wwan0"] {
        let out = ping(&bed, "router", &["-I", dev], "198.51.100.1");
        assert!(out.status.success(), "ping via {dev}: {}", text(&out));
    }
    let bridge = text(
        &bed.exec("upstream", &["ip", "-o", "link", "show", "master", "br0"])
            .unwrap(),
    );
    assert!(
        bridge.contains("port1") && bridge.contains("port2"),
        "{bridge}"
    );
}

#[test]
fn dropping_after_a_panic_removes_everything() {
    if !root_or_skip("dropping_after_a_panic_removes_everything") {
        return;
    }
    let _serial = serial();
    let desc = Description::from_shorthand(&["ptp".into()], false).unwrap();
    let mut id = String::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let bed = Testbed::up(&desc).unwrap();
        id = bed.id().to_string();
        panic!("a test failed while the testbed was up");
    }));
    assert!(result.is_err());
    assert_eq!(id.len(), 6);
    assert!(namespaces_of(&id).is_empty(), "{:?}", namespaces_of(&id));
    assert!(!run::run_dir(&id).exists());
}

#[test]
fn a_failed_build_removes_what_it_made() {
    if !root_or_skip("a_failed_build_removes_what_it_made") {
        return;
    }
    let _serial = serial();
    let id = run::new_id().unwrap();
    // Something already holds the name of the run's inet namespace.
    let squatter = format!("mtb-{id}-inet");
    netns::add(&squatter).unwrap();
    let err = Testbed::up_with_id(&Description::default(), &id)
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("inet"), "{err}");
    assert!(namespaces_of(&id).is_empty(), "{:?}", namespaces_of(&id));
    assert!(!run::run_dir(&id).exists());
}

/// A foreground `mimm-testbed up` started by a test; however the test ends,
/// the run is stopped (SIGTERM, as a user would) and anything left removed.
struct CliRun {
    child: std::process::Child,
    id: String,
}

impl Drop for CliRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        run::remove(&self.id);
    }
}

/// Starts `mimm-testbed up` in the foreground and returns it once it reports
/// the testbed up.
fn start_cli(args: &[&str]) -> CliRun {
    let mut child = Command::new(BIN)
        .arg("up")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut id = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("testbed ") {
            id = rest.split(' ').next().map(String::from);
        }
        if line.contains("tears it down") {
            break;
        }
    }
    // Keep reading in the background so the child never blocks on stdout.
    std::thread::spawn(move || for _ in lines {});
    let id = id.expect("the CLI printed its run id");
    CliRun { child, id }
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn cli_kill_9_leaves_leftovers_that_cleanup_removes() {
    if !root_or_skip("cli_kill_9_leaves_leftovers_that_cleanup_removes") {
        return;
    }
    let _serial = serial();
    let mut run = start_cli(&["--links", "ptp,ether"]);
    let id = run.id.clone();
    assert_eq!(namespaces_of(&id).len(), 5);
    let out = cli(&[
        "--id",
        &id,
        "exec",
        "router",
        "--",
        "ping",
        "-c1",
        "-W2",
        "-I",
        "wwan0",
        "198.51.100.1",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // A live run is left alone by cleanup.
    let out = cli(&["cleanup"]);
    assert!(
        text(&out).contains(&format!("testbed {id} is up")),
        "{}",
        text(&out)
    );
    assert_eq!(namespaces_of(&id).len(), 5);

    run.child.kill().unwrap(); // SIGKILL: no teardown runs
    run.child.wait().unwrap();
    assert_eq!(namespaces_of(&id).len(), 5, "kill -9 leaves the namespaces");
    let out = cli(&["--id", &id, "status"]);
    assert!(
        !out.status.success() && text(&out).contains("cleanup"),
        "{}",
        text(&out)
    );

    let out = cli(&["cleanup"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("namespace mtb-{id}-router")),
        "{}",
        text(&out)
    );
    assert!(namespaces_of(&id).is_empty(), "{:?}", namespaces_of(&id));
    assert!(!run::run_dir(&id).exists());
}

#[test]
fn cli_ctrl_c_and_down_tear_down() {
    if !root_or_skip("cli_ctrl_c_and_down_tear_down") {
        return;
    }
    let _serial = serial();
    let mut run = start_cli(&["--links", "ptp", "--no-lan"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = run.child.wait().unwrap();
    assert!(status.success(), "exit after Ctrl-C: {status:?}");
    assert!(
        namespaces_of(&run.id).is_empty(),
        "{:?}",
        namespaces_of(&run.id)
    );

    // Detached, then `down` from another process.
    let out = cli(&["up", "-d", "--links", "ptp", "--no-lan"]);
    assert!(out.status.success(), "{}", text(&out));
    let up = text(&out);
    let id = up
        .lines()
        .find_map(|l| l.strip_prefix("testbed "))
        .and_then(|r| r.split(' ').next())
        .expect("run id")
        .to_string();
    let _left = DetachedRun(id.clone());
    assert_eq!(namespaces_of(&id).len(), 3);
    let out = cli(&["--id", &id, "status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(status["status"]["links"][0]["name"], "wwan0");
    let started = Instant::now();
    let out = cli(&["--id", &id, "down"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(namespaces_of(&id).is_empty(), "{:?}", namespaces_of(&id));
}

#[test]
fn cli_rejects_bad_input_with_the_place() {
    let dir = std::env::temp_dir().join(format!("mimm-testbed-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bed.toml");
    std::fs::write(
        &file,
        "[[link]]\nname = \"wwan0\"\ntype = \"ptp\"\ndelay_ms = -4\n",
    )
    .unwrap();
    let out = cli(&["up", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(
        msg.contains("bed.toml:1:1: link wwan0: delay_ms: -4"),
        "{msg}"
    );
    let trace = dir.join("t.csv");
    std::fs::write(&trace, "t_ms,iface,up\n5,a,1\n4,a,1\n").unwrap();
    let out = cli(&["replay", trace.to_str().unwrap()]);
    assert!(
        text(&out).contains("t.csv:3:1: field t_ms: time goes back"),
        "{}",
        text(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A detached run a test started; if the test ends before `down`, its owner is
/// stopped and whatever it left removed.
struct DetachedRun(String);

impl Drop for DetachedRun {
    fn drop(&mut self) {
        if let Ok(state) = run::RunState::load(&self.0) {
            if state.owner_alive() {
                let pid = nix::unistd::Pid::from_raw(state.owner_pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(10);
                while state.owner_alive() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        run::remove(&self.0);
    }
}

/// A child process killed on every way out of the test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Namespaces a test makes itself, deleted on every way out.
struct OwnNamespaces(Vec<String>);

impl Drop for OwnNamespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = netns::delete(ns);
        }
    }
}

#[test]
fn emulate_runs_alone_between_two_namespaces() {
    if !root_or_skip("emulate_runs_alone_between_two_namespaces") {
        return;
    }
    let _serial = serial();
    let pid = std::process::id();
    let (a, b) = (format!("mimm-emu-{pid}-a"), format!("mimm-emu-{pid}-b"));
    let own = OwnNamespaces(vec![a.clone(), b.clone()]);
    netns::add(&a).unwrap();
    netns::add(&b).unwrap();
    let socket = std::env::temp_dir().join(format!("mimm-emu-{pid}.sock"));
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args([
                "--control",
                socket.to_str().unwrap(),
                "emulate",
                "--type",
                "ether",
            ])
            .args([
                "--near",
                &format!("{a}:e0"),
                "--far",
                &format!("{b}:e1"),
                "--delay",
                "20",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("emulating"), "{first}");
    netns::ip_batch(&a, &["addr add 10.77.0.1/24 dev e0".into()]).unwrap();
    netns::ip_batch(&b, &["addr add 10.77.0.2/24 dev e1".into()]).unwrap();
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &a,
            "ping",
            "-n",
            "-c",
            "3",
            "-i",
            "0.2",
            "10.77.0.2",
        ])
        .output()
        .unwrap();
    let ping = text(&out);
    assert!(out.status.success(), "{ping}");
    // rtt min/avg/max/mdev = 40.1/...: 20 ms each way (the first ping also
    // waits for ARP, which crosses the link too, so take the minimum).
    let min: f64 = ping
        .rsplit(" = ")
        .next()
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((39.0..=42.0).contains(&min), "{ping}");
    let out = cli(&[
        "--control",
        socket.to_str().unwrap(),
        "set",
        "e0",
        "carrier-off",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let link = Command::new("ip")
        .args(["-n", &a, "-o", "link", "show", "e0"])
        .output()
        .unwrap();
    assert!(text(&link).contains("NO-CARRIER"), "{}", text(&link));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let gone = Command::new("ip")
        .args(["-n", &a, "link", "show", "e0"])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the device goes with the emulator");
    assert!(!socket.exists());
    drop(own);
}

#[test]
fn an_anchored_testbed_has_a_core_behind_isps_that_nat_and_leaves_nothing() {
    if !root_or_skip("an_anchored_testbed_has_a_core_behind_isps_that_nat_and_leaves_nothing") {
        return;
    }
    let _serial = serial();
    let bed = Testbed::up_anchored(&Description::default()).unwrap();
    let id = bed.id().to_string();
    assert!(
        namespaces_of(&id).contains(&bed.ns("core")),
        "{:?}",
        namespaces_of(&id)
    );
    // Counts, at the anchor's address, pings by the source they arrive from.
    let counters = "table ip seen {\n chain input {\n  type filter hook input priority 0;\n  \
                    icmp type echo-request ip saddr 10.0.0.0/8 counter\n  \
                    icmp type echo-request ip saddr 172.16.0.0/16 counter\n }\n}\n";
    netns::nft(&bed.ns("core"), counters).unwrap();
    let anchor = mimm_testbed::anchored::ANCHOR_ADDR.to_string();
    for dev in ["wwan0", "wwan1", "wlan0"] {
        let out = ping(&bed, "router", &["-I", dev], &anchor);
        assert!(
            out.status.success(),
            "ping {anchor} via {dev}: {}",
            text(&out)
        );
    }
    // The LAN's ping still reaches inet itself.
    let out = ping(&bed, "lan", &[], "198.51.100.1");
    assert!(out.status.success(), "ping from lan: {}", text(&out));
    let (counts, listing) = netns::nft_counters(&bed.ns("core"), "ip", "seen").unwrap();
    // Every ISP hid its subscriber's 10.k.0.2 behind its own 172.16.k.1.
    assert_eq!(counts, [0, 9], "{listing}");
    drop(bed);
    assert!(namespaces_of(&id).is_empty(), "{:?}", namespaces_of(&id));
}
