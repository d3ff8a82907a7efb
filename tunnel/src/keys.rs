//! Per-binding tunnel keys, derived from the registration's MN-HA key with
//! HKDF-SHA256 (RFC 5869). Each binding (one care-of address of one home
//! address, made by one registration) gets a key per direction: a packet
//! sealed for one binding or direction never opens on another, and a new
//! registration (a new Identification) starts fresh keys and sequence
//! numbers. Both ends know every input: the key is configured on both, and
//! the home address, care-of address and Identification are in the
//! registration.

use std::net::Ipv4Addr;

use hkdf::Hkdf;
use sha2::Sha256;

pub const KEY_LEN: usize = 32;
const LABEL: &[u8] = b"mimm tunnel v1";

#[derive(Clone, PartialEq, Eq)]
pub struct BindingKeys {
    /// Mobile node to anchor.
    pub uplink: [u8; KEY_LEN],
    /// Anchor to mobile node.
    pub downlink: [u8; KEY_LEN],
}

/// Keys are never printed.
impl std::fmt::Debug for BindingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BindingKeys(..)")
    }
}

pub fn derive(
    mn_ha_key: &[u8],
    identification: u64,
    home: Ipv4Addr,
    care_of: Ipv4Addr,
) -> BindingKeys {
    let hk = Hkdf::<Sha256>::new(Some(&identification.to_be_bytes()), mn_ha_key);
    let key = |direction: u8| {
        let mut info = [0u8; LABEL.len() + 9];
        info[..LABEL.len()].copy_from_slice(LABEL);
        info[LABEL.len()] = direction;
        info[LABEL.len() + 1..LABEL.len() + 5].copy_from_slice(&home.octets());
        info[LABEL.len() + 5..].copy_from_slice(&care_of.octets());
        let mut out = [0u8; KEY_LEN];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        hk.expand(&info, &mut out).expect("a 32-byte key");
        out
    };
    BindingKeys {
        uplink: key(b'u'),
        downlink: key(b'd'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_and_direction_gives_another_key() {
        let home = Ipv4Addr::new(10, 64, 0, 2);
        let coa = Ipv4Addr::new(100, 64, 1, 7);
        let k = derive(b"0123456789abcdef", 7, home, coa);
        assert_ne!(k.uplink, k.downlink);
        assert_eq!(
            k,
            derive(b"0123456789abcdef", 7, home, coa),
            "deterministic"
        );
        for other in [
            derive(b"0123456789abcdeF", 7, home, coa),
            derive(b"0123456789abcdef", 8, home, coa),
            derive(b"0123456789abcdef", 7, Ipv4Addr::new(10, 64, 0, 3), coa),
            derive(b"0123456789abcdef", 7, home, Ipv4Addr::new(100, 64, 1, 8)),
        ] {
            assert_ne!(other.uplink, k.uplink);
            assert_ne!(other.downlink, k.downlink);
        }
        assert_eq!(format!("{k:?}"), "BindingKeys(..)");
    }
}
