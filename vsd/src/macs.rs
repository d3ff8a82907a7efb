//! Which hardware address the VSD and each member carry, by policy (like
//! bonding's fail_over_mac and teamd's hwaddr_policy):
//!
//! - `same_all`: the VSD and every member carry the shadow MAC; a switch
//!   changes no address (the fastest; needs members whose MAC can be set,
//!   e.g. Ethernet and cdc_ether/NCM modems);
//! - `only_active`: the active member carries the shadow MAC, the others
//!   their own;
//! - `by_active`: members keep their own; the VSD takes the active member's
//!   (for Wi-Fi clients, whose address is fixed while associated).

use crate::wire::Mac;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacPolicy {
    SameAll,
    OnlyActive,
    ByActive,
}

impl MacPolicy {
    pub fn parse(text: &str) -> Option<MacPolicy> {
        match text {
            "same_all" => Some(MacPolicy::SameAll),
            "only_active" => Some(MacPolicy::OnlyActive),
            "by_active" => Some(MacPolicy::ByActive),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MacPolicy::SameAll => "same_all",
            MacPolicy::OnlyActive => "only_active",
            MacPolicy::ByActive => "by_active",
        }
    }
}

/// The addresses to carry: the VSD's, and member `i`'s given its own
/// (original) address.
pub fn vsd_mac(policy: MacPolicy, shadow: Mac, active_original: Option<Mac>) -> Mac {
    match (policy, active_original) {
        (MacPolicy::ByActive, Some(mac)) => mac,
        _ => shadow,
    }
}

pub fn member_mac(policy: MacPolicy, shadow: Mac, original: Mac, is_active: bool) -> Mac {
    match policy {
        MacPolicy::SameAll => shadow,
        MacPolicy::OnlyActive if is_active => shadow,
        MacPolicy::OnlyActive | MacPolicy::ByActive => original,
    }
}

/// A locally administered unicast address derived from `seed` (the VSD's
/// name and the machine's identity): stable across restarts, so neighbours'
/// caches stay right, and distinct per router.
pub fn derive_shadow(seed: &[u8]) -> Mac {
    // FNV-1a, 64 bit: small, stable, good enough to spread a few bytes.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    // Locally administered (bit 1 set), unicast (bit 0 clear).
    [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHADOW: Mac = [2, 0, 0, 0, 0, 1];
    const OWN: Mac = [0x52, 0x54, 0, 0, 0, 7];

    #[test]
    fn each_policy_places_the_addresses() {
        use MacPolicy::*;
        assert_eq!(vsd_mac(SameAll, SHADOW, Some(OWN)), SHADOW);
        assert_eq!(vsd_mac(ByActive, SHADOW, Some(OWN)), OWN);
        assert_eq!(vsd_mac(ByActive, SHADOW, None), SHADOW);
        assert_eq!(member_mac(SameAll, SHADOW, OWN, false), SHADOW);
        assert_eq!(member_mac(OnlyActive, SHADOW, OWN, true), SHADOW);
        assert_eq!(member_mac(OnlyActive, SHADOW, OWN, false), OWN);
        assert_eq!(member_mac(ByActive, SHADOW, OWN, true), OWN);
        for p in [SameAll, OnlyActive, ByActive] {
            assert_eq!(MacPolicy::parse(p.name()), Some(p));
        }
    }

    #[test]
    fn derived_addresses_are_stable_local_unicast_and_differ() {
        let a = derive_shadow(b"vsd0 machine-a");
        assert_eq!(a, derive_shadow(b"vsd0 machine-a"));
        assert_ne!(a, derive_shadow(b"vsd0 machine-b"));
        assert_eq!(a[0] & 0x03, 0x02);
    }
}
