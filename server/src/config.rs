//! `/etc/config/mimm-server`:
//!
//! ```text
//! config server 'server'
//!     option address '0.0.0.0'        # where to listen
//!     option port '434'               # UDP, the Mobile IP registration port
//!     option enterprise '32473'       # IANA enterprise number of the MIMM extensions
//!     option window_s '7'             # replay window for Identification timestamps
//!     option headroom_pct '10'        # real-time capacity kept free
//!     option retransmit_ms '500'      # Reactive Advice: first retransmission...
//!     option retransmit_max_ms '8000' # ...doubling up to this...
//!     option advice_tries '8'         # ...this many sends in all
//!     option advice_repeat_s '60'     # clients still on an alarmed network: again (0: off)
//!
//! config client 'bus17'               # one per router
//!     option spi '1000'               # 256 or more (RFC 5944 reserves 0..255)
//!     option key '00112233445566778899aabbccddeeff'   # hex, at least 128 bits
//!     option algorithm 'hmac-sha256'  # or hmac-md5
//!     option home '10.64.0.9'         # its home address at the anchor (else one of the pool)
//!
//! config network '26201'              # a network id as clients report it (PLMN, SSID)
//!     option capacity_kbps '20000'    # real-time capacity; absent: no admission control
//!
//! config alarm 'cell17_down'          # an SNMP trap that means "leave this network"
//!     option trap_oid '1.3.6.1.6.3.1.1.5.3'   # linkDown (v1 traps map as RFC 3584 says)
//!     option match_oid '1.3.6.1.2.1.2.2.1.1'  # optional: only when this varbind...
//!     option match_value '17'                 # ...has this value
//!     option network '26201'
//!     option reason 'cell 17 down'    # default: the section name
//!     option expiry_s '300'           # -1: for the clients' whole session
//!
//! config anchor 'anchor'              # at most one: the Mobile IP home agent (anchored mode)
//!     option address '10.64.0.1'      # its inner address, on its TUN (clients' home_agent)
//!     option pool '10.64.0.2-10.64.0.254'   # home addresses handed out
//!     option tun 'mimm-anchor0'       # the TUN it creates (1..15 bytes, no '/', ':', spaces)
//!     option mtu '1420'               # the TUN's MTU (a sealed packet is 54 bytes more)
//!     option max_lifetime_s '600'     # the longest binding granted
//!     option cipher 'chacha20-poly1305'   # or 'none' (clear; a client asking otherwise is refused, code 139)
//! ```
//!
//! `option rts_socket '/var/run/mimm-server-rts.sock'` in the server
//! section opens the RTS feed (see [`crate::rts`]).
//!
//! With at least one alarm the server listens for traps on `snmp_port`
//! (server section, default 162) and accepts the communities of
//! `list community` there (required then).
//!
//! With an anchor, tunnel data (RFC 3519, type 4) shares the server's port;
//! the host must forward (`net.ipv4.ip_forward=1`) and route or NAT the
//! pool (see [`crate::anchor_shell`]).
//!
//! Errors name file:line:col, the section and the option; nothing is
//! applied from a file with an error.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

mod anchor;
pub use anchor::AnchorTun;
use anchor::FixedHome;

use mimm_proto::auth::{Algorithm, key_from_hex};
use mimm_uci::{ConfigError, Package, Reader};

use crate::core::{ClientKey, NetworkConfig, ServerConfig};
use crate::snmp::AlarmRule;

pub const DEFAULT_FILE: &str = "/etc/config/mimm-server";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    /// The RTS feed's unix datagram socket, when configured.
    pub rts_socket: Option<std::path::PathBuf>,
    pub server: ServerConfig,
    /// The anchor's TUN, with `server.anchor`.
    pub anchor_tun: Option<AnchorTun>,
    /// `None` without any `config alarm`.
    pub snmp: Option<SnmpConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnmpConfig {
    pub listen: SocketAddr,
    pub communities: Vec<String>,
    pub rules: Vec<AlarmRule>,
}

pub fn load(file: &Path) -> Result<Config, String> {
    let package = Package::from_path(file).map_err(|e| e.to_string())?;
    from_package(&package, file).map_err(|e| e.to_string())
}

