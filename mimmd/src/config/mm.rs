//! The Mobility Manager's part of the configuration.

use mimm_mm::{Averaging, Config, IfaceConfig, LinkKind, Metric, Threshold};
use mimm_uci::Section;

use mimm_uci::ConfigError;

use crate::config::Fields;

pub(crate) const GLOBAL_OPTIONS: &[&str] = &[
    "min_dwell_ms",
    "hold_down_ms",
    "better_dwell_ms",
    "better_margin",
    "handoff_cost_ms",
    "gain_spread",
    "gain_alpha",
    "activation_timeout_ms",
    "prepare_timeout_ms",
    "advice_timeout_ms",
    "retry_after_ms",
    "consult_server",
    "averaging",
    "alpha",
    "window",
    "weight_margin",
    "weight_rate",
    "weight_kind",
    "weight_preference",
    "weight_priority",
    "weight_power",
    "weight_cost",
];

pub(crate) const IFACE_OPTIONS: &[&str] = &[
    "kind",
    "metric",
    "available",
    "inactive",
    "deteriorating",
    "active",
    "stable",
    "averaging",
    "alpha",
    "window",
    "priority",
    "power_cost",
    "monetary_cost",
    "standby",
    "needs_activation",
    "enabled",
];

impl Fields<'_> {
    pub(crate) fn mm_globals(&self, s: &Section, cfg: &mut Config) -> Result<(), ConfigError> {
        let what = "globals";
        let t = &mut cfg.timing;
        for (name, field) in [
            ("min_dwell_ms", &mut t.min_dwell_ms),
            ("hold_down_ms", &mut t.hold_down_ms),
            ("better_dwell_ms", &mut t.better_dwell_ms),
            ("activation_timeout_ms", &mut t.activation_timeout_ms),
            ("prepare_timeout_ms", &mut t.prepare_timeout_ms),
            ("advice_timeout_ms", &mut t.advice_timeout_ms),
            ("retry_after_ms", &mut t.retry_after_ms),
            ("handoff_cost_ms", &mut cfg.gain.handoff_cost_ms),
        ] {
            if let Some(v) = self.value::<u64>(s, what, name, "a whole number of ms")? {
                *field = v;
            }
        }
        let w = &mut cfg.weights;
        for (name, field) in [
            ("better_margin", &mut cfg.better_margin),
            ("weight_margin", &mut w.margin),
            ("weight_rate", &mut w.rate),
            ("weight_kind", &mut w.kind),
            ("weight_preference", &mut w.preference),
            ("weight_priority", &mut w.priority),
            ("weight_power", &mut w.power),
            ("weight_cost", &mut w.cost),
            ("gain_spread", &mut cfg.gain.spread),
            ("gain_alpha", &mut cfg.gain.alpha),
        ] {
            if let Some(v) = self.number(s, what, name)? {
                *field = v;
            }
        }
        if let Some(v) = self.flag(s, what, "consult_server")? {
            cfg.consult_server = v;
        }
        Ok(())
    }

    /// `averaging`, `alpha` and `window` in a section; `None` when it sets
    /// none of them.
    pub(crate) fn averaging(
        &self,
        s: &Section,
        what: &str,
    ) -> Result<Option<Averaging>, ConfigError> {
        let alpha = self.number(s, what, "alpha")?;
        let window = self.value::<u8>(s, what, "window", "a window of 1..64 samples")?;
        let averaging = match (s.get("averaging"), alpha, window) {
            (Some("moving"), _, w) => Averaging::Moving {
                window: w.unwrap_or(5),
            },
            (Some("ewma"), a, _) | (None, a @ Some(_), _) => Averaging::Ewma {
                alpha: a.unwrap_or(0.3),
            },
            (None, None, Some(w)) => Averaging::Moving { window: w },
            (None, None, None) => return Ok(None),
            (Some(other), ..) => {
                let pos = s.option("averaging").map_or(s.pos, |o| o.pos);
                return Err(self.fail(
                    pos,
                    format!("{what}: averaging {other:?} must be ewma or moving"),
                ));
            }
        };
        if let Err(e) = averaging.check() {
            let pos = s
                .option("alpha")
                .or(s.option("window"))
                .map_or(s.pos, |o| o.pos);
            return Err(self.fail(pos, format!("{what}: {e}")));
        }
        Ok(Some(averaging))
    }

    /// The MM's view of an interface; `default_metric` is used when the
    /// section does not say (it depends on where the signal comes from),
    /// `default_averaging` (from globals) when it sets no averaging.
    pub(crate) fn mm_interface(
        &self,
        s: &Section,
        name: &str,
        default_metric: Metric,
        default_averaging: Option<Averaging>,
    ) -> Result<IfaceConfig, ConfigError> {
        let what = format!("interface {name}");
        let what = what.as_str();
        let kind = match s.option("kind") {
            None => LinkKind::Other,
            Some(o) => o
                .value
                .as_str()
                .and_then(LinkKind::parse_known)
                .ok_or_else(|| {
                    self.fail(
                        o.pos,
                        format!(
                            "{what}: option kind must be ethernet, wifi, 5g, lte, hspa, umts \
                         (or 3g, edge, ...) or other"
                        ),
                    )
                })?,
        };
        let metric = match s.option("metric") {
            None => default_metric,
            Some(o) => o.value.as_str().and_then(Metric::parse).ok_or_else(|| {
                self.fail(
                    o.pos,
                    format!("{what}: option metric must be signal_dbm, rate_kbps or quality"),
                )
            })?,
        };
        let mut iface = IfaceConfig::with_defaults(name, kind, metric);
        let t = &mut iface.thresholds;
        // `available` may be `none`: the seed's four-level case.
        if s.get("available") == Some("none") {
            t.available = None;
        } else if let Some(v) = self.number(s, what, "available")? {
            t.available = Some(v);
        }
        for (which, field) in [
            (Threshold::Inactive, &mut t.inactive),
            (Threshold::Deteriorating, &mut t.deteriorating),
            (Threshold::Active, &mut t.active),
            (Threshold::Stable, &mut t.stable),
        ] {
            if let Some(v) = self.number(s, what, which.name())? {
                *field = v;
            }
        }
        if let Err(e) = t.check() {
            return Err(self.fail(s.pos, format!("{what}: {e}")));
        }
        if let Some(a) = self.averaging(s, what)?.or(default_averaging) {
            iface.averaging = a;
        }
        if let Some(p) = self.value::<u8>(s, what, "priority", "a priority 0..100")? {
            iface.priority = p;
        }
        for (name, field) in [
            ("power_cost", &mut iface.power_cost),
            ("monetary_cost", &mut iface.monetary_cost),
        ] {
            if let Some(v) = self.number(s, what, name)? {
                *field = v;
            }
        }
        for (name, field) in [
            ("standby", &mut iface.standby),
            ("needs_activation", &mut iface.needs_activation),
            ("enabled", &mut iface.enabled),
        ] {
            if let Some(v) = self.flag(s, what, name)? {
                *field = v;
            }
        }
        // The MM prepares an interface only when there is something to run.
        iface.pre_handoff = s.option("pre_handoff").is_some();
        Ok(iface)
    }
}
