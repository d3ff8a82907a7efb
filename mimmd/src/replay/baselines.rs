//! The baselines the Mobility Manager is compared with, as deciders over the
//! same inputs. They switch at once (no activation, no preparation).
//!
//! - [`Best`]: each sample, the interface whose raw metric stands highest
//!   above its `active` threshold (in active..stable spans); no hysteresis.
//! - [`Single`]: one threshold per interface (`active`) over the averaged
//!   metric: below it, move to the best interface above its own; no dwell.
//! - [`Failover`]: mwan3's model: fixed priority (configured priority, then
//!   order); each sample is a probe, bad when carrier is down or the raw
//!   metric is below `inactive`; an interface goes offline after 3 bad probes
//!   in a row (at once on carrier loss) and back online after 8 good ones
//!   (mwan3's defaults `down 3`, `up 8`).
//! - [`Hysteresis`]: the rule an engineer writes first: move when another
//!   interface's mean rate over the last 3 samples (3 s) beats the
//!   primary's by 20 %, and at once off a lost carrier. On an interface
//!   with no rate it compares the metric's 3-sample mean instead, needing
//!   0.2 of an active..stable span more.
//!
//! Like the MM, each waits for every interface to report once (or 3 s) before
//! its first choice, so the order of rows at one instant does not matter.

use std::collections::VecDeque;

use mimm_mm::{
    Action, Averager, Averaging, Candidate, Config, Decider, IfaceId, Input, Millis, Reason, Rule,
    Sample, Threshold,
};

const SETTLE_MS: Millis = 3_000;
const FAILOVER_DOWN: u32 = 3;
const FAILOVER_UP: u32 = 8;

/// What every baseline keeps: raw and averaged metric, carrier, the primary.
struct Common {
    cfg: Config,
    raw: Vec<Option<f64>>,
    avg: Vec<Averager>,
    carrier: Vec<bool>,
    primary: Option<usize>,
    first: Option<Millis>,
    now: Millis,
    actions: VecDeque<Action>,
}

impl Common {
    fn new(cfg: Config) -> Common {
        let n = cfg.ifaces.len();
        Common {
            avg: cfg
                .ifaces
                .iter()
                .map(|i| Averager::new(i.averaging))
                .collect(),
            raw: vec![None; n],
            carrier: vec![true; n],
            primary: None,
            first: None,
            now: 0,
            actions: VecDeque::new(),
            cfg,
        }
    }

    /// Records a sample; returns the interface it was for.
    fn observe(&mut self, now: Millis, input: &Input) -> Option<usize> {
        self.now = self.now.max(now);
        let Input::Sample { iface, sample } = input else {
            return None;
        };
        let i = iface.index();
        let config = self.cfg.ifaces.get(i)?;
        if let Some(c) = sample.carrier {
            self.carrier[i] = c;
            if !c {
                self.raw[i] = None;
                self.avg[i].reset();
            }
        }
        if let Some(v) = config.metric.value(sample).filter(|v| v.is_finite()) {
            self.raw[i] = Some(v);
            self.avg[i].push(v);
        }
        self.first.get_or_insert(self.now);
        Some(i)
    }

    /// Whether the first choice may be made yet.
    fn settled(&self) -> bool {
        let all = (0..self.raw.len()).all(|i| !self.carrier[i] || self.raw[i].is_some());
        all || self.first.is_some_and(|f| self.now >= f + SETTLE_MS)
    }

    fn margin(&self, i: usize, v: f64) -> f64 {
        self.cfg.ifaces[i].thresholds.margin(v)
    }

    /// Switches to `to`; `subject_value` is what the rule looked at on the
    /// primary, with the threshold it was compared with.
    fn switch(
        &mut self,
        to: usize,
        rule: Rule,
        subject_value: Option<f64>,
        threshold: Option<Threshold>,
        value: Option<f64>,
    ) {
        if self.primary == Some(to) {
            return;
        }
        let mut reason = Reason::new(if self.primary.is_none() {
            Rule::Initial
        } else {
            rule
        });
        if let Some(p) = self.primary {
            reason.subject = Some(IfaceId(p as u8));
            reason.value = subject_value;
            reason.threshold =
                threshold.and_then(|t| self.cfg.ifaces[p].thresholds.get(t).map(|v| (t, v)));
        }
        reason.candidate = Some(Candidate {
            iface: IfaceId(to as u8),
            score: None,
            value,
        });
        self.actions.push_back(Action::Switch {
            from: self.primary.map(|p| IfaceId(p as u8)),
            to: IfaceId(to as u8),
            reason,
        });
        self.primary = Some(to);
    }

    fn timeout(&self) -> Option<Millis> {
        match (self.primary, self.first) {
            (None, Some(first)) if self.now < first + SETTLE_MS => Some(first + SETTLE_MS),
            _ => None,
        }
    }
}

