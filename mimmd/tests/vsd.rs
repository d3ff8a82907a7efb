//! mimmd in vsd mode: it steers the VSD, follows it when the VSD moves by
//! itself, and the VSD carries traffic while mimmd is dead.

mod common;

use std::time::Duration;

use common::{Mimmd, Scratch, VsdProcess, root_or_skip, serial};
use mimm_requires::margin;
use mimm_testbed::probe::{self, Options};
use mimm_testbed::{Change, Description, LinkSpec, LinkType, Testbed};

// What README claims (1 kHz stream, lan -> inet through vsd0), asserted with
// the one margin all timing tests take.
const DEAD_CARRIER_GAP_MS: f64 = 3.0;
const DEAD_CARRIER_LOST: f64 = 2.0;
const BLACKHOLE_GAP_MS: f64 = 645.0;
const BLACKHOLE_LOST: f64 = 644.0;

fn run(bed: &Testbed, args: &[&str]) {
    let out = bed.exec("router", args).unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mimmd_steers_the_vsd_and_the_vsd_outlives_mimmd() {
    if !root_or_skip("mimmd_steers_the_vsd_and_the_vsd_outlives_mimmd") {
        return;
    }
    let _serial = serial();
    let desc = Description {
        lan: true,
        seed: 1,
        links: ["wlan0", "wlan1"]
            .iter()
            .map(|m| {
                LinkSpec::new(m, LinkType::Ether)
                    .upstream()
                    .no_address()
                    .delay_ms(1.0)
            })
            .collect(),
    };
    let bed = Testbed::up(&desc).unwrap();
    let dir = Scratch::new("vsd");
    let socket = dir.0.join("mimmd.sock");
    let vsd_socket = dir.0.join("vsd0.sock");
    let config = dir.file(
        "mimm",
        &format!(
            "config globals\n\toption mode vsd\n\toption socket '{}'\n\
             config vsd 'vsd0'\n\tlist member wlan0\n\tlist member wlan1\n\toption socket '{}'\n\
             config interface 'wifi0'\n\toption device wlan0\n\toption kind wifi\n\tlist probe 198.51.100.1\n\
             config interface 'wifi1'\n\toption device wlan1\n\toption kind wifi\n\tlist probe 198.51.100.1\n",
            socket.display(),
            vsd_socket.display()
        ),
    );
    let vsd = VsdProcess::start(&bed, &config, &vsd_socket, &dir.0.join("vsd.log"));
    run(
        &bed,
        &["ip", "addr", "add", "10.200.0.50/24", "dev", "vsd0"],
    );
    run(
        &bed,
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
    );

    // mimmd finds the VSD carrying traffic on wlan0 and takes that over.
    let log = dir.0.join("mimmd.log");
    let mut m = Mimmd::start_until(&bed, &config, &socket, &log, "taken over without a switch");
    let s = m.status();
    assert_eq!(
        (s.mode.as_str(), s.primary.as_deref()),
        ("vsd", Some("wifi0"))
    );
    let switches = vsd.status().unwrap().switches;

    // mimmctl prefer moves the VSD.
    assert!(m.ctl(&["prefer", "wifi1"]).status.success());
    m.wait_for(Duration::from_secs(5), |s| {
        s.primary.as_deref() == Some("wifi1")
    });
    assert_eq!(vsd.status().unwrap().active.as_deref(), Some("wlan1"));
    assert_eq!(vsd.status().unwrap().switches, switches + 1);
    // Probes go through vsd0 for the active member only; the other keeps
    // what was measured while it was active.
    m.wait_for(Duration::from_secs(5), |s| s.interfaces[1].rtt_ms.is_some());
    let before = m.status().interfaces[0].rtt_ms;
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(m.status().interfaces[0].rtt_ms, before);

    // mimmd dies hard; traffic flows on, and the VSD's own carrier watch
    // still fails over.
    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(3),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    m.kill();
    std::thread::sleep(Duration::from_millis(1000));
    let t = stream.elapsed_s();
    bed.set("wlan1", Change::CarrierOff).unwrap();
    let r = stream.finish().unwrap();
    let cost = r.stream.cost(t - 0.05, t + 0.5);
    eprintln!("mimmd dead, carrier loss: {cost}");
    assert!(
        cost.gap_ms <= margin(DEAD_CARRIER_GAP_MS),
        "{}",
        r.to_text()
    );
    assert!(
        cost.lost as f64 <= margin(DEAD_CARRIER_LOST),
        "{}",
        r.to_text()
    );
    assert_eq!(r.stream.lost, cost.lost, "lost elsewhere: {}", r.to_text());
    let v = vsd.status().unwrap();
    assert_eq!(v.active.as_deref(), Some("wlan0"));

    // mimmd comes back and takes the VSD's state as it is: no switch.
    let switches = v.switches;
    std::fs::remove_file(&log).unwrap();
    let m = Mimmd::start_until(&bed, &config, &socket, &log, "taken over without a switch");
    assert_eq!(m.status().primary.as_deref(), Some("wifi0"));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(vsd.status().unwrap().switches, switches, "{}", m.log_text());

    // A silent failure of the active member: mimmd's probes through vsd0
    // see it and move the VSD.
    bed.set("wlan1", Change::CarrierOn).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(3),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let t = stream.elapsed_s();
    bed.set("wlan0", Change::Blackhole(None)).unwrap();
    let r = stream.finish().unwrap();
    let cost = r.stream.cost(t - 0.05, t + 2.0);
    eprintln!("blackhole in vsd mode: {cost}");
    assert_eq!(
        vsd.status().unwrap().active.as_deref(),
        Some("wlan1"),
        "{}",
        m.log_text()
    );
    assert!(cost.gap_ms <= margin(BLACKHOLE_GAP_MS), "{}", r.to_text());
    assert!(
        cost.lost as f64 <= margin(BLACKHOLE_LOST),
        "{}",
        r.to_text()
    );
    assert_eq!(r.stream.lost, cost.lost, "lost elsewhere: {}", r.to_text());
}
