//! mimmd in the testbed, route mode: it follows the links, moves traffic fast
//! when a link fails, runs hooks in order, obeys mimmctl, and survives a bad
//! reload.

mod common;

use std::time::Duration;

use common::{Mimmd, Scratch, root_or_skip, serial};
use mimm_requires::{margin, margin_over_noise};
use mimm_testbed::crowd::{Crowd, slowest_answer};
use mimm_testbed::probe::{self, Options};
use mimm_testbed::{Change, Description, LinkSpec, LinkType, Testbed};

// What README claims for route mode (1 kHz stream, lan -> inet), asserted
// with the one margin all timing tests take.
const BLACKHOLE_GAP_MS: f64 = 692.0;
const BLACKHOLE_LOST: f64 = 686.0;
const CARRIER_GAP_MS: f64 = 11.3;
const CARRIER_LOST: f64 = 5.0;

fn stream(bed: &Testbed, secs: u64) -> probe::ProbeHandle {
    probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(secs),
            ..Options::default()
        },
    )
    .unwrap()
}

#[test]
fn blackhole_and_carrier_loss_move_traffic_fast() {
    if !root_or_skip("blackhole_and_carrier_loss_move_traffic_fast") {
        return;
    }
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("fast");
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    assert_eq!(m.primary().as_deref(), Some("wifi"));

    // Silent failure of the primary under a 1 kHz stream.
    let run = stream(&bed, 4);
    std::thread::sleep(Duration::from_millis(1500));
    let t = run.elapsed_s();
    bed.set("wlan0", Change::Blackhole(None)).unwrap();
    let r = run.finish().unwrap();
    let cost = r.stream.cost(t - 0.05, t + 2.0);
    eprintln!("blackhole on the primary: {cost}");
    let why = format!("{}\n{}", r.to_text(), m.log_text());
    assert!(cost.gap_ms <= margin(BLACKHOLE_GAP_MS), "{why}");
    assert!(cost.lost as f64 <= margin(BLACKHOLE_LOST), "{why}");
    assert_eq!(r.stream.lost, cost.lost, "lost elsewhere: {why}");
    assert_eq!(m.primary().as_deref(), Some("lte"));
    let table = bed
        .exec("router", &["ip", "route", "show", "table", "220"])
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("dev wwan0"));

    // Back to Wi-Fi by hand, then it loses carrier.
    bed.set("wlan0", Change::Up).unwrap();
    // Its probe quality recovers over the loss window before a handoff sticks.
    m.wait_for(Duration::from_secs(15), |s| {
        s.interfaces[1].average.is_some_and(|a| a >= 90.0)
    });
    assert!(m.ctl(&["handoff", "wifi"]).status.success());
    m.wait_for(Duration::from_secs(5), |s| {
        s.primary.as_deref() == Some("wifi")
    });
    let run = stream(&bed, 3);
    std::thread::sleep(Duration::from_millis(1500));
    let t = run.elapsed_s();
    bed.set("wlan0", Change::CarrierOff).unwrap();
    let r = run.finish().unwrap();
    let cost = r.stream.cost(t - 0.05, t + 0.5);
    let noise = r.stream.noise(&[t]);
    eprintln!(
        "carrier loss on the primary: {cost}; the machine alone: a {:.3} ms hole",
        noise.gap_ms
    );
    let why = format!("{}\n{}", r.to_text(), m.log_text());
    let (gap_bound, lost_bound) = (
        margin_over_noise(CARRIER_GAP_MS, noise.gap_ms),
        margin_over_noise(CARRIER_LOST, noise.lost as f64),
    );
    assert!(cost.gap_ms <= gap_bound, "{why}");
    assert!(cost.lost as f64 <= lost_bound, "{why}");
    assert_eq!(r.stream.lost, cost.lost, "lost elsewhere: {why}");
    let events = m.events();
    assert!(
        events.contains("\"detail\":\"wifi -> lte: carrier lost: wifi"),
        "{events}"
    );
    assert!(events.contains("path lost: wifi"), "{events}");
}

