//! The VSD in the testbed: two ether members on one upstream segment behind
//! vsd0; traffic, planned switches, carrier loss, announcements.

mod common;

use std::time::Duration;

use common::{Vsd, bed, root_or_skip, run, serial};
use mimm_testbed::Change;
use mimm_testbed::probe::{self, Options};
use mimm_vsd::control::Request;

#[test]
fn two_ether_members_carry_ping_and_iperf3() {
    if !root_or_skip("two_ether_members_carry_ping_and_iperf3") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let s = vsd.status();
    assert_eq!(s.active.as_deref(), Some("wlan0"));
    assert!(s.offloads, "{s:?}");
    run(
        &bed,
        "router",
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.1"],
    );
    run(
        &bed,
        "lan",
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.1"],
    );
    let out = run(
        &bed,
        "lan",
        &[
            "iperf3",
            "-c",
            "198.51.100.1",
            "-t",
            "3",
            "-C",
            "cubic",
            "-J",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bps = json["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap();
    eprintln!("iperf3 lan -> inet through vsd0: {:.0} Mbit/s", bps / 1e6);
    assert!(bps > 50e6, "{bps}");
    // Both members' addresses follow the policy; the backup carries nothing.
    let s = vsd.status();
    assert!(s.members.iter().all(|m| m.mac == s.mac), "{s:?}");
    assert!(s.members[0].counters.tx_packets > 1000);
    assert_eq!(s.members[1].counters.tx_packets, 0);
    assert_eq!(s.members[1].counters.rx_packets, 0);
}

#[test]
fn a_planned_switch_loses_nothing() {
    if !root_or_skip("a_planned_switch_loses_nothing") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(3),
            echo: true,
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    vsd.call(Request::Prepare {
        member: "wlan1".into(),
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    vsd.call(Request::Commit).unwrap();
    let r = stream.finish().unwrap();
    eprintln!(
        "planned switch: lost {} longest gap {:.3} ms",
        r.stream.lost, r.stream.longest_gap_ms
    );
    assert_eq!(vsd.status().active.as_deref(), Some("wlan1"));
    assert_eq!(r.stream.lost, 0, "{}", r.to_text());
    assert!(r.stream.longest_gap_ms <= 2.0, "{}", r.to_text());
    // The echoes came back through the old member, then the new: none lost.
    assert_eq!(r.rtt.as_ref().map(|e| e.lost), Some(0), "{}", r.to_text());
    // Traffic moved both ways: wlan1 now sends and receives.
    let s = vsd.status();
    assert!(
        s.members[1].counters.tx_packets > 500 && s.members[1].counters.rx_packets > 500,
        "{s:?}"
    );
}

#[test]
fn carrier_loss_on_the_active_member_fails_over_at_once() {
    if !root_or_skip("carrier_loss_on_the_active_member_fails_over_at_once") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(3),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    bed.set("wlan0", Change::CarrierOff).unwrap();
    let r = stream.finish().unwrap();
    eprintln!(
        "carrier loss: lost {} longest gap {:.3} ms",
        r.stream.lost, r.stream.longest_gap_ms
    );
    let s = vsd.status();
    assert_eq!(s.active.as_deref(), Some("wlan1"), "{}", vsd.log_text());
    assert!(r.stream.longest_gap_ms <= 50.0, "{}", r.to_text());
    assert!(
        vsd.log_text().contains("wlan0 -> wlan1: carrier lost"),
        "{}",
        vsd.log_text()
    );
    // Carrier back: the VSD does not move by itself (the control plane decides).
    bed.set("wlan0", Change::CarrierOn).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let s = vsd.status();
    assert_eq!(s.active.as_deref(), Some("wlan1"));
    assert_eq!(s.members[0].state, "backup");
}
