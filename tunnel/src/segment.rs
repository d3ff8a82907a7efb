//! Packets read from a TUN with a virtio_net_hdr in front (IFF_VNET_HDR
//! with checksum and TCP segmentation offload on): the kernel hands over a
//! TCP/IPv4 super-packet of up to 64 KiB at once, or a packet whose
//! checksum it left to complete. [`Segments`] cuts one into the packets a
//! tunnel carries, each whole and checksummed, written into the caller's
//! buffer: one read of the TUN instead of one per packet. Sans-IO, no
//! allocation, no panic on any input.
//!
//! ```text
//! virtio_net_hdr: flags | gso_type | hdr_len (2) | gso_size (2) | csum_start (2) | csum_offset (2)
//! ```
//!
//! The 16-bit fields are in the host's byte order (a legacy header, as TUN
//! uses unless told otherwise).

mod field {
    pub const FLAGS: usize = 0;
    pub const GSO_TYPE: usize = 1;
    pub const GSO_SIZE: usize = 4;
    pub const CSUM_START: usize = 6;
    pub const CSUM_OFFSET: usize = 8;
}

pub const VNET_HDR_LEN: usize = 10;
/// The header that goes in front of a packet written to the TUN: whole,
/// checksummed, one packet.
pub const PLAIN_HDR: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

const NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_ECN: u8 = 0x80;
const TCP: u8 = 6;
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than its headers say.
    Short,
    /// A segmentation this side does not do (UDP, TCP over IPv6), or a
    /// super-packet that is not TCP/IPv4.
    Unsupported,
    /// The checksum to complete lies outside the packet.
    Checksum,
}

/// A TCP/IPv4 super-packet's layout.
#[derive(Debug, Clone, Copy)]
struct Tcp4 {
    ip_len: usize,
    /// IPv4 and TCP headers.
    headers: usize,
    mss: usize,
}

/// The packets of one read from a vnet-header TUN, in order.
#[derive(Debug)]
pub struct Segments<'a> {
    packet: &'a [u8],
    /// Set for a super-packet; `None`: one packet, its checksum completed
    /// at `csum` when given.
    tcp: Option<Tcp4>,
    csum: Option<(usize, usize)>,
    /// The next segment's payload offset, and its number.
    next: usize,
    index: u16,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn tcp4(packet: &[u8], mss: usize) -> Result<Tcp4, Malformed> {
    let ip = packet.first().ok_or(Malformed::Short)?;
    if ip >> 4 != 4 || packet.get(9) != Some(&TCP) || mss == 0 {
        return Err(Malformed::Unsupported);
    }
    let ip_len = usize::from(ip & 0x0f) * 4;
    let data_offset = packet.get(ip_len + 12).ok_or(Malformed::Short)?;
    let headers = ip_len + usize::from(data_offset >> 4) * 4;
    if ip_len < 20 || headers < ip_len + 20 || packet.len() < headers {
        return Err(Malformed::Short);
    }
    Ok(Tcp4 {
        ip_len,
        headers,
        mss,
    })
}

