//! `mimmd replay` on traces the project ships, and on the shared real traces
//! when they are present.

use std::path::{Path, PathBuf};
use std::process::Command;

use mimm_mimmd::replay::{self, Options, Policy, Replay};
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
    assert_eq!(s["seconds_by_iface"]["wifi"], 70.0);
    // 52000 kbit/s is the oracle's mean: 60000 except 20000 for 20 s.
    assert_eq!(s["oracle_kbps_avg"], 52000.0);
    assert_eq!(json["timeline"][1]["rule"], "better candidate");
    assert_eq!(json["timeline"][1]["t_ms"], 32000);
    // The baselines answer in the same shape.
    let best = run(&data("rates.csv"), Policy::Best);
    assert_eq!(best.summary.ratio, Some(1.0));
    assert_eq!(best.summary.ping_pongs, 1);
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

/// The comparison the MM is held to, on every multi-interface shared trace.
/// Prints the table (trace, policy, ratio, handoffs, ping-pongs).
#[test]
fn mimm_against_the_baselines_on_shared_traces() {
    let files = shared_traces();
    if !mimm_requires::path(
        "mimm_against_the_baselines_on_shared_traces",
        &shared_dir(),
        "the shared traces",
    ) {
        return;
    }
    let mut ratios = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let results: Vec<(Policy, Replay)> =
            Policy::ALL.into_iter().map(|p| (p, run(path, p))).collect();
        for (policy, r) in &results {
            let s = &r.summary;
            eprintln!(
                "{name:36} {policy:9} ratio {:.3} handoffs {:3} ping-pongs {:3}",
                s.ratio.unwrap(),
                s.handoffs,
                s.ping_pongs
            );
        }
        let mimm = &results[0].1.summary;
        let best = &results[1].1.summary;
        assert!(
            mimm.handoffs < best.handoffs,
            "{name}: {} vs best {}",
            mimm.handoffs,
            best.handoffs
        );
        // No more ping-pongs than any baseline.
        let fewest = results[1..].iter().map(|(_, r)| r.summary.ping_pongs).min();
        assert!(
            Some(mimm.ping_pongs) <= fewest,
            "{name}: {} ping-pongs",
            mimm.ping_pongs
        );
        assert!(mimm.ratio.unwrap() >= 0.8, "{name}: ratio {:?}", mimm.ratio);
        ratios.push(mimm.ratio.unwrap());
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let at_bar = ratios.iter().filter(|r| **r >= 0.9).count();
    eprintln!(
        "mimm mean ratio {mean:.3} over {} traces, {at_bar} at 0.90 or more",
        ratios.len()
    );
    assert!(mean >= 0.94, "mean ratio {mean}");
    // mptraces_11_1 and 5gophers_2 miss it (see README); no other may.
    assert!(at_bar + 2 >= ratios.len(), "{at_bar} of {}", ratios.len());
}

/// Why mptraces_11_1 stays under 0.90 (README): its Wi-Fi dip at 70–79 s
/// cannot be told from a failure. On the same trace with the dip going on
/// after 80 s, which no rule can tell apart before 80 s, patience that rides
/// out the real dip loses, and the default, which leaves, wins.
#[test]
fn the_wifi_dip_in_mptraces_11_1_looks_like_a_failure_until_it_ends() {
    let path = shared_dir().join("mptraces_11_1.csv");
    if !mimm_requires::path(
        "the_wifi_dip_in_mptraces_11_1_looks_like_a_failure_until_it_ends",
        &path,
        "the shared trace",
    ) {
        return;
    }
    let real = Trace::from_path(&path).unwrap();
    let dip: Vec<f64> = real
        .rows
        .iter()
        .filter(|r| r.iface == "wifi" && (70_000..80_000).contains(&r.t_ms))
        .filter_map(|r| r.rate_kbps)
        .collect();
    assert_eq!(dip.len(), 10);
    let mut endless = real.clone();
    for r in endless.rows.iter_mut() {
        if r.iface == "wifi" && r.t_ms >= 80_000 {
            r.rate_kbps = Some(dip[(r.t_ms / 1000 % 10) as usize]);
        }
    }
    let ratio = |trace: &Trace, better_dwell_ms: u64| {
        let mut cfg = replay::derive_config(trace);
        cfg.timing.better_dwell_ms = better_dwell_ms;
        let r = replay::run(trace, &cfg, Options::default()).unwrap();
        r.summary.ratio.unwrap()
    };
    let (default_real, patient_real) = (ratio(&real, 0), ratio(&real, 10_000));
    let (default_endless, patient_endless) = (ratio(&endless, 0), ratio(&endless, 10_000));
    eprintln!(
        "real dip: default {default_real:.3}, patient {patient_real:.3}; \
         endless dip: default {default_endless:.3}, patient {patient_endless:.3}"
    );
    assert!(default_real < 0.9 && patient_real >= 0.9);
    assert!(default_endless >= 0.9 && patient_endless < 0.9);
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