/// Picks the interface with the largest value of `key` among those it
/// returns `Some` for; ties go to the first.
fn argmax(n: usize, key: impl Fn(usize) -> Option<f64>) -> Option<usize> {
    (0..n)
        .filter_map(|i| key(i).map(|k| (i, k)))
        .fold(None, |best: Option<(usize, f64)>, (i, k)| match best {
            Some((_, bk)) if bk >= k => best,
            _ => Some((i, k)),
        })
        .map(|(i, _)| i)
}

/// What a baseline adds to [`Common`]: its choice, and (optionally) what it
/// does with each sample before choosing.
trait Baseline {
    fn common(&self) -> &Common;
    fn common_mut(&mut self) -> &mut Common;
    fn decide(&mut self);
    fn on_sample(&mut self, _iface: usize, _sample: &Sample) {}
}

/// The [`Decider`] every baseline gets from its [`Baseline`] parts (a
/// blanket impl would be for a foreign trait, hence the macro).
macro_rules! baseline_decider {
    ($t:ty) => {
        impl Decider for $t {
            fn handle(&mut self, now: Millis, input: Input) {
                if let Some(i) = self.common_mut().observe(now, &input) {
                    if let Input::Sample { sample, .. } = &input {
                        self.on_sample(i, sample);
                    }
                }
                self.decide();
            }

            fn handle_timeout(&mut self, now: Millis) {
                let c = self.common_mut();
                c.now = c.now.max(now);
                self.decide();
            }

            fn poll_action(&mut self) -> Option<Action> {
                self.common_mut().actions.pop_front()
            }

            fn poll_timeout(&self) -> Option<Millis> {
                self.common().timeout()
            }

            fn primary(&self) -> Option<IfaceId> {
                self.common().primary.map(|p| IfaceId(p as u8))
            }
        }
    };
}

baseline_decider!(Best);
baseline_decider!(Single);
baseline_decider!(Failover);
baseline_decider!(Hysteresis);

macro_rules! common_access {
    () => {
        fn common(&self) -> &Common {
            &self.c
        }

        fn common_mut(&mut self) -> &mut Common {
            &mut self.c
        }
    };
}

pub struct Best {
    c: Common,
}

impl Best {
    pub fn new(cfg: Config) -> Best {
        Best {
            c: Common::new(cfg),
        }
    }
}

impl Baseline for Best {
    common_access!();

    fn decide(&mut self) {
        if !self.c.settled() {
            return;
        }
        let c = &self.c;
        let best = argmax(c.raw.len(), |i| {
            c.raw[i].filter(|_| c.carrier[i]).map(|v| c.margin(i, v))
        });
        if let Some(b) = best {
            // Raw values, not averages: the reason names only the choice's.
            let value = self.c.raw[b];
            self.c.switch(b, Rule::BetterCandidate, None, None, value);
        }
    }
}

pub struct Single {
    c: Common,
}

impl Single {
    pub fn new(cfg: Config) -> Single {
        Single {
            c: Common::new(cfg),
        }
    }
}

impl Baseline for Single {
    common_access!();

    fn decide(&mut self) {
        if !self.c.settled() {
            return;
        }
        let c = &self.c;
        let above = |i: usize| {
            let t = c.cfg.ifaces[i].thresholds.active;
            c.avg[i]
                .value()
                .filter(|&v| c.carrier[i] && v >= t)
                .map(|v| c.margin(i, v))
        };
        let primary_ok = c.primary.is_some_and(|p| above(p).is_some());
        if primary_ok {
            return;
        }
        let choice = argmax(c.raw.len(), above).or_else(|| {
            // Nothing above its threshold: keep a live primary, else the best live one.
            match c.primary {
                Some(p) if c.carrier[p] => None,
                _ => argmax(c.raw.len(), |i| {
                    c.avg[i]
                        .value()
                        .filter(|_| c.carrier[i])
                        .map(|v| c.margin(i, v))
                }),
            }
        });
        if let Some(to) = choice {
            let value = self.c.avg[to].value();
            let subject = self.c.primary.and_then(|p| self.c.avg[p].value());
            let rule = if self.c.primary.is_some_and(|p| !self.c.carrier[p]) {
                Rule::CarrierLost
            } else {
                Rule::BelowThreshold
            };
            self.c
                .switch(to, rule, subject, Some(Threshold::Active), value);
        }
    }
}

pub struct Failover {
    c: Common,
    /// Interfaces by priority, best first.
    order: Vec<usize>,
    online: Vec<bool>,
    bad: Vec<u32>,
    good: Vec<u32>,
}

impl Failover {
    pub fn new(cfg: Config) -> Failover {
        let n = cfg.ifaces.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(cfg.ifaces[i].priority));
        Failover {
            c: Common::new(cfg),
            order,
            online: vec![true; n],
            bad: vec![0; n],
            good: vec![0; n],
        }
    }
}

impl Baseline for Failover {
    common_access!();

