//! Properties of the MM over generated configurations and inputs.

use mimm_mm::{
    Action, Advice, Averaging, Config, IfaceConfig, IfaceId, Input, LinkKind, Metric,
    MobilityManager, Sample, Verdict,
};
use proptest::prelude::*;

const KINDS: [LinkKind; 5] = [
    LinkKind::Lte,
    LinkKind::Nr,
    LinkKind::Wifi,
    LinkKind::Ethernet,
    LinkKind::Legacy,
];

fn kind() -> impl Strategy<Value = LinkKind> {
    (0..KINDS.len()).prop_map(|i| KINDS[i])
}

fn averaging() -> impl Strategy<Value = Averaging> {
    prop_oneof![
        (1u8..=16).prop_map(|window| Averaging::Moving { window }),
        (0.05f64..=1.0).prop_map(|alpha| Averaging::Ewma { alpha }),
    ]
}

/// Interfaces always up (nothing to activate), with random kinds, averaging,
/// priorities, costs and pre-handoff functions.
fn iface(index: usize) -> impl Strategy<Value = IfaceConfig> {
    (kind(), averaging(), 0u8..=100, 0.0f64..=10.0, any::<bool>()).prop_map(
        move |(kind, averaging, priority, cost, pre_handoff)| {
            let mut c = IfaceConfig::with_defaults(&format!("if{index}"), kind, Metric::SignalDbm);
            c.averaging = averaging;
            c.priority = priority;
            c.monetary_cost = cost;
            c.pre_handoff = pre_handoff;
            c
        },
    )
}

fn config() -> impl Strategy<Value = Config> {
    (2usize..=4)
        .prop_flat_map(|n| (0..n).map(iface).collect::<Vec<_>>())
        .prop_map(Config::new)
}

/// Feeds inputs and answers every action successfully, as a shell would.
struct Driver {
    mm: MobilityManager,
    switches: Vec<(u64, Option<IfaceId>, IfaceId)>,
}

impl Driver {
    fn new(cfg: Config) -> Driver {
        Driver {
            mm: MobilityManager::new(cfg).unwrap(),
            switches: Vec::new(),
        }
    }

    /// Returns the actions of this step (before their answers are fed back).
    fn step(&mut self, now: u64, input: Input) -> Vec<Action> {
        self.mm.handle(now, input);
        let mut all = Vec::new();
        while let Some(action) = self.mm.poll_action() {
            all.push(action);
            let answer = match action {
                Action::Activate { iface, .. } => Some(Input::Activated { iface, ok: true }),
                Action::Prepare { iface, .. } => Some(Input::Prepared { iface, ok: true }),
                Action::Switch { from, to, .. } => {
                    self.switches.push((now, from, to));
                    Some(Input::Switched {
                        iface: to,
                        ok: true,
                    })
                }
                _ => None,
            };
            if let Some(answer) = answer {
                self.mm.handle(now, answer);
            }
        }
        all
    }

    fn handoffs(&self) -> usize {
        self.switches
            .iter()
            .filter(|(_, from, _)| from.is_some())
            .count()
    }

    /// Returns to the interface left less than 30 s before.
    fn ping_pongs(&self) -> usize {
        self.switches
            .windows(2)
            .filter(|w| w[0].1.is_some() && Some(w[1].2) == w[0].1 && w[1].0 - w[0].0 < 30_000)
            .count()
    }
}

