//! The README's first command works: `mimm-testbed demo` runs the whole
//! system (here four times faster) and reports handoffs, the server's advice
//! and a failover: the anchored demo (the default) and `--shadow`, one after
//! the other (together they would share two cores and disturb each other's timing).

mod common;

use std::process::Command;
use std::sync::Mutex;

use common::{TESTBED, build_siblings};
use mimm_requires::margin;

// README's figures for the unplug (the VSD's own failover, around it the
// 1 kHz stream's longest hole and its loss), asserted with the one margin all
// timing tests take: the shadow-MAC demo's Ethernet modem losing carrier,
// and the anchored demo's PPP link going down.
const SHADOW_UNPLUG_GAP_MS: f64 = 12.4;
const SHADOW_UNPLUG_LOST: f64 = 11.0;
const ANCHORED_UNPLUG_GAP_MS: f64 = 11.8;
const ANCHORED_UNPLUG_LOST: f64 = 10.0;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs the demo with `extra` arguments at `--speed 4`: its output and
/// its HTML report.
fn run_demo(extra: &[&str]) -> (String, String) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    build_siblings();
    let out_file = std::env::temp_dir().join(format!(
        "mimm-demo-test-{}-{}.html",
        std::process::id(),
        extra.join("")
    ));
    let out = Command::new(TESTBED)
        .args(["demo", "--speed", "4", "--out"])
        .arg(&out_file)
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    let html = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert!(out.status.success(), "{text}\n{err}");
    eprintln!("{text}");
    (text, html)
}

/// The summary table: t, who, gap, lost, what.
fn table(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .skip_while(|l| !l.starts_with("handoffs (gap"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect()
}

/// What both demos show: mimmd steering the VSD, the server's advice, the
/// VSD's own failover on the unplug within README's figures, the download.
fn assert_reports(text: &str, html: &str, unplug_gap_ms: f64, unplug_lost: f64) {
    let table = table(text);
    let steered = table
        .iter()
        .filter(|r| r.get(1) == Some(&"vsd") && r.last() == Some(&"command"))
        .count();
    assert!(
        steered >= 2,
        "mimmd moved the VSD fewer than twice:\n{text}"
    );
    let failover = table
        .iter()
        .find(|r| r.get(1) == Some(&"vsd") && r.ends_with(&["carrier", "lost"]))
        .unwrap_or_else(|| panic!("no carrier-loss failover:\n{text}"));
    // "<2": no hole of two sending intervals or more; anything else a number.
    let gap: f64 = match failover[2] {
        "<2" => 0.0,
        g => g
            .parse()
            .unwrap_or_else(|_| panic!("gap column {g:?}:\n{text}")),
    };
    let lost: f64 = failover[3]
        .parse()
        .unwrap_or_else(|_| panic!("lost column {:?}:\n{text}", failover[3]));
    eprintln!("demo unplug: the VSD's failover: gap {gap} ms, {lost} lost");
    one_switch_per_failure(&table, failover, text);
    assert!(
        gap <= margin(unplug_gap_ms),
        "failover gap {gap} ms:\n{text}"
    );
    assert!(lost <= margin(unplug_lost), "failover lost {lost}:\n{text}");
    assert!(text.contains("TCP download:"), "{text}");
    // The server's network alarm moved traffic off the active modem.
    if mimm_requires::tool("the demo's SNMP alarm", "snmptrap", "snmp") {
        let advised = table
            .iter()
            .any(|r| r.get(1) == Some(&"mimmd") && r.join(" ").contains("advised to avoid"));
        assert!(advised, "no handoff on the server's advice:\n{text}");
    }
    assert!(
        html.contains("<svg") && html.contains("carrier lost"),
        "report:\n{html}"
    );
}

/// The VSD's own failover went where mimmd's Mobility Manager sent
/// traffic on the same carrier loss (it told the VSD its fallback order),
/// so the failure cost one switch: mimmd's row at that moment names the
/// interface on the device the VSD moved to. Which device is which
/// interface is read off the rows where mimmd commanded a switch.
fn one_switch_per_failure(table: &[Vec<&str>], failover: &[&str], text: &str) {
    let to = |row: &[&str]| -> Option<String> {
        let arrow = row.iter().position(|w| *w == "->")?;
        Some(row.get(arrow + 1)?.trim_end_matches(':').to_string())
    };
    let at = |t: &str, who: &str| table.iter().find(|r| r[0] == t && r[1] == who);
    let device_of: Vec<(String, String)> = (table.iter())
        .filter(|r| r[1] == "vsd" && r.last() == Some(&"command"))
        .filter_map(|r| Some((to(at(r[0], "mimmd")?)?, to(r)?)))
        .collect();
    let mimmd =
        at(failover[0], "mimmd").unwrap_or_else(|| panic!("no mimmd row at the failover:\n{text}"));
    assert!(
        mimmd.join(" ").contains("carrier lost"),
        "mimmd's row at the failover: {mimmd:?}\n{text}"
    );
    let chose = to(mimmd).unwrap();
    let device = (device_of.iter())
        .find(|(iface, _)| *iface == chose)
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| panic!("no device known for {chose}:\n{text}"));
    assert_eq!(
        Some(device),
        to(failover),
        "the VSD's failover is not where mimmd went:\n{text}"
    );
}

/// The demo's line "inet received H packets from the home address A and O
/// from any other address": (H, A, O).
fn inet_sources(text: &str) -> (u64, String, u64) {
    let line = text
        .lines()
        .find(|l| l.starts_with("inet received"))
        .unwrap_or_else(|| panic!("no line on inet's sources:\n{text}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |i: usize| -> u64 { words[i].parse().unwrap_or_else(|_| panic!("{line}")) };
    (number(2), words[8].to_string(), number(10))
}

/// The stream's packets received: "stream: S sent, L lost".
fn stream_received(text: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with("stream:")).unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    let sent: u64 = words[1].parse().unwrap();
    let lost: u64 = words[3].parse().unwrap();
    sent - lost
}

#[test]
fn the_anchored_demo_runs_and_reports() {
    if !mimm_requires::root("the_anchored_demo_runs_and_reports") {
        return;
    }
    let (text, html) = run_demo(&[]);
    assert!(text.contains("3g-wan, wwan0, wlan0"), "{text}");
    assert_reports(&text, &html, ANCHORED_UNPLUG_GAP_MS, ANCHORED_UNPLUG_LOST);
    // Whichever ISP carried it, inet saw the LAN only from the home address.
    let (from_home, home, others) = inet_sources(&text);
    assert_eq!(home, "10.64.0.2", "{text}");
    assert_eq!(others, 0, "inet saw another source address:\n{text}");
    assert!(from_home >= stream_received(&text), "{text}");
}

#[test]
fn the_shadow_demo_runs_and_reports() {
    if !mimm_requires::root("the_shadow_demo_runs_and_reports") {
        return;
    }
    let (text, html) = run_demo(&["--shadow"]);
    assert!(text.contains("shadow-MAC vsd0"), "{text}");
    assert_reports(&text, &html, SHADOW_UNPLUG_GAP_MS, SHADOW_UNPLUG_LOST);
}
