//! What can be wrong with a message, named so that a log line or a counter
//! says which rule it broke.

use core::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Shorter than its fixed part, or an extension/TLV runs past the end.
    Truncated,
    /// Not a Registration Request (1) or Reply (3).
    NotRegistration(u8),
    /// An extension in the critical range (0..=127) that is not understood;
    /// RFC 5944 says discard the whole message.
    UnknownCritical(u8),
    /// A CVSE (critical) from a vendor or of a type not understood.
    UnknownCriticalVendor { vendor: u32, kind: u16 },
    /// An extension after the Mobile-Home Authentication Extension: it
    /// would not be covered by the authenticator.
    AfterAuthentication(u8),
    /// No Mobile-Home Authentication Extension.
    NoAuthentication,
    /// An SPI this side has no key for.
    UnknownSpi(u32),
    /// The authenticator does not match the message and the key.
    BadAuthenticator,
    /// A field holds a value its definition does not allow.
    BadValue(&'static str),
    /// The output buffer is too small for what is being emitted.
    BufferTooSmall,
    /// More items than the fixed-capacity representation holds.
    TooMany(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Truncated => write!(f, "truncated"),
            Error::NotRegistration(t) => write!(f, "message type {t} is not a registration"),
            Error::UnknownCritical(t) => write!(f, "unknown critical extension {t}"),
            Error::UnknownCriticalVendor { vendor, kind } => {
                write!(f, "unknown critical vendor extension {vendor}/{kind}")
            }
            Error::AfterAuthentication(t) => {
                write!(f, "extension {t} after the authentication extension")
            }
            Error::NoAuthentication => write!(f, "no authentication extension"),
            Error::UnknownSpi(spi) => write!(f, "unknown SPI {spi}"),
            Error::BadAuthenticator => write!(f, "authenticator does not match"),
            Error::BadValue(what) => write!(f, "bad value in {what}"),
            Error::BufferTooSmall => write!(f, "buffer too small"),
            Error::TooMany(what) => write!(f, "too many {what}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;
