//! The README's first command works: `mimm-testbed demo` runs the whole
//! system (here four times faster) and reports handoffs, the server's advice
//! and a failover.

use std::path::Path;
use std::process::Command;

use mimm_requires::margin;

const TESTBED: &str = env!("CARGO_BIN_EXE_mimm-testbed");
// README's figures for the unplug (the VSD's own failover, around it the
// 1 kHz stream's longest hole and its loss), asserted with the one margin all
// timing tests take.
const UNPLUG_GAP_MS: f64 = 11.1;
const UNPLUG_LOST: f64 = 10.0;

/// vsd, mimmd and mimm-server must sit next to mimm-testbed, as after
/// `cargo build`.
fn build_siblings() {
    let dir = Path::new(TESTBED).parent().unwrap();
    if ["vsd", "mimmd", "mimm-server"]
        .iter()
        .all(|b| dir.join(b).exists())
    {
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "-p",
        "mimm-vsd",
        "-p",
        "mimm-mimmd",
        "-p",
        "mimm-server",
        "--bins",
    ]);
    if TESTBED.contains("/release/") {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().unwrap().success(),
        "building vsd, mimmd and mimm-server failed"
    );
}

#[test]
fn the_demo_runs_and_reports() {
    if !mimm_requires::root("the_demo_runs_and_reports") {
        return;
    }
    build_siblings();
    let out_file = std::env::temp_dir().join(format!("mimm-demo-test-{}.html", std::process::id()));
    let out = Command::new(TESTBED)
        .args(["demo", "--speed", "4", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    let html = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    eprintln!("{text}");
    // The summary table: t, who, gap, lost, what.
    let table: Vec<Vec<&str>> = text
        .lines()
        .skip_while(|l| !l.starts_with("handoffs (gap"))
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
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
    assert!(
        gap <= margin(UNPLUG_GAP_MS),
        "failover gap {gap} ms:\n{text}"
    );
    assert!(lost <= margin(UNPLUG_LOST), "failover lost {lost}:\n{text}");
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
