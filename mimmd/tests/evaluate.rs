//! `mimmd evaluate`: families, leave-one-family-out, and the held-out
//! figures README quotes.

use std::path::{Path, PathBuf};

use mimm_mimmd::replay::evaluate::{self, Family, HeldOut, Score};
use mimm_mimmd::replay::frontier;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A trace of `ifaces` links, 60 s at 1 Hz, each link's rate a function of
/// the second.
fn trace(ifaces: &[&str], rate: impl Fn(usize, u64) -> u64) -> String {
    let mut csv = String::from("t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up\n");
    for s in 0..60u64 {
        for (i, name) in ifaces.iter().enumerate() {
            csv += &format!("{},{name},lte,,{},,,1\n", s * 1000, rate(i, s));
        }
    }
    csv
}

/// Three families: two with two-link traces, one of single-link traces
/// (paired); `swing` changes the rates of family `z` only.
fn write_families(dir: &Path, swing: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let step = |i: usize, s: u64| {
        if (s / 10 + i as u64) % 2 == 0 {
            20_000
        } else {
            9_000
        }
    };
    std::fs::write(dir.join("x_1.csv"), trace(&["a", "b"], step)).unwrap();
    std::fs::write(
        dir.join("x_2.csv"),
        trace(&["a", "b"], |i, s| step(i, s + 5)),
    )
    .unwrap();
    std::fs::write(
        dir.join("y_1.csv"),
        trace(&["cell"], |_, s| 5_000 + 700 * (s % 9)),
    )
    .unwrap();
    std::fs::write(
        dir.join("y_2.csv"),
        trace(&["cell"], |_, s| 9_000 - 600 * (s % 7)),
    )
    .unwrap();
    let z = |i: usize, s: u64| {
        10_000
            + if (s + i as u64) % swing == 0 {
                30_000
            } else {
                0
            }
    };
    std::fs::write(dir.join("z_1.csv"), trace(&["p", "q"], z)).unwrap();
}

fn chosen(results: &[HeldOut], family: &str) -> evaluate::Setting {
    results.iter().find(|h| h.family == family).unwrap().chosen
}

#[test]
fn families_pair_single_link_traces_and_leave_each_out_in_turn() {
    let dir = Dir(std::env::temp_dir().join(format!("mimm-eval-{}", std::process::id())));
    write_families(&dir.0, 3);
    let families = evaluate::families(&dir.0).unwrap();
    let names: Vec<(&str, usize)> = (families.iter())
        .map(|f| (f.name.as_str(), f.scenarios.len()))
        .collect();
    assert_eq!(names, [("x", 2), ("z", 1), ("y", 1)]);
    let paired = &families[2].scenarios[0];
    assert_eq!(paired.name, "y_1+y_2");
    assert_eq!(paired.trace.ifaces(), ["cell_a", "cell_b"]);

    // The setting reported for a family is chosen on the others alone:
    // changing the family left out changes nothing in its choice.
    let before = evaluate::evaluate(&families).unwrap();
    write_families(&dir.0, 2);
    let changed = evaluate::families(&dir.0).unwrap();
    let after = evaluate::evaluate(&changed).unwrap();
    assert_eq!(chosen(&before, "z"), chosen(&after, "z"));
    let others: Vec<&Family> = changed.iter().filter(|f| f.name != "z").collect();
    assert_eq!(chosen(&after, "z"), evaluate::choose(&others).unwrap());
    // And the figures reported on it are its own, under that setting.
    let z = after.iter().find(|h| h.family == "z").unwrap();
    let own = evaluate::score(
        &changed[1],
        mimm_mimmd::replay::Policy::Mimm,
        Some(&chosen(&after, "z")),
    )
    .unwrap();
    assert_eq!(z.scores[0], ("mimm".to_string(), own));
}

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces")
}

