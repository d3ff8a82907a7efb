//! Big-endian (network order) reads and writes that never panic: a read past
//! the end is `Error::Truncated`, a write past the end `BufferTooSmall`.

use crate::error::{Error, Result};

pub fn u8_at(b: &[u8], at: usize) -> Result<u8> {
    b.get(at).copied().ok_or(Error::Truncated)
}

pub fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    let s = b.get(at..at + 2).ok_or(Error::Truncated)?;
    Ok(u16::from_be_bytes([s[0], s[1]]))
}

pub fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    let s = b.get(at..at + 4).ok_or(Error::Truncated)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    Ok((u64::from(u32_at(b, at)?) << 32) | u64::from(u32_at(b, at + 4)?))
}

pub fn ipv4_at(b: &[u8], at: usize) -> Result<core::net::Ipv4Addr> {
    Ok(u32_at(b, at)?.into())
}

/// Writes into a caller's buffer, front to back.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    pub fn new(buf: &'b mut [u8]) -> Writer<'b> {
        Writer { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&mut self, data: &[u8]) -> Result<()> {
        let end = self
            .len
            .checked_add(data.len())
            .ok_or(Error::BufferTooSmall)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    /// The next `n` bytes, zeroed, for a view to fill in.
    pub fn take(&mut self, n: usize) -> Result<&mut [u8]> {
        let start = self.len;
        let end = start.checked_add(n).ok_or(Error::BufferTooSmall)?;
        let room = self.buf.get_mut(start..end).ok_or(Error::BufferTooSmall)?;
        room.fill(0);
        self.len = end;
        Ok(room)
    }

    pub fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }

    pub fn u16(&mut self, v: u16) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_be_bytes())
    }

    /// Overwrites bytes already written (a length known only later).
    pub fn patch(&mut self, at: usize, data: &[u8]) -> Result<()> {
        let end = at.checked_add(data.len()).ok_or(Error::BufferTooSmall)?;
        if end > self.len {
            return Err(Error::BufferTooSmall);
        }
        self.buf[at..end].copy_from_slice(data);
        Ok(())
    }

    /// What has been written so far.
    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn into_written(self) -> &'b mut [u8] {
        &mut self.buf[..self.len]
    }
}
