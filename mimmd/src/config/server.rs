//! `config server`: where the MIMM server is, how mimmd authenticates to
//! it (Mobile IPv4 mobile–home authentication: an SPI, a shared key and
//! the algorithm), how often it reports, and the users' sessions it
//! declares for the server's admission control.

use std::net::{Ipv4Addr, SocketAddrV4};

use mimm_proto::auth::Algorithm;
use mimm_proto::mimm::Session;
use mimm_uci::Section;

use mimm_uci::ConfigError;

use crate::config::Fields;

pub(crate) const OPTIONS: &[&str] = &[
    "enabled",
    "address",
    "spi",
    "key",
    "algorithm",
    "enterprise",
    "window_s",
    "report_s",
    "session",
];

/// Mobile IPv4's registration port (RFC 5944).
pub const DEFAULT_PORT: u16 = 434;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub enabled: bool,
    pub address: SocketAddrV4,
    /// Security parameter index; 0..255 are reserved by RFC 5944.
    pub spi: u32,
    /// The shared secret (at least 128 bits).
    pub key: Vec<u8>,
    pub algorithm: Algorithm,
    /// IANA enterprise number of the MIMM vendor extensions (the server's).
    pub enterprise: u32,
    /// How far the server's clock may be from ours, seconds.
    pub window_s: u32,
    /// A report at least this often, seconds.
    pub report_s: u32,
    /// `list session 'KIND:KBPS'`: the users' sessions (voice and video
    /// are real-time).
    pub sessions: Vec<Session>,
}

/// `KIND:KBPS` with KIND voice, video, bulk or other.
fn parse_session(text: &str) -> Option<Session> {
    let (kind, kbps) = text.split_once(':')?;
    let kind = match kind {
        "other" => 0,
        "voice" => 1,
        "video" => 2,
        "bulk" => 3,
        _ => return None,
    };
    Some(Session {
        kind,
        realtime: kind == 1 || kind == 2,
        kbps: kbps.parse().ok()?,
    })
}

fn parse_address(text: &str) -> Option<SocketAddrV4> {
    text.parse::<SocketAddrV4>().ok().or_else(|| {
        text.parse::<Ipv4Addr>()
            .ok()
            .map(|ip| SocketAddrV4::new(ip, DEFAULT_PORT))
    })
}

impl Fields<'_> {
    pub(crate) fn server(&self, s: &Section) -> Result<ServerConfig, ConfigError> {
        let what = "server";
        let at = |option: &str| s.option(option).map_or(s.pos, |o| o.pos);
        let required = |option: &str| {
            self.string(s, what, option)?
                .ok_or_else(|| self.fail(s.pos, format!("{what}: option {option} is required")))
        };
        let text = required("address")?;
        let address = parse_address(&text).ok_or_else(|| {
            self.fail(
                at("address"),
                format!("{what}: address {text:?} is not IPV4 or IPV4:PORT"),
            )
        })?;
        let spi = self
            .value::<u32>(s, what, "spi", "a security parameter index")?
            .ok_or_else(|| self.fail(s.pos, format!("{what}: option spi is required")))?;
        if spi < 256 {
            return Err(self.fail(
                at("spi"),
                format!("{what}: spi {spi} is reserved (0..255); use 256 or more"),
            ));
        }
        let text = required("key")?;
        let key = mimm_proto::auth::key_from_hex(&text)
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| {
                self.fail(
                    at("key"),
                    format!("{what}: key must be at least 32 hex digits (128 bits)"),
                )
            })?;
        let algorithm = match self.string(s, what, "algorithm")? {
            None => Algorithm::HmacSha256,
            Some(a) => Algorithm::from_name(&a).ok_or_else(|| {
                self.fail(
                    at("algorithm"),
                    format!("{what}: algorithm {a:?} must be hmac-sha256 or hmac-md5"),
                )
            })?,
        };
        let report_s = self
            .value::<u32>(s, what, "report_s", "seconds")?
            .unwrap_or(20);
        if report_s == 0 {
            return Err(self.fail(
                at("report_s"),
                format!("{what}: report_s must be 1 or more"),
            ));
        }
        let (texts, pos) = self.list(s, "session");
        if texts.len() > mimm_proto::mimm::MAX_SESSIONS {
            return Err(self.fail(
                pos,
                format!(
                    "{what}: at most {} sessions",
                    mimm_proto::mimm::MAX_SESSIONS
                ),
            ));
        }
        let sessions = texts
            .iter()
            .map(|t| {
                parse_session(t).ok_or_else(|| {
                    self.fail(
                        pos,
                        format!(
                            "{what}: session {t:?} must be KIND:KBPS, KIND voice, video, bulk or other"
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServerConfig {
            enabled: self.flag(s, what, "enabled")?.unwrap_or(true),
            address,
            spi,
            key,
            algorithm,
            enterprise: self
                .value(s, what, "enterprise", "an IANA enterprise number")?
                .unwrap_or(mimm_proto::DOC_ENTERPRISE),
            window_s: self.value(s, what, "window_s", "seconds")?.unwrap_or(7),
            report_s,
            sessions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            parse_address("192.0.2.1"),
            Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 434))
        );
        assert_eq!(
            parse_address("192.0.2.1:4434"),
            Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 4434))
        );
        assert_eq!(parse_address("server.example"), None);
    }

    #[test]
    fn sessions_parse() {
        let voice = parse_session("voice:64").unwrap();
        assert!(voice.realtime && voice.kbps == 64 && voice.kind == 1);
        assert!(!parse_session("bulk:5000").unwrap().realtime);
        assert_eq!(parse_session("voice"), None);
        assert_eq!(parse_session("chat:10"), None);
        assert_eq!(parse_session("video:-1"), None);
    }
}
