//! The MM's rules, one scenario each, driven with made-up samples.

use mimm_mm::{
    Action, Advice, Config, IfaceConfig, IfaceId, Input, LinkKind, Metric, MobilityManager, Rule,
    Sample, Thresholds, Verdict,
};

const LTE: IfaceId = IfaceId(0);
const WIFI: IfaceId = IfaceId(1);

fn signal(dbm: f64) -> Sample {
    Sample {
        signal_dbm: Some(dbm),
        ..Sample::default()
    }
}

/// LTE (RSRP defaults) and Wi-Fi (RSSI defaults), no smoothing so each sample
/// is the average and the rules are easy to follow.
fn config() -> Config {
    let mut lte = IfaceConfig::with_defaults("wwan0", LinkKind::Lte, Metric::SignalDbm);
    let mut wifi = IfaceConfig::with_defaults("wlan0", LinkKind::Wifi, Metric::SignalDbm);
    for i in [&mut lte, &mut wifi] {
        i.averaging = mimm_mm::Averaging::Ewma { alpha: 1.0 };
    }
    // The rules' timing and margin are set here, not taken from the defaults,
    // so these scenarios keep their meaning when the defaults are tuned.
    let mut cfg = Config::new(vec![lte, wifi]);
    cfg.timing.better_dwell_ms = 0;
    cfg.timing.min_dwell_ms = 5_000;
    cfg.timing.hold_down_ms = 30_000;
    cfg.better_margin = 0.3;
    cfg
}

/// A second LTE modem after the two of [`config`], unsmoothed too.
const WWAN1: IfaceId = IfaceId(2);

fn with_wwan1(mut cfg: Config) -> Config {
    let mut wwan1 = IfaceConfig::with_defaults("wwan1", LinkKind::Lte, Metric::SignalDbm);
    wwan1.averaging = mimm_mm::Averaging::Ewma { alpha: 1.0 };
    cfg.ifaces.push(wwan1);
    cfg
}

struct Run {
    mm: MobilityManager,
    now: u64,
}

impl Run {
    fn new(cfg: Config) -> Run {
        Run {
            mm: MobilityManager::new(cfg).unwrap(),
            now: 0,
        }
    }

    fn at(&mut self, now: u64) -> &mut Run {
        self.now = now;
        self
    }

    fn feed(&mut self, iface: IfaceId, sample: Sample) -> Vec<Action> {
        self.mm.handle(self.now, Input::Sample { iface, sample });
        self.drain()
    }

    fn input(&mut self, input: Input) -> Vec<Action> {
        self.mm.handle(self.now, input);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.mm.poll_action()).collect()
    }

    fn both(&mut self, lte: f64, wifi: f64) -> Vec<Action> {
        let mut actions = self.feed(LTE, signal(lte));
        actions.extend(self.feed(WIFI, signal(wifi)));
        actions
    }

    /// At `t`, the three signals of [`with_wwan1`]: the switch they cause.
    fn all(&mut self, t: u64, lte: f64, wifi: f64, wwan1: f64) -> Option<(IfaceId, Rule)> {
        self.at(t);
        let mut actions = self.both(lte, wifi);
        actions.extend(self.feed(WWAN1, signal(wwan1)));
        switch_to(&actions)
    }
}

fn switch_to(actions: &[Action]) -> Option<(IfaceId, Rule)> {
    actions.iter().find_map(|a| match a {
        Action::Switch { to, reason, .. } => Some((*to, reason.rule)),
        _ => None,
    })
}

#[test]
fn first_choice_waits_for_every_interface_and_takes_the_best() {
    let mut run = Run::new(config());
    assert!(
        run.feed(LTE, signal(-85.0)).is_empty(),
        "wlan0 has not reported yet"
    );
    let actions = run.feed(WIFI, signal(-50.0));
    assert_eq!(switch_to(&actions), Some((WIFI, Rule::Initial)));
    // Alone, it chooses after the settle time.
    let mut run = Run::new(config());
    assert!(run.feed(LTE, signal(-85.0)).is_empty());
    assert_eq!(run.mm.poll_timeout(), Some(3_000));
    run.mm.handle_timeout(3_000);
    assert_eq!(switch_to(&run.drain()), Some((LTE, Rule::Initial)));
}

