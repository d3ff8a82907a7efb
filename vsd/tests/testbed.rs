//! The VSD in the testbed: two ether members on one upstream segment behind
//! vsd0; traffic, planned switches, carrier loss, announcements.

mod common;

use std::time::Duration;

use common::{Vsd, bed, link_state, root_or_skip, run, serial};
use mimm_requires::margin_over_noise;
use mimm_testbed::Change;
use mimm_testbed::crowd::{Crowd, slowest_answer};
use mimm_testbed::probe::{self, Options};
use mimm_vsd::control::Request;

// README's figures for a carrier loss on the active member (1 kHz stream,
// lan -> inet), asserted with the one margin all timing tests take.
const CARRIER_GAP_MS: f64 = 4.1;
const CARRIER_LOST: f64 = 2.0;

#[test]
fn two_ether_members_carry_ping_and_iperf3() {
    if !root_or_skip("two_ether_members_carry_ping_and_iperf3") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let before = link_state(&bed, "wlan0");
    let mut vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
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
    // Taken from the host stack while a member...
    let taken = link_state(&bed, "wlan0");
    assert_ne!(taken, before);
    assert!(run(&bed, "router", &["nft", "list", "tables"]).contains("mimm_vsd_vsd0"));
    // ...and given back as it was on SIGTERM.
    assert!(vsd.stop().success(), "{}", vsd.log_text());
    assert_eq!(link_state(&bed, "wlan0"), before);
    assert!(!run(&bed, "router", &["nft", "list", "tables"]).contains("mimm_vsd_vsd0"));
}

