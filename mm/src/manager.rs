//! The state machine. Every input and timeout ends in [`MobilityManager::evaluate`],
//! which applies the rules in a fixed order:
//!
//! 1. no primary yet: choose one once every interface has reported (or after
//!    [`INITIAL_SETTLE_MS`]);
//! 2. emergency (primary lost carrier, path, was disabled or advised
//!    against): switch in the same step to the best usable interface;
//! 3. user preference: move to the preferred interface if it is at least
//!    available and not below `inactive`, bringing it up and preparing it
//!    first;
//! 4. primary below `inactive`: hand off now (to a ready candidate at once,
//!    otherwise as soon as one is ready);
//! 5. primary below `deteriorating`: bring up and prepare the best candidate
//!    (make-before-break), without switching yet;
//! 6. primary above `stable`: switch off standby-able alternatives;
//! 7. a candidate scoring `better_margin` above the primary for
//!    `better_dwell_ms`, and not falling (its latest sample at least its
//!    average): hand off (make-before-break), unless the primary has not
//!    lasted `min_dwell_ms` or the candidate is the interface just left,
//!    less than `hold_down_ms` ago (a return would be a ping-pong; one left
//!    on the server's advice is held off by the advice's expiry instead).
//!    Between interfaces whose rates are measured, the expected gain
//!    decides instead (the `gain` module).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::config::Config;
use crate::iface::{AdviceState, IfaceState, Link, Prep};
use crate::input::{Advice, Input, Sample, Verdict};
use crate::reason::{Candidate, Reason, Rule};
use crate::score::score;
use crate::thresholds::{PrimaryLevel, Threshold, Tier};
use crate::{Decider, IfaceId, Millis};

mod gain;

/// Without a report from every interface, the first choice waits this long
/// after the first sample.
pub const INITIAL_SETTLE_MS: Millis = 3_000;

/// What the MM did and refrained from doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Switches from one primary to another (the first choice is not one).
    pub handoffs: u64,
    /// ...of which emergencies (carrier, path, disabled, avoided).
    pub emergencies: u64,
    /// ...of which forced by the primary falling below `inactive`.
    pub forced: u64,
    /// Candidates brought up and prepared ahead of need (make-before-break).
    pub prepared_ahead: u64,
    /// Better candidates not taken because the primary was too recent.
    pub held_by_dwell: u64,
    /// Better candidates not taken because they were left too recently.
    pub held_by_hold_down: u64,
    /// Interfaces switched off while the primary was stable.
    pub standby_off: u64,
    /// Activations, preparations and switches that failed or timed out.
    pub failures: u64,
}

/// What one interface looks like to the MM right now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IfaceView {
    pub raw: Option<f64>,
    pub average: Option<f64>,
    pub score: f64,
    pub attached: bool,
    pub up: bool,
    pub prepared: bool,
    pub primary: bool,
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    target: usize,
    reason: Reason,
    /// Switch as soon as the target is ready (else only prepare it).
    switch_when_ready: bool,
    /// Skip advice and preparation: the primary is gone.
    emergency: bool,
}

pub struct MobilityManager {
    cfg: Config,
    ifaces: Vec<IfaceState>,
    primary: Option<usize>,
    /// The primary before the last switch, to fall back to if it fails.
    last_from: Option<usize>,
    primary_since: Millis,
    preferred: Option<usize>,
    plan: Option<Plan>,
    actions: VecDeque<Action>,
    counters: Counters,
    now: Millis,
    first_sample: Option<Millis>,
    /// Standby alternatives were switched off during this stable spell.
    standby_done: bool,
    /// The current better-candidate episode was already counted as held.
    held_counted: bool,
}

