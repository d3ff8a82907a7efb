//! mimmd in vsd mode: it steers the VSD, follows it when the VSD moves by
//! itself, and the VSD carries traffic while mimmd is dead.

mod common;

use std::time::Duration;

use common::vsd_bed::{Member, VsdBed, vsd_bed};
use common::{Mimmd, VsdProcess, root_or_skip, serial};
use mimm_requires::{margin, margin_over_noise};
use mimm_testbed::Change;
use mimm_testbed::probe::{self, Options};

// What README claims (1 kHz stream, lan -> inet through vsd0), asserted with
// the one margin all timing tests take.
const DEAD_CARRIER_GAP_MS: f64 = 3.0;
const DEAD_CARRIER_LOST: f64 = 2.0;
const BLACKHOLE_GAP_MS: f64 = 645.0;
const BLACKHOLE_LOST: f64 = 644.0;

#[test]
fn mimmd_steers_the_vsd_and_the_vsd_outlives_mimmd() {
    if !root_or_skip("mimmd_steers_the_vsd_and_the_vsd_outlives_mimmd") {
        return;
    }
    let _serial = serial();
    let (bed, dir, config, socket, vsd) = vsd_bed("vsd");
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
    let noise = r.stream.noise(&[t]);
    eprintln!(
        "mimmd dead, carrier loss: {cost}; the machine alone: a {:.3} ms hole",
        noise.gap_ms
    );
    let (gap_bound, lost_bound) = (
        margin_over_noise(DEAD_CARRIER_GAP_MS, noise.gap_ms),
        margin_over_noise(DEAD_CARRIER_LOST, noise.lost as f64),
    );
    assert!(cost.gap_ms <= gap_bound, "{}", r.to_text());
    assert!(cost.lost as f64 <= lost_bound, "{}", r.to_text());
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

/// mimmd follows the VSD's events: a failover the VSD makes by itself is
/// mimmd's primary at once, not at its next sample (it asked every sample
/// before); a restarted VSD is followed again and its member taken over.
#[test]
fn mimmd_follows_the_vsds_failover_at_once_and_a_restarted_vsd() {
    if !root_or_skip("mimmd_follows_the_vsds_failover_at_once_and_a_restarted_vsd") {
        return;
    }
    let _serial = serial();
    let (bed, dir, config, socket, vsd) = vsd_bed("vsd-follow");
    // Samples 5 s apart: asked each sample, the VSD's move would show up to
    // 5 s late; followed, at once.
    let text = std::fs::read_to_string(&config).unwrap();
    let slow = text.replace(
        "option mode vsd\n",
        "option mode vsd\n\toption sample_ms '5000'\n",
    );
    std::fs::write(&config, slow).unwrap();
    let log = dir.0.join("mimmd.log");
    let m = Mimmd::start_until(&bed, &config, &socket, &log, "taken over without a switch");
    assert_eq!(m.primary().as_deref(), Some("wifi0"));
    // When each daemon's switch event arrives, on this clock.
    // When each daemon's event saying so arrives, on this clock (the recent
    // events each replays first do not match).
    let first = |socket: std::path::PathBuf, daemon: &'static str, says: &'static str| {
        std::thread::spawn(move || {
            let mut at = None;
            let follow = br#"{"cmd":"events","follow":true}"#;
            let _ = mimm_io::client::stream(&socket, daemon, follow, |line| {
                let switched = line.contains(r#""kind":"switch""#) && line.contains(says);
                if switched {
                    at = Some(std::time::Instant::now());
                }
                !switched
            });
            at
        })
    };
    std::thread::sleep(Duration::from_millis(1000));
    let vsd_switch = first(
        vsd.socket.clone(),
        "the VSD",
        "wlan0 -> wlan1: carrier lost",
    );
    let mimmd_switch = first(socket.clone(), "mimmd", "wifi0 -> wifi1");
    std::thread::sleep(Duration::from_millis(200));
    bed.set("wlan0", Change::CarrierOff).unwrap();
    m.wait_for(Duration::from_secs(3), |s| {
        s.primary.as_deref() == Some("wifi1")
    });
    let (vsd_at, mimmd_at) = (vsd_switch.join().unwrap(), mimmd_switch.join().unwrap());
    let followed = mimmd_at.unwrap().duration_since(vsd_at.unwrap());
    eprintln!("the VSD's failover was mimmd's primary {followed:?} after the VSD's event");
    assert!(
        followed < Duration::from_millis(100),
        "{followed:?}\n{}",
        m.log_text()
    );

    // The VSD restarts (on wlan0, its first member, carrier back): mimmd
    // subscribes again at its next sample and takes that member over.
    bed.set("wlan0", Change::CarrierOn).unwrap();
    let vsd_socket = vsd.socket.clone();
    drop(vsd);
    let _vsd = VsdProcess::start(&bed, &config, &vsd_socket, &dir.0.join("vsd2.log"));
    m.wait_for(Duration::from_secs(8), |s| {
        s.primary.as_deref() == Some("wifi0")
    });
    assert!(
        m.log_text()
            .contains("vsd events: the VSD closed the connection"),
        "{}",
        m.log_text()
    );
}

/// A carrier loss costs one switch, straight to where mimmd would go: the
/// VSD's members rank wlan1 before wlan2 (their order), mimmd ranks wifi2
/// before wifi1 (its priorities) and tells the VSD so; the loss of wlan0
/// moves traffic to wlan2 at once, and nothing moves after. Without the
/// order the VSD took wlan1 and mimmd moved traffic again.
#[test]
fn a_carrier_loss_is_one_switch_to_where_mimmd_would_go() {
    if !root_or_skip("a_carrier_loss_is_one_switch_to_where_mimmd_would_go") {
        return;
    }
    let _serial = serial();
    let member = |device, iface, priority: u32| Member {
        options: format!(
            "{}\toption priority {priority}\n",
            Member::wifi(device, iface).options
        ),
        ..Member::wifi(device, iface)
    };
    let b = VsdBed::up(
        "vsd-one-switch",
        &[
            member("wlan0", "wifi0", 100),
            member("wlan1", "wifi1", 10),
            member("wlan2", "wifi2", 50),
        ],
        "",
    );
    let log = b.dir.0.join("mimmd.log");
    let m = Mimmd::start_until(
        &b.bed,
        &b.config,
        &b.socket,
        &log,
        "taken over without a switch",
    );
    let start = std::time::Instant::now();
    while b.vsd.status().unwrap().backups != ["wlan2", "wlan1"] {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the VSD was not told mimmd's order: {:?}\n{}",
            b.vsd.status(),
            m.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let switches = b.vsd.status().unwrap().switches;
    b.bed.set("wlan0", Change::CarrierOff).unwrap();
    m.wait_for(Duration::from_secs(3), |s| {
        s.primary.as_deref() == Some("wifi2")
    });
    // Time for a second move, had the first gone elsewhere.
    std::thread::sleep(Duration::from_millis(2000));
    let v = b.vsd.status().unwrap();
    let vsd_log = std::fs::read_to_string(b.dir.0.join("vsd.log")).unwrap_or_default();
    assert_eq!(v.active.as_deref(), Some("wlan2"), "{vsd_log}");
    assert_eq!(v.switches, switches + 1, "{vsd_log}\n{}", m.log_text());
    assert!(
        vsd_log.contains("wlan0 -> wlan2: carrier lost"),
        "{vsd_log}"
    );
    assert_eq!(m.primary().as_deref(), Some("wifi2"));
}