#[test]
fn below_inactive_hands_off_at_once_with_the_values() {
    let mut run = Run::new(config());
    run.both(-85.0, -75.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    run.at(10_000);
    let actions = run.feed(LTE, signal(-119.0));
    let Some(Action::Switch { from, to, reason }) = actions.first().copied() else {
        panic!("{actions:?}");
    };
    assert_eq!(
        (from, to, reason.rule),
        (Some(LTE), WIFI, Rule::BelowInactive)
    );
    assert_eq!(reason.value, Some(-119.0));
    assert_eq!(
        reason.threshold,
        Some((mimm_mm::Threshold::Inactive, -116.0))
    );
    let text = reason.display(run.mm.config()).to_string();
    assert!(
        text.starts_with("below inactive: wwan0 signal_dbm avg -119 < inactive -116; chose wlan0"),
        "{text}"
    );
    assert_eq!(run.mm.counters().forced, 1);
}

#[test]
fn deteriorating_prepares_a_candidate_and_the_switch_is_then_instant() {
    let mut cfg = config();
    cfg.ifaces[1].pre_handoff = true;
    // Only the threshold rules here, not the better-candidate one.
    cfg.better_margin = 100.0;
    let mut run = Run::new(cfg);
    run.both(-85.0, -68.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    // Below deteriorating: prepare wlan0, do not switch.
    run.at(10_000);
    let actions = run.feed(LTE, signal(-112.0));
    assert!(
        matches!(actions.as_slice(), [Action::Prepare { iface, reason }] if *iface == WIFI && reason.rule == Rule::Deteriorating),
        "{actions:?}"
    );
    assert!(
        run.input(Input::Prepared {
            iface: WIFI,
            ok: true
        })
        .is_empty()
    );
    assert_eq!(run.mm.counters().prepared_ahead, 1);
    // Below inactive: the switch comes in the same step, nothing left to wait for.
    run.at(11_000);
    let actions = run.feed(LTE, signal(-117.0));
    assert_eq!(switch_to(&actions), Some((WIFI, Rule::BelowInactive)));
    assert_eq!(actions.len(), 1);
}

#[test]
fn carrier_loss_and_blackhole_switch_in_the_same_step() {
    for sample in [
        Sample {
            carrier: Some(false),
            ..Sample::default()
        },
        Sample {
            reachable: Some(false),
            ..signal(-80.0)
        },
    ] {
        let mut cfg = config();
        cfg.ifaces[1].pre_handoff = true;
        let mut run = Run::new(cfg);
        run.both(-80.0, -72.0);
        assert_eq!(run.mm.primary(), Some(LTE));
        run.at(500);
        let actions = run.feed(LTE, sample);
        let want = if sample.carrier == Some(false) {
            Rule::CarrierLost
        } else {
            Rule::PathLost
        };
        assert_eq!(switch_to(&actions), Some((WIFI, want)), "{actions:?}");
        assert_eq!(run.mm.counters().emergencies, 1);
    }
}

#[test]
fn better_candidate_waits_for_dwell_and_never_returns_within_hold_down() {
    let mut cfg = config();
    cfg.timing.better_dwell_ms = 2_000;
    cfg.timing.min_dwell_ms = 5_000;
    let mut run = Run::new(cfg);
    run.both(-80.0, -75.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    // wlan0 becomes much better at 1 s; better dwell (2 s) and then min dwell
    // on the primary (5 s) hold it.
    run.at(1_000);
    assert!(run.both(-80.0, -50.0).is_empty());
    run.at(3_000);
    assert!(
        run.both(-80.0, -50.0).is_empty(),
        "the primary is only 3 s old"
    );
    assert_eq!(run.mm.counters().held_by_dwell, 1);
    assert_eq!(run.mm.poll_timeout(), Some(5_000));
    run.mm.handle_timeout(5_000);
    let (to, rule) = switch_to(&run.drain()).expect("switch after the dwell");
    assert_eq!((to, rule), (WIFI, Rule::BetterCandidate));
    // LTE becomes much better right away: no return within 30 s.
    for t in (6_000..35_000).step_by(1_000) {
        run.at(t);
        assert!(switch_to(&run.both(-70.0, -72.0)).is_none(), "at {t}");
    }
    assert_eq!(run.mm.counters().held_by_hold_down, 1);
    run.at(35_000);
    assert_eq!(
        switch_to(&run.both(-70.0, -72.0)),
        Some((LTE, Rule::BetterCandidate))
    );
}

/// Traffic moved without the MM (the VSD left a member that lost carrier,
/// and the MM takes that over): the member left is held down as after a
/// switch of the MM's own, not taken back after the minimum dwell.
#[test]
fn a_primary_taken_over_holds_down_the_one_traffic_left() {
    let mut run = Run::new(config());
    run.both(-80.0, -50.0);
    assert_eq!(run.mm.primary(), Some(WIFI));
    run.at(1_000);
    run.mm.assume_primary(LTE, 1_000);
    // Wi-Fi stays much better, LTE fine: no return within the 30 s.
    for t in (2_000..31_000).step_by(1_000) {
        run.at(t);
        assert!(switch_to(&run.both(-80.0, -50.0)).is_none(), "at {t}");
    }
    assert!(run.mm.counters().held_by_hold_down >= 1);
    run.at(31_000);
    assert_eq!(
        switch_to(&run.both(-80.0, -50.0)),
        Some((WIFI, Rule::BetterCandidate))
    );
}

/// With three links the hold-down guards the one just left: a return to it
/// would be the ping-pong. The one left before that competes again once
/// traffic has moved on, so a stale hold-down does not keep traffic off the
/// best link (the 5G driving traces showed it).
#[test]
fn hold_down_guards_the_interface_just_left_not_every_one_left() {
    let mut cfg = config();
    cfg.timing.min_dwell_ms = 2_000;
    let mut run = Run::new(with_wwan1(cfg));
    let wwan1 = WWAN1;
    let all = Run::all;
    all(&mut run, 0, -80.0, -75.0, -100.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    assert_eq!(
        all(&mut run, 3_000, -100.0, -50.0, -100.0),
        Some((WIFI, Rule::BetterCandidate))
    );
    assert_eq!(
        all(&mut run, 6_000, -100.0, -75.0, -70.0),
        Some((wwan1, Rule::BetterCandidate))
    );
    // Wi-Fi, just left, is held off; wwan0, left 6 s ago, is not.
    assert_eq!(all(&mut run, 9_000, -100.0, -50.0, -100.0), None);
    assert_eq!(run.mm.counters().held_by_hold_down, 1);
    assert_eq!(
        all(&mut run, 10_000, -70.0, -50.0, -100.0),
        Some((LTE, Rule::BetterCandidate))
    );
}

#[test]
fn the_fallback_order_is_where_a_carrier_loss_goes_and_follows_the_ranking() {
    let mut run = Run::new(with_wwan1(config()));
    let wwan1 = WWAN1;
    let all = Run::all;
    all(&mut run, 0, -60.0, -62.0, -112.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    // Wi-Fi ranks above wwan1, then below it: the order follows.
    assert_eq!(run.mm.fallback_order(), vec![WIFI, wwan1]);
    all(&mut run, 1_000, -60.0, -78.0, -85.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    assert_eq!(run.mm.fallback_order(), vec![wwan1, WIFI]);
    // The carrier loss goes to the first of the order, in one step.
    run.at(2_000);
    let lost = Sample {
        carrier: Some(false),
        ..Sample::default()
    };
    assert_eq!(
        switch_to(&run.feed(LTE, lost)),
        Some((wwan1, Rule::CarrierLost))
    );
    // An interface without carrier is nowhere in the order.
    assert_eq!(run.mm.fallback_order(), vec![WIFI]);
}

#[test]
fn stable_primary_switches_standby_alternatives_off() {
    let mut cfg = config();
    cfg.ifaces[0].standby = true;
    cfg.ifaces[0].needs_activation = true;
    let mut run = Run::new(cfg);
    // LTE needs activation and is down; Wi-Fi is fine.
    let actions = run.both(-85.0, -65.0);
    assert_eq!(switch_to(&actions), Some((WIFI, Rule::Initial)));
    // Wi-Fi deteriorates: LTE is brought up ahead of need.
    run.at(2_000);
    let actions = run.both(-85.0, -76.0);
    assert!(
        matches!(actions.as_slice(), [Action::Activate { iface, .. }] if *iface == LTE),
        "{actions:?}"
    );
    run.input(Input::Activated {
        iface: LTE,
        ok: true,
    });
    // Wi-Fi recovers above stable: LTE may go back down.
    run.at(4_000);
    let actions = run.both(-85.0, -55.0);
    assert!(
        matches!(actions.as_slice(), [Action::Deactivate { iface, reason }] if *iface == LTE && reason.rule == Rule::Stable),
        "{actions:?}"
    );
    run.at(5_000);
    assert!(
        run.both(-85.0, -55.0).is_empty(),
        "only once per stable spell"
    );
}

#[test]
fn user_preference_brings_the_interface_up_first() {
    let mut cfg = config();
    cfg.ifaces[0].needs_activation = true;
    let mut run = Run::new(cfg);
    run.both(-85.0, -65.0);
    assert_eq!(run.mm.primary(), Some(WIFI));
    run.at(1_000);
    let actions = run.input(Input::Prefer { iface: Some(LTE) });
    assert!(
        matches!(actions.as_slice(), [Action::Activate { iface, reason }] if *iface == LTE && reason.rule == Rule::UserPreference),
        "{actions:?}"
    );
    let actions = run.input(Input::Activated {
        iface: LTE,
        ok: true,
    });
    assert_eq!(switch_to(&actions), Some((LTE, Rule::UserPreference)));
}

#[test]
fn a_preferred_interface_below_inactive_is_not_taken_back_at_once() {
    let mut run = Run::new(config());
    run.both(-85.0, -45.0);
    run.input(Input::Prefer { iface: Some(LTE) });
    assert_eq!(run.mm.primary(), Some(LTE));
    // Available (-124) but below inactive (-116): rule 4 leaves it, and
    // the preference must not take it back while it stays there.
    run.at(10_000);
    let actions = run.both(-120.0, -45.0);
    assert_eq!(switch_to(&actions), Some((WIFI, Rule::BelowInactive)));
    for t in 1..20 {
        run.at(10_000 + t * 1_000);
        let actions = run.both(-120.0, -45.0);
        assert_eq!(switch_to(&actions), None, "at {t} s: {actions:?}");
    }
    assert_eq!(run.mm.primary(), Some(WIFI));
    // Back above inactive: the preference applies again.
    run.at(40_000);
    let actions = run.both(-100.0, -45.0);
    assert_eq!(switch_to(&actions), Some((LTE, Rule::UserPreference)));
}

#[test]
fn manual_handoff_goes_at_once_holds_and_yields_only_to_an_emergency() {
    let mut cfg = config();
    cfg.ifaces[0].pre_handoff = true;
    let mut run = Run::new(cfg);
    run.both(-105.0, -60.0);
    assert_eq!(run.mm.primary(), Some(WIFI));
    // At 1 s, well inside the primary's min dwell, to the worse interface:
    // the user asked, so dwell and scores do not hold it back.
    run.at(1_000);
    let actions = run.input(Input::Handoff { iface: LTE });
    assert!(
        matches!(actions.as_slice(), [Action::Prepare { iface, reason }] if *iface == LTE && reason.rule == Rule::Manual),
        "{actions:?}"
    );
    // A better candidate does not take over a manual handoff under way.
    run.at(1_100);
    assert!(switch_to(&run.both(-105.0, -60.0)).is_none());
    let actions = run.input(Input::Prepared {
        iface: LTE,
        ok: true,
    });
    assert_eq!(
        switch_to(&actions),
        Some((LTE, Rule::Manual)),
        "{actions:?}"
    );
    assert_eq!(run.mm.primary(), Some(LTE));
    let text = actions.iter().find_map(|a| match a {
        Action::Switch { reason, .. } => Some(reason.display(&config()).to_string()),
        _ => None,
    });
    assert!(
        text.as_deref()
            .is_some_and(|t| t.starts_with("manual handoff from wlan0; chose wwan0 (score")),
        "{text:?}"
    );
    // Wi-Fi stays much better, yet the hand-picked primary holds through
    // hold-down instead of bouncing back at the next sample.
    for t in (2_000..31_000).step_by(1_000) {
        run.at(t);
        assert!(switch_to(&run.both(-105.0, -60.0)).is_none(), "at {t}");
    }
    // An emergency is not held: LTE loses its carrier, Wi-Fi takes over.
    run.at(31_500);
    let actions = run.feed(
        LTE,
        Sample {
            carrier: Some(false),
            ..Sample::default()
        },
    );
    assert_eq!(switch_to(&actions), Some((WIFI, Rule::CarrierLost)));
    // A handoff to the primary itself, or to no such interface, does nothing.
    run.at(32_000);
    assert!(run.input(Input::Handoff { iface: WIFI }).is_empty());
    assert!(run.input(Input::Handoff { iface: IfaceId(7) }).is_empty());
}

#[test]
fn failed_activation_is_retried_later_not_at_once() {
    let mut cfg = config();
    cfg.ifaces[1].needs_activation = true;
    cfg.timing.min_dwell_ms = 0;
    let mut run = Run::new(cfg);
    // Only LTE is up at first.
    assert_eq!(
        switch_to(&run.both(-100.0, -60.0)),
        Some((LTE, Rule::Initial))
    );
    run.at(1_000);
    let actions = run.both(-100.0, -60.0);
    assert!(
        matches!(actions.as_slice(), [Action::Activate { iface, reason }] if *iface == WIFI && reason.rule == Rule::BetterCandidate),
        "{actions:?}"
    );
    assert!(
        run.input(Input::Activated {
            iface: WIFI,
            ok: false
        })
        .is_empty()
    );
    assert_eq!(run.mm.counters().failures, 1);
    for t in [2_000, 10_000, 30_999] {
        run.at(t);
        assert!(run.both(-100.0, -60.0).is_empty(), "no retry at {t}");
    }
    run.at(31_000);
    let actions = run.both(-100.0, -60.0);
    assert!(
        matches!(actions.as_slice(), [Action::Activate { .. }]),
        "{actions:?}"
    );
    let actions = run.input(Input::Activated {
        iface: WIFI,
        ok: true,
    });
    assert_eq!(switch_to(&actions), Some((WIFI, Rule::BetterCandidate)));
}

#[test]
fn advice_deny_avoid_and_a_failed_switch() {
    let mut cfg = config();
    cfg.consult_server = true;
    cfg.timing.min_dwell_ms = 0;
    let mut run = Run::new(cfg);
    run.both(-80.0, -75.0);
    run.at(1_000);
    let actions = run.both(-80.0, -50.0);
    assert!(
        matches!(actions.as_slice(), [Action::RequestAdvice { iface, .. }] if *iface == WIFI),
        "{actions:?}"
    );
    let actions = run.input(Input::Advice(Advice::Handoff {
        iface: WIFI,
        verdict: Verdict::Deny,
    }));
    assert!(switch_to(&actions).is_none());
    // Avoid the primary's network: leave it at once, even against advice rules.
    run.at(2_000);
    let actions = run.input(Input::Advice(Advice::Avoid { iface: LTE, ms: -1 }));
    assert!(
        switch_to(&actions).is_none(),
        "wlan0 is blocked after the denial: {actions:?}"
    );
    run.at(40_000);
    run.mm.handle_timeout(40_000);
    let actions = run.drain();
    assert_eq!(
        switch_to(&actions),
        Some((WIFI, Rule::Avoided)),
        "{actions:?}"
    );
    // The switch fails: the MM falls back to where traffic still is, and
    // says so.
    let actions = run.input(Input::Switched {
        iface: WIFI,
        ok: false,
    });
    assert_eq!(run.mm.primary(), Some(LTE));
    let reverted = actions
        .iter()
        .find_map(|a| match a {
            Action::Reverted {
                failed,
                back,
                reason,
            } => Some((*failed, *back, reason.rule)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Reverted: {actions:?}"));
    assert_eq!(reverted, (WIFI, Some(LTE), Rule::SwitchFailed));
}

#[test]
fn a_broken_threshold_order_is_refused_with_the_interface() {
    let mut cfg = config();
    cfg.ifaces[1].thresholds = Thresholds {
        available: Some(-85.0),
        inactive: -80.0,
        deteriorating: -60.0,
        active: -70.0,
        stable: -50.0,
    };
    let err = MobilityManager::new(cfg).err().unwrap().to_string();
    assert_eq!(
        err,
        "interface wlan0: thresholds: thresholds must rise strictly (available < inactive < \
         deteriorating < active < stable), but deteriorating -60 >= active -70 (available -85, \
         inactive -80, deteriorating -60, active -70, stable -50)"
    );
}

#[test]
fn an_answer_nobody_asked_for_changes_nothing() {
    let mut cfg = config();
    cfg.consult_server = true;
    cfg.timing.min_dwell_ms = 0;
    let mut run = Run::new(cfg);
    run.both(-80.0, -75.0);
    run.at(1_000);
    // A late "allow" (to a question that timed out long ago) arrives first:
    // it must not approve the next handoff in advance.
    let actions = run.input(Input::Advice(Advice::Handoff {
        iface: WIFI,
        verdict: Verdict::Allow,
    }));
    assert!(actions.is_empty(), "{actions:?}");
    let actions = run.both(-80.0, -50.0);
    assert!(
        matches!(actions.as_slice(), [Action::RequestAdvice { iface, .. }] if *iface == WIFI),
        "{actions:?}"
    );
    // No answer: the MM goes ahead on its own when the timeout is up.
    run.at(4_000);
    run.mm.handle_timeout(4_000);
    let actions = run.drain();
    assert_eq!(
        switch_to(&actions).map(|(to, _)| to),
        Some(WIFI),
        "{actions:?}"
    );
}

#[test]
fn a_better_candidate_on_its_way_down_waits_until_it_stops_falling() {
    let mut cfg = config();
    cfg.ifaces[1].averaging = mimm_mm::Averaging::Ewma { alpha: 0.5 };
    let mut run = Run::new(cfg);
    run.both(-80.0, -90.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    // Wi-Fi comes up strong while the primary's minimum dwell holds.
    for t in 1..5 {
        let actions = run.at(t * 1000).both(-80.0, -30.0);
        assert!(switch_to(&actions).is_none(), "{actions:?}");
    }
    // The dwell is over, and Wi-Fi is still far better on average, but its
    // latest sample is below that average: no voluntary move onto a
    // falling link.
    run.at(6_000);
    let mut actions = run.feed(WIFI, signal(-45.0));
    actions.extend(run.feed(LTE, signal(-80.0)));
    assert!(switch_to(&actions).is_none(), "{actions:?}");
    // It holds again: now it is taken.
    let actions = run.at(7_000).feed(WIFI, signal(-38.0));
    assert_eq!(
        switch_to(&actions),
        Some((WIFI, Rule::BetterCandidate)),
        "{actions:?}"
    );
}

#[test]
fn an_interface_left_on_advice_returns_when_the_advice_expires_not_after_the_hold_down() {
    let mut run = Run::new(config());
    run.both(-80.0, -78.0);
    assert_eq!(run.mm.primary(), Some(LTE));
    let actions = run.at(6_000).input(Input::Advice(Advice::Avoid {
        iface: LTE,
        ms: 10_000,
    }));
    assert_eq!(
        switch_to(&actions),
        Some((WIFI, Rule::Avoided)),
        "{actions:?}"
    );
    let actions = run.at(15_000).both(-80.0, -78.0);
    assert!(
        switch_to(&actions).is_none(),
        "still advised against: {actions:?}"
    );
    // The advice ran out at 16 s; the 30 s hold-down does not keep LTE off.
    let actions = run.at(17_000).both(-80.0, -78.0);
    assert_eq!(
        switch_to(&actions),
        Some((LTE, Rule::BetterCandidate)),
        "{actions:?}"
    );
}
