//! Registration extensions (RFC 5944 section 1.9): type, length, data; the
//! types this protocol uses, and a walk over the rest that skips what it
//! may skip (types 128..=255) and refuses what it may not (0..=127).
//!
//! ```text
//! Mobile-Home Authentication (32): type | length | SPI(4) | authenticator
//! CVSE (38, RFC 3115):             type | reserved | length(2) | vendor(4) | vendor type(2) | value
//! NVSE (134, RFC 3115):            type | length | reserved(2) | vendor(4) | vendor type(2) | value
//! UDP Tunnel Request (144, RFC 3519): type | 6 | sub-type 0 | reserved | F R ... | encapsulation | reserved(2)
//! UDP Tunnel Reply (44, RFC 3519):    type | 6 | sub-type 0 | reply code | F ...(2) | keepalive(2)
//! ```
//!
//! Lengths count what follows the length field (the CVSE's what follows its
//! two-byte length).

use crate::error::{Error, Result};
use crate::field::{Writer, u8_at, u16_at, u32_at};

/// Where each extension's fields sit, from its type byte.
mod field {
    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    /// What a one-byte length does not count.
    pub const HEADER: usize = 2;

    pub mod auth {
        pub const SPI: usize = 2;
        pub const AUTHENTICATOR: usize = 6;
    }

    /// CVSE and NVSE alike from the vendor on; the CVSE's length is two
    /// bytes where the NVSE has two reserved ones.
    pub mod vendor {
        pub const CVSE_LENGTH: usize = 2;
        pub const CVSE_HEADER: usize = 4;
        pub const VENDOR: usize = 4;
        pub const VENDOR_TYPE: usize = 8;
        pub const VALUE: usize = 10;
    }

    pub mod udp_tunnel {
        pub const SUB_TYPE: usize = 2;
        pub const REPLY_CODE: usize = 3;
        pub const REQUEST_FLAGS: usize = 4;
        pub const ENCAPSULATION: usize = 5;
        pub const REPLY_FLAGS: usize = 4;
        pub const KEEPALIVE: usize = 6;
        pub const LEN: usize = 8;
    }
}

pub const MH_AUTH: u8 = 32;
pub const CVSE: u8 = 38;
pub const UDP_TUNNEL_REPLY: u8 = 44;
pub const NVSE: u8 = 134;
pub const UDP_TUNNEL_REQUEST: u8 = 144;

/// UDP tunnel request flag: force UDP tunnelling even without a NAT.
pub const TUNNEL_F: u8 = 0x80;
/// UDP tunnel request flag: the mobile node requests registration through
/// the foreign agent.
pub const TUNNEL_R: u8 = 0x40;
/// UDP tunnel reply flag: UDP tunnelling forced.
pub const TUNNEL_REPLY_F: u16 = 0x8000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension<'a> {
    MhAuth {
        spi: u32,
        authenticator: &'a [u8],
    },
    /// A CVSE (critical) or NVSE (skippable) vendor extension.
    Vendor {
        critical: bool,
        vendor: u32,
        kind: u16,
        value: &'a [u8],
    },
    UdpTunnelRequest {
        flags: u8,
        encapsulation: u8,
    },
    UdpTunnelReply {
        code: u8,
        flags: u16,
        keepalive: u16,
    },
    /// A skippable extension this side does not know (type 128..=255).
    Skipped(u8),
}

