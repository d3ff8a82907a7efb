//! The Mobile-Home Authentication Extension's authenticator: a keyed HMAC
//! over the registration message up to and including the extension's SPI
//! (RFC 5944 section 3.5.2). HMAC-MD5 is RFC 5944's default, kept for
//! interoperability with home agents; HMAC-SHA-256 is mimm's default. Which
//! one an SPI uses is configuration, as RFC 5944 intends (the SPI selects
//! the security context).

use hmac::{Hmac, Mac};

/// The longest authenticator (HMAC-SHA-256).
pub const MAX_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacMd5,
    HmacSha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacMd5 => "hmac-md5",
            Algorithm::HmacSha256 => "hmac-sha256",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "hmac-md5" => Some(Algorithm::HmacMd5),
            "hmac-sha256" => Some(Algorithm::HmacSha256),
            _ => None,
        }
    }

    /// Authenticator length in bytes.
    pub fn authenticator_len(self) -> usize {
        match self {
            Algorithm::HmacMd5 => 16,
            Algorithm::HmacSha256 => 32,
        }
    }

    /// The authenticator of `data` under `key` (the first [`Algorithm::authenticator_len`]
    /// bytes of the result).
    pub fn compute(self, key: &[u8], data: &[u8]) -> [u8; MAX_LEN] {
        let mut out = [0u8; MAX_LEN];
        match self {
            Algorithm::HmacMd5 => {
                // HMAC accepts keys of any length: new_from_slice cannot fail.
                if let Ok(mut m) = Hmac::<md5::Md5>::new_from_slice(key) {
                    m.update(data);
                    out[..16].copy_from_slice(&m.finalize().into_bytes());
                }
            }
            Algorithm::HmacSha256 => {
                if let Ok(mut m) = Hmac::<sha2::Sha256>::new_from_slice(key) {
                    m.update(data);
                    out.copy_from_slice(&m.finalize().into_bytes());
                }
            }
        }
        out
    }

    /// Whether `authenticator` is right for `data` under `key`, compared in
    /// constant time.
    pub fn verify(self, key: &[u8], data: &[u8], authenticator: &[u8]) -> bool {
        match self {
            Algorithm::HmacMd5 => Hmac::<md5::Md5>::new_from_slice(key).is_ok_and(|mut m| {
                m.update(data);
                m.verify_slice(authenticator).is_ok()
            }),
            Algorithm::HmacSha256 => {
                Hmac::<sha2::Sha256>::new_from_slice(key).is_ok_and(|mut m| {
                    m.update(data);
                    m.verify_slice(authenticator).is_ok()
                })
            }
        }
    }
}

/// A key written as hex digits (an optional `0x` in front), as UCI files
/// carry them; `None` for an odd count or a non-hex digit.
pub fn key_from_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_prefix("0x").unwrap_or(text);
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2202 test case 2 (HMAC-MD5) and RFC 4231 test case 2 (HMAC-SHA-256).
    #[test]
    fn hex_keys() {
        assert_eq!(key_from_hex("0x00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(key_from_hex("abc"), None);
        assert_eq!(key_from_hex("zz"), None);
        assert_eq!(key_from_hex("é1"), None);
    }

    #[test]
    fn published_test_vectors() {
        let data = b"what do ya want for nothing?";
        let md5 = Algorithm::HmacMd5.compute(b"Jefe", data);
        assert_eq!(
            md5[..16],
            [
                0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
                0xb7, 0x38
            ]
        );
        let sha = Algorithm::HmacSha256.compute(b"Jefe", data);
        assert_eq!(sha[..8], [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e]);
        assert!(Algorithm::HmacSha256.verify(b"Jefe", data, &sha));
        assert!(!Algorithm::HmacSha256.verify(b"Jeff", data, &sha));
        assert!(!Algorithm::HmacMd5.verify(b"Jefe", data, &md5[..15]));
    }
}
