//! Logs to stderr (procd hands them to logd), one line per event, at the
//! level the configuration's `log_level` sets; `MIMMD_LOG` in the
//! environment overrides it (for a debugging session without editing the
//! file). A reload changes the level without a restart.

use mimm_io::log::LevelHandle;
use tracing::level_filters::LevelFilter;

/// The names `log_level` takes.
pub const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

pub fn parse_level(text: &str) -> Option<LevelFilter> {
    LEVELS.contains(&text).then(|| text.parse().ok()).flatten()
}

/// Changes the level of the installed logger.
pub struct LogLevel {
    handle: LevelHandle,
    /// Set by `MIMMD_LOG`: the configuration does not change it then.
    forced: bool,
}

impl LogLevel {
    /// Installs the logger at `MIMMD_LOG`'s level, else info.
    pub fn install() -> LogLevel {
        let env = std::env::var("MIMMD_LOG")
            .ok()
            .and_then(|v| parse_level(&v));
        let handle = mimm_io::log::install(env.unwrap_or(LevelFilter::INFO));
        LogLevel {
            handle,
            forced: env.is_some(),
        }
    }

    /// The configuration's level (already checked when it was read).
    pub fn set(&self, level: &str) {
        if let (false, Some(level)) = (self.forced, parse_level(level)) {
            self.handle.set(level);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_names_parse() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("off"), Some(LevelFilter::OFF));
        assert_eq!(parse_level("DEBUG"), None);
        assert_eq!(parse_level("5"), None);
        assert_eq!(parse_level("verbose"), None);
    }
}
