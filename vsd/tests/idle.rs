//! Idle means asleep: once traffic stops, a VSD wakes only for what has a
//! reason (a frame that arrives, a timer it set for a purpose), with
//! either data path; a timer left running after a burst (the carrier
//! polling that runs while traffic is dense) would show here as wake-ups.

mod common;

use std::time::Duration;

use common::{Vsd, bed, root_or_skip, serial, wakeups};
use mimm_testbed::probe::{self, Options};
use mimm_vsd::traffic::SAMPLED_DENSE_FOR;

/// Frames the members received (kept or dropped) and sent, every member
/// together: a frame vsd0 sent is one a member sent. Each can wake it.
fn frames(vsd: &Vsd) -> u64 {
    let s = vsd.status();
    s.members
        .iter()
        .map(|m| m.counters.rx_packets + m.counters.rx_dropped + m.counters.tx_packets)
        .sum()
}

/// A 1 kHz stream for 2 s through vsd0, then the carrier polling's hold
/// after the last frame (the kernel path's, the longer) and half a second to
/// settle; the wake-ups and frames of the next 5 s.
fn after_a_burst(bed: &mimm_testbed::Testbed, vsd: &Vsd) -> (u64, u64) {
    let burst = probe::start(
        &bed.plan,
        Options {
            to: "upstream".into(),
            duration: Duration::from_secs(2),
            drain: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .unwrap();
    let report = burst.finish().unwrap();
    assert!(
        report.stream.received > 1500,
        "the burst did not get through vsd0: {} of {} received",
        report.stream.received,
        report.stream.sent
    );
    std::thread::sleep(Duration::from_nanos(SAMPLED_DENSE_FOR.0) + Duration::from_millis(500));
    // The status calls (which wake it) stay outside the window.
    let f0 = frames(vsd);
    let w0 = wakeups(vsd.pid());
    std::thread::sleep(Duration::from_secs(5));
    let w1 = wakeups(vsd.pid());
    (w1 - w0, frames(vsd) - f0)
}

#[test]
fn an_idle_vsd_sleeps_after_traffic_stops() {
    if !root_or_skip("an_idle_vsd_sleeps_after_traffic_stops") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    for datapath in ["kernel", "userspace"] {
        let vsd = Vsd::start(
            &bed,
            &["wlan0", "wlan1"],
            &format!("\toption datapath '{datapath}'\n"),
        );
        let (woken, frames) = after_a_burst(&bed, &vsd);
        eprintln!("{datapath}: {woken} wake-ups and {frames} frames in 5 s after a 2 s burst");
        // The kernel path forwards without waking the VSD (its sockets
        // sample 1 frame in 64); the userspace loop wakes for the frames it
        // moves (the neighbours' ARP and IPv6 chatter), a wake-up or two
        // each, and for nothing else. A 100 ms timer left running gives 50.
        let bound = match datapath {
            "kernel" => 2,
            _ => 2 * frames + 5,
        };
        assert!(
            woken <= bound,
            "{datapath}: woke {woken} times (at most {bound}) for {frames} frames in 5 s of \
             no traffic; log:\n{}",
            vsd.log_text()
        );
        drop(vsd);
    }
}
