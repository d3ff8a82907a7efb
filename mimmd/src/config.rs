//! `/etc/config/mimm`: the UCI file, read into the Mobility Manager's
//! configuration. Every error names `file:line:col`, the interface and the
//! option; unknown options are errors too (a typo must not pass silently).
//!
//! ```text
//! config globals 'globals'
//!     option min_dwell_ms '2000'      # time on a primary before a voluntary handoff
//!     option hold_down_ms '30000'     # no voluntary return to the interface left
//!     option better_dwell_ms '0'      # a better candidate must stay better this long
//!     option better_margin '0.6'      # score units (see the MM's score table)
//!
//! config interface 'cell'             # the section name is the interface name
//!     option kind 'lte'               # ethernet, wifi, 5g, lte, hspa, umts, ...
//!     option metric 'signal_dbm'      # signal_dbm, rate_kbps or quality
//!     option inactive '-116'          # any of the five thresholds; the rest default
//!     option averaging 'ewma'         # ewma (with alpha) or moving (with window)
//!     option alpha '0.3'
//!     option priority '50'            # 0..100
//!     option monetary_cost '5'        # 0..10
//! ```

use std::path::{Path, PathBuf};

use mimm_mm::{Averaging, Config, IfaceConfig, LinkKind, Metric, Threshold};
use mimm_uci::{Package, Pos, Section};

/// Everything mimmd reads from its configuration (so far: the MM's part).
#[derive(Debug, Clone, PartialEq)]
pub struct MimmConfig {
    pub mm: Config,
}

/// A configuration error, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.message
        )
    }
}

const GLOBAL_OPTIONS: &[&str] = &[
    "min_dwell_ms",
    "hold_down_ms",
    "better_dwell_ms",
    "better_margin",
    "activation_timeout_ms",
    "prepare_timeout_ms",
    "advice_timeout_ms",
    "retry_after_ms",
    "consult_server",
    "weight_margin",
    "weight_rate",
    "weight_kind",
    "weight_preference",
    "weight_priority",
    "weight_power",
    "weight_cost",
];

const IFACE_OPTIONS: &[&str] = &[
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
    "pre_handoff",
    "enabled",
];

struct Reader<'a> {
    file: &'a Path,
}