fn sample(dbm: f64) -> Sample {
    Sample {
        signal_dbm: Some(dbm),
        ..Sample::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn constant_signals_never_cause_a_handoff(
        cfg in config(),
        levels in prop::collection::vec(-130.0f64..-40.0, 4),
    ) {
        let n = cfg.ifaces.len();
        let mut d = Driver::new(cfg);
        for second in 0..300u64 {
            for (i, &level) in levels.iter().enumerate().take(n) {
                d.step(second * 1000, Input::Sample { iface: IfaceId(i as u8), sample: sample(level) });
            }
        }
        prop_assert_eq!(d.handoffs(), 0, "{:?}", d.switches);
        prop_assert!(d.switches.len() == 1, "one first choice: {:?}", d.switches);
    }

    #[test]
    fn oscillating_between_deteriorating_and_active_never_ping_pongs(
        cfg in config(),
        others in prop::collection::vec(-130.0f64..-40.0, 4),
        period in 2u64..20,
        phase in 0.0f64..1.0,
    ) {
        let n = cfg.ifaces.len();
        let t0 = cfg.ifaces[0].thresholds;
        let mut d = Driver::new(cfg);
        for second in 0..400u64 {
            // Interface 0 swings over the whole deteriorating..active band.
            let x = ((second as f64 / period as f64 + phase) * std::f64::consts::TAU).sin();
            let v = t0.deteriorating + (x + 1.0) / 2.0 * (t0.active - t0.deteriorating);
            d.step(second * 1000, Input::Sample { iface: IfaceId(0), sample: sample(v) });
            for (i, &level) in others.iter().enumerate().take(n).skip(1) {
                d.step(second * 1000, Input::Sample { iface: IfaceId(i as u8), sample: sample(level) });
            }
        }
        prop_assert_eq!(d.ping_pongs(), 0, "{:?}", d.switches);
        prop_assert!(d.handoffs() <= 1, "{:?}", d.switches);
    }

    /// Random walks that stay above `inactive` (so every move is voluntary)
    /// never bring traffic back to the interface it just left within the
    /// hold-down, however many links there are.
    #[test]
    fn random_walks_above_inactive_never_ping_pong(
        cfg in config(),
        starts in prop::collection::vec(0.0f64..1.0, 4),
        steps in prop::collection::vec(prop::collection::vec(-8.0f64..8.0, 4), 600),
    ) {
        let n = cfg.ifaces.len();
        let bands: Vec<(f64, f64)> = cfg.ifaces.iter()
            .map(|c| (c.thresholds.inactive + 1.0, c.thresholds.stable + 20.0))
            .collect();
        let mut level: Vec<f64> = bands.iter().zip(&starts)
            .map(|(&(lo, hi), s)| lo + s * (hi - lo))
            .collect();
        let mut d = Driver::new(cfg);
        for (second, step) in steps.iter().enumerate() {
            for i in 0..n {
                level[i] = (level[i] + step[i]).clamp(bands[i].0, bands[i].1);
                d.step(second as u64 * 1000, Input::Sample { iface: IfaceId(i as u8), sample: sample(level[i]) });
            }
        }
        prop_assert_eq!(d.ping_pongs(), 0, "{:?}", d.switches);
    }

    #[test]
    fn carrier_loss_of_the_primary_switches_in_the_same_step(
        cfg in config(),
        levels in prop::collection::vec(-130.0f64..-40.0, 4),
        at in 1u64..60,
    ) {
        let n = cfg.ifaces.len();
        let mut d = Driver::new(cfg);
        for second in 0..at {
            for (i, &level) in levels.iter().enumerate().take(n) {
                d.step(second * 1000, Input::Sample { iface: IfaceId(i as u8), sample: sample(level) });
            }
        }
        let primary = d.mm.primary().expect("a primary after the first round");
        let lost = Sample { carrier: Some(false), ..Sample::default() };
        let actions = d.step(at * 1000, Input::Sample { iface: primary, sample: lost });
        let switched = actions.iter().any(|a| matches!(a, Action::Switch { from: Some(f), to, .. } if *f == primary && *to != primary));
        prop_assert!(switched, "{:?}", actions);
        prop_assert_ne!(d.mm.primary(), Some(primary));
    }

    #[test]
    fn any_input_sequence_is_handled_without_panic(
        cfg in config(),
        steps in prop::collection::vec((0u64..100_000, 0u8..6, 0u8..10, any::<f64>(), any::<bool>(), any::<i64>()), 0..300),
    ) {
        let n = cfg.ifaces.len();
        let mut mm = MobilityManager::new(cfg).unwrap();
        for (now, iface, what, value, flag, ms) in steps {
            let iface = IfaceId(iface);
            let input = match what {
                0..=2 => Input::Sample { iface, sample: Sample {
                    signal_dbm: Some(value), rate_kbps: Some(value), rtt_ms: Some(value),
                    loss_pct: Some(value), carrier: Some(flag || what != 2), reachable: Some(flag || what != 1),
                }},
                3 => Input::Admin { iface, enabled: flag },
                4 => Input::Prefer { iface: flag.then_some(iface) },
                5 => Input::Activated { iface, ok: flag },
                6 => Input::Prepared { iface, ok: flag },
                7 => Input::Switched { iface, ok: flag },
                8 => Input::Advice(Advice::Avoid { iface, ms }),
                _ => Input::Advice(Advice::Handoff { iface, verdict: if flag { Verdict::Allow } else { Verdict::RetryAt(now) } }),
            };
            mm.handle(now, input);
            if let Some(t) = mm.poll_timeout() {
                mm.handle_timeout(t);
            }
            while let Some(action) = mm.poll_action() {
                let targets = match action {
                    Action::Switch { from, to, .. } => vec![from.unwrap_or(to), to],
                    Action::Activate { iface, .. } | Action::Deactivate { iface, .. }
                    | Action::Prepare { iface, .. } | Action::RequestAdvice { iface, .. } => vec![iface],
                    Action::Reverted { failed, back, .. } => vec![back.unwrap_or(failed), failed],
                };
                for t in targets {
                    prop_assert!(t.index() < n, "action on unknown interface {:?}", action);
                }
            }
        }
    }
}