impl MobilityManager {
    pub fn new(cfg: Config) -> Result<MobilityManager, crate::ConfigError> {
        cfg.validate()?;
        let alpha = cfg.gain.alpha;
        let ifaces = cfg
            .ifaces
            .iter()
            .map(|i| IfaceState::new(i, alpha))
            .collect();
        Ok(MobilityManager {
            cfg,
            ifaces,
            primary: None,
            last_from: None,
            primary_since: 0,
            preferred: None,
            plan: None,
            actions: VecDeque::with_capacity(16),
            counters: Counters::default(),
            now: 0,
            first_sample: None,
            standby_done: false,
            held_counted: false,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn primary(&self) -> Option<IfaceId> {
        self.primary.map(id)
    }

    /// When the current primary took over.
    pub fn primary_since(&self) -> Option<Millis> {
        self.primary.map(|_| self.primary_since)
    }

    pub fn preferred(&self) -> Option<IfaceId> {
        self.preferred.map(id)
    }

    pub fn view(&self, iface: IfaceId) -> Option<IfaceView> {
        let i = iface.index();
        let st = self.ifaces.get(i)?;
        Some(IfaceView {
            raw: st.raw,
            average: st.avg.value(),
            score: score(&self.cfg, i, st, self.preferred == Some(i)),
            attached: st.attached(),
            up: st.is_up(),
            prepared: st.prep == Prep::Ready,
            primary: self.primary == Some(i),
        })
    }

    /// Where the primary's loss would send traffic now, best first: the
    /// order [`Self::emergency`] takes candidates in (tier, then score,
    /// then configuration order; usable interfaces only, up or not). The
    /// VSD moves by itself on a carrier loss; told this order, it moves
    /// straight to where the MM would have gone, in one switch.
    pub fn fallback_order(&self) -> Vec<IfaceId> {
        let mut order: Vec<usize> = Vec::new();
        // Up ones first (traffic can move at once), acceptable before not.
        for (min_tier, need_up) in [
            (Tier::Available, true),
            (Tier::Unusable, true),
            (Tier::Unusable, false),
        ] {
            while let Some(c) = self.best_where(min_tier, need_up, |i| {
                Some(i) == self.primary || order.contains(&i)
            }) {
                order.push(c);
            }
        }
        order.into_iter().map(id).collect()
    }

    /// Takes `iface` as the primary without a switch (traffic is there
    /// already: after a configuration reload; the VSD failed over by
    /// itself). The interface traffic left is held down as after a switch:
    /// a link the VSD left for flapping is not taken back after the
    /// minimum dwell only, to be left again at its next flap.
    pub fn assume_primary(&mut self, iface: IfaceId, now: Millis) {
        let to = iface.index();
        if to >= self.ifaces.len() {
            return;
        }
        self.now = self.now.max(now);
        if let Some(from) = self.primary.filter(|&f| f != to) {
            self.ifaces[from].left_at = Some(self.now);
            self.ifaces[from].prep = Prep::None;
            self.last_from = Some(from);
        }
        self.primary = Some(to);
        self.primary_since = self.now;
        self.plan = None;
    }

    pub fn handle(&mut self, now: Millis, input: Input) {
        self.now = self.now.max(now);
        match input {
            Input::Sample { iface, sample } => self.take_sample(iface.index(), &sample),
            Input::Admin { iface, enabled } => {
                if let Some(st) = self.ifaces.get_mut(iface.index()) {
                    st.enabled = enabled;
                }
            }
            Input::Prefer { iface } => {
                self.preferred = iface.map(IfaceId::index).filter(|&i| i < self.ifaces.len());
            }
            Input::Handoff { iface } => self.manual_handoff(iface.index()),
            Input::Activated { iface, ok } => self.activated(iface.index(), ok),
            Input::Prepared { iface, ok } => self.prepared(iface.index(), ok),
            Input::Switched { iface, ok } => {
                if !ok && self.primary == Some(iface.index()) {
                    self.revert(iface.index(), self.now);
                }
            }
            Input::Advice(Advice::Handoff { iface, verdict }) => {
                self.handoff_answer(iface.index(), verdict)
            }
            Input::Advice(Advice::Avoid { iface, ms }) => {
                let now = self.now;
                if let Some(st) = self.ifaces.get_mut(iface.index()) {
                    st.avoid_until = if ms < 0 {
                        Millis::MAX
                    } else {
                        now.saturating_add(ms as u64)
                    };
                }
            }
        }
        self.evaluate();
    }

    fn take_sample(&mut self, i: usize, sample: &Sample) {
        let Some(st) = self.ifaces.get_mut(i) else {
            return;
        };
        let metric = self.cfg.ifaces[i].metric;
        if let Some(carrier) = sample.carrier {
            if !carrier {
                // What was measured before the loss says nothing now.
                st.avg.reset();
                st.rate.reset();
                st.forecast.reset();
                st.raw = None;
            }
            st.carrier = carrier;
        }
        if let Some(reachable) = sample.reachable {
            st.reachable = reachable;
        }
        if let Some(v) = metric.value(sample).filter(|v| v.is_finite()) {
            st.raw = Some(v);
            st.avg.push(v);
        }
        if let Some(r) = sample.rate_kbps.filter(|r| r.is_finite()) {
            st.rate.push(r);
            st.forecast.push(r);
        }
        self.first_sample.get_or_insert(self.now);
    }

    fn manual_handoff(&mut self, i: usize) {
        if i < self.ifaces.len() && self.primary != Some(i) {
            let mut reason = Reason::new(Rule::Manual);
            reason.subject = self.primary.map(id);
            let reason = self.candidate_reason(reason, i);
            self.plan = None;
            self.pursue(i, reason, true, false);
        }
    }

    fn activated(&mut self, i: usize, ok: bool) {
        if let Some(st) = self.ifaces.get_mut(i) {
            st.link = if ok { Link::Up } else { Link::Down };
        }
        if !ok {
            self.failed(i);
        }
    }

    fn prepared(&mut self, i: usize, ok: bool) {
        if let Some(st) = self.ifaces.get_mut(i) {
            st.prep = if ok { Prep::Ready } else { Prep::None };
        }
        if !ok {
            self.failed(i);
        }
    }

    /// An action on interface `i` failed: counted, and `i` rests for
    /// `retry_after_ms`.
    fn failed(&mut self, i: usize) {
        let retry = self.now.saturating_add(self.cfg.timing.retry_after_ms);
        if let Some(st) = self.ifaces.get_mut(i) {
            st.blocked_until = retry;
            self.counters.failures += 1;
        }
    }

    fn handoff_answer(&mut self, i: usize, verdict: Verdict) {
        let retry = self.now.saturating_add(self.cfg.timing.retry_after_ms);
        // Only an answer to a question counts: a late one (after the
        // timeout, the handoff done) must neither pre-approve the next
        // handoff nor block the interface traffic is now on.
        let asked = |st: &&mut IfaceState| matches!(st.advice, AdviceState::Asked { .. });
        if let Some(st) = self.ifaces.get_mut(i).filter(asked) {
            match verdict {
                Verdict::Allow => st.advice = AdviceState::Allowed,
                Verdict::Deny => {
                    st.advice = AdviceState::None;
                    st.blocked_until = retry;
                }
                Verdict::RetryAt(t) => st.advice = AdviceState::RetryAt(t),
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        self.now = self.now.max(now);
        self.evaluate();
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest future time at which something may change by itself.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let now = self.now;
        let t = &self.cfg.timing;
        let mut next: Option<Millis> = None;
        let mut at = |time: Millis| {
            if time > now {
                next = Some(next.map_or(time, |n: Millis| n.min(time)));
            }
        };
        if self.primary.is_none() {
            if let Some(first) = self.first_sample {
                at(first.saturating_add(INITIAL_SETTLE_MS));
            }
        }
        for (i, st) in self.ifaces.iter().enumerate() {
            if let Link::Activating { deadline } = st.link {
                at(deadline);
            }
            if let Prep::Preparing { deadline } = st.prep {
                at(deadline);
            }
            match st.advice {
                AdviceState::Asked { deadline } => at(deadline),
                AdviceState::RetryAt(when) => at(when),
                _ => {}
            }
            at(st.blocked_until);
            at(st.avoid_until);
            if let Some(since) = st.better_since {
                at(since.saturating_add(t.better_dwell_ms));
                at(self.primary_since.saturating_add(t.min_dwell_ms));
                // Only the interface just left is held down.
                if let Some(left) = st.left_at.filter(|_| self.last_from == Some(i)) {
                    at(left.saturating_add(t.hold_down_ms));
                }
            }
        }
        next
    }

    /// Traffic never moved to `failed`: the previous primary still has it.
    fn revert(&mut self, failed: usize, now: Millis) {
        self.failed(failed);
        self.primary = self.last_from;
        self.primary_since = now;
        let mut reason = Reason::new(Rule::SwitchFailed);
        reason.subject = Some(IfaceId(failed as u8));
        reason.candidate = self.primary.map(|back| Candidate {
            iface: IfaceId(back as u8),
            score: None,
            value: self.ifaces[back].avg.value(),
        });
        self.emit(Action::Reverted {
            failed: IfaceId(failed as u8),
            back: self.primary.map(|b| IfaceId(b as u8)),
            reason,
        });
    }

    fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    fn is_preferred(&self, i: usize) -> bool {
        self.preferred == Some(i)
    }

    fn score_of(&self, i: usize) -> f64 {
        score(&self.cfg, i, &self.ifaces[i], self.is_preferred(i))
    }

    fn tier(&self, i: usize) -> Tier {
        match self.ifaces[i].avg.value() {
            Some(v) => self.cfg.ifaces[i].thresholds.tier(v),
            None => Tier::Unusable,
        }
    }

    /// The best usable interface other than `except`, at `min_tier` or above:
    /// by tier, then score, then configuration order. `need_up` keeps only
    /// interfaces that are up already.
    fn best_candidate(
        &self,
        except: Option<usize>,
        min_tier: Tier,
        need_up: bool,
    ) -> Option<usize> {
        self.best_where(min_tier, need_up, |i| Some(i) == except)
    }

    /// [`Self::best_candidate`] over the interfaces `skip` leaves.
    fn best_where(
        &self,
        min_tier: Tier,
        need_up: bool,
        skip: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut best: Option<(Tier, f64, usize)> = None;
        for i in 0..self.ifaces.len() {
            let st = &self.ifaces[i];
            if skip(i) || !st.usable(self.now) || (need_up && !st.is_up()) {
                continue;
            }
            let tier = self.tier(i);
            if tier < min_tier {
                continue;
            }
            let s = self.score_of(i);
            let better = match best {
                None => true,
                Some((bt, bs, _)) => tier > bt || (tier == bt && s > bs),
            };
            if better {
                best = Some((tier, s, i));
            }
        }
        best.map(|(_, _, i)| i)
    }

    /// The interface traffic just left, within its hold-down: a voluntary
    /// return now would be a ping-pong. Only that one: after a further move
    /// the link left before competes with the new primary, not with the one
    /// it lost to (on the 5G driving traces a stale hold-down kept traffic
    /// off the best of three links).
    fn held_down(&self, i: usize) -> bool {
        self.last_from == Some(i)
            && self.ifaces[i]
                .left_at
                .is_some_and(|left| self.now < left.saturating_add(self.cfg.timing.hold_down_ms))
    }

    fn candidate_reason(&self, mut reason: Reason, c: usize) -> Reason {
        reason.candidate = Some(Candidate {
            iface: id(c),
            score: Some(self.score_of(c)),
            value: self.ifaces[c].avg.value(),
        });
        reason
    }

    fn subject_reason(&self, rule: Rule, p: usize, threshold: Option<Threshold>) -> Reason {
        let mut reason = Reason::new(rule);
        reason.subject = Some(id(p));
        reason.value = self.ifaces[p].avg.value();
        reason.threshold =
            threshold.and_then(|t| self.cfg.ifaces[p].thresholds.get(t).map(|v| (t, v)));
        reason
    }

    fn evaluate(&mut self) {
        self.expire();
        let Some(p) = self.primary else {
            self.choose_initial();
            self.advance_plan();
            return;
        };
        if let Some(rule) = self.emergency_cause(p) {
            self.emergency(p, rule);
            return;
        }
        if let Some(pref) = self.preferred {
            let st = &self.ifaces[pref];
            // Not to an interface below `inactive`: rule 4 would hand off
            // from it in the next step, and this one take it back (a
            // ping-pong without pause, seen with 341 switches in 20 s).
            let would_hold = st.avg.value().is_none_or(|v| {
                self.cfg.ifaces[pref].thresholds.primary_level(v) != PrimaryLevel::Inactive
            });
            if pref != p
                && st.usable(self.now)
                && would_hold
                && (self.tier(pref) >= Tier::Available || !st.is_up())
            {
                let reason =
                    self.candidate_reason(self.subject_reason(Rule::UserPreference, p, None), pref);
                self.pursue(pref, reason, true, false);
                self.advance_plan();
                return;
            }
        }
        let level = self.ifaces[p]
            .avg
            .value()
            .map_or(PrimaryLevel::Holding, |v| {
                self.cfg.ifaces[p].thresholds.primary_level(v)
            });
        match level {
            PrimaryLevel::Inactive => self.below_inactive(p),
            PrimaryLevel::Deteriorating => {
                self.prepare_ahead(p);
                self.better_candidate(p);
            }
            PrimaryLevel::Holding => {
                self.drop_preparation();
                self.better_candidate(p);
            }
            PrimaryLevel::Stable => {
                self.drop_preparation();
                self.standby_off(p);
                self.better_candidate(p);
            }
        }
        if level != PrimaryLevel::Stable {
            self.standby_done = false;
        }
        self.advance_plan();
    }

    /// Timeouts of actions count as failures; expired advice requests count
    /// as allowed (a silent server must not pin the router to a bad link).
    fn expire(&mut self) {
        let now = self.now;
        let retry = now.saturating_add(self.cfg.timing.retry_after_ms);
        for st in &mut self.ifaces {
            if let Link::Activating { deadline } = st.link {
                if now >= deadline {
                    st.link = Link::Down;
                    st.blocked_until = retry;
                    self.counters.failures += 1;
                }
            }
            if let Prep::Preparing { deadline } = st.prep {
                if now >= deadline {
                    st.prep = Prep::None;
                    st.blocked_until = retry;
                    self.counters.failures += 1;
                }
            }
            match st.advice {
                AdviceState::Asked { deadline } if now >= deadline => {
                    st.advice = AdviceState::Allowed
                }
                AdviceState::RetryAt(when) if now >= when => st.advice = AdviceState::None,
                _ => {}
            }
        }
    }

    fn choose_initial(&mut self) {
        let Some(first) = self.first_sample else {
            return;
        };
        let all_reported = self
            .ifaces
            .iter()
            .all(|st| !st.attached() || st.avg.value().is_some());
        if !all_reported && self.now < first.saturating_add(INITIAL_SETTLE_MS) {
            return;
        }
        // Something is better than no route at all: below `available`, the
        // best attached interface still carries traffic until a better one shows.
        let target = self
            .best_candidate(None, Tier::Available, true)
            .or_else(|| self.best_candidate(None, Tier::Available, false))
            .or_else(|| self.best_candidate(None, Tier::Unusable, true))
            .or_else(|| self.best_candidate(None, Tier::Unusable, false));
        if let Some(c) = target {
            let reason = self.candidate_reason(Reason::new(Rule::Initial), c);
            self.pursue(c, reason, true, true);
        }
    }

    fn emergency_cause(&self, p: usize) -> Option<Rule> {
        let st = &self.ifaces[p];
        if !st.carrier {
            Some(Rule::CarrierLost)
        } else if !st.reachable {
            Some(Rule::PathLost)
        } else if !st.enabled {
            Some(Rule::Disabled)
        } else if self.now < st.avoid_until {
            Some(Rule::Avoided)
        } else {
            None
        }
    }

    /// The primary is gone: anything usable beats it, without waiting for
    /// averages or preparation.
    /// The first of [`Self::fallback_order`]: an interface that is up now
    /// takes traffic at once, another is brought up first.
    fn emergency(&mut self, p: usize, rule: Rule) {
        debug_assert_eq!(self.primary, Some(p));
        let Some(c) = self.fallback_order().first().map(|c| c.index()) else {
            return;
        };
        let reason = self.subject_reason(rule, p, None);
        let reason = self.candidate_reason(reason, c);
        if self.ifaces[c].is_up() {
            self.switch(c, reason);
        } else {
            self.pursue(c, reason, true, true);
            self.advance_plan();
        }
    }

    fn below_inactive(&mut self, p: usize) {
        let reason = self.subject_reason(Rule::BelowInactive, p, Some(Threshold::Inactive));
        let Some(c) = self
            .best_candidate(Some(p), Tier::Available, true)
            .or_else(|| self.best_candidate(Some(p), Tier::Available, false))
        else {
            self.activate_alternatives(p, reason);
            return;
        };
        // Nothing better to move to: a candidate below the failing primary.
        if self.tier(c) == Tier::Available && self.ifaces[c].avg.value().is_some() {
            let primary_score = self.score_of(p);
            if self.score_of(c) <= primary_score {
                return;
            }
        }
        let reason = self.candidate_reason(reason, c);
        if self.ifaces[c].ready(&self.cfg.ifaces[c]) {
            self.switch(c, reason);
        } else {
            self.pursue(c, reason, true, false);
        }
    }

    /// Make-before-break: bring the best candidate up and prepare it now, so
    /// the switch is instant when it comes.
    fn prepare_ahead(&mut self, p: usize) {
        if self
            .plan
            .is_some_and(|plan| self.ifaces[plan.target].usable(self.now))
        {
            return;
        }
        let reason = self.subject_reason(Rule::Deteriorating, p, Some(Threshold::Deteriorating));
        match self.best_candidate(Some(p), Tier::Active, false) {
            Some(c) if !self.ifaces[c].ready(&self.cfg.ifaces[c]) => {
                let reason = self.candidate_reason(reason, c);
                self.counters.prepared_ahead += 1;
                self.pursue(c, reason, false, false);
            }
            Some(_) => {}
            None => self.activate_alternatives(p, reason),
        }
    }

    /// The primary recovered: a candidate prepared ahead of need stays as it
    /// is (up, prepared), but nothing more is done for it.
    fn drop_preparation(&mut self) {
        if self.plan.is_some_and(|plan| !plan.switch_when_ready) {
            self.plan = None;
        }
    }

    /// No candidate is active: bring up every alternative that needs it, so
    /// that one may become a candidate (the seed's rule).
    fn activate_alternatives(&mut self, p: usize, reason: Reason) {
        let deadline = self
            .now
            .saturating_add(self.cfg.timing.activation_timeout_ms);
        for i in 0..self.ifaces.len() {
            let st = &self.ifaces[i];
            if i != p && st.link == Link::Down && st.usable(self.now) {
                self.ifaces[i].link = Link::Activating { deadline };
                self.emit(Action::Activate {
                    iface: id(i),
                    reason,
                });
            }
        }
    }

    fn standby_off(&mut self, p: usize) {
        if self.standby_done {
            return;
        }
        self.standby_done = true;
        let reason = self.subject_reason(Rule::Stable, p, Some(Threshold::Stable));
        for i in 0..self.ifaces.len() {
            let standby = self.cfg.ifaces[i].standby && self.cfg.ifaces[i].needs_activation;
            let planned = self.plan.is_some_and(|plan| plan.target == i);
            if i != p && standby && !planned && self.ifaces[i].link != Link::Down {
                self.ifaces[i].link = Link::Down;
                self.ifaces[i].prep = Prep::None;
                self.counters.standby_off += 1;
                self.emit(Action::Deactivate {
                    iface: id(i),
                    reason,
                });
            }
        }
    }

    fn better_candidate(&mut self, p: usize) {
        if self.gain_applies(p) {
            self.expected_gain(p);
        } else {
            self.better_score(p);
        }
    }

    /// Rule 7 on scores.
    fn better_score(&mut self, p: usize) {
        let now = self.now;
        let t = self.cfg.timing;
        let primary_score = self.score_of(p);
        let worth = |c: usize| self.score_of(c) >= primary_score + self.cfg.better_margin;
        // The best of all, held down or not (to count what the hold-down
        // held), and the best that may go now.
        let best = self.best_candidate(Some(p), Tier::Active, false);
        let free = match best {
            Some(c) if self.held_down(c) => {
                self.best_where(Tier::Active, false, |i| i == p || self.held_down(i))
            }
            _ => best,
        };
        let free = free.filter(|&c| worth(c));
        let better = free.or_else(|| best.filter(|&c| worth(c)));
        for (i, st) in self.ifaces.iter_mut().enumerate() {
            if Some(i) != better {
                st.better_since = None;
            }
        }
        let Some(c) = better else {
            self.held_counted = false;
            return;
        };
        let since = *self.ifaces[c].better_since.get_or_insert(now);
        if now < since.saturating_add(t.better_dwell_ms) {
            return;
        }
        let held_by_dwell = now < self.primary_since.saturating_add(t.min_dwell_ms);
        let held_by_hold_down = free.is_none();
        if held_by_dwell || held_by_hold_down {
            self.count_held(held_by_hold_down);
            return;
        }
        // A candidate on its way down (its latest sample under its own
        // average) is not worth a voluntary move yet: on the shared traces
        // such moves landed on links that failed moments later, and the
        // hold-down then kept traffic from the one just left. It only waits
        // for a sample at or above its average; its dwell goes on.
        if self.ifaces[c].falling() {
            return;
        }
        let mut reason = self.subject_reason(Rule::BetterCandidate, p, None);
        reason.subject_score = Some(primary_score);
        let reason = self.candidate_reason(reason, c);
        self.pursue(c, reason, true, false);
    }

    /// Sets the plan: bring `target` up, ask, prepare, and (if asked) switch.
    /// A manual handoff under way yields only to an emergency.
    fn pursue(&mut self, target: usize, reason: Reason, switch_when_ready: bool, emergency: bool) {
        if self
            .plan
            .is_some_and(|p| p.reason.rule == Rule::Manual && p.target != target && !emergency)
        {
            return;
        }
        match &mut self.plan {
            Some(plan) if plan.target == target => {
                if switch_when_ready && !plan.switch_when_ready {
                    plan.reason = reason;
                }
                plan.switch_when_ready |= switch_when_ready;
                plan.emergency |= emergency;
            }
            _ => {
                self.plan = Some(Plan {
                    target,
                    reason,
                    switch_when_ready,
                    emergency,
                })
            }
        }
    }

    /// Moves the plan one step: activation, advice, preparation, switch.
    fn advance_plan(&mut self) {
        let Some(plan) = self.plan else { return };
        let now = self.now;
        let t = plan.target;
        if !self.ifaces[t].usable(now) || self.primary == Some(t) {
            self.plan = None;
            return;
        }
        let timing = self.cfg.timing;
        match self.ifaces[t].link {
            Link::Down => {
                self.ifaces[t].link = Link::Activating {
                    deadline: now.saturating_add(timing.activation_timeout_ms),
                };
                self.emit(Action::Activate {
                    iface: id(t),
                    reason: plan.reason,
                });
                return;
            }
            Link::Activating { .. } => return,
            Link::Up => {}
        }
        if plan.emergency || self.primary.is_none() {
            if plan.switch_when_ready {
                self.switch(t, plan.reason);
            }
            return;
        }
        if self.cfg.consult_server && plan.switch_when_ready {
            match self.ifaces[t].advice {
                AdviceState::None => {
                    self.ifaces[t].advice = AdviceState::Asked {
                        deadline: now.saturating_add(timing.advice_timeout_ms),
                    };
                    self.emit(Action::RequestAdvice {
                        iface: id(t),
                        reason: plan.reason,
                    });
                    return;
                }
                AdviceState::Asked { .. } | AdviceState::RetryAt(_) => return,
                AdviceState::Allowed => {}
            }
        }
        if self.cfg.ifaces[t].pre_handoff {
            match self.ifaces[t].prep {
                Prep::None => {
                    self.ifaces[t].prep = Prep::Preparing {
                        deadline: now.saturating_add(timing.prepare_timeout_ms),
                    };
                    self.emit(Action::Prepare {
                        iface: id(t),
                        reason: plan.reason,
                    });
                    return;
                }
                Prep::Preparing { .. } => return,
                Prep::Ready => {}
            }
        }
        if plan.switch_when_ready {
            self.switch(t, plan.reason);
        }
    }

    fn switch(&mut self, to: usize, reason: Reason) {
        let now = self.now;
        let from = self.primary;
        self.emit(Action::Switch {
            from: from.map(id),
            to: id(to),
            reason,
        });
        if let Some(f) = from {
            let st = &mut self.ifaces[f];
            // Left on the server's advice: the advice's expiry, not the
            // hold-down, says when it may carry traffic again.
            st.left_at = (reason.rule != Rule::Avoided).then_some(now);
            st.prep = Prep::None;
            st.advice = AdviceState::None;
            self.counters.handoffs += 1;
            if reason.rule.is_emergency() {
                self.counters.emergencies += 1;
            } else if reason.rule == Rule::BelowInactive {
                self.counters.forced += 1;
            }
        }
        self.ifaces[to].advice = AdviceState::None;
        for st in &mut self.ifaces {
            st.better_since = None;
        }
        self.held_counted = false;
        self.standby_done = false;
        self.last_from = from;
        self.primary = Some(to);
        self.primary_since = now;
        self.plan = None;
    }
}

fn id(index: usize) -> IfaceId {
    IfaceId(index as u8)
}

impl Decider for MobilityManager {
    fn handle(&mut self, now: Millis, input: Input) {
        MobilityManager::handle(self, now, input)
    }

    fn handle_timeout(&mut self, now: Millis) {
        MobilityManager::handle_timeout(self, now)
    }

    fn poll_action(&mut self) -> Option<Action> {
        MobilityManager::poll_action(self)
    }

    fn poll_timeout(&self) -> Option<Millis> {
        MobilityManager::poll_timeout(self)
    }

    fn primary(&self) -> Option<IfaceId> {
        MobilityManager::primary(self)
    }

    fn counters(&self) -> Option<Counters> {
        Some(self.counters)
    }
}