/// The held-out table README quotes (`mimmd evaluate ../shared/traces`):
/// family, policy, pooled ratio, handoffs/h, ping-pongs/h.
const README_TABLE: &[(&str, &str, f64, f64, f64)] = &[
    ("5gophers", "mimm", 0.904, 157.0, 71.0),
    ("5gophers", "mimm-before", 0.887, 143.0, 0.0),
    ("5gophers", "best", 0.981, 414.0, 229.0),
    ("5gophers", "hysteresis", 0.937, 243.0, 143.0),
    ("mptraces", "mimm", 0.927, 58.0, 12.0),
    ("mptraces", "mimm-before", 0.933, 46.0, 0.0),
    ("mptraces", "best", 0.976, 425.0, 370.0),
    ("mptraces", "hysteresis", 0.962, 115.0, 67.0),
    ("ucc5g", "mimm", 0.922, 91.0, 50.0),
    ("ucc5g", "mimm-before", 0.840, 52.0, 0.0),
    ("ucc5g", "best", 0.605, 156.0, 131.0),
    ("ucc5g", "hysteresis", 0.948, 282.0, 253.0),
];

#[test]
fn held_out_figures_on_the_shared_traces_are_those_readme_gives() {
    if !mimm_requires::path(
        "held_out_figures_on_the_shared_traces_are_those_readme_gives",
        &shared_dir(),
        "the shared traces",
    ) {
        return;
    }
    let families = evaluate::families(&shared_dir()).unwrap();
    let results = evaluate::evaluate(&families).unwrap();
    eprint!("{}", evaluate::to_text(&results));
    let score = |family: &str, policy: &str| -> Score {
        let h = results.iter().find(|h| h.family == family).unwrap();
        h.scores.iter().find(|(p, _)| p == policy).unwrap().1
    };
    for &(family, policy, ratio, handoffs, ping_pongs) in README_TABLE {
        let s = score(family, policy);
        assert!(
            (s.ratio - ratio).abs() < 0.0005
                && (s.handoffs_per_h - handoffs).abs() < 0.5
                && (s.ping_pongs_per_h - ping_pongs).abs() < 0.5,
            "{family} {policy}: {s:?}, README gives {ratio} {handoffs} {ping_pongs}"
        );
    }
    // Causal: even the instantaneous best learns each change a second late.
    for h in &results {
        assert!(score(&h.family, "best").ratio < 0.99, "{}", h.family);
    }
    // The built-in defaults are what the protocol chooses on every family.
    let all: Vec<&Family> = families.iter().collect();
    let defaults = evaluate::Setting::default_of(&mimm_mm::Config::new(Vec::new()));
    assert_eq!(evaluate::choose(&all).unwrap(), defaults);
}

/// The frontier README quotes (`mimmd evaluate --frontier ../shared/traces`):
/// family, then the best hysteresis variant's and the best MM setting's
/// ratio, handoffs/h and ping-pongs/h within the goal's shares, each chosen
/// on the family itself.
/// Ratio, handoffs/h, ping-pongs/h.
type Figures = (f64, f64, f64);

const README_FRONTIER: &[(&str, Figures, Figures)] = &[
    ("5gophers", (0.869, 100.0, 29.0), (0.887, 100.0, 29.0)),
    ("mptraces", (0.938, 58.0, 17.0), (0.941, 58.0, 14.0)),
    ("ucc5g", (0.934, 116.0, 82.0), (0.942, 102.0, 71.0)),
];

#[test]
fn not_even_hindsight_reaches_the_goal_on_the_shared_traces() {
    if !mimm_requires::path(
        "not_even_hindsight_reaches_the_goal_on_the_shared_traces",
        &shared_dir(),
        "the shared traces",
    ) {
        return;
    }
    let families = evaluate::families(&shared_dir()).unwrap();
    let frontiers = frontier::frontier(&families).unwrap();
    eprint!("{}", frontier::to_text(&frontiers));
    let same = |s: &Score, (ratio, handoffs, ping_pongs): Figures| {
        (s.ratio - ratio).abs() < 0.0005
            && (s.handoffs_per_h - handoffs).abs() < 0.5
            && (s.ping_pongs_per_h - ping_pongs).abs() < 0.5
    };
    for &(family, variant, mimm) in README_FRONTIER {
        let f = frontiers.iter().find(|f| f.family == family).unwrap();
        let (_, v) = f.variant.unwrap();
        let (_, m) = f.mimm.unwrap();
        assert!(same(&v, variant), "{family} hysteresis variant: {v:?}");
        assert!(same(&m, mimm), "{family} mimm: {m:?}");
        assert!(
            !f.reached(),
            "{family}: the goal is reached; README says not"
        );
    }
}
