//! `mimmd evaluate --frontier`: how close any setting comes to the goal on
//! each family when it is chosen on that family itself, in hindsight. The
//! goal is the issue's: a pooled ratio at least the hysteresis baseline's,
//! with at most half its handoffs and a third of its ping-pongs per hour.
//! What no setting of a rule reaches even in hindsight, no setting chosen
//! on other families will: the figures bound the rule, not its tuning.
//!
//! Two rules are searched: the hysteresis baseline's own family (window
//! and gain) and the Mobility Manager's grid (see [`evaluate::grid`]).

use std::fmt::Write as _;

use crate::replay::evaluate::{self, Family, Score, Setting, score, score_with, within};
use crate::replay::{HysteresisRule, Options, Policy};

/// The hysteresis variants tried: windows of 1 to 8 samples, gains from
/// 10 % to 200 %.
fn hysteresis_rules() -> Vec<HysteresisRule> {
    let mut rules = Vec::new();
    for samples in 1..=8 {
        for gain in [0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0] {
            rules.push(HysteresisRule { samples, gain });
        }
    }
    rules
}

/// The best-ratio candidate within the goal's shares of `hysteresis`.
fn best_within<T: Copy>(
    hysteresis: &Score,
    candidates: impl IntoIterator<Item = Result<(T, Score), String>>,
) -> Result<Option<(T, Score)>, String> {
    let mut best: Option<(T, Score)> = None;
    for c in candidates {
        let (t, s) = c?;
        if within(&s, hysteresis) && best.is_none_or(|(_, b)| s.ratio > b.ratio) {
            best = Some((t, s));
        }
    }
    Ok(best)
}

fn figures(s: &Score) -> String {
    format!(
        "{:.3} at {:.0} handoffs/h, {:.0} ping-pongs/h",
        s.ratio, s.handoffs_per_h, s.ping_pongs_per_h
    )
}

/// One family's frontier, every figure over the whole family.
#[derive(Debug, Clone, Copy)]
pub struct Frontier<'a> {
    pub family: &'a str,
    /// The hysteresis baseline as it stands: the goal's terms.
    pub hysteresis: Score,
    /// The best hysteresis variant within the goal's shares, if any.
    pub variant: Option<(HysteresisRule, Score)>,
    /// The best MM grid setting within them, if any.
    pub mimm: Option<(Setting, Score)>,
}

impl Frontier<'_> {
    /// Whether anything searched meets the goal.
    pub fn reached(&self) -> bool {
        let at_least = |s: &Score| s.ratio >= self.hysteresis.ratio;
        self.variant.is_some_and(|(_, s)| at_least(&s))
            || self.mimm.is_some_and(|(_, s)| at_least(&s))
    }
}

/// Per family: the goal, the best hysteresis variant and the best MM
/// setting within its handoff and ping-pong shares.
pub fn frontier(families: &[Family]) -> Result<Vec<Frontier<'_>>, String> {
    let mut out = Vec::new();
    for family in families {
        let hysteresis = score(family, Policy::Hysteresis, None)?;
        let variants = hysteresis_rules().into_iter().map(|rule| {
            let options = Options {
                policy: Policy::Hysteresis,
                hysteresis: rule,
                ..Options::default()
            };
            score_with(family, options, None).map(|s| (rule, s))
        });
        let variant = best_within(&hysteresis, variants)?;
        let settings = evaluate::grid().into_iter().map(|setting: Setting| {
            score(family, Policy::Mimm, Some(&setting)).map(|s| (setting, s))
        });
        let mimm = best_within(&hysteresis, settings)?;
        out.push(Frontier {
            family: &family.name,
            hysteresis,
            variant,
            mimm,
        });
    }
    Ok(out)
}

pub fn to_text(frontiers: &[Frontier]) -> String {
    let mut out = String::new();
    for f in frontiers {
        let h = &f.hysteresis;
        let _ = writeln!(
            out,
            "{}: goal ratio >= {:.3} at <= {:.0} handoffs/h, <= {:.0} ping-pongs/h ({})",
            f.family,
            h.ratio,
            h.handoffs_per_h * evaluate::HANDOFF_SHARE,
            h.ping_pongs_per_h * evaluate::PING_PONG_SHARE,
            if f.reached() {
                "reached"
            } else {
                "not reached"
            }
        );
        let _ = match f.variant {
            Some((r, s)) => writeln!(
                out,
                "  hysteresis, {} samples, +{:.0} %: {}",
                r.samples,
                r.gain * 100.0,
                figures(&s)
            ),
            None => writeln!(out, "  hysteresis: no variant within"),
        };
        let _ = match f.mimm {
            Some((c, s)) => writeln!(
                out,
                "  mimm, handoff_cost_ms {} gain_spread {} gain_alpha {} hold_down_ms {}: {}",
                c.handoff_cost_ms,
                c.gain_spread,
                c.gain_alpha,
                c.hold_down_ms,
                figures(&s)
            ),
            None => writeln!(out, "  mimm: no setting within"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ratio: f64, handoffs_per_h: f64, ping_pongs_per_h: f64) -> Score {
        Score {
            ratio,
            handoffs_per_h,
            ping_pongs_per_h,
            hours: 1.0,
        }
    }

    #[test]
    fn the_best_ratio_among_those_within_both_shares_wins() {
        let hysteresis = s(0.95, 100.0, 30.0);
        let candidates = [
            ('a', s(0.99, 60.0, 0.0)),  // too many handoffs
            ('b', s(0.98, 40.0, 11.0)), // too many ping-pongs
            ('c', s(0.90, 50.0, 10.0)),
            ('d', s(0.93, 20.0, 5.0)),
        ];
        let best = best_within(&hysteresis, candidates.map(Ok)).unwrap();
        assert_eq!(best.map(|(t, _)| t), Some('d'));
        let none = best_within(&hysteresis, [Ok(('a', s(0.99, 60.0, 0.0)))]).unwrap();
        assert!(none.is_none());
        let failed: Result<Option<(char, Score)>, String> =
            best_within(&hysteresis, [Err("bad trace".to_string())]);
        assert_eq!(failed.unwrap_err(), "bad trace");
    }
}
