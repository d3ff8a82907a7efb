//! Probes through the testbed's emulated links: round-trip time, and a
//! blackhole noticed within a second.

use std::time::{Duration, Instant};

use mimm_io::clock::{self, Nanos};
use mimm_mimmd::config::ProbeTarget;
use mimm_mimmd::monitor::probe::{ProbeTiming, Prober};
use mimm_testbed::{Change, Description, LinkSpec, LinkType, Testbed, netns};

fn timing() -> ProbeTiming {
    ProbeTiming {
        interval: Nanos::from_ms(200),
        timeout: Nanos::from_ms(400),
        fail: 3,
        ok: 2,
    }
}

const POLL: Duration = Duration::from_millis(2);

/// Drives a prober for `span`, returning when reachability changed (if it did).
fn run(p: &mut Prober, span: Duration) -> Option<(bool, Duration)> {
    let mut stall = Duration::ZERO;
    run_noting_stalls(p, span, &mut stall)
}

/// `run`, noting in `stall` the longest time one poll overslept: how late
/// the host let this loop see an answer, whatever the prober did.
fn run_noting_stalls(
    p: &mut Prober,
    span: Duration,
    stall: &mut Duration,
) -> Option<(bool, Duration)> {
    let start = Instant::now();
    while start.elapsed() < span {
        let now = clock::now();
        let changed = p.tick(now).or(p.on_readable(clock::now()));
        if let Some(r) = changed {
            return Some((r, start.elapsed()));
        }
        let slept = Instant::now();
        std::thread::sleep(POLL);
        *stall = (*stall).max(slept.elapsed().saturating_sub(POLL));
    }
    None
}

#[test]
fn probes_measure_rtt_and_notice_a_blackhole_within_a_second() {
    if !mimm_requires::root("probes_measure_rtt_and_notice_a_blackhole_within_a_second") {
        return;
    }
    let desc = Description {
        lan: false,
        seed: 1,
        links: vec![
            LinkSpec::new("wwan0", LinkType::Ptp).delay_ms(15.0),
            LinkSpec::new("wlan0", LinkType::Ether).delay_ms(5.0),
        ],
    };
    let bed = Testbed::up(&desc).unwrap();
    let _in = netns::enter(&bed.ns("router")).unwrap();
    let inet = "198.51.100.1".parse().unwrap();
    for (dev, target, rtt) in [
        (
            "wwan0",
            ProbeTarget::Udp("198.51.100.1:7".parse().unwrap()),
            30.0,
        ),
        ("wwan0", ProbeTarget::Icmp(inet), 30.0),
        ("wlan0", ProbeTarget::Icmp(inet), 10.0),
    ] {
        let mut p = Prober::new(dev, vec![target], timing(), 42);
        let mut stall = Duration::ZERO;
        assert_eq!(
            run_noting_stalls(&mut p, Duration::from_secs(2), &mut stall),
            None,
            "{dev} {target:?} stays reachable"
        );
        let stats = p.stats();
        assert!(
            stats.reachable && stats.loss_pct == 0.0,
            "{dev} {target:?}: {stats:?}"
        );
        // The estimate averages samples, each late by at most the poll and
        // whatever the host stalled this loop for: never early, and late by
        // no more than that.
        let measured = stats.rtt_ms.unwrap();
        let late = 3.0 + stall.as_secs_f64() * 1e3;
        assert!(
            measured > rtt - 3.0 && measured < rtt + late,
            "{dev} {target:?}: rtt {measured} vs {rtt} (host stalled this loop {stall:?})"
        );
    }

    // Silent failure: the device stays up, nothing passes.
    let mut p = Prober::new("wwan0", vec![ProbeTarget::Icmp(inet)], timing(), 7);
    run(&mut p, Duration::from_millis(600));
    bed.set("wwan0", Change::Blackhole(None)).unwrap();
    let (reachable, after) = run(&mut p, Duration::from_secs(3)).expect("noticed");
    assert!(!reachable);
    assert!(
        after <= Duration::from_millis(1000),
        "noticed after {after:?}"
    );
    bed.set("wwan0", Change::Up).unwrap();
    let (reachable, after) = run(&mut p, Duration::from_secs(3)).expect("back");
    assert!(
        reachable && after <= Duration::from_millis(800),
        "back after {after:?}"
    );

    // Sockets opened by a send (after the device went and came back) are
    // still handed to the loop to register, exactly once.
    p.take_new_sockets();
    p.close();
    p.tick(mimm_io::clock::now().saturating_add(mimm_io::clock::Nanos::from_ms(1_000)));
    assert_eq!(p.take_new_sockets().len(), 1);
    assert!(p.take_new_sockets().is_empty());
}
