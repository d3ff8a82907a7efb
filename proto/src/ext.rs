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
    let kind = u8_at(b, 0)?;
    if kind == CVSE {
        let total = 4 + usize::from(u16_at(b, 2)?);
        let body = b.get(..total).ok_or(Error::Truncated)?;
        if total < 10 {
            return Err(Error::BadValue("CVSE length"));
        }
        let ext = Extension::Vendor {
            critical: true,
            vendor: u32_at(body, 4)?,
            kind: u16_at(body, 8)?,
            value: &body[10..],
        };
        return Ok((ext, total));
    }
    let total = 2 + usize::from(u8_at(b, 1)?);
    let body = b.get(..total).ok_or(Error::Truncated)?;
    let ext = match kind {
        MH_AUTH => {
            if total < 6 {
                return Err(Error::BadValue("authentication extension length"));
            }
            Extension::MhAuth {
                spi: u32_at(body, 2)?,
                authenticator: &body[6..],
            }
        }
        NVSE => {
            if total < 10 {
                return Err(Error::BadValue("NVSE length"));
            }
            Extension::Vendor {
                critical: false,
                vendor: u32_at(body, 4)?,
                kind: u16_at(body, 8)?,
                value: &body[10..],
            }
        }
        UDP_TUNNEL_REQUEST => {
            if total != 8 || body[2] != 0 {
                return Err(Error::BadValue("UDP tunnel request extension"));
            }
            Extension::UdpTunnelRequest {
                flags: body[4],
                encapsulation: body[5],
            }
        }
        UDP_TUNNEL_REPLY => {
            if total != 8 || body[2] != 0 {
                return Err(Error::BadValue("UDP tunnel reply extension"));
            }
            Extension::UdpTunnelReply {
                code: body[3],
                flags: u16_at(body, 4)?,
                keepalive: u16_at(body, 6)?,
            }
        }
        k if k < 128 => return Err(Error::UnknownCritical(k)),
        k => Extension::Skipped(k),
    };
    Ok((ext, total))
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
    let start = w.len();
    if critical {
        w.bytes(&[CVSE, 0, 0, 0])?;
    } else {
        w.bytes(&[NVSE, 0, 0, 0])?;
    }
    w.u32(vendor)?;
    w.u16(kind)?;
    body(w)?;
    if critical {
        let len = u16::try_from(w.len() - start - 4).map_err(|_| Error::BadValue("CVSE length"))?;
        w.patch(start + 2, &len.to_be_bytes())
    } else {
        let len = u8::try_from(w.len() - start - 2)
            .map_err(|_| Error::BadValue("NVSE length (at most 255)"))?;
        w.patch(start + 1, &[len])
    }
}

pub fn emit_udp_tunnel_request(w: &mut Writer, flags: u8, encapsulation: u8) -> Result<()> {
    w.bytes(&[UDP_TUNNEL_REQUEST, 6, 0, 0, flags, encapsulation, 0, 0])
}

pub fn emit_udp_tunnel_reply(w: &mut Writer, code: u8, flags: u16, keepalive: u16) -> Result<()> {
    w.bytes(&[UDP_TUNNEL_REPLY, 6, 0, code])?;
    w.u16(flags)?;
    w.u16(keepalive)
}
