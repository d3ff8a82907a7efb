//! Trace replay drives every link in real time (or faster), and traffic
//! follows: an outage in the trace is an outage for the packets.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{root_or_skip, router_link, serial};
use mimm_testbed::control::Status;
use mimm_testbed::emu::link::State;
use mimm_testbed::probe::{self, Options};
use mimm_testbed::{Description, Testbed};
use mimm_trace::Trace;

fn link<'a>(status: &'a Status, name: &str) -> &'a mimm_testbed::control::LinkStatus {
    status.links.iter().find(|l| l.name == name).unwrap()
}

fn kbps(status: &Status, name: &str) -> Option<u64> {
    link(status, name)
        .downlink
        .params
        .rate_bps
        .map(|r| r / 1000)
}

#[test]
fn shipped_trace_drives_links_and_traffic() {
    if !root_or_skip("shipped_trace_drives_links_and_traffic") {
        return;
    }
    let _serial = serial();
    let desc = Description::from_shorthand(&["ptp,ether".into()], true).unwrap();
    let bed = Testbed::up(&desc).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/steps.csv");
    let trace = Trace::from_path(&path).unwrap();
    // The probe's path is the default route: wwan0, which `cell` drives.
    let running = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(4),
            ..Options::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let replay = bed
        .client()
        .replay("steps.csv", &trace, &[], 1.0, false)
        .unwrap();
    assert_eq!(
        replay.mapping,
        [
            ("cell".to_string(), "wwan0".to_string()),
            ("wifi".to_string(), "wlan0".to_string())
        ]
    );
    let at = |secs: f64| {
        let target = Duration::from_secs_f64(secs);
        std::thread::sleep(target.saturating_sub(started.elapsed()));
        bed.status().unwrap()
    };
    let s = at(0.5);
    assert_eq!(
        (kbps(&s, "wwan0"), kbps(&s, "wlan0")),
        (Some(8000), Some(4000))
    );
    assert_eq!(link(&s, "wwan0").downlink.params.delay.as_ms_f64(), 10.0);
    assert_eq!(link(&s, "wwan0").signal_dbm, Some(-80.0));
    let s = at(1.5);
    assert_eq!(kbps(&s, "wwan0"), Some(2000));
    assert_eq!(link(&s, "wwan0").downlink.params.delay.as_ms_f64(), 30.0);
    let s = at(2.5);
    assert_eq!(link(&s, "wwan0").state, State::Down);
    assert!(router_link(&bed, "wwan0").contains("NO-CARRIER"));
    assert_eq!(
        kbps(&s, "wwan0"),
        None,
        "an empty rate falls back to the description's"
    );
    let s = at(3.5);
    assert_eq!(link(&s, "wwan0").state, State::Up);
    assert_eq!(
        (kbps(&s, "wwan0"), kbps(&s, "wlan0")),
        (Some(8000), Some(1000))
    );

    let r = running.finish().unwrap();
    eprintln!("{}", r.to_text());
    let lost: Vec<u64> = r.stream.timeline.iter().map(|t| t.lost).collect();
    // Second 2 of the trace is the outage. Going down also flushes what was in
    // flight (30 ms at 1000 packets/s, sent in second 1), and the probe
    // started a few ms before the replay, so allow that much either side.
    assert!(lost[0] == 0 && lost[1] <= 40 && lost[3] <= 5, "{lost:?}");
    assert!(lost[2] >= 950, "{lost:?}");
    assert!(
        (990.0..=1100.0).contains(&r.stream.longest_gap_ms),
        "{}",
        r.stream.longest_gap_ms
    );
    assert!((950..=1050).contains(&r.stream.lost), "{lost:?}");
    let s = bed.status().unwrap();
    assert!(s.replay.unwrap().finished);
}

#[test]
fn shared_mptraces_replay_follows_the_trace() {
    if !root_or_skip("shared_mptraces_replay_follows_the_trace") {
        return;
    }
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/mptraces_7_1.csv");
    if !mimm_requires::path(
        "shared_mptraces_replay_follows_the_trace",
        &path,
        "the shared trace",
    ) {
        return;
    }
    let trace = Trace::from_path(&path).unwrap();
    let _serial = serial();
    let bed = Testbed::up(&Description::default()).unwrap();
    // 100 s of trace at speed 10.
    let started = Instant::now();
    bed.client()
        .replay("mptraces_7_1.csv", &trace, &[], 10.0, false)
        .unwrap();
    let mut checked = 0;
    loop {
        std::thread::sleep(Duration::from_millis(370));
        let s = bed.status().unwrap();
        let replay = s.replay.clone().unwrap();
        // Both links carry the rate of the trace row in force at the position
        // the status reports (rows are 1 s apart; skip the edges).
        let position = replay.position_ms;
        if position % 1000 > 50 && position % 1000 < 950 && !replay.finished {
            for (iface, dev) in [("cell", "wwan0"), ("wifi", "wlan0")] {
                let row = trace.state_at(iface, position).unwrap();
                let want = row.rate_kbps.map(|r| r as u64);
                assert_eq!(kbps(&s, dev), want, "{dev} at {position} ms");
            }
            checked += 1;
        }
        if replay.finished {
            assert!(
                started.elapsed() >= Duration::from_millis(9_800),
                "{:?}",
                started.elapsed()
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "replay never finished"
        );
    }
    assert!(checked >= 15, "only {checked} samples");
    // The last rows stay in force.
    let s = bed.status().unwrap();
    assert_eq!(
        (kbps(&s, "wwan0"), kbps(&s, "wlan0")),
        (Some(48134), Some(9714))
    );
}

/// A link unplugged by hand (`set down`) stays down while the trace plays
/// rows that say up, until it is plugged back in (`set up`): the demo's
/// 5 s unplug was undone by the next row, a blip the VSD could miss.
#[test]
fn an_unplug_holds_against_the_trace_until_plugged_back() {
    if !root_or_skip("an_unplug_holds_against_the_trace_until_plugged_back") {
        return;
    }
    let _serial = serial();
    let desc = Description::from_shorthand(&["ptp,ether".into()], true).unwrap();
    let bed = Testbed::up(&desc).unwrap();
    // A row every 100 ms, every one saying up.
    let mut csv = String::from("t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up\n");
    for i in 0..50 {
        csv += &format!("{},cell,lte,,20000,,,1\n", i * 100);
    }
    let trace = Trace::parse(&csv).unwrap();
    bed.client()
        .replay("up.csv", &trace, &[], 1.0, false)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    bed.set("wwan0", mimm_testbed::Change::Down).unwrap();
    // Ten rows later it is still down.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(link(&bed.status().unwrap(), "wwan0").state, State::Down);
    bed.set("wwan0", mimm_testbed::Change::Up).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(link(&bed.status().unwrap(), "wwan0").state, State::Up);
}
