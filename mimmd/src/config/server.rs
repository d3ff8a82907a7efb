//! `config server`: where the MIMM server is and how mimmd authenticates to
//! it (Mobile IPv4 mobile–home authentication: an SPI and a shared key).
//! Read and checked now so a file written today stays valid; the client of
//! the server protocol uses it.

use std::net::{Ipv4Addr, SocketAddrV4};

use mimm_uci::Section;

use mimm_uci::ConfigError;

use crate::config::Fields;

pub(crate) const OPTIONS: &[&str] = &["enabled", "address", "spi", "key"];

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
        Ok(ServerConfig {
            enabled: self.flag(s, what, "enabled")?.unwrap_or(true),
            address,
            spi,
            key,
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
}
