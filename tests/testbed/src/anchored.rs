//! The core network of an anchored testbed ([`crate::Testbed::up_anchored`]):
//! each ISP hides its subscribers behind its own address (nftables
//! masquerade, as carriers do), and a `core` namespace hangs off `inet`
//! with the anchor's public address. `inet` routes the anchor's home-address
//! pool to `core`, so a home address reaches the internet, and the internet
//! reaches it, only through the anchor.
//!
//! ```text
//!  router ──wwan0── isp1 (NAT) ──┐
//!         ──3g-wan── isp2 (NAT) ──┼── inet 198.51.100.1 ──core── core 203.0.113.1
//!         ──wlan0── isp3 (NAT) ──┘                                (anchor; 10.64.0.0/24 behind it)
//! ```
//!
//! The anchor itself (mimm-server with `config anchor`) is the caller's to
//! start in `core`: [`anchor_config`] writes its file, [`anchored_vsd_section`]
//! the router's side.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::Path;

/// The anchor's public address (its registrations and tunnels, UDP 434).
pub const ANCHOR_ADDR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The anchor's own address inside the tunnel (the home agent's).
pub const HOME_AGENT: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);
/// The home addresses the anchor hands out, and the prefix covering them.
pub const HOME_POOL: &str = "10.64.0.2-10.64.0.254";
pub const HOME_PREFIX: &str = "10.64.0.0/24";
/// The home address the first router to register gets.
pub const FIRST_HOME: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 2);
/// The veth between core and inet: `inet` in core, `core` in inet.
const CORE_SIDE: Ipv4Addr = Ipv4Addr::new(172, 16, 250, 1);
const INET_SIDE: Ipv4Addr = Ipv4Addr::new(172, 16, 250, 2);

/// Every ISP (and the upstream segment) masquerades what leaves it
/// towards the internet: its device `core` (see [`crate::plan`]).
pub const ISP_NAT: &str = "table ip isp_nat {\n chain post {\n  \
     type nat hook postrouting priority srcnat; policy accept;\n  \
     oifname \"core\" masquerade\n }\n}\n";

/// Run in `core`: creates the veth to inet (its peer lands in `inet_ns`).
pub fn veth(inet_ns: &str) -> String {
    format!("link add inet type veth peer name core netns {inet_ns}")
}

/// `core`'s addresses and route: the anchor's address, everything else via inet.
pub fn core_commands() -> Vec<String> {
    vec![
        format!("addr add {ANCHOR_ADDR}/32 dev lo"),
        "link set inet up".into(),
        format!("addr add {CORE_SIDE}/30 dev inet"),
        format!("route add default via {INET_SIDE}"),
    ]
}

/// `inet`'s side: the anchor and its home addresses are behind core.
pub fn inet_commands() -> Vec<String> {
    vec![
        "link set core up".into(),
        format!("addr add {INET_SIDE}/30 dev core"),
        format!("route add {ANCHOR_ADDR}/32 via {CORE_SIDE}"),
        format!("route add {HOME_PREFIX} via {CORE_SIDE}"),
    ]
}

/// The security context a router and the anchor share.
#[derive(Debug, Clone)]
pub struct AnchorClient<'a> {
    /// The UCI section name at the anchor.
    pub name: &'a str,
    pub spi: u32,
    /// Hex, 32 digits or more.
    pub key_hex: &'a str,
}

/// mimm-server's file for the anchor in `core`: listening on
/// [`ANCHOR_ADDR`]:434, the pool [`HOME_POOL`] on TUN `tun`.
pub fn anchor_config(client: &AnchorClient, tun: &str) -> String {
    let mut text = String::new();
    let _ = write!(
        text,
        "config server 'server'\n\toption address '{ANCHOR_ADDR}'\n\toption port '434'\n\
         config client '{}'\n\toption spi '{}'\n\toption key '{}'\n\
         config anchor 'anchor'\n\toption address '{HOME_AGENT}'\n\
         \toption pool '{HOME_POOL}'\n\toption tun '{tun}'\n",
        client.name, client.spi, client.key_hex
    );
    text
}

/// The router's `config vsd` section in mode anchored over `members`
/// (the first preferred), registering with the anchor as `client`.
pub fn anchored_vsd_section(
    name: &str,
    members: &[&str],
    client: &AnchorClient,
    keepalive_ms: u64,
    socket: &Path,
) -> String {
    let mut text = format!("config vsd '{name}'\n\toption mode 'anchored'\n");
    for m in members {
        let _ = writeln!(text, "\tlist member '{m}'");
    }
    let _ = write!(
        text,
        "\toption anchor '{ANCHOR_ADDR}'\n\toption home_agent '{HOME_AGENT}'\n\
         \toption spi '{}'\n\toption key '{}'\n\toption keepalive_ms '{keepalive_ms}'\n\
         \toption socket '{}'\n",
        client.spi,
        client.key_hex,
        socket.display()
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: AnchorClient = AnchorClient {
        name: "router",
        spi: 1000,
        key_hex: "00112233445566778899aabbccddeeff",
    };

    #[test]
    fn anchor_and_router_name_the_same_addresses_and_context() {
        let anchor = anchor_config(&CLIENT, "manc0");
        assert!(anchor.contains("option address '203.0.113.1'"), "{anchor}");
        assert!(anchor.contains("option pool '10.64.0.2-10.64.0.254'"));
        let vsd = anchored_vsd_section("vsd0", &["a", "b"], &CLIENT, 200, Path::new("/s"));
        assert!(vsd.contains("list member 'a'\n\tlist member 'b'"), "{vsd}");
        assert!(vsd.contains("option anchor '203.0.113.1'"));
        assert!(vsd.contains("option home_agent '10.64.0.1'"));
        for both in ["option spi '1000'", "option key '0011"] {
            assert!(anchor.contains(both) && vsd.contains(both), "{both}");
        }
    }
}