impl<'a> Segments<'a> {
    /// The packets of `read`: a virtio_net_hdr and what follows it.
    pub fn new(read: &'a [u8]) -> Result<Segments<'a>, Malformed> {
        let hdr = read.get(..VNET_HDR_LEN).ok_or(Malformed::Short)?;
        let packet = &read[VNET_HDR_LEN..];
        let csum = (hdr[field::FLAGS] & NEEDS_CSUM != 0).then(|| {
            let start = usize::from(u16_at(hdr, field::CSUM_START));
            (start, start + usize::from(u16_at(hdr, field::CSUM_OFFSET)))
        });
        let tcp = match hdr[field::GSO_TYPE] & !GSO_ECN {
            GSO_NONE => None,
            GSO_TCPV4 => Some(tcp4(packet, usize::from(u16_at(hdr, field::GSO_SIZE)))?),
            _ => return Err(Malformed::Unsupported),
        };
        if let (None, Some((start, at))) = (tcp, csum) {
            if start > packet.len() || at + 2 > packet.len() {
                return Err(Malformed::Checksum);
            }
        }
        Ok(Segments {
            packet,
            tcp,
            csum,
            next: 0,
            index: 0,
        })
    }

    /// Writes the next packet at the start of `out`: its length, or `None`
    /// when there are no more (or `out` cannot hold the next).
    pub fn next_into(&mut self, out: &mut [u8]) -> Option<usize> {
        match self.tcp {
            Some(tcp) => self.next_segment(tcp, out),
            None => self.whole(out),
        }
    }

    fn whole(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.index > 0 {
            return None;
        }
        self.index = 1;
        let len = self.packet.len();
        let out = out.get_mut(..len)?;
        out.copy_from_slice(self.packet);
        if let Some((start, at)) = self.csum {
            // The field holds the pseudo-header's sum: summing over it
            // completes the checksum.
            let sum = fold(sum(&out[start..], 0));
            out[at..at + 2].copy_from_slice(&(!sum).to_be_bytes());
        }
        Some(len)
    }

    fn next_segment(&mut self, tcp: Tcp4, out: &mut [u8]) -> Option<usize> {
        let payload = &self.packet[tcp.headers..];
        if self.next >= payload.len() && !(self.index == 0 && payload.is_empty()) {
            return None;
        }
        let seg = self.next..(self.next + tcp.mss).min(payload.len());
        let last = seg.end == payload.len();
        let len = tcp.headers + seg.len();
        let out = out.get_mut(..len)?;
        out[..tcp.headers].copy_from_slice(&self.packet[..tcp.headers]);
        out[tcp.headers..].copy_from_slice(&payload[seg.clone()]);
        self.fix_headers(tcp, out, seg.start, last);
        self.next = seg.end;
        self.index = self.index.wrapping_add(1);
        Some(len)
    }

    /// Segment `self.index`'s IPv4 length, id and checksum, TCP sequence
    /// number, flags and checksum.
    fn fix_headers(&self, tcp: Tcp4, out: &mut [u8], offset: usize, last: bool) {
        let ip = 0..tcp.ip_len;
        let total = out.len() as u16;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        let id = be16(out, 4).wrapping_add(self.index);
        out[4..6].copy_from_slice(&id.to_be_bytes());
        out[10..12].fill(0);
        let ip_sum = !fold(sum(&out[ip], 0));
        out[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        let t = tcp.ip_len;
        let seq = u32::from_be_bytes([out[t + 4], out[t + 5], out[t + 6], out[t + 7]]);
        let seq = seq.wrapping_add(offset as u32);
        out[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = out[t + 13];
        if !last {
            flags &= !(TCP_FIN | TCP_PSH);
        }
        if self.index > 0 {
            flags &= !TCP_CWR;
        }
        out[t + 13] = flags;
        out[t + 16..t + 18].fill(0);
        let tcp_len = out.len() - t;
        let pseudo = sum(&out[12..20], u64::from(TCP) + tcp_len as u64);
        let tcp_sum = !fold(sum(&out[t..], pseudo));
        out[t + 16..t + 18].copy_from_slice(&tcp_sum.to_be_bytes());
    }
}

/// The one's-complement sum of `data` as 16-bit big-endian words (a last
/// odd byte padded), added to `acc`, unfolded.
pub(crate) fn sum(data: &[u8], acc: u64) -> u64 {
    // A one's-complement sum commutes with byte order (RFC 1071, 2(B)):
    // words added as the CPU holds them need no swap each, so the loop
    // vectorises, and the folded sum is swapped once into network order.
    let mut native = 0u64;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        native += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    native += u64::from(u32::from_ne_bytes(tail));
    acc + u64::from(u16::from_be(fold(native)))
}

pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

#[cfg(test)]
mod tests;
