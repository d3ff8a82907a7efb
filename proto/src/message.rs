//! A whole registration message: the fixed header, the MIMM vendor
//! extensions, optionally a UDP tunnel extension, and the Mobile-Home
//! Authentication Extension last, which covers everything before it.
//! [`parse`] checks the authenticator before it returns anything, so a
//! forged message never reaches the caller's state; [`Builder`] writes a
//! message into a caller's buffer and signs it.

use crate::auth::Algorithm;
use crate::error::{Error, Result};
use crate::ext::{self, Extension};
use crate::field::Writer;
use crate::mimm;
use crate::registration::Header;

/// Vendor extensions a message carries at most.
pub const MAX_VENDOR: usize = 12;

/// The security context an SPI names: algorithm and key.
pub trait Keys {
    fn key(&self, spi: u32) -> Option<(Algorithm, &[u8])>;
}

/// One SPI's context (a client knows only its own).
#[derive(Debug, Clone, Copy)]
pub struct OneKey<'k> {
    pub spi: u32,
    pub algorithm: Algorithm,
    pub key: &'k [u8],
}

impl Keys for OneKey<'_> {
    fn key(&self, spi: u32) -> Option<(Algorithm, &[u8])> {
        (spi == self.spi).then_some((self.algorithm, self.key))
    }
}

/// A MIMM vendor extension: its type and TLVs, parsed on demand with
/// [`mimm::Message::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorItem<'a> {
    pub kind: u16,
    pub value: &'a [u8],
}

impl<'a> VendorItem<'a> {
    pub fn message(&self) -> Result<mimm::Message<'a>> {
        mimm::Message::parse(self.kind, self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration<'a> {
    pub header: Header,
    pub spi: u32,
    pub mimm: heapless::Vec<VendorItem<'a>, MAX_VENDOR>,
    pub udp_tunnel: Option<Extension<'a>>,
}

/// Reads and authenticates a registration. `vendor` is the IANA enterprise
/// number MIMM messages ride under: other vendors' NVSEs are skipped, their
/// CVSEs refused (RFC 3115), as are MIMM CVSEs of unknown types.
pub fn parse<'a>(bytes: &'a [u8], vendor: u32, keys: &impl Keys) -> Result<Registration<'a>> {
    let (header, header_len) = Header::parse(bytes)?;
    let extensions = &bytes[header_len..];
    let mut mimm_items = heapless::Vec::new();
    let mut udp_tunnel = None;
    let mut auth = None;
    for item in ext::walk(extensions) {
        let (offset, ext) = item?;
        if auth.is_some() {
            let kind = extensions.get(offset).copied().unwrap_or(0);
            return Err(Error::AfterAuthentication(kind));
        }
        match ext {
            Extension::MhAuth { spi, authenticator } => {
                // Covered: everything before the extension, plus its type,
                // length and SPI.
                auth = Some((spi, authenticator, header_len + offset + 6));
            }
            Extension::Vendor {
                critical,
                vendor: v,
                kind,
                value,
            } => {
                if v != vendor || !mimm::is_known(kind) {
                    if critical {
                        return Err(Error::UnknownCriticalVendor { vendor: v, kind });
                    }
                    continue;
                }
                mimm_items
                    .push(VendorItem { kind, value })
                    .map_err(|_| Error::TooMany("vendor extensions"))?;
            }
            Extension::UdpTunnelRequest { .. } | Extension::UdpTunnelReply { .. } => {
                udp_tunnel = Some(ext);
            }
            Extension::Skipped(_) => {}
        }
    }
    let (spi, authenticator, covered) = auth.ok_or(Error::NoAuthentication)?;
    let (algorithm, key) = keys.key(spi).ok_or(Error::UnknownSpi(spi))?;
    let data = bytes.get(..covered).ok_or(Error::Truncated)?;
    if authenticator.len() != algorithm.authenticator_len()
        || !algorithm.verify(key, data, authenticator)
    {
        return Err(Error::BadAuthenticator);
    }
    Ok(Registration {
        header,
        spi,
        mimm: mimm_items,
        udp_tunnel,
    })
}

/// Writes a registration into a buffer: header, then extensions in the
/// order they are added, then [`Builder::sign`].
#[derive(Debug)]
pub struct Builder<'b> {
    w: Writer<'b>,
    vendor: u32,
}

impl<'b> Builder<'b> {
    pub fn new(buf: &'b mut [u8], header: &Header, vendor: u32) -> Result<Builder<'b>> {
        let mut w = Writer::new(buf);
        header.emit(&mut w)?;
        Ok(Builder { w, vendor })
    }

    /// Adds a MIMM message in its vendor extension (CVSE or NVSE by type).
    pub fn mimm(&mut self, message: &mimm::Message) -> Result<&mut Self> {
        let kind = message.kind();
        ext::emit_vendor(
            &mut self.w,
            mimm::is_critical(kind),
            self.vendor,
            kind,
            |w| message.emit(w),
        )?;
        Ok(self)
    }

    pub fn udp_tunnel_request(&mut self, flags: u8, encapsulation: u8) -> Result<&mut Self> {
        ext::emit_udp_tunnel_request(&mut self.w, flags, encapsulation)?;
        Ok(self)
    }

    pub fn udp_tunnel_reply(&mut self, code: u8, flags: u16, keepalive: u16) -> Result<&mut Self> {
        ext::emit_udp_tunnel_reply(&mut self.w, code, flags, keepalive)?;
        Ok(self)
    }

    /// Appends an extension this crate does not model, already encoded
    /// (another vendor's, a test's malformed one).
    pub fn raw_extension(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        self.w.bytes(bytes)?;
        Ok(self)
    }

    /// The message without an authentication extension: only for a reply
    /// to a request that could not be authenticated (unknown SPI, forged
    /// authenticator), where no shared key can sign it.
    pub fn unsigned(self) -> &'b [u8] {
        self.w.into_written()
    }

    /// Appends the authentication extension and returns the message.
    pub fn sign(mut self, spi: u32, algorithm: Algorithm, key: &[u8]) -> Result<&'b [u8]> {
        let len = algorithm.authenticator_len();
        self.w.u8(ext::MH_AUTH)?;
        self.w.u8(4 + len as u8)?;
        self.w.u32(spi)?;
        let authenticator = algorithm.compute(key, self.w.written());
        self.w.bytes(&authenticator[..len])?;
        Ok(self.w.into_written())
    }
}