pub fn from_package(package: &Package, file: &Path) -> Result<Config, ConfigError> {
    let r = Reader { file };
    let mut server = ServerConfig::default();
    let mut address = Ipv4Addr::UNSPECIFIED;
    let mut port = 434u16;
    let mut snmp_port = 162u16;
    let mut rts_socket = None;
    let mut communities = Vec::new();
    for s in package.sections_of("server") {
        let what = "server";
        r.check_known(
            s,
            &[
                "address",
                "port",
                "enterprise",
                "window_s",
                "headroom_pct",
                "retransmit_ms",
                "retransmit_max_ms",
                "advice_tries",
                "advice_repeat_s",
                "snmp_port",
                "community",
                "rts_socket",
            ],
            what,
        )?;
        if let Some(p) = r.value::<String>(s, what, "rts_socket", "a path")? {
            rts_socket = Some(p.into());
        }
        if let Some(p) = r.value(s, what, "snmp_port", "a port 1..65535")? {
            snmp_port = p;
        }
        let (list, _) = r.list(s, "community");
        if !list.is_empty() {
            communities = list;
        }
        if let Some(a) = r.value(s, what, "address", "an IPv4 address")? {
            address = a;
        }
        if let Some(p) = r.value(s, what, "port", "a port 1..65535")? {
            port = p;
        }
        if let Some(v) = r.value(s, what, "enterprise", "an IANA enterprise number")? {
            server.vendor = v;
        }
        if let Some(v) = r.value(s, what, "window_s", "seconds")? {
            server.window_s = v;
        }
        if let Some(v) = r.value::<u32>(s, what, "headroom_pct", "a percentage 0..90")? {
            if v > 90 {
                let pos = s.option("headroom_pct").map_or(s.pos, |o| o.pos);
                return Err(r.fail(pos, format!("{what}: headroom_pct {v} must be 0..90")));
            }
            server.headroom_pct = v;
        }
        if let Some(v) = r.value(s, what, "retransmit_ms", "milliseconds")? {
            server.retransmit_ms = v;
        }
        if let Some(v) = r.value(s, what, "retransmit_max_ms", "milliseconds")? {
            server.retransmit_max_ms = v;
        }
        if let Some(v) = r.value(s, what, "advice_tries", "a count")? {
            server.advice_tries = v;
        }
        if let Some(v) = r.value::<u64>(s, what, "advice_repeat_s", "seconds")? {
            server.advice_repeat_ms = v * 1000;
        }
    }
    let mut homes = Vec::new();
    for s in package.sections_of("client") {
        let name = s.name.clone().unwrap_or_default();
        let what = format!("client {name}");
        let what = what.as_str();
        r.check_known(s, &["spi", "key", "algorithm", "home"], what)?;
        let at = |o: &str| s.option(o).map_or(s.pos, |o| o.pos);
        let spi: u32 = r
            .value(s, what, "spi", "an SPI (256 or more)")?
            .ok_or_else(|| r.fail(s.pos, format!("{what}: option spi is required")))?;
        if spi < 256 {
            return Err(r.fail(at("spi"), format!("{what}: spi {spi} is reserved (0..255)")));
        }
        if let Some(other) = server.clients.iter().find(|c| c.spi == spi) {
            return Err(r.fail(
                at("spi"),
                format!("{what}: spi {spi} is client {}'s already", other.name),
            ));
        }
        let text: String = r
            .value(s, what, "key", "hex digits")?
            .ok_or_else(|| r.fail(s.pos, format!("{what}: option key is required")))?;
        let key = key_from_hex(&text)
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| {
                r.fail(
                    at("key"),
                    format!("{what}: key must be at least 32 hex digits (128 bits)"),
                )
            })?;
        let algorithm = match r.value::<String>(s, what, "algorithm", "an algorithm")? {
            None => Algorithm::HmacSha256,
            Some(a) => Algorithm::from_name(&a).ok_or_else(|| {
                r.fail(
                    at("algorithm"),
                    format!("{what}: algorithm {a:?} must be hmac-sha256 or hmac-md5"),
                )
            })?,
        };
        if let Some(home) = r.value(s, what, "home", "an IPv4 address")? {
            let (client, pos) = (name.clone(), at("home"));
            homes.push(FixedHome {
                client,
                spi,
                home,
                pos,
            });
        }
        server.clients.push(ClientKey {
            name,
            spi,
            algorithm,
            key,
        });
    }
    for s in package.sections_of("network") {
        let Some(id) = s.name.clone() else {
            return Err(r.fail(
                s.pos,
                "network sections need a name: config network 'ID'".into(),
            ));
        };
        let what = format!("network {id}");
        r.check_known(s, &["capacity_kbps"], &what)?;
        let capacity_kbps = r.value(s, &what, "capacity_kbps", "kbit/s")?;
        server.networks.push(NetworkConfig { id, capacity_kbps });
    }
    let (anchor, anchor_tun) = anchor::section(&r, package, &homes)?.unzip();
    server.anchor = anchor;
    let rules = alarms(&r, package)?;
    let kinds = ["server", "client", "network", "alarm", "anchor"];
    for s in &package.sections {
        if !kinds.contains(&s.kind.as_str()) {
            return Err(r.fail(
                s.pos,
                format!("unknown section type {:?} ({})", s.kind, kinds.join(", ")),
            ));
        }
    }
    let snmp = match (rules.first(), communities.is_empty()) {
        (None, _) => None,
        (Some(_), true) => {
            let pos = package
                .sections_of("alarm")
                .next()
                .map_or_else(Default::default, |s| s.pos);
            return Err(r.fail(
                pos,
                "alarms need the communities traps may use: list community in config server".into(),
            ));
        }
        (Some(_), false) => Some(SnmpConfig {
            listen: SocketAddr::from((address, snmp_port)),
            communities,
            rules,
        }),
    };
    Ok(Config {
        listen: SocketAddr::from((address, port)),
        rts_socket,
        server,
        anchor_tun,
        snmp,
    })
}