#[test]
fn hooks_run_in_order_and_a_failing_one_sends_the_mm_to_the_next_candidate() {
    if !root_or_skip("hooks_run_in_order_and_a_failing_one_sends_the_mm_to_the_next_candidate") {
        return;
    }
    let _serial = serial();
    let desc = Description {
        lan: true,
        seed: 1,
        links: vec![
            LinkSpec::new("wlan0", LinkType::Ether),
            LinkSpec::new("wwan0", LinkType::Ptp).delay_ms(4.0),
            LinkSpec::new("wwan1", LinkType::Ptp).delay_ms(8.0),
        ],
    };
    let bed = Testbed::up(&desc).unwrap();
    let dir = Scratch::new("hooks");
    let log = dir.0.join("hooks.log");
    let note = |name: &str| {
        format!(
            "echo \"{name} $MIMM_PHASE $MIMM_FROM $MIMM_TO $MIMM_DEVICE $MIMM_FROM_DEVICE $MIMM_RULE\" >> {}",
            log.display()
        )
    };
    let fail = dir.script("fail", &format!("{}\nexit 1", note("fail")));
    let pre1 = dir.script("pre1", &note("pre1"));
    let pre2 = dir.script("pre2", &format!("sleep 0.2\n{}", note("pre2")));
    let post = dir.script("post", &note("post"));
    // Wi-Fi fades at 3 s: lte1 is the better candidate, but its hook fails.
    // Wi-Fi is back at 7 s, but the hold-down keeps traffic on lte2.
    let trace = dir.file(
        "signal.csv",
        "t_ms,iface,kind,signal_dbm\n0,wifi,wifi,-55\n0,lte1,lte,-85\n0,lte2,lte,-95\n3000,wifi,wifi,-95\n7000,wifi,wifi,-55\n",
    );
    let socket = dir.0.join("mimmd.sock");
    let src = |iface: &str| format!("trace:{}:{iface}", trace.display());
    let config = dir.file(
        "mimm",
        &format!(
            "config globals\n\toption socket '{}'\n\toption sample_ms 250\n\
             config interface 'wifi'\n\toption device wlan0\n\toption kind wifi\n\toption signal_source '{}'\n\
             config interface 'lte1'\n\toption device wwan0\n\toption kind lte\n\toption signal_source '{}'\n\tlist pre_handoff '{}'\n\
             config interface 'lte2'\n\toption device wwan1\n\toption kind lte\n\toption signal_source '{}'\n\
             \tlist pre_handoff '{}'\n\tlist pre_handoff '{}'\n\tlist post_handoff '{}'\n",
            socket.display(),
            src("wifi"),
            src("lte1"),
            fail.display(),
            src("lte2"),
            pre1.display(),
            pre2.display(),
            post.display()
        ),
    );
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    assert_eq!(m.primary().as_deref(), Some("wifi"));
    m.wait_for(Duration::from_secs(15), |s| {
        s.primary.as_deref() == Some("lte2")
    });
    let lines = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 4, "{lines:?}\n{}", m.log_text());
    // The failing hook ran for lte1 while Wi-Fi still carried traffic...
    assert!(
        lines[0].starts_with("fail pre wifi lte1 wwan0 wlan0 "),
        "{lines:?}"
    );
    // ...then lte2's hooks in order, the post-handoff one after the switch.
    assert!(
        lines[1].starts_with("pre1 pre wifi lte2 wwan1 wlan0 "),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("pre2 pre wifi lte2 wwan1 wlan0 "),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("post post wifi lte2 wwan1 wlan0 "),
        "{lines:?}"
    );
    let events = m.events();
    assert!(events.contains("pre-handoff failed"), "{events}");
    assert!(
        !events.contains("-> lte1"),
        "traffic never went to lte1: {events}"
    );

    // mimmctl prefer moves traffic at once (the hold-down does not apply):
    // the stream's one-way delay goes from lte2's 8 ms to Wi-Fi's.
    m.wait_for(Duration::from_secs(10), |s| {
        s.interfaces[0].average.is_some_and(|a| a > -60.0)
    });
    assert_eq!(m.primary().as_deref(), Some("lte2"), "held down");
    let owd = || {
        let r = probe::run(
            &bed.plan,
            Options {
                duration: Duration::from_secs(1),
                ..Options::default()
            },
        )
        .unwrap();
        r.stream.owd_ms.unwrap().p50_ms
    };
    let before = owd();
    assert!((7.5..9.0).contains(&before), "{before}");
    assert!(m.ctl(&["prefer", "wifi"]).status.success());
    m.wait_for(Duration::from_secs(5), |s| {
        s.primary.as_deref() == Some("wifi") && s.preferred.as_deref() == Some("wifi")
    });
    let table = bed
        .exec("router", &["ip", "route", "show", "table", "220"])
        .unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains("dev wlan0"));
    let after = owd();
    assert!(after < 1.0, "{after}");
    let bad = m.ctl(&["prefer", "nothere"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("no interface \"nothere\" (interfaces: wifi, lte1, lte2)")
    );
}

