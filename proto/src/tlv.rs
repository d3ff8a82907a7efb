//! The TLVs inside a MIMM vendor extension's value: type(1), length(1),
//! value. Unknown types are skipped (a newer peer may add fields); numbers
//! are big-endian, text is UTF-8.

use crate::error::{Error, Result};
use crate::field::Writer;

/// Every (type, value) in `b`; a TLV running past the end is an error.
pub fn walk(b: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8])>> {
    let mut rest = b;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (Some(&kind), Some(&len)) = (rest.first(), rest.get(1)) else {
            rest = &[];
            return Some(Err(Error::Truncated));
        };
        let end = 2 + usize::from(len);
        match rest.get(2..end) {
            Some(value) => {
                rest = &rest[end..];
                Some(Ok((kind, value)))
            }
            None => {
                rest = &[];
                Some(Err(Error::Truncated))
            }
        }
    })
}

pub fn u8_of(v: &[u8], what: &'static str) -> Result<u8> {
    <[u8; 1]>::try_from(v)
        .map(|b| b[0])
        .map_err(|_| Error::BadValue(what))
}

pub fn u32_of(v: &[u8], what: &'static str) -> Result<u32> {
    <[u8; 4]>::try_from(v)
        .map(u32::from_be_bytes)
        .map_err(|_| Error::BadValue(what))
}

pub fn i32_of(v: &[u8], what: &'static str) -> Result<i32> {
    u32_of(v, what).map(|u| u as i32)
}

pub fn str_of<'a>(v: &'a [u8], what: &'static str) -> Result<&'a str> {
    core::str::from_utf8(v).map_err(|_| Error::BadValue(what))
}

pub fn put(w: &mut Writer, kind: u8, value: &[u8]) -> Result<()> {
    let len = u8::try_from(value.len()).map_err(|_| Error::BadValue("TLV longer than 255"))?;
    w.u8(kind)?;
    w.u8(len)?;
    w.bytes(value)
}

pub fn put_u8(w: &mut Writer, kind: u8, v: u8) -> Result<()> {
    put(w, kind, &[v])
}

pub fn put_u32(w: &mut Writer, kind: u8, v: u32) -> Result<()> {
    put(w, kind, &v.to_be_bytes())
}

pub fn put_str(w: &mut Writer, kind: u8, v: &str) -> Result<()> {
    put(w, kind, v.as_bytes())
}
