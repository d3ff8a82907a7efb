//! `config anchor` (at most one) and the clients' `option home`: the
//! anchor's core settings ([`AnchorConfig`]) and its shell's (the TUN).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use mimm_tunnel::cipher::Cipher;
use mimm_uci::{ConfigError, Package, Pos, Reader, Section};

use crate::anchor::AnchorConfig;

/// The shell's part of `config anchor`: the TUN it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorTun {
    pub name: String,
    pub mtu: u32,
}

/// A client's `option home`: its SPI, the address, where it was given.
pub(super) struct FixedHome {
    pub client: String,
    pub spi: u32,
    pub home: Ipv4Addr,
    pub pos: Pos,
}

/// Room for a sealed 1420-byte packet in a 1500-byte outer one (54 bytes of
/// outer IPv4, UDP and tunnel header and tag), with some to spare: the
/// VSD's default.
const DEFAULT_MTU: u32 = 1420;

const KNOWN: &[&str] = &["address", "pool", "tun", "mtu", "max_lifetime_s", "cipher"];

fn at(s: &Section, option: &str) -> Pos {
    s.option(option).map_or(s.pos, |o| o.pos)
}

/// The anchor's settings, `None` without a `config anchor` section (then no
/// client may have a fixed home).
pub(super) fn section(
    r: &Reader,
    package: &Package,
    homes: &[FixedHome],
) -> Result<Option<(AnchorConfig, AnchorTun)>, ConfigError> {
    let mut sections = package.sections_of("anchor");
    let Some(s) = sections.next() else {
        return match homes.first() {
            Some(h) => Err(r.fail(
                h.pos,
                format!(
                    "client {}: option home needs a config anchor section",
                    h.client
                ),
            )),
            None => Ok(None),
        };
    };
    if let Some(second) = sections.next() {
        return Err(r.fail(second.pos, "anchor: only one config anchor section".into()));
    }
    let what = "anchor";
    r.check_known(s, KNOWN, what)?;
    let required = |option: &str| r.fail(s.pos, format!("{what}: option {option} is required"));
    let address: Ipv4Addr = r
        .value(s, what, "address", "an IPv4 address")?
        .ok_or_else(|| required("address"))?;
    let pool = pool(r, s, address)?.ok_or_else(|| required("pool"))?;
    let tun = AnchorTun {
        name: tun_name(r, s)?.ok_or_else(|| required("tun"))?,
        mtu: mtu(r, s)?,
    };
    let max_lifetime_s = match r.value::<u16>(s, what, "max_lifetime_s", "seconds 1..65535")? {
        Some(0) => {
            let e = format!("{what}: max_lifetime_s must be 1..65535");
            return Err(r.fail(at(s, "max_lifetime_s"), e));
        }
        other => other.unwrap_or(600),
    };
    let cipher = cipher(r, s)?;
    let fixed = fixed_homes(r, homes, address)?;
    let cfg = AnchorConfig {
        address,
        pool,
        fixed,
        max_lifetime_s,
        cipher,
    };
    Ok(Some((cfg, tun)))
}

/// `option pool 'FIRST-LAST'`: IPv4, in order, unicast, without the
/// anchor's own address.
fn pool(
    r: &Reader,
    s: &Section,
    address: Ipv4Addr,
) -> Result<Option<(Ipv4Addr, Ipv4Addr)>, ConfigError> {
    let Some(text) = r.string(s, "anchor", "pool")? else {
        return Ok(None);
    };
    let fail = |why: &str| r.fail(at(s, "pool"), format!("anchor: pool {text:?} {why}"));
    let ends = text
        .split_once('-')
        .map(|(a, b)| (a.trim().parse(), b.trim().parse()));
    let Some((Ok(first), Ok(last))) = ends else {
        return Err(fail("is not FIRST-LAST, two IPv4 addresses"));
    };
    let (first, last): (Ipv4Addr, Ipv4Addr) = (first, last);
    if first > last {
        return Err(fail("must start at or before its last address"));
    }
    // 0.0.0.0 is what a client asks for to be given an address.
    if first.is_unspecified() || last >= Ipv4Addr::new(224, 0, 0, 0) {
        return Err(fail(
            "must be unicast addresses (not 0.0.0.0, multicast or broadcast)",
        ));
    }
    if (first..=last).contains(&address) {
        return Err(fail(&format!("holds the anchor's own address {address}")));
    }
    Ok(Some((first, last)))
}

/// `option tun`: a name the kernel takes for a device (1..15 bytes, no
/// '/', ':' or white space, not "." or "..").
fn tun_name(r: &Reader, s: &Section) -> Result<Option<String>, ConfigError> {
    let Some(name) = r.string(s, "anchor", "tun")? else {
        return Ok(None);
    };
    let bad_byte = name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace());
    if name.is_empty() || name.len() > 15 || bad_byte || name == "." || name == ".." {
        return Err(r.fail(
            at(s, "tun"),
            format!(
                "anchor: tun {name:?} is not a device name (1..15 bytes, no '/', ':' or spaces)"
            ),
        ));
    }
    Ok(Some(name))
}