#[test]
fn by_active_moves_the_vsd_address_with_the_active_member() {
    if !root_or_skip("by_active_moves_the_vsd_address_with_the_active_member") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let own = link_state(&bed, "wlan1").0;
    let vsd = Vsd::start(
        &bed,
        &["wlan0", "wlan1"],
        "\toption mac_policy 'by_active'\n",
    );
    let s = vsd.status();
    assert_eq!(
        s.mac, s.members[0].mac,
        "vsd0 carries the active member's address"
    );
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
    vsd.call(Request::SetActive {
        member: "wlan1".into(),
    })
    .unwrap();
    let r = stream.finish().unwrap();
    let s = vsd.status();
    eprintln!(
        "by_active switch: lost {} (echo lost {:?}), longest gap {:.3} ms",
        r.stream.lost,
        r.rtt.as_ref().map(|e| e.lost),
        r.stream.longest_gap_ms
    );
    assert_eq!(s.mac, own, "vsd0 took wlan1's own address");
    assert!(
        s.members
            .iter()
            .all(|m| m.mac != s.members[0].mac || m.name == "wlan0")
    );
    // The gratuitous ARP tells the gateway the new address at once.
    assert!(r.stream.lost <= 5, "{}", r.to_text());
    assert!(
        r.rtt.as_ref().is_some_and(|e| e.lost <= 20),
        "{}",
        r.to_text()
    );
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
            duration: Duration::from_secs(5),
            echo: true,
            ..Options::default()
        },
    )
    .unwrap();
    // Three planned switches, back and forth, 1.2 s apart.
    let started = std::time::Instant::now();
    let mut switched_at = Vec::new();
    for (i, member) in ["wlan1", "wlan0", "wlan1"].iter().enumerate() {
        let due = Duration::from_millis(1300 + 1200 * i as u64);
        std::thread::sleep(due.saturating_sub(started.elapsed()));
        vsd.call(Request::Prepare {
            member: member.to_string(),
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        switched_at.push(stream.elapsed_s());
        vsd.call(Request::Commit).unwrap();
    }
    let r = stream.finish().unwrap();
    // The hole around each switch (0: none of 2 ms or more), not elsewhere
    // in the stream. This 2-CPU VM now and then stalls a thread for a few ms
    // whatever the VSD does (seen once in several CI runs, 4.6 ms, 0 lost),
    // so the bar holds for the median of three switches: a VSD whose
    // switches gap fails it, one scheduler hiccup does not.
    let mut gaps: Vec<f64> = switched_at
        .iter()
        .map(|&t| r.stream.longest_gap_between(t - 0.06, t + 0.2))
        .collect();
    eprintln!(
        "planned switches at {switched_at:.3?} s: lost {}, longest hole around each {gaps:.3?} ms, {:.3} ms overall (ended at {:.3} s)",
        r.stream.lost, r.stream.longest_gap_ms, r.stream.longest_gap_end_s
    );
    // The same stream's holes away from the switches, as long windows
    // each: what this machine's scheduling alone did in this run (0 in a
    // quiet one; a CI run once showed 227 holes of 2-7 ms all through the
    // stream, the switches' among them).
    let starts = std::iter::once(0.2).chain(switched_at.iter().map(|&t| t + 0.3));
    let ends = switched_at
        .iter()
        .map(|&t| t - 0.1)
        .chain(std::iter::once(4.9));
    let quiet = starts
        .zip(ends)
        .map(|(from, to)| r.stream.longest_gap_between(from, to))
        .fold(0.0, f64::max);
    eprintln!("longest hole away from the switches: {quiet:.3} ms");
    assert_eq!(vsd.status().active.as_deref(), Some("wlan1"));
    assert_eq!(r.stream.lost, 0, "{}", r.to_text());
    gaps.sort_by(f64::total_cmp);
    assert!(
        gaps[1] <= quiet,
        "{gaps:?} vs {quiet} elsewhere\n{}",
        r.to_text()
    );
    // The echoes came back through the old member, then the new: none lost.
    assert_eq!(r.rtt.as_ref().map(|e| e.lost), Some(0), "{}", r.to_text());
    // Traffic moved both ways: wlan1 sent and received.
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
    // wlan2 is no member: its carrier loss just before makes the kernel's
    // linkwatch (one run a second, machine-wide) hold back the rtnetlink
    // news of wlan0's by some 750 ms, as any link's change on the machine
    // can; the VSD must read the loss from the device meanwhile.
    let bed = bed(&["wlan0", "wlan1", "wlan2"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(3),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(750));
    bed.set("wlan2", Change::CarrierOff).unwrap();
    std::thread::sleep(Duration::from_millis(250));
    let t = stream.elapsed_s();
    bed.set("wlan0", Change::CarrierOff).unwrap();
    let r = stream.finish().unwrap();
    let cost = r.stream.cost(t - 0.05, t + 0.5);
    let noise = r.stream.noise(&[t]);
    eprintln!(
        "carrier loss on the active member: {cost}; the machine alone: a {:.3} ms hole",
        noise.gap_ms
    );
    let s = vsd.status();
    assert_eq!(s.active.as_deref(), Some("wlan1"), "{}", vsd.log_text());
    let (gap_bound, lost_bound) = (
        margin_over_noise(CARRIER_GAP_MS, noise.gap_ms),
        margin_over_noise(CARRIER_LOST, noise.lost as f64),
    );
    assert!(cost.gap_ms <= gap_bound, "{}", r.to_text());
    assert!(cost.lost as f64 <= lost_bound, "{}", r.to_text());
    assert_eq!(r.stream.lost, cost.lost, "lost elsewhere: {}", r.to_text());
    assert!(
        vsd.log_text().contains("wlan0 -> wlan1: carrier lost")
            && vsd
                .log_text()
                .contains("carrier lost (read from the device)"),
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

#[test]
fn tshark_sees_the_announcements_on_the_new_member() {
    if !root_or_skip("tshark_sees_the_announcements_on_the_new_member") {
        return;
    }
    if !mimm_requires::tool(
        "tshark_sees_the_announcements_on_the_new_member",
        "tshark",
        "tshark",
    ) {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "\toption num_unsol_na '2'\n");
    // vsd0's IPv6 link-local address must have passed DAD to be announced.
    std::thread::sleep(Duration::from_millis(2000));
    let mut tshark = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &bed.ns("router"),
            "tshark",
            "-i",
            "wlan1",
            "-l",
            "-a",
            "duration:4",
        ])
        .args(["-f", "arp or icmp6", "-T", "fields", "-E", "separator=,"])
        .args([
            "-e",
            "frame.time_relative",
            "-e",
            "eth.src",
            "-e",
            "arp.src.proto_ipv4",
        ])
        .args([
            "-e",
            "arp.isgratuitous",
            "-e",
            "icmpv6.nd.na.target_address",
        ])
        .args(["-e", "icmpv6.checksum.status", "-e", "icmpv6.nd.na.flag.o"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Switch once tshark says it is capturing.
    let mut err = std::io::BufReader::new(tshark.stderr.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0
        && !line.contains("Capturing on")
    {
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    std::thread::sleep(Duration::from_millis(300));
    vsd.call(Request::SetActive {
        member: "wlan1".into(),
    })
    .unwrap();
    let out = tshark.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mac = vsd.status().mac;
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let addr = mimm_testbed::plan::VSD_ADDR.to_string();
    let arp: Vec<f64> = rows
        .iter()
        .filter(|r| r.len() >= 4 && r[1] == mac && r[2] == addr && r[3] == "1")
        .map(|r| r[0].parse().unwrap())
        .collect();
    let na: Vec<f64> = rows
        .iter()
        .filter(|r| {
            r.len() >= 7 && r[1] == mac && r[4].starts_with("fe80::") && r[5] == "1" && r[6] == "1"
        })
        .map(|r| r[0].parse().unwrap())
        .collect();
    eprintln!("announcements on wlan1 (s): arp {arp:?} na {na:?}");
    // Three gratuitous ARPs and two NAs (as configured), with good
    // checksums, 200 ms apart.
    assert_eq!((arp.len(), na.len()), (3, 2), "{text}");
    for pair in arp.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((0.15..0.3).contains(&gap), "{text}");
    }
}

/// 100 clients that never send a request and 100 that follow events and
/// never read: the VSD still answers requests, fast, and forwards.
#[test]
fn a_crowd_on_the_control_socket_does_not_lock_out_a_request() {
    if !root_or_skip("a_crowd_on_the_control_socket_does_not_lock_out_a_request") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let follow = br#"{"cmd":"events","follow":true}"#;
    let crowd = Crowd::gather(&vsd.socket, 100, 100, follow).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let slowest = slowest_answer(&vsd.socket, "vsd", br#"{"cmd":"status"}"#, 5)
        .unwrap_or_else(|e| panic!("status with a crowd: {e}\n{}", vsd.log_text()));
    eprintln!("vsd status with 100 idle and 100 following clients: slowest of 5 {slowest:?}");
    assert!(slowest < Duration::from_millis(50), "{slowest:?}");
    // A switch's events reach the followers that read nothing, and the
    // request after it is still answered.
    vsd.call(Request::SetActive {
        member: "wlan1".into(),
    })
    .unwrap();
    assert_eq!(vsd.status().active.as_deref(), Some("wlan1"));
    run(
        &bed,
        "lan",
        &["ping", "-c", "2", "-i", "0.2", "-W", "1", "198.51.100.1"],
    );
    drop(crowd);
}