/// The extension at the start of `b` and its total length.
pub fn parse(b: &[u8]) -> Result<(Extension<'_>, usize)> {
    use field::{auth, udp_tunnel, vendor};
    let kind = u8_at(b, field::TYPE)?;
    if kind == CVSE {
        let total = vendor::CVSE_HEADER + usize::from(u16_at(b, vendor::CVSE_LENGTH)?);
        let body = b.get(..total).ok_or(Error::Truncated)?;
        if total < vendor::VALUE {
            return Err(Error::BadValue("CVSE length"));
        }
        return Ok((vendor_extension(body, true)?, total));
    }
    let total = field::HEADER + usize::from(u8_at(b, field::LENGTH)?);
    let body = b.get(..total).ok_or(Error::Truncated)?;
    let tunnel = |what| {
        if total != udp_tunnel::LEN || body[udp_tunnel::SUB_TYPE] != 0 {
            return Err(Error::BadValue(what));
        }
        Ok(())
    };
    let ext = match kind {
        MH_AUTH => {
            if total < auth::AUTHENTICATOR {
                return Err(Error::BadValue("authentication extension length"));
            }
            Extension::MhAuth {
                spi: u32_at(body, auth::SPI)?,
                authenticator: &body[auth::AUTHENTICATOR..],
            }
        }
        NVSE => {
            if total < vendor::VALUE {
                return Err(Error::BadValue("NVSE length"));
            }
            vendor_extension(body, false)?
        }
        UDP_TUNNEL_REQUEST => {
            tunnel("UDP tunnel request extension")?;
            Extension::UdpTunnelRequest {
                flags: body[udp_tunnel::REQUEST_FLAGS],
                encapsulation: body[udp_tunnel::ENCAPSULATION],
            }
        }
        UDP_TUNNEL_REPLY => {
            tunnel("UDP tunnel reply extension")?;
            Extension::UdpTunnelReply {
                code: body[udp_tunnel::REPLY_CODE],
                flags: u16_at(body, udp_tunnel::REPLY_FLAGS)?,
                keepalive: u16_at(body, udp_tunnel::KEEPALIVE)?,
            }
        }
        k if k < 128 => return Err(Error::UnknownCritical(k)),
        k => Extension::Skipped(k),
    };
    Ok((ext, total))
}

/// A CVSE's or NVSE's vendor, type and value (`body` holds at least the
/// fixed part).
fn vendor_extension(body: &[u8], critical: bool) -> Result<Extension<'_>> {
    use field::vendor;
    Ok(Extension::Vendor {
        critical,
        vendor: u32_at(body, vendor::VENDOR)?,
        kind: u16_at(body, vendor::VENDOR_TYPE)?,
        value: &body[vendor::VALUE..],
    })
}

/// Every extension in `b` with its offset in `b`; the first error ends it.
pub fn walk(b: &[u8]) -> impl Iterator<Item = Result<(usize, Extension<'_>)>> {
    let mut at = 0;
    let mut failed = false;
    core::iter::from_fn(move || {
        if failed || at >= b.len() {
            return None;
        }
        match parse(&b[at..]) {
            Ok((ext, len)) => {
                let start = at;
                at += len;
                Some(Ok((start, ext)))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// Writes a vendor extension: `value` is produced by `body` straight into
/// the buffer, and the length filled in afterwards.
pub fn emit_vendor(
    w: &mut Writer,
    critical: bool,
    vendor: u32,
    kind: u16,
    body: impl FnOnce(&mut Writer) -> Result<()>,
) -> Result<()> {
    use field::vendor as f;
    let start = w.len();
    w.bytes(&[if critical { CVSE } else { NVSE }, 0, 0, 0])?;
    w.u32(vendor)?;
    w.u16(kind)?;
    body(w)?;
    if critical {
        let len = u16::try_from(w.len() - start - f::CVSE_HEADER)
            .map_err(|_| Error::BadValue("CVSE length"))?;
        w.patch(start + f::CVSE_LENGTH, &len.to_be_bytes())
    } else {
        let len = u8::try_from(w.len() - start - field::HEADER)
            .map_err(|_| Error::BadValue("NVSE length (at most 255)"))?;
        w.patch(start + field::LENGTH, &[len])
    }
}

/// The UDP tunnel extensions' length byte: what follows it.
const TUNNEL_LENGTH: u8 = (field::udp_tunnel::LEN - field::HEADER) as u8;

pub fn emit_udp_tunnel_request(w: &mut Writer, flags: u8, encapsulation: u8) -> Result<()> {
    w.bytes(&[
        UDP_TUNNEL_REQUEST,
        TUNNEL_LENGTH,
        0,
        0,
        flags,
        encapsulation,
        0,
        0,
    ])
}

pub fn emit_udp_tunnel_reply(w: &mut Writer, code: u8, flags: u16, keepalive: u16) -> Result<()> {
    w.bytes(&[UDP_TUNNEL_REPLY, TUNNEL_LENGTH, 0, code])?;
    w.u16(flags)?;
    w.u16(keepalive)
}