#[test]
fn a_broken_configuration_on_reload_leaves_the_old_one_running() {
    if !root_or_skip("a_broken_configuration_on_reload_leaves_the_old_one_running") {
        return;
    }
    let _serial = serial();
    let desc = Description::from_shorthand(&["ptp,ptp".into()], false).unwrap();
    let bed = Testbed::up(&desc).unwrap();
    let dir = Scratch::new("reload");
    let socket = dir.0.join("mimmd.sock");
    let good = format!(
        "config globals\n\toption socket '{}'\n\
         config interface 'a'\n\toption device wwan0\n\tlist probe 198.51.100.1\n\
         config interface 'b'\n\toption device wwan1\n\tlist probe 198.51.100.1\n\toption preferred 1\n",
        socket.display()
    );
    let config = dir.file("mimm", &good);
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    // The file's preference holds from the start.
    m.wait_for(Duration::from_secs(5), |s| {
        s.preferred.as_deref() == Some("b") && s.primary.as_deref() == Some("b")
    });
    let before = m.primary();
    std::fs::write(&config, format!("{good}\toption priority 'high'\n")).unwrap();
    let out = m.ctl(&["reload"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:10:2: interface b: option priority: \"high\"",
            config.display()
        )),
        "{err}"
    );
    // The old configuration still runs, and SIGHUP says the same in the log.
    assert_eq!(m.primary(), before);
    assert_eq!(m.status().interfaces.len(), 2);
    let pid = String::from_utf8(
        std::process::Command::new("pgrep")
            .args(["-f", &format!("run -c {}", config.display())])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let pid: i32 = pid.trim().parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        m.log_text()
            .contains("reload refused, the old configuration keeps running"),
        "{}",
        m.log_text()
    );
    // A good one is taken, without moving traffic.
    std::fs::write(
        &config,
        good.replace("device wwan1", "device wwan1\n\toption priority 10"),
    )
    .unwrap();
    assert!(m.ctl(&["reload"]).status.success());
    assert_eq!(m.primary(), before);
    assert!(m.events().contains("\"kind\":\"reload\""));
    assert_eq!(m.status().preferred.as_deref(), Some("b"));
    // The log level follows the file without a restart.
    assert!(!m.log_text().contains("DEBUG"));
    let debug = good.replace(
        "config globals\n",
        "config globals\n\toption log_level debug\n",
    );
    std::fs::write(&config, debug).unwrap();
    assert!(m.ctl(&["reload"]).status.success());
    std::thread::sleep(Duration::from_millis(1200));
    assert!(m.log_text().contains("DEBUG a: sample"), "{}", m.log_text());
    // What mimmctl prefer chose outlives a reload; the file's choice does not
    // override it.
    assert!(m.ctl(&["prefer", "none"]).status.success());
    assert!(m.ctl(&["reload"]).status.success());
    assert_eq!(m.status().preferred, None);
}