impl Reader<'_> {
    fn fail(&self, pos: Pos, message: String) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            pos,
            message,
        }
    }

    fn check_known(
        &self,
        section: &Section,
        known: &[&str],
        what: &str,
    ) -> Result<(), ConfigError> {
        for opt in &section.options {
            if !known.contains(&opt.name.as_str()) {
                return Err(self.fail(
                    opt.pos,
                    format!(
                        "{what}: unknown option {:?} (known: {})",
                        opt.name,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A plain option parsed as `T`, or `None` when absent.
    fn value<T: std::str::FromStr>(
        &self,
        section: &Section,
        what: &str,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        let Some(opt) = section.option(name) else {
            return Ok(None);
        };
        let Some(text) = opt.value.as_str() else {
            return Err(self.fail(opt.pos, format!("{what}: option {name} must not be a list")));
        };
        text.trim().parse().map(Some).map_err(|_| {
            self.fail(
                opt.pos,
                format!("{what}: option {name}: {text:?} is not {expected}"),
            )
        })
    }

    fn number(&self, s: &Section, what: &str, name: &str) -> Result<Option<f64>, ConfigError> {
        match self.value::<f64>(s, what, name, "a number")? {
            Some(v) if !v.is_finite() => {
                let pos = s.option(name).map_or(s.pos, |o| o.pos);
                Err(self.fail(pos, format!("{what}: option {name}: {v} is not a number")))
            }
            other => Ok(other),
        }
    }

    fn flag(&self, s: &Section, what: &str, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some(opt) = s.option(name) else {
            return Ok(None);
        };
        match opt.value.as_str() {
            Some("1" | "yes" | "on" | "true" | "enabled") => Ok(Some(true)),
            Some("0" | "no" | "off" | "false" | "disabled") => Ok(Some(false)),
            _ => Err(self.fail(opt.pos, format!("{what}: option {name} must be 0 or 1"))),
        }
    }

    fn globals(&self, s: &Section, cfg: &mut Config) -> Result<(), ConfigError> {
        let what = "globals";
        self.check_known(s, GLOBAL_OPTIONS, what)?;
        let t = &mut cfg.timing;
        for (name, field) in [
            ("min_dwell_ms", &mut t.min_dwell_ms),
            ("hold_down_ms", &mut t.hold_down_ms),
            ("better_dwell_ms", &mut t.better_dwell_ms),
            ("activation_timeout_ms", &mut t.activation_timeout_ms),
            ("prepare_timeout_ms", &mut t.prepare_timeout_ms),
            ("advice_timeout_ms", &mut t.advice_timeout_ms),
            ("retry_after_ms", &mut t.retry_after_ms),
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

    fn interface(&self, s: &Section, name: &str) -> Result<IfaceConfig, ConfigError> {
        let what = format!("interface {name}");
        let what = what.as_str();
        self.check_known(s, IFACE_OPTIONS, what)?;
        let kind = s.get("kind").map_or(LinkKind::Other, LinkKind::parse);
        let metric = match s.option("metric") {
            None => {
                if kind == LinkKind::Ethernet {
                    Metric::Quality
                } else {
                    Metric::SignalDbm
                }
            }
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
        let alpha = self.number(s, what, "alpha")?;
        let window = self.value::<u8>(s, what, "window", "a window of 1..64 samples")?;
        iface.averaging = match (s.get("averaging"), alpha, window) {
            (Some("moving"), _, w) => Averaging::Moving {
                window: w.unwrap_or(5),
            },
            (Some("ewma"), a, _) | (None, a @ Some(_), _) => Averaging::Ewma {
                alpha: a.unwrap_or(0.3),
            },
            (None, None, Some(w)) => Averaging::Moving { window: w },
            (None, None, None) => iface.averaging,
            (Some(other), ..) => {
                let pos = s.option("averaging").map_or(s.pos, |o| o.pos);
                return Err(self.fail(
                    pos,
                    format!("{what}: averaging {other:?} must be ewma or moving"),
                ));
            }
        };
        if let Err(e) = iface.averaging.check() {
            let pos = s
                .option("alpha")
                .or(s.option("window"))
                .map_or(s.pos, |o| o.pos);
            return Err(self.fail(pos, format!("{what}: {e}")));
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
        iface.pre_handoff = s.option("pre_handoff").is_some();
        Ok(iface)
    }
}

/// Reads a mimm UCI file.
pub fn load(path: &Path) -> Result<MimmConfig, String> {
    let package = Package::from_path(path).map_err(|e| e.to_string())?;
    from_package(&package, path).map_err(|e| e.to_string())
}

/// The configuration in a parsed package; `file` names the place in errors.
pub fn from_package(package: &Package, file: &Path) -> Result<MimmConfig, ConfigError> {
    let reader = Reader { file };
    let mut ifaces = Vec::new();
    for s in &package.sections {
        if s.kind == "interface" {
            let Some(name) = &s.name else {
                return Err(reader.fail(
                    s.pos,
                    "interface sections need a name (config interface 'NAME')".into(),
                ));
            };
            ifaces.push(reader.interface(s, name)?);
        }
    }
    let mut mm = Config::new(ifaces);
    let mut globals = package.sections_of("globals");
    if let Some(g) = globals.next() {
        reader.globals(g, &mut mm)?;
        if let Some(extra) = globals.next() {
            return Err(reader.fail(extra.pos, "only one globals section".into()));
        }
    }
    if let Some(s) = package
        .sections
        .iter()
        .find(|s| !matches!(s.kind.as_str(), "interface" | "globals" | "server"))
    {
        return Err(reader.fail(
            s.pos,
            format!(
                "unknown section type {:?} (interface, globals or server)",
                s.kind
            ),
        ));
    }
    if let Err(e) = mm.validate() {
        let pos = e
            .iface
            .as_deref()
            .and_then(|n| package.section(n))
            .map_or(Pos { line: 1, col: 1 }, |s| s.pos);
        return Err(reader.fail(pos, e.to_string()));
    }
    Ok(MimmConfig { mm })
}
