//! `mimmd replay` on traces the project ships, and on the shared real traces
//! when they are present.

use std::path::{Path, PathBuf};
use std::process::Command;

use mimm_mimmd::replay::{self, HysteresisRule, Options, Policy, Replay};
use mimm_mm::Rule;
use mimm_trace::Trace;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(path: &Path, policy: Policy) -> Replay {
    let trace = Trace::from_path(path).unwrap();
    let cfg = replay::derive_config(&trace);
    replay::run(
        &trace,
        &cfg,
        Options {
            policy,
            ..Options::default()
        },
    )
    .unwrap()
}

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces")
}

fn shared_traces() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(shared_dir()) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("mptraces_") || name.starts_with("5gophers_")
        })
        .collect();
    files.sort();
    files
}

#[test]
fn fading_primary_is_left_below_inactive_and_a_lost_carrier_at_once() {
    let r = run(&data("handoff.csv"), Policy::Mimm);
    let got: Vec<(u64, Option<&str>, &str, Rule)> = r
        .switches
        .iter()
        .map(|s| {
            let name = |i: mimm_mm::IfaceId| r.config.ifaces[i.index()].name.as_str();
            (s.t_ms, s.from.map(name), name(s.to), s.reason.rule)
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, None, "cell", Rule::Initial),
            // EWMA 0.3 from -85 toward -125 crosses inactive (-116) on the fifth sample.
            (14_000, Some("cell"), "wifi", Rule::BelowInactive),
            // The association drops at 40 s: the switch is in that same step.
            (40_000, Some("wifi"), "cell", Rule::CarrierLost),
        ]
    );
    let c = r.counters.unwrap();
    assert_eq!((c.forced, c.emergencies, c.held_by_hold_down), (1, 1, 1));
    assert_eq!(r.summary.handoffs, 2);
    assert_eq!(
        r.summary.ping_pongs, 1,
        "the emergency return within 30 s counts"
    );
    assert_eq!(r.summary.seconds_by_iface["cell"], 34.0);
    assert_eq!(r.summary.ratio, None, "no rates in this trace");
}

#[test]
fn json_summary_has_the_keys_other_tools_compare() {
    let r = run(&data("rates.csv"), Policy::Mimm);
    let json: serde_json::Value = serde_json::from_str(&replay::to_json(&r, "rates.csv")).unwrap();
    let s = &json["summary"];
    for key in [
        "handoffs",
        "ping_pongs",
        "seconds_by_iface",
        "delivered_kbps_avg",
        "oracle_kbps_avg",
        "ratio",
    ] {
        assert!(!s[key].is_null(), "summary lacks {key}: {s}");
    }
    assert_eq!(s["handoffs"], 2);
    // The first choice waits for the first measured second.
    assert_eq!(s["seconds_by_iface"]["wifi"], 73.0);
    // 52000 kbit/s is the oracle's mean: 60000 except 20000 for 20 s.
    assert_eq!(s["oracle_kbps_avg"], 52000.0);
    assert_eq!(json["timeline"][1]["rule"], "expected gain");
    assert_eq!(json["timeline"][1]["t_ms"], 32000);
    // The baselines answer in the same shape.
    let best = run(&data("rates.csv"), Policy::Best);
    assert_eq!(best.summary.ping_pongs, 1);
}

/// A rate reaches the decider when the second it measured ends: on the
/// shipped trace Wi-Fi collapses at 30 s and comes back at 50 s; the
/// instantaneous best learns each a second late and loses those seconds
/// (and the first, before anything was measured), so it is below 1.
#[test]
fn causal_replay_learns_a_rate_when_its_second_ends() {
    let best = run(&data("rates.csv"), Policy::Best);
    let times: Vec<u64> = best.switches.iter().map(|s| s.t_ms).collect();
    assert_eq!(times, [1_000, 31_000, 51_000]);
    // Lost: the first second (60000), 30-31 s at 500 instead of 20000,
    // 50-51 s at 20000 instead of 60000; of 5200000 kbit in 100 s.
    let lost = 60_000.0 + 19_500.0 + 40_000.0;
    let ratio = best.summary.ratio.unwrap();
    assert!((ratio - (1.0 - lost / 5_200_000.0)).abs() < 1e-4, "{ratio}");
}

/// The rule an engineer writes first: the 3-sample mean must beat the
/// primary's by more than 20 %. A link 15 % faster never takes traffic; one
/// 25 % faster does once its 3 s mean passes 20 %, at once on a 1-sample
/// mean, never at +30 % (the variants `evaluate --frontier` tries).
#[test]
fn hysteresis_moves_on_a_20_percent_better_3_second_mean() {
    let trace = |b: u32| {
        Trace::parse(&format!(
            "t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up\n\
             0,a,lte,,10000,,,1\n0,b,lte,,9000,,,1\n\
             10000,b,lte,,{b},,,1\n60000,a,lte,,10000,,,1\n"
        ))
        .unwrap()
    };
    let variant = |t: &Trace, rule: HysteresisRule| {
        let options = Options {
            policy: Policy::Hysteresis,
            hysteresis: rule,
            ..Options::default()
        };
        replay::run(t, &replay::derive_config(t), options).unwrap()
    };
    let hysteresis = |t: &Trace| variant(t, HysteresisRule::default());
    assert_eq!(hysteresis(&trace(11_500)).summary.handoffs, 0);
    let r = hysteresis(&trace(12_500));
    assert_eq!(r.summary.handoffs, 1);
    // Means of b at 11, 12, 13 s: 10167, 11333, 12500; a's 10000.
    assert_eq!(r.switches[1].t_ms, 13_000);
    assert_eq!(r.switches[1].reason.rule, Rule::BetterCandidate);
    let one_sample = HysteresisRule {
        samples: 1,
        gain: 0.2,
    };
    // b's 12.5 Mbit/s is measured over 10..11 s and known at 11 s.
    assert_eq!(variant(&trace(12_500), one_sample).switches[1].t_ms, 11_000);
    let thirty = HysteresisRule {
        samples: 3,
        gain: 0.3,
    };
    assert_eq!(variant(&trace(12_500), thirty).summary.handoffs, 0);
}