#[test]
fn route_mode_follows_a_trace_and_mimmctl_agrees_with_it() {
    if !root_or_skip("route_mode_follows_a_trace_and_mimmctl_agrees_with_it") {
        return;
    }
    let _serial = serial();
    let desc = Description::from_shorthand(&["ptp,ptp".into()], true).unwrap();
    let bed = Testbed::up(&desc).unwrap();
    let dir = Scratch::new("trace");
    // cell1 fades out at 4 s; cell2 improves at 8 s.
    let text = "t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up\n\
                0,cell1,lte,-80,20000,,,1\n0,cell2,lte,-100,5000,,,1\n\
                4000,cell1,lte,-121,500,,,1\n8000,cell2,lte,-85,15000,,,1\n12000,cell2,lte,-85,15000,,,1\n";
    let trace_path = dir.file("drive.csv", text);
    let trace = mimm_trace::Trace::from_path(&trace_path).unwrap();
    let socket = dir.0.join("mimmd.sock");
    let iface = |name: &str, dev: &str| {
        format!(
            "config interface '{name}'\n\toption device {dev}\n\toption kind lte\n\
             \toption signal_source 'trace:{}'\n\tlist probe 'udp:198.51.100.1:7'\n",
            trace_path.display()
        )
    };
    let config = dir.file(
        "mimm",
        &format!(
            "config globals\n\toption socket '{}'\n{}{}",
            socket.display(),
            iface("cell1", "wwan0"),
            iface("cell2", "wwan1")
        ),
    );
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let map = [
        ("cell1".to_string(), "wwan0".to_string()),
        ("cell2".to_string(), "wwan1".to_string()),
    ];
    bed.client()
        .replay("drive.csv", &trace, &map, 1.0, false)
        .unwrap();
    let started = std::time::Instant::now();
    let at = |secs: f64| {
        std::thread::sleep(Duration::from_secs_f64(secs).saturating_sub(started.elapsed()));
        m.status()
    };
    let signal = |s: &mimm_mimmd::control::proto::Status, i: usize| s.interfaces[i].signal_dbm;
    let s = at(2.0);
    assert_eq!(s.primary.as_deref(), Some("cell1"));
    assert_eq!((signal(&s, 0), signal(&s, 1)), (Some(-80.0), Some(-100.0)));
    assert_eq!(s.interfaces[0].rate_kbps, Some(20000.0));
    // Each source's own state: the trace it plays, the probes it sends.
    let sources = &s.interfaces[0].sources;
    let shown: Vec<(&str, &str)> = sources
        .iter()
        .map(|x| (x.kind.as_str(), x.detail.as_str()))
        .collect();
    let trace_detail = format!("{}:cell1", trace_path.display());
    assert_eq!(
        shown,
        [
            ("trace", trace_detail.as_str()),
            ("probes", "udp 198.51.100.1:7 via wwan0")
        ]
    );
    assert!(
        sources[0].updates >= 2 && sources[0].failures == 0,
        "{sources:?}"
    );
    let s = at(7.0);
    assert_eq!(s.primary.as_deref(), Some("cell2"), "{}", m.log_text());
    assert_eq!(signal(&s, 0), Some(-121.0));
    let s = at(10.0);
    assert_eq!(signal(&s, 1), Some(-85.0));
    // The text status says the same as the JSON.
    let text = String::from_utf8_lossy(&m.ctl(&["status"]).stdout).into_owned();
    assert!(text.starts_with("primary: cell2"), "{text}");
    assert!(
        text.contains("-121 dBm") && text.contains("-85 dBm"),
        "{text}"
    );
    // The last handoff with its reason, and each interface's thresholds.
    assert!(
        text.contains("s ago, cell1 -> cell2: ") && text.contains("; chose cell2 (score"),
        "{text}"
    );
    assert!(
        text.contains("cell1        signal_dbm         -124      -116"),
        "{text}"
    );
    let last = s.last_handoff.as_ref().expect("a handoff happened");
    assert_eq!(
        (last.from.as_deref(), last.to.as_str()),
        (Some("cell1"), "cell2")
    );
    assert_eq!(s.interfaces[0].thresholds.inactive, -116.0);
    assert_eq!(s.interfaces[1].raw, Some(-85.0));
    // The emulated links followed the same trace: traffic on cell2 flows.
    let link = bed.status().unwrap();
    assert_eq!(link.links[1].downlink.params.rate_bps, Some(15_000_000));
    let r = probe::run(
        &bed.plan,
        Options {
            duration: Duration::from_secs(1),
            ..Options::default()
        },
    )
    .unwrap();
    assert!(r.stream.received >= 990, "{}", r.to_text());
    let events = m.events();
    assert!(events.contains("cell1 -> cell2"), "{events}");

    // A samples subscriber gets each interface's sample every period.
    let (tx, rx) = std::sync::mpsc::channel();
    let socket = m.socket.clone();
    std::thread::spawn(move || {
        let _ = mimm_mimmd::control::client::events(&socket, true, true, |line| {
            tx.send(line.to_string()).is_ok()
        });
    });
    let sample = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(3))
            .expect("a sample event within 3 s");
        if line.contains("\"kind\":\"sample\"") && line.contains("\"iface\":\"cell2\"") {
            break line;
        }
    };
    let event: mimm_mimmd::control::proto::Event = serde_json::from_str(&sample).unwrap();
    assert_eq!(
        event.sample.and_then(|s| s.signal_dbm),
        Some(-85.0),
        "{sample}"
    );
    drop(rx);
}

