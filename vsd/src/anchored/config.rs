//! The anchored mode's options of a `config vsd` section:
//!
//! ```text
//! config vsd 'vsd0'
//!     option mode 'anchored'
//!     list member 'wwan0'             # raw-IP, PPP, Ethernet, Wi-Fi: each on its own ISP
//!     list member '3g-wan'
//!     option anchor '203.0.113.10'    # the anchor's public address (port 434, or ADDR:PORT)
//!     option home_agent '10.64.0.1'   # the anchor's own address inside the tunnel
//!     option home '0.0.0.0'           # the home address; 0.0.0.0 (default): from the anchor's pool
//!     option spi '1000'               # the MN-HA security context the anchor has for this router
//!     option key '00112233445566778899aabbccddeeff'   # hex, at least 128 bits
//!     option algorithm 'hmac-sha256'  # or hmac-md5
//!     option cipher 'chacha20-poly1305'   # of the tunnel packets; 'none': clear, for a trusted core (the anchor's must match)
//!     option lifetime_s '600'         # asked for; the anchor may grant less
//!     option keepalive_ms '1000'      # per path: holds the NAT mapping, measures RTT and loss
//!     option mark '0x6d6d'            # SO_MARK of the tunnel sockets (policy rules can match it)
//!     option mtu '1420'               # of vsd0: a member's 1500 (PPPoE: 1492) less the 54-byte tunnel
//! ```

use std::net::{Ipv4Addr, SocketAddrV4};

use mimm_proto::auth::{Algorithm, key_from_hex};
use mimm_tunnel::cipher::Cipher;
use mimm_uci::{ConfigError, Reader, Section};

pub const OPTIONS: &[&str] = &[
    "mode",
    "anchor",
    "home_agent",
    "home",
    "spi",
    "key",
    "algorithm",
    "lifetime_s",
    "keepalive_ms",
    "mark",
    "enterprise",
    "cipher",
];

/// The anchored VSD's MTU unless configured.
pub const DEFAULT_MTU: u32 = 1420;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchoredConfig {
    pub anchor: SocketAddrV4,
    pub home_agent: Ipv4Addr,
    pub home: Ipv4Addr,
    pub spi: u32,
    pub algorithm: Algorithm,
    pub key: Vec<u8>,
    pub lifetime_s: u16,
    pub keepalive_ms: u64,
    pub mark: u32,
    pub vendor: u32,
    pub cipher: Cipher,
}

fn parse_anchor(text: &str) -> Option<SocketAddrV4> {
    text.parse::<SocketAddrV4>()
        .ok()
        .or_else(|| Some(SocketAddrV4::new(text.parse().ok()?, 434)))
}

fn parse_mark(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The section's anchored settings: `None` in the default mode (where no
/// anchored option may appear).
pub fn read(r: &Reader, s: &Section, what: &str) -> Result<Option<AnchoredConfig>, ConfigError> {
    let at = |option: &str| s.option(option).map_or(s.pos, |o| o.pos);
    let mode = r.string(s, what, "mode")?;
    match mode.as_deref() {
        Some("anchored") => {}
        None | Some("shadow") => {
            if let Some(o) = OPTIONS[1..].iter().find(|o| s.option(o).is_some()) {
                return Err(r.fail(
                    at(o),
                    format!("{what}: option {o} needs option mode 'anchored'"),
                ));
            }
            return Ok(None);
        }
        Some(other) => {
            return Err(r.fail(
                at("mode"),
                format!("{what}: mode {other:?} must be shadow or anchored"),
            ));
        }
    }
    let required = |option: &str| {
        r.fail(
            s.pos,
            format!("{what}: mode anchored needs option {option}"),
        )
    };
    let text = r
        .string(s, what, "anchor")?
        .ok_or_else(|| required("anchor"))?;
    let anchor = parse_anchor(&text).ok_or_else(|| {
        r.fail(
            at("anchor"),
            format!("{what}: anchor {text:?} must be an IPv4 address, or ADDRESS:PORT"),
        )
    })?;
    let home_agent = r
        .value(s, what, "home_agent", "an IPv4 address")?
        .ok_or_else(|| required("home_agent"))?;
    let home = r
        .value(s, what, "home", "an IPv4 address")?
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let spi: u32 = r
        .value(s, what, "spi", "an SPI (256 or more)")?
        .ok_or_else(|| required("spi"))?;
    if spi < 256 {
        return Err(r.fail(at("spi"), format!("{what}: spi {spi} is reserved (0..255)")));
    }
    let text = r.string(s, what, "key")?.ok_or_else(|| required("key"))?;
    let key = key_from_hex(&text)
        .filter(|k| k.len() >= 16)
        .ok_or_else(|| {
            r.fail(
                at("key"),
                format!("{what}: key must be at least 32 hex digits (128 bits)"),
            )
        })?;
    let algorithm = match r.string(s, what, "algorithm")? {
        None => Algorithm::HmacSha256,
        Some(a) => Algorithm::from_name(&a).ok_or_else(|| {
            r.fail(
                at("algorithm"),
                format!("{what}: algorithm {a:?} must be hmac-sha256 or hmac-md5"),
            )
        })?,
    };
    let lifetime_s: u16 = r
        .value(s, what, "lifetime_s", "seconds 1..65535")?
        .unwrap_or(600);
    if lifetime_s == 0 {
        return Err(r.fail(
            at("lifetime_s"),
            format!("{what}: lifetime_s must be 1..65535"),
        ));
    }
    let keepalive_ms: u64 = r
        .value(s, what, "keepalive_ms", "milliseconds")?
        .unwrap_or(1000);
    if !(50..=60_000).contains(&keepalive_ms) {
        return Err(r.fail(
            at("keepalive_ms"),
            format!("{what}: keepalive_ms {keepalive_ms} must be 50..60000"),
        ));
    }
    let mark = match r.string(s, what, "mark")? {
        None => 0x6d6d,
        Some(t) => parse_mark(&t).ok_or_else(|| {
            r.fail(
                at("mark"),
                format!("{what}: mark {t:?} must be a number (0x... for hex)"),
            )
        })?,
    };
    let vendor = r
        .value(s, what, "enterprise", "an IANA enterprise number")?
        .unwrap_or(mimm_proto::DOC_ENTERPRISE);
    Ok(Some(AnchoredConfig {
        anchor,
        home_agent,
        home,
        spi,
        algorithm,
        key,
        lifetime_s,
        keepalive_ms,
        mark,
        vendor,
        cipher: cipher(r, s, what)?,
    }))
}

fn cipher(r: &Reader, s: &Section, what: &str) -> Result<Cipher, ConfigError> {
    let Some(name) = r.string(s, what, "cipher")? else {
        return Ok(Cipher::default());
    };
    Cipher::from_name(&name).ok_or_else(|| {
        let at = s.option("cipher").map_or(s.pos, |o| o.pos);
        let names = Cipher::NAMES.join(" or ");
        r.fail(at, format!("{what}: cipher {name:?} must be {names}"))
    })
}
