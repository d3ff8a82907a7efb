//! Rule 7 between interfaces whose rates are measured: the expected gain
//! (see [`MobilityManager::expected_gain`]).

use super::MobilityManager;
use crate::reason::{GainNote, Rule};
use crate::thresholds::Tier;

/// Handoffs a return to the interface just left (within its hold-down)
/// must pay for under the expected-gain rule: itself, the one it undoes,
/// and a ping-pong's worth more.
const RETURN_COSTS: f64 = 3.0;

impl MobilityManager {
    /// Whether the expected gain decides: it is on, and the primary and
    /// every candidate that could be chosen have a rate forecast.
    pub(super) fn gain_applies(&self, p: usize) -> bool {
        self.cfg.gain.handoff_cost_ms > 0
            && self.ifaces[p].forecast.mean().is_some()
            && (0..self.ifaces.len())
                .filter(|&i| i != p && self.ifaces[i].usable(self.now))
                .all(|i| self.ifaces[i].forecast.mean().is_some())
    }

    /// The candidate at `Tier::Available` or above with the highest forecast (mean less
    /// spreads) among those `skip` leaves.
    fn best_forecast(&self, skip: impl Fn(usize) -> bool) -> Option<(usize, f64)> {
        let k = self.cfg.gain.spread;
        let mut best: Option<(usize, f64)> = None;
        for i in 0..self.ifaces.len() {
            let st = &self.ifaces[i];
            if skip(i) || !st.usable(self.now) || self.tier(i) < Tier::Available {
                continue;
            }
            let Some(f) = st.forecast.lower(k) else {
                continue;
            };
            if best.is_none_or(|(_, b)| f > b) {
                best = Some((i, f));
            }
        }
        best
    }

    /// Rule 7 on measured rates: a candidate whose forecast has beaten the
    /// primary's for `ahead` ms moves traffic once the gain pays for a
    /// handoff over that time: gain > cost / ahead (one second counted at
    /// least). A large gain moves at once, a small one only when it lasts.
    /// The interface just left, within its hold-down, is not barred but
    /// must pay for [`RETURN_COSTS`] handoffs: this one, the one it undoes,
    /// and the ping-pong. The dwell and the tier rules stay as they are.
    pub(super) fn expected_gain(&mut self, p: usize) {
        let now = self.now;
        let Some(primary) = self.ifaces[p].forecast.mean() else {
            return;
        };
        let better = self
            .best_forecast(|i| i == p)
            .filter(|&(_, forecast)| forecast > primary);
        for (i, st) in self.ifaces.iter_mut().enumerate() {
            if Some(i) != better.map(|b| b.0) {
                st.better_since = None;
            }
        }
        let Some((c, forecast)) = better else {
            self.held_counted = false;
            return;
        };
        let since = *self.ifaces[c].better_since.get_or_insert(now);
        let ahead_ms = now.saturating_sub(since).max(1_000);
        let costs = if self.held_down(c) { RETURN_COSTS } else { 1.0 };
        let cost_ms = self.cfg.gain.handoff_cost_ms as f64 * costs;
        let needed = cost_ms / ahead_ms as f64;
        if forecast <= primary * (1.0 + needed) {
            if self.held_down(c) && forecast > primary * (1.0 + needed / costs) {
                self.count_held(true);
            }
            return;
        }
        if now
            < self
                .primary_since
                .saturating_add(self.cfg.timing.min_dwell_ms)
        {
            self.count_held(false);
            return;
        }
        let mut reason = self.subject_reason(Rule::ExpectedGain, p, None);
        reason.gain = Some(GainNote {
            primary_kbps: primary,
            candidate_kbps: forecast,
            ahead_ms,
            needed,
        });
        let reason = self.candidate_reason(reason, c);
        self.pursue(c, reason, true, false);
    }

    /// Counts a better candidate held back, once per episode.
    pub(super) fn count_held(&mut self, by_hold_down: bool) {
        if !self.held_counted {
            self.held_counted = true;
            if by_hold_down {
                self.counters.held_by_hold_down += 1;
            } else {
                self.counters.held_by_dwell += 1;
            }
        }
    }
}
