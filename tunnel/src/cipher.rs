//! What protects a binding's tunnel packets: ChaCha20-Poly1305 (sealed,
//! the default), or nothing (`none`: clear RFC 3519 IPv4-in-UDP, for a
//! core trusted end to end, such as an enterprise VPN carrying the tunnel,
//! the seed's x-HA → VPN → i-HA chain). Both ends are configured with it;
//! the registration's UDP Tunnel Request names it as its encapsulation
//! (RFC 3519's field), so an anchor refuses a client configured otherwise
//! instead of dropping all its packets.

use crate::packet::{NEXT_IPV4, NEXT_SEALED};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Cipher {
    #[default]
    ChaCha20Poly1305,
    /// Clear tunnel packets: no encryption, no authentication, no replay
    /// window; only the source a binding registered from is accepted.
    None,
}

impl Cipher {
    pub const NAMES: [&'static str; 2] = ["chacha20-poly1305", "none"];

    pub fn from_name(name: &str) -> Option<Cipher> {
        match name {
            "chacha20-poly1305" => Some(Cipher::ChaCha20Poly1305),
            "none" => Some(Cipher::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cipher::ChaCha20Poly1305 => Self::NAMES[0],
            Cipher::None => Self::NAMES[1],
        }
    }

    /// The UDP Tunnel Request's encapsulation for it: the tunnel header's
    /// next header (4, IPv4, for a clear tunnel; 253 for a sealed one).
    pub fn encapsulation(self) -> u8 {
        match self {
            Cipher::ChaCha20Poly1305 => NEXT_SEALED,
            Cipher::None => NEXT_IPV4,
        }
    }

    pub fn from_encapsulation(encapsulation: u8) -> Option<Cipher> {
        [Cipher::ChaCha20Poly1305, Cipher::None]
            .into_iter()
            .find(|c| c.encapsulation() == encapsulation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_encapsulations_round_trip() {
        for c in [Cipher::ChaCha20Poly1305, Cipher::None] {
            assert_eq!(Cipher::from_name(c.name()), Some(c));
            assert_eq!(Cipher::from_encapsulation(c.encapsulation()), Some(c));
        }
        assert_eq!(Cipher::from_name("aes"), None);
        assert_eq!(Cipher::from_encapsulation(47), None, "GRE");
    }
}
