//! Link technologies, as far as the MM cares: defaults and a small score bonus.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    Ethernet,
    Wifi,
    /// 5G NR.
    Nr,
    Lte,
    /// HSPA, UMTS and older cellular.
    Legacy,
    Other,
}

impl LinkKind {
    /// Reads the kinds trace files use (`5g`, `lte`, `hspa`, `wifi`, ...);
    /// any other is [`LinkKind::Other`].
    pub fn parse(text: &str) -> LinkKind {
        LinkKind::parse_known(text).unwrap_or(LinkKind::Other)
    }

    /// [`LinkKind::parse`] for a configuration: `None` for a name it does
    /// not know (a typo must not pass as `other`).
    pub fn parse_known(text: &str) -> Option<LinkKind> {
        Some(match text.to_ascii_lowercase().as_str() {
            "ethernet" | "eth" | "wired" => LinkKind::Ethernet,
            "wifi" | "wlan" | "wi-fi" => LinkKind::Wifi,
            "5g" | "nr" | "5gnr" => LinkKind::Nr,
            "lte" | "4g" => LinkKind::Lte,
            "hspa" | "hspa+" | "hsdpa" | "umts" | "wcdma" | "3g" | "edge" | "gprs" | "2g" => {
                LinkKind::Legacy
            }
            "other" => LinkKind::Other,
            _ => return None,
        })
    }

    pub fn is_cellular(self) -> bool {
        matches!(self, LinkKind::Nr | LinkKind::Lte | LinkKind::Legacy)
    }

    /// Preference between technologies at equal quality, 0..=1: wired before
    /// Wi-Fi before newer cellular. Small on purpose: quality decides first.
    pub fn bonus(self) -> f64 {
        match self {
            LinkKind::Ethernet => 1.0,
            LinkKind::Wifi => 0.7,
            LinkKind::Nr => 0.6,
            LinkKind::Lte => 0.5,
            LinkKind::Legacy => 0.2,
            LinkKind::Other => 0.3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkKind::Ethernet => "ethernet",
            LinkKind::Wifi => "wifi",
            LinkKind::Nr => "nr",
            LinkKind::Lte => "lte",
            LinkKind::Legacy => "legacy",
            LinkKind::Other => "other",
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
