//! A client bound over two paths, and its ends of the tunnels: what the
//! keepalive and duplication tests start from.

use super::*;
use mimm_tunnel::keys::derive;
use mimm_tunnel::seal::{Opener, Sealer};

pub const LTE_NAT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 9), 40000);
pub const WIFI_NAT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 200), 61000);

/// One of the client's paths: its end of the tunnel.
pub struct Path {
    pub up: Sealer,
    pub down: Opener,
}

/// Client A bound over LTE, then Wi-Fi beside it (the newest binding).
pub fn two_paths(a: &mut Anchor) -> (Ipv4Addr, Path, Path) {
    let mut req = request(ANY, LTE, 300, false);
    req.identification = 7;
    let home = a.register(0, A, KEY, &req, LTE_NAT).home;
    let mut req = request(home.octets(), WIFI, 300, true);
    req.identification = 8;
    a.register(1, A, KEY, &req, WIFI_NAT);
    let path = |ident, care_of: [u8; 4]| {
        let keys = derive(KEY, ident, home, care_of.into());
        Path {
            up: Sealer::new(&keys.uplink),
            down: Opener::new(&keys.downlink),
        }
    };
    (home, path(7, LTE), path(8, WIFI))
}