#[test]
fn replay_is_deterministic_byte_for_byte() {
    let mut paths = vec![data("handoff.csv"), data("rates.csv")];
    paths.extend(shared_traces());
    for path in paths {
        for policy in Policy::ALL {
            let outputs = || {
                let r = run(&path, policy);
                (
                    replay::to_text(&r, "t"),
                    replay::to_json(&r, "t"),
                    replay::to_svg(&r, "t"),
                )
            };
            assert!(
                outputs() == outputs(),
                "{} {policy} differs between runs",
                path.display()
            );
        }
    }
}

#[test]
fn svg_shows_metric_averages_thresholds_primary_and_handoffs() {
    let r = run(&data("handoff.csv"), Policy::Mimm);
    let svg = replay::to_svg(&r, "handoff.csv");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(c))
            .count()
    };
    assert_eq!(class("iface"), 2);
    assert_eq!(class("threshold"), 10, "five thresholds per interface");
    assert!(class("raw") >= 2 && class("average") >= 2);
    // cell carried traffic twice, wifi once.
    assert_eq!(class("primary"), 3);
    assert_eq!(class("handoff"), 3);
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        titles
            .iter()
            .any(|t| t.contains("below inactive: cell signal_dbm avg -118.3 < inactive -116")),
        "{titles:?}"
    );
}

#[test]
fn cli_reports_bad_traces_with_the_place_and_runs_good_ones() {
    let bin = env!("CARGO_BIN_EXE_mimmd");
    let dir = std::env::temp_dir().join(format!("mimmd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "t_ms,iface,signal_dbm\n0,a,-80\n0,a,loud\n").unwrap();
    let out = Command::new(bin)
        .args(["replay", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv:3:5: field signal_dbm: not a number"),
        "{err}"
    );
    let svg = dir.join("out.svg");
    let out = Command::new(bin)
        .args([
            "replay",
            data("rates.csv").to_str().unwrap(),
            "--policy",
            "failover",
            "--json",
        ])
        .args(["--svg", svg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["policy"], "failover");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    let out = Command::new(bin)
        .args(["replay", "x.csv", "--policy", "fastest"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown policy \"fastest\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mimmd replay` in two processes writes the same bytes, for every policy,
/// as JSON, text and SVG. Within one process (the test above) a HashMap's
/// iteration order is the same run to run; its per-process random seed, a
/// timestamp or an address in the output would only show here.
#[test]
fn replay_is_byte_for_byte_identical_across_processes() {
    let bin = env!("CARGO_BIN_EXE_mimmd");
    let dir = std::env::temp_dir().join(format!("mimmd-processes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The demo's drive (three 5G modems) is the three-interface trace the
    // project ships.
    let drive = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/testbed/demo/drive.csv");
    assert!(drive.exists(), "{} is shipped", drive.display());
    let traces = [data("handoff.csv"), data("rates.csv"), drive];
    let mimmd = |args: &[&str]| -> Vec<u8> {
        let out = Command::new(bin).arg("replay").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "mimmd replay {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let same = |what: &str, a: &[u8], b: &[u8]| {
        assert!(!a.is_empty(), "{what}: empty");
        if a != b {
            let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
            panic!(
                "{what} differs between two processes, first at line {line:?}:\n{:?}\n{:?}",
                line.and_then(|l| a.lines().nth(l)),
                line.and_then(|l| b.lines().nth(l)),
            );
        }
    };
    let mut interfaces = Vec::new();
    for trace in &traces {
        let path = trace.to_str().unwrap();
        let stem = trace.file_stem().unwrap().to_string_lossy();
        for policy in Policy::ALL {
            let policy = policy.name();
            let what = format!("{stem} --policy {policy}");
            let json = mimmd(&[path, "--policy", policy, "--json"]);
            same(
                &format!("{what} --json"),
                &json,
                &mimmd(&[path, "--policy", policy, "--json"]),
            );
            let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(doc["policy"], policy);
            interfaces.push(doc["interfaces"].as_array().unwrap().len());
            let svg = |n: u32| -> (Vec<u8>, Vec<u8>) {
                let out = dir.join(format!("{stem}-{policy}-{n}.svg"));
                let text = mimmd(&[path, "--policy", policy, "--svg", out.to_str().unwrap()]);
                (text, std::fs::read(&out).unwrap())
            };
            let ((text1, svg1), (text2, svg2)) = (svg(1), svg(2));
            same(&format!("{what} (text)"), &text1, &text2);
            same(&format!("{what} --svg"), &svg1, &svg2);
            assert!(svg1.starts_with(b"<svg"), "{what}: not an SVG");
        }
    }
    assert!(
        interfaces.contains(&3),
        "a three-interface trace: {interfaces:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
