//! Rule 7 on measured rates (the expected gain), driven with made-up rates.

use mimm_mm::{
    Action, Averaging, Config, IfaceConfig, IfaceId, Input, LinkKind, Metric, MobilityManager,
    Rule, Sample,
};

const A: IfaceId = IfaceId(0);
const B: IfaceId = IfaceId(1);

/// Two LTE links judged on rate, no smoothing of the metric or of the
/// forecast (each sample is the forecast), a 4 s handoff cost, no spread.
fn config() -> Config {
    let links = ["a", "b"].map(|name| {
        let mut i = IfaceConfig::with_defaults(name, LinkKind::Lte, Metric::RateKbps);
        i.averaging = Averaging::Ewma { alpha: 1.0 };
        i
    });
    let mut cfg = Config::new(links.to_vec());
    cfg.timing.min_dwell_ms = 0;
    cfg.timing.hold_down_ms = 30_000;
    cfg.gain.handoff_cost_ms = 4_000;
    cfg.gain.spread = 0.0;
    cfg.gain.alpha = 1.0;
    cfg
}

fn rate(kbps: f64) -> Sample {
    Sample {
        rate_kbps: Some(kbps),
        ..Sample::default()
    }
}

/// Feeds both links each second from `from` to `to` (exclusive), returning
/// the switches made, with their time.
fn run(
    mm: &mut MobilityManager,
    seconds: std::ops::Range<u64>,
    rates: impl Fn(u64) -> (f64, f64),
) -> Vec<(u64, Action)> {
    let mut switches = Vec::new();
    for s in seconds {
        let (a, b) = rates(s);
        mm.handle(
            s * 1000,
            Input::Sample {
                iface: A,
                sample: rate(a),
            },
        );
        mm.handle(
            s * 1000,
            Input::Sample {
                iface: B,
                sample: rate(b),
            },
        );
        while let Some(action) = mm.poll_action() {
            if matches!(action, Action::Switch { .. }) {
                switches.push((s, action));
            }
        }
    }
    switches
}

fn rule_and_to(action: &Action) -> (Rule, IfaceId) {
    match action {
        Action::Switch { to, reason, .. } => (reason.rule, *to),
        _ => unreachable!(),
    }
}

/// Starts on A (50 Mbit/s against B's 40).
fn on_a(cfg: Config) -> MobilityManager {
    let mut mm = MobilityManager::new(cfg).unwrap();
    let first = run(&mut mm, 0..10, |_| (50_000.0, 40_000.0));
    assert_eq!(first.len(), 1);
    assert_eq!(rule_and_to(&first[0].1), (Rule::Initial, A));
    mm
}

#[test]
fn a_large_gain_moves_at_once_a_small_one_only_when_it_lasts() {
    // Six times the rate: +500 % beats the +400 % a 4 s cost needs over 1 s.
    let mut mm = on_a(config());
    let moved = run(&mut mm, 10..12, |_| (50_000.0, 300_000.0));
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].0, 10);
    assert_eq!(rule_and_to(&moved[0].1), (Rule::ExpectedGain, B));

    // +20 %: worth a 4 s handoff only once it has lasted more than 20 s.
    let mut mm = on_a(config());
    let moved = run(&mut mm, 10..60, |_| (50_000.0, 60_000.0));
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0].0, 31, "{moved:?}");
    let Action::Switch { reason, .. } = &moved[0].1 else {
        unreachable!()
    };
    let text = reason.display(mm.config()).to_string();
    assert!(
        text.starts_with(
            "expected gain: a rate_kbps avg 50000 forecast 50000 kbit/s; +20 % for 21.0 s"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("forecast 60000 kbit/s (mean less spread)"),
        "{text}"
    );

    // Off: the score rule decides, and +20 % is no move at all.
    let mut cfg = config();
    cfg.gain.handoff_cost_ms = 0;
    let mut mm = on_a(cfg);
    assert!(run(&mut mm, 10..60, |_| (50_000.0, 60_000.0)).is_empty());
}

#[test]
fn a_return_within_the_hold_down_pays_for_three_handoffs() {
    let mut mm = on_a(config());
    assert_eq!(run(&mut mm, 10..11, |_| (50_000.0, 300_000.0)).len(), 1);
    // A at twice B from 11 s. A fresh candidate would go once +100 % beat
    // 4 s over its time ahead (after more than 4 s); the interface just left
    // pays for three handoffs: more than 12 s ahead.
    let back = run(&mut mm, 11..40, |_| (100_000.0, 50_000.0));
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(rule_and_to(&back[0].1), (Rule::ExpectedGain, A));
    assert_eq!(back[0].0, 11 + 13, "{back:?}");
    assert_eq!(mm.counters().held_by_hold_down, 1);
}

#[test]
fn a_swinging_link_is_judged_by_its_mean_less_its_spread() {
    // B swings 10..150 Mbit/s (a mean near 80) against A's steady 60.
    let swinging = |s: u64| (60_000.0, if s % 2 == 0 { 10_000.0 } else { 150_000.0 });
    let mut cfg = config();
    cfg.gain.alpha = 0.3;
    cfg.gain.spread = 1.0;
    let mut mm = on_a(cfg.clone());
    assert!(run(&mut mm, 10..100, swinging).is_empty());
    // Judged on its mean alone, it wins.
    cfg.gain.spread = 0.0;
    let mut mm = on_a(cfg);
    assert!(!run(&mut mm, 10..100, swinging).is_empty());
}
