//! What the anchor's TUN carries in the kernel: up, its MTU, the anchor's
//! address (/32) and the routes that send home addresses into it.
//!
//! The pool is routed as its smallest covering prefix (one route, set once,
//! whatever the pool's size; no netlink per registration). Addresses in
//! that prefix that nobody is bound to reach the anchor and are dropped
//! there (counted `no_binding`). Fixed homes outside the prefix get a /32
//! each.

use std::io;
use std::net::Ipv4Addr;

use mimm_netlink::settings::LinkChange;
use mimm_netlink::{Rtnl, addresses, routes};

use crate::anchor::AnchorConfig;
use crate::config::AnchorTun;

/// The main routing table.
const MAIN: u32 = 254;

/// A prefix: network and length.
pub type Prefix = (Ipv4Addr, u8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    pub address: Ipv4Addr,
    pub mtu: u32,
    pub routes: Vec<Prefix>,
}

/// The smallest prefix holding every address of `first..=last`.
pub fn covering_prefix(first: Ipv4Addr, last: Ipv4Addr) -> Prefix {
    let (a, b) = (u32::from(first), u32::from(last));
    let len = (a ^ b).leading_zeros();
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    (Ipv4Addr::from(a & mask), len as u8)
}

fn contains((net, len): Prefix, a: Ipv4Addr) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(a) & mask == u32::from(net)
}

impl Setup {
    pub fn of(cfg: &AnchorConfig, tun: &AnchorTun) -> Setup {
        let pool = covering_prefix(cfg.pool.0, cfg.pool.1);
        let mut routes = vec![pool];
        for &home in cfg.fixed.values() {
            if !contains(pool, home) {
                routes.push((home, 32));
            }
        }
        Setup {
            address: cfg.address,
            mtu: tun.mtu,
            routes,
        }
    }

    /// Puts this on device `index`, beside what `old` put there (removed
    /// afterwards by [`Setup::remove_rest`]). On an error, what this added
    /// is taken off again.
    pub fn apply(&self, rtnl: &mut Rtnl, index: u32, old: Option<&Setup>) -> io::Result<()> {
        let change = LinkChange {
            mtu: Some(self.mtu),
            up: Some(true),
            ..LinkChange::default()
        };
        change.apply(rtnl, index)?;
        let mut added = Vec::new();
        let result = self.add(rtnl, index, old, &mut added);
        if result.is_err() {
            for &(net, len) in &added {
                let _ = routes::remove_prefix(rtnl, MAIN, net, len, index);
            }
            if old.is_none_or(|o| o.address != self.address) {
                let _ = addresses::remove(rtnl, index, self.address, 32);
            }
        }
        result
    }

    fn add(
        &self,
        rtnl: &mut Rtnl,
        index: u32,
        old: Option<&Setup>,
        added: &mut Vec<Prefix>,
    ) -> io::Result<()> {
        addresses::add(rtnl, index, self.address, 32)?;
        for &(net, len) in &self.routes {
            routes::add_prefix(rtnl, MAIN, net, len, index)?;
            if old.is_none_or(|o| !o.routes.contains(&(net, len))) {
                added.push((net, len));
            }
        }
        Ok(())
    }

    /// Takes off device `index` what `self` (the old setup) has and `new`
    /// does not.
    pub fn remove_rest(&self, rtnl: &mut Rtnl, index: u32, new: &Setup) {
        for &(net, len) in self.routes.iter().filter(|r| !new.routes.contains(r)) {
            if let Err(e) = routes::remove_prefix(rtnl, MAIN, net, len, index) {
                tracing::warn!("anchor: removing route {net}/{len}: {e}");
            }
        }
        if self.address != new.address {
            if let Err(e) = addresses::remove(rtnl, index, self.address, 32) {
                tracing::warn!("anchor: removing address {}: {e}", self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_pool_is_routed_as_its_smallest_covering_prefix() {
        for (first, last, net, len) in [
            ("10.64.0.2", "10.64.0.254", "10.64.0.0", 24),
            ("10.64.0.2", "10.64.0.2", "10.64.0.2", 32),
            ("10.64.0.255", "10.64.1.0", "10.64.0.0", 23),
            ("10.64.0.0", "10.64.255.255", "10.64.0.0", 16),
            ("1.0.0.0", "223.255.255.255", "0.0.0.0", 0),
        ] {
            assert_eq!(
                covering_prefix(ip(first), ip(last)),
                (ip(net), len),
                "{first}-{last}"
            );
        }
        assert!(contains((ip("10.64.0.0"), 24), ip("10.64.0.9")));
        assert!(!contains((ip("10.64.0.0"), 24), ip("10.64.1.9")));
        assert!(contains((ip("0.0.0.0"), 0), ip("10.64.1.9")));
    }

    #[test]
    fn fixed_homes_outside_the_prefix_get_their_own_route() {
        let cfg = AnchorConfig {
            address: ip("10.64.0.1"),
            pool: (ip("10.64.0.2"), ip("10.64.0.254")),
            fixed: [(1000, ip("10.64.0.9")), (1001, ip("10.65.0.9"))].into(),
            max_lifetime_s: 600,
            cipher: mimm_tunnel::cipher::Cipher::default(),
        };
        let tun = AnchorTun {
            name: "a0".into(),
            mtu: 1420,
        };
        let s = Setup::of(&cfg, &tun);
        assert_eq!(s.routes, [(ip("10.64.0.0"), 24), (ip("10.65.0.9"), 32)]);
        assert_eq!((s.address, s.mtu), (ip("10.64.0.1"), 1420));
    }
}