/// Every `config alarm` section.
fn alarms(r: &Reader, package: &Package) -> Result<Vec<AlarmRule>, ConfigError> {
    let mut rules = Vec::new();
    for s in package.sections_of("alarm") {
        let name = s.name.clone().unwrap_or_default();
        let what = format!("alarm {name}");
        let what = what.as_str();
        let at = |o: &str| s.option(o).map_or(s.pos, |o| o.pos);
        r.check_known(
            s,
            &[
                "trap_oid",
                "match_oid",
                "match_value",
                "network",
                "reason",
                "expiry_s",
            ],
            what,
        )?;
        let required = |option: &str| -> Result<String, ConfigError> {
            r.value::<String>(s, what, option, "text")?
                .ok_or_else(|| r.fail(s.pos, format!("{what}: option {option} is required")))
        };
        let trap_oid = required("trap_oid")?;
        if !oid_ok(&trap_oid) {
            return Err(r.fail(
                at("trap_oid"),
                format!("{what}: trap_oid {trap_oid:?} is not a dotted OID"),
            ));
        }
        let match_oid = r.value::<String>(s, what, "match_oid", "an OID")?;
        let match_value = r.value::<String>(s, what, "match_value", "text")?;
        let match_var = match (match_oid, match_value) {
            (Some(o), Some(v)) if oid_ok(&o) => Some((o, v)),
            (None, None) => None,
            _ => {
                return Err(r.fail(
                    at("match_oid"),
                    format!("{what}: match_oid (a dotted OID) and match_value go together"),
                ));
            }
        };
        let expiry_s: i32 = r
            .value(s, what, "expiry_s", "seconds or -1")?
            .unwrap_or(300);
        if expiry_s < -1 {
            return Err(r.fail(
                at("expiry_s"),
                format!("{what}: expiry_s {expiry_s} must be -1 or more"),
            ));
        }
        rules.push(AlarmRule {
            reason: r
                .value(s, what, "reason", "text")?
                .unwrap_or_else(|| name.clone()),
            name,
            trap_oid,
            match_var,
            network: required("network")?,
            expiry_s,
        });
    }
    Ok(rules)
}

fn oid_ok(text: &str) -> bool {
    text.split('.').count() >= 2
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn parse(text: &str) -> Result<Config, String> {
        let p = Package::parse(text, "mimm-server").map_err(|e| e.to_string())?;
        from_package(&p, Path::new("/etc/config/mimm-server")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_file_and_errors_that_name_the_place() {
        let c = parse(
            "config server 'server'\n\toption port '4434'\n\toption window_s '3'\n\
             config client 'bus1'\n\toption spi '1000'\n\toption key '00112233445566778899aabbccddeeff'\n\
             config client 'bus2'\n\toption spi '1001'\n\toption key '00112233445566778899aabbccddeeff'\n\toption algorithm 'hmac-md5'\n\
             config network 'A'\n\toption capacity_kbps '2000'\n",
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:4434".parse().unwrap());
        assert_eq!(c.server.window_s, 3);
        assert_eq!(c.server.clients.len(), 2);
        assert_eq!(c.server.clients[1].algorithm, Algorithm::HmacMd5);
        assert_eq!(c.server.networks[0].capacity_kbps, Some(2000));
        let e = parse("config client 'b'\n\toption spi '1000'\n\toption key '0011'\n").unwrap_err();
        assert_eq!(
            e,
            "/etc/config/mimm-server:3:2: client b: key must be at least 32 hex digits (128 bits)"
        );
        let e = parse("config client 'b'\n\toption spi '12'\n\toption key '00112233445566778899aabbccddeeff'\n").unwrap_err();
        assert!(e.contains(":2:2: client b: spi 12 is reserved"), "{e}");
        let e = parse("config server\n\toption prot '1'\n").unwrap_err();
        assert!(e.contains(":2:2: server: unknown option \"prot\""), "{e}");
    }
}

#[cfg(test)]
mod shipped {
    /// The default /etc/config/mimm-server the package installs is valid.
    #[test]
    fn the_shipped_file_loads() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../uci/files/mimm-server");
        let c = super::load(&file).unwrap();
        assert_eq!(c.listen.port(), 434);
        assert!(c.server.clients.is_empty() && c.snmp.is_none());
    }

    /// The Debian example /etc/mimm/mimm-server (dist/debian) is valid: a
    /// client, an anchor, every address.
    #[test]
    fn the_debian_example_loads() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/debian/mimm-server");
        let c = super::load(&file).unwrap();
        assert_eq!(c.listen, "0.0.0.0:434".parse().unwrap());
        assert_eq!(c.server.clients.len(), 1);
        let anchor = c.server.anchor.expect("an anchor");
        assert_eq!(anchor.address, std::net::Ipv4Addr::new(10, 64, 0, 1));
        assert_eq!(c.anchor_tun.map(|t| t.name), Some("mimm-anchor0".into()));
    }
}