    fn on_sample(&mut self, i: usize, _sample: &Sample) {
        let inactive = self.c.cfg.ifaces[i].thresholds.get(Threshold::Inactive);
        let ok =
            self.c.carrier[i] && matches!((self.c.raw[i], inactive), (Some(v), Some(t)) if v >= t);
        if ok {
            self.good[i] += 1;
            self.bad[i] = 0;
            if !self.online[i] && self.good[i] >= FAILOVER_UP {
                self.online[i] = true;
            }
        } else {
            self.bad[i] += 1;
            self.good[i] = 0;
            if !self.c.carrier[i] || self.bad[i] >= FAILOVER_DOWN {
                self.online[i] = false;
            }
        }
    }

    fn decide(&mut self) {
        if !self.c.settled() {
            return;
        }
        let choice = self
            .order
            .iter()
            .copied()
            .find(|&i| self.online[i] && self.c.carrier[i])
            .or_else(|| self.order.iter().copied().find(|&i| self.c.carrier[i]));
        if let Some(to) = choice {
            let value = self.c.raw[to];
            let primary_online = self
                .c
                .primary
                .is_some_and(|p| self.online[p] && self.c.carrier[p]);
            // Back to a higher priority, or away from an interface gone offline.
            let rule = if primary_online {
                Rule::BetterCandidate
            } else {
                Rule::PathLost
            };
            let subject = self.c.primary.and_then(|p| self.c.raw[p]);
            let threshold = (rule == Rule::PathLost).then_some(Threshold::Inactive);
            self.c.switch(to, rule, subject, threshold, value);
        }
    }
}

/// The hysteresis baseline's two numbers. The default is the rule the
/// baseline stands for: 3 samples (3 s at the 1 s sampling), 20 % more;
/// `mimmd evaluate --frontier` tries others.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HysteresisRule {
    /// Samples in each interface's mean rate.
    pub samples: u8,
    /// How much more the candidate's mean rate must be (0.2: 20 %).
    pub gain: f64,
}

impl Default for HysteresisRule {
    fn default() -> HysteresisRule {
        HysteresisRule {
            samples: 3,
            gain: 0.2,
        }
    }
}

/// Without rates: how much more margin (active..stable spans).
const HYSTERESIS_MARGIN: f64 = 0.2;

pub struct Hysteresis {
    c: Common,
    /// What the candidate's mean must exceed the primary's by, as a factor.
    gain: f64,
    /// Mean rate of the last samples that had one.
    rate: Vec<Averager>,
    /// Mean metric margin of the last samples (for interfaces without rates).
    margin: Vec<Averager>,
}

impl Hysteresis {
    pub fn new(cfg: Config, rule: HysteresisRule) -> Hysteresis {
        let n = cfg.ifaces.len();
        let window = || {
            Averager::new(Averaging::Moving {
                window: rule.samples,
            })
        };
        Hysteresis {
            c: Common::new(cfg),
            gain: 1.0 + rule.gain,
            rate: (0..n).map(|_| window()).collect(),
            margin: (0..n).map(|_| window()).collect(),
        }
    }

    /// Rates are compared when every live interface has one.
    fn by_rate(&self) -> bool {
        (0..self.rate.len()).all(|i| !self.c.carrier[i] || self.rate[i].value().is_some())
    }

    fn key(&self, i: usize, by_rate: bool) -> Option<f64> {
        let mean = if by_rate {
            &self.rate[i]
        } else {
            &self.margin[i]
        };
        mean.value().filter(|_| self.c.carrier[i])
    }
}

impl Baseline for Hysteresis {
    common_access!();

    fn on_sample(&mut self, i: usize, sample: &Sample) {
        if !self.c.carrier[i] {
            self.rate[i].reset();
            self.margin[i].reset();
            return;
        }
        if let Some(r) = sample.rate_kbps.filter(|r| r.is_finite()) {
            self.rate[i].push(r);
        }
        let metric = self.c.cfg.ifaces[i].metric.value(sample);
        if let Some(v) = metric.filter(|v| v.is_finite()) {
            let margin = self.c.margin(i, v);
            self.margin[i].push(margin);
        }
    }

    fn decide(&mut self) {
        if !self.c.settled() {
            return;
        }
        let by_rate = self.by_rate();
        let n = self.rate.len();
        let best = argmax(n, |i| self.key(i, by_rate));
        let Some(p) = self.c.primary.filter(|&p| self.c.carrier[p]) else {
            // No primary yet, or its carrier is gone: the best live one now.
            let lost = self.c.primary.is_some();
            let live = best.or_else(|| (0..n).find(|&i| self.c.carrier[i]));
            if let Some(to) = live {
                let rule = if lost {
                    Rule::CarrierLost
                } else {
                    Rule::Initial
                };
                let value = self.key(to, by_rate);
                self.c.switch(to, rule, None, None, value);
            }
            return;
        };
        let (Some(b), Some(current)) = (best, self.key(p, by_rate)) else {
            return;
        };
        let candidate = self.key(b, by_rate).unwrap_or(f64::MIN);
        let beats = if by_rate {
            candidate > current * self.gain
        } else {
            candidate > current + HYSTERESIS_MARGIN
        };
        if b != p && beats {
            let value = Some(candidate);
            self.c
                .switch(b, Rule::BetterCandidate, Some(current), None, value);
        }
    }
}