fn mtu(r: &Reader, s: &Section) -> Result<u32, ConfigError> {
    match r.value::<u32>(s, "anchor", "mtu", "bytes 576..9000")? {
        None => Ok(DEFAULT_MTU),
        Some(m) if (576..=9000).contains(&m) => Ok(m),
        Some(m) => Err(r.fail(at(s, "mtu"), format!("anchor: mtu {m} must be 576..9000"))),
    }
}

fn cipher(r: &Reader, s: &Section) -> Result<Cipher, ConfigError> {
    let Some(name) = r.string(s, "anchor", "cipher")? else {
        return Ok(Cipher::default());
    };
    Cipher::from_name(&name).ok_or_else(|| {
        r.fail(
            at(s, "cipher"),
            format!(
                "anchor: cipher {name:?} is not one of {}",
                Cipher::NAMES.join(", ")
            ),
        )
    })
}

/// The clients' fixed homes: one client each, not the anchor's address.
fn fixed_homes(
    r: &Reader,
    homes: &[FixedHome],
    address: Ipv4Addr,
) -> Result<BTreeMap<u32, Ipv4Addr>, ConfigError> {
    let mut owners: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
    for h in homes {
        let what = format!("client {}: home {}", h.client, h.home);
        if h.home == address || h.home.is_unspecified() || h.home.is_multicast() {
            let e =
                format!("{what} cannot be a home address (unspecified, multicast or the anchor's)");
            return Err(r.fail(h.pos, e));
        }
        if let Some(other) = owners.insert(h.home, &h.client) {
            return Err(r.fail(h.pos, format!("{what} is client {other}'s already")));
        }
    }
    Ok(homes.iter().map(|h| (h.spi, h.home)).collect())
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use mimm_tunnel::cipher::Cipher;

    const CLIENT: &str = "config client 'bus1'\n\toption spi '1000'\n\toption key '00112233445566778899aabbccddeeff'\n";

    fn with_anchor(options: &str) -> Result<super::super::Config, String> {
        parse(&format!(
            "{CLIENT}config anchor 'anchor'\n\toption address '10.64.0.1'\n{options}"
        ))
    }

    const OK: &str = "\toption pool '10.64.0.2-10.64.0.254'\n\toption tun 'mimm-anchor0'\n";

    #[test]
    fn an_anchor_section_and_a_fixed_home() {
        let c = parse(&format!(
            "{CLIENT}\toption home '10.64.1.9'\n\
             config anchor 'anchor'\n\toption address '10.64.0.1'\n{OK}\
             \toption max_lifetime_s '300'\n\toption cipher 'chacha20-poly1305'\n\toption mtu '1400'\n"
        ))
        .unwrap();
        let a = c.server.anchor.expect("an anchor");
        assert_eq!(a.address, std::net::Ipv4Addr::new(10, 64, 0, 1));
        assert_eq!(a.pool.0, std::net::Ipv4Addr::new(10, 64, 0, 2));
        assert_eq!(a.pool.1, std::net::Ipv4Addr::new(10, 64, 0, 254));
        assert_eq!(a.max_lifetime_s, 300);
        assert_eq!(
            a.fixed,
            [(1000, std::net::Ipv4Addr::new(10, 64, 1, 9))].into()
        );
        let tun = c.anchor_tun.unwrap();
        assert_eq!((tun.name.as_str(), tun.mtu), ("mimm-anchor0", 1400));
        assert_eq!(a.cipher, Cipher::ChaCha20Poly1305);
        // Defaults: 600 s, MTU 1420, sealed; and no anchor without the section.
        let c = with_anchor(OK).unwrap();
        let a = c.server.anchor.unwrap();
        assert_eq!(
            (a.max_lifetime_s, a.cipher),
            (600, Cipher::ChaCha20Poly1305)
        );
        assert_eq!(c.anchor_tun.unwrap().mtu, 1420);
        let c = with_anchor(&format!("{OK}\toption cipher 'none'\n")).unwrap();
        assert_eq!(c.server.anchor.unwrap().cipher, Cipher::None);
        let c = parse(CLIENT).unwrap();
        assert!(c.server.anchor.is_none() && c.anchor_tun.is_none());
    }

    /// Each bad file's error, naming file:line:col and the option.
    #[test]
    fn bad_anchor_settings_are_refused_where_they_are() {
        let cases: &[(&str, &str)] = &[
            (
                "\toption pool '10.64.0.9-10.64.0.2'\n\toption tun 't'\n",
                ":6:2: anchor: pool \"10.64.0.9-10.64.0.2\" must start at or before its last",
            ),
            (
                "\toption pool '10.64.0.1-10.64.0.9'\n\toption tun 't'\n",
                ":6:2: anchor: pool \"10.64.0.1-10.64.0.9\" holds the anchor's own address 10.64.0.1",
            ),
            (
                "\toption pool '10.64.0.2'\n\toption tun 't'\n",
                ":6:2: anchor: pool \"10.64.0.2\" is not FIRST-LAST",
            ),
            (
                "\toption pool '10.64.0.2-10.64.0.x'\n\toption tun 't'\n",
                ":6:2: anchor: pool \"10.64.0.2-10.64.0.x\" is not FIRST-LAST",
            ),
            (
                "\toption pool '0.0.0.0-10.0.0.9'\n\toption tun 't'\n",
                ":6:2: anchor: pool \"0.0.0.0-10.0.0.9\" must be unicast",
            ),
            (
                "\toption pool '10.64.0.2-10.64.0.9'\n\toption tun 'mimm/anchor'\n",
                ":7:2: anchor: tun \"mimm/anchor\" is not a device name",
            ),
            (
                "\toption pool '10.64.0.2-10.64.0.9'\n\toption tun 'a-name-too-long-x'\n",
                ":7:2: anchor: tun \"a-name-too-long-x\" is not a device name",
            ),
            (
                "\toption pool '10.64.0.2-10.64.0.9'\n\toption tun 'an0:1'\n",
                ":7:2: anchor: tun \"an0:1\" is not a device name",
            ),
            (
                "\toption pool '10.64.0.2-10.64.0.9'\n",
                ":4:1: anchor: option tun is required",
            ),
            (
                "\toption tun 't'\n",
                ":4:1: anchor: option pool is required",
            ),
            (
                &format!("{OK}\toption cipher 'aes'\n"),
                ":8:2: anchor: cipher \"aes\" is not one of chacha20-poly1305, none",
            ),
            (
                &format!("{OK}\toption max_lifetime_s '0'\n"),
                ":8:2: anchor: max_lifetime_s must be 1..65535",
            ),
            (
                &format!("{OK}\toption max_lifetime_s '70000'\n"),
                ":8:2: anchor: option max_lifetime_s: \"70000\" is not seconds 1..65535",
            ),
            (
                &format!("{OK}\toption mtu '100'\n"),
                ":8:2: anchor: mtu 100 must be 576..9000",
            ),
            (
                &format!("{OK}\toption port '434'\n"),
                ":8:2: anchor: unknown option \"port\"",
            ),
            (
                &format!("{OK}config anchor 'second'\n"),
                ":8:1: anchor: only one config anchor section",
            ),
        ];
        for (options, want) in cases {
            let e = with_anchor(options).unwrap_err();
            assert!(
                e.starts_with("/etc/config/mimm-server:") && e.contains(want),
                "{options:?}: {e}"
            );
        }
        let e = parse(&format!(
            "{CLIENT}config anchor\n\toption pool '10.64.0.2-10.64.0.9'\n\toption tun 't'\n"
        ))
        .unwrap_err();
        assert!(
            e.ends_with(":4:1: anchor: option address is required"),
            "{e}"
        );
        let e = parse(&format!(
            "{CLIENT}config anchor\n\toption address '10.64.0.300'\n{OK}"
        ))
        .unwrap_err();
        assert!(
            e.contains(":5:2: anchor: option address: \"10.64.0.300\" is not an IPv4 address"),
            "{e}"
        );
    }

    #[test]
    fn fixed_homes_are_one_clients_each_and_need_an_anchor() {
        let two = "config client 'bus2'\n\toption spi '1001'\n\toption key '00112233445566778899aabbccddeeff'\n";
        let anchor = format!("config anchor 'anchor'\n\toption address '10.64.0.1'\n{OK}");
        let e = parse(&format!(
            "{CLIENT}\toption home '10.64.1.9'\n{two}\toption home '10.64.1.9'\n{anchor}"
        ))
        .unwrap_err();
        assert!(
            e.contains(":8:2: client bus2: home 10.64.1.9 is client bus1's already"),
            "{e}"
        );
        let e = parse(&format!("{CLIENT}\toption home '10.64.0.1'\n{anchor}")).unwrap_err();
        assert!(
            e.contains(":4:2: client bus1: home 10.64.0.1 cannot be a home address"),
            "{e}"
        );
        let e = parse(&format!("{CLIENT}\toption home '10.64.1.9'\n")).unwrap_err();
        assert!(
            e.contains(":4:2: client bus1: option home needs a config anchor section"),
            "{e}"
        );
        let e = parse(&format!("{CLIENT}\toption home 'ten'\n{anchor}")).unwrap_err();
        assert!(
            e.contains(":4:2: client bus1: option home: \"ten\" is not an IPv4 address"),
            "{e}"
        );
    }
}