/// 100 clients that never send a request and 100 that follow events (with
/// samples) and never read: requests are still answered, fast. 40 idle
/// connections once locked every request out for as long as they stayed.
#[test]
fn a_crowd_on_the_control_socket_does_not_lock_out_a_request() {
    if !root_or_skip("a_crowd_on_the_control_socket_does_not_lock_out_a_request") {
        return;
    }
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("crowd");
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let follow = br#"{"cmd":"events","follow":true,"samples":true}"#;
    let crowd = Crowd::gather(&socket, 100, 100, follow).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let slowest = slowest_answer(&socket, "mimmd", br#"{"cmd":"status"}"#, 5)
        .unwrap_or_else(|e| panic!("status with a crowd: {e}\n{}", m.log_text()));
    eprintln!("mimmd status with 100 idle and 100 following clients: slowest of 5 {slowest:?}");
    assert!(slowest < Duration::from_millis(50), "{slowest:?}");
    drop(crowd);
    assert_eq!(m.primary().as_deref(), Some("wifi"));
}

/// Reads one question from the modem's side of a pty.
fn modem_question(modem: &std::os::fd::OwnedFd) -> Vec<u8> {
    let mut asked = Vec::new();
    while !asked.ends_with(b"\r") {
        let mut b = [0u8; 64];
        let n = rustix::io::read(modem, &mut b).unwrap();
        asked.extend_from_slice(&b[..n]);
    }
    asked
}

/// Every source shows its own state in `mimmctl status`, and a modem that
/// stops answering is given up at the source's deadline: the loop wakes for
/// it with nothing else due (no probes, the next sample a second later,
/// nobody asking).
#[test]
fn sources_show_in_status_and_a_silent_modem_is_given_up_at_its_deadline() {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let test = "sources_show_in_status_and_a_silent_modem_is_given_up_at_its_deadline";
    if !root_or_skip(test) {
        return;
    }
    let _serial = serial();
    let (bed, dir, socket, _) = common::lte_and_wifi("sources");
    let modem = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&modem).unwrap();
    unlockpt(&modem).unwrap();
    let port = ptsname(&modem, Vec::new()).unwrap();
    let port = port.to_str().unwrap().to_string();
    let config = dir.file(
        "mimm",
        &format!(
            "config globals\n\toption socket '{}'\n\toption sample_ms 4000\n\
             config interface 'lte'\n\toption device wwan0\n\toption kind lte\n\toption signal_source 'at:{port}'\n\
             config interface 'wifi'\n\toption device wlan0\n\toption kind wifi\n\toption signal_source nl80211\n\
             \toption enabled 0\n",
            socket.display()
        ),
    );
    // The modem answers the first question and not the second.
    let (tx, rx) = std::sync::mpsc::channel();
    let modem_side = std::thread::spawn(move || {
        let first = modem_question(&modem);
        let answer = b"\r\n+CESQ: 99,99,255,255,20,45\r\n\r\nOK\r\n";
        rustix::io::write(&modem, answer).unwrap();
        tx.send(first).unwrap();
        let second = modem_question(&modem);
        tx.send(second).unwrap();
        modem
    });
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    assert_eq!(rx.recv().unwrap(), b"AT+CESQ\r");
    let status = m.status();
    let lte = &status.interfaces[0].sources;
    assert_eq!(lte.len(), 1, "no probes, no probe source: {lte:?}");
    assert_eq!(status.interfaces[0].signal_dbm, Some(-96.0));
    assert_eq!((lte[0].kind.as_str(), lte[0].updates), ("at", 1), "{lte:?}");
    assert_eq!(lte[0].detail, format!("AT+CESQ on {port}"));
    let wifi = &status.interfaces[1].sources;
    let kinds: Vec<&str> = wifi.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["nl80211"]);
    // This machine has no Wi-Fi driver: nl80211 says so at every sample.
    let why = wifi[0].error.as_deref().unwrap_or_default();
    assert!(why.contains("probes only"), "{wifi:?}");

    let second = rx.recv_timeout(Duration::from_secs(6)).unwrap();
    let asked_at = std::time::Instant::now();
    assert_eq!(second, b"AT+CESQ\r");
    let lte = &m.status().interfaces[0].sources[0];
    assert!(lte.waiting, "{lte:?}");
    // Quiet now: the next sample is 4 s away, the question's deadline 3 s.
    std::thread::sleep(Duration::from_millis(3_500).saturating_sub(asked_at.elapsed()));
    let text = m.log_text();
    assert!(
        text.contains(&format!("interface lte: at: {port}: no answer to AT")),
        "given up at its deadline, unasked:\n{text}"
    );
    let status = m.status();
    let lte = &status.interfaces[0].sources[0];
    assert_eq!((lte.waiting, lte.failures), (false, 1), "{lte:?}");
    assert!(
        lte.error
            .as_deref()
            .unwrap_or_default()
            .contains("no answer to AT")
    );
    assert_eq!(
        status.interfaces[0].signal_dbm, None,
        "unknown once given up"
    );
    let shown = String::from_utf8(m.ctl(&["status"]).stdout).unwrap();
    let line = format!("lte          at       AT+CESQ on {port} (1 updates, 1 failures): failing");
    assert!(shown.contains(&line), "{shown}");
    drop(m);
    drop(modem_side);
}
