//! The receiving side of [`crate::segment`]: consecutive TCP/IPv4 segments
//! of one flow, opened from the tunnel, gathered back into one super-packet
//! written to a vnet-header TUN in one call (what the kernel's GRO does for
//! a NIC), so the kernel forwards and delivers 64 KiB at a time. Anything
//! else, and a segment that does not continue the one gathered, is written
//! on its own after what was gathered. Sans-IO: the caller's closure does
//! the writing; no allocation after the first.
//!
//! A segment joins when it continues the gathered ones exactly: same
//! addresses, ports, TTL, TOS, header lengths and TCP options (timestamps
//! included), ACK and window; its sequence number follows on; flags ACK
//! only (PSH allowed on the last); no IP options or fragments; a payload of
//! the first one's size (a shorter one ends the super-packet).

use crate::segment::{VNET_HDR_LEN, fold, sum};

const NEEDS_CSUM: u8 = 1;
const GSO_TCPV4: u8 = 1;
const TCP: u8 = 6;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
/// An IPv4 header without options, and the most a super-packet may hold.
const IP_LEN: usize = 20;
const MAX_TOTAL: usize = 65_535;

/// A TCP/IPv4 packet that may join a super-packet: its header length and
/// payload length, `None` for anything else.
fn joinable(p: &[u8]) -> Option<(usize, usize)> {
    let ip = p.get(..IP_LEN)?;
    let fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if ip[0] != 0x45 || ip[9] != TCP || fragment != 0 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let headers = IP_LEN + usize::from(p.get(IP_LEN + 12)? >> 4) * 4;
    let flags = *p.get(IP_LEN + 13)?;
    let plain = flags == ACK || flags == ACK | PSH;
    (plain && total == p.len() && headers >= IP_LEN + 20 && headers < total)
        .then(|| (headers, total - headers))
}

fn seq(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[24], p[25], p[26], p[27]])
}

#[derive(Default)]
pub struct Coalescer {
    /// The vnet header's room, then the super-packet.
    buf: Vec<u8>,
    len: usize,
    count: usize,
    headers: usize,
    mss: usize,
    next_seq: u32,
    /// Closed: a shorter or PSH segment was last.
    closed: bool,
    pub counters: CoalesceCounters,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoalesceCounters {
    /// Writes, and the packets they carried.
    pub writes: u64,
    pub packets: u64,
}

impl Coalescer {
    /// Takes the IPv4 packet `p`: gathered, or written (with what was
    /// gathered before it) through `write(vnet_header, packet)`.
    pub fn push(&mut self, p: &[u8], mut write: impl FnMut(&[u8], &[u8])) {
        // Parsed once: whether it joins, and else how it starts one.
        let shape = joinable(p);
        if self.joins(p, shape) {
            self.append(p);
            return;
        }
        self.flush(&mut write);
        match shape {
            Some((headers, payload)) => self.start(p, headers, payload),
            None => self.write_alone(p, &mut write),
        }
    }

    /// Writes what was gathered.
    pub fn flush(&mut self, mut write: impl FnMut(&[u8], &[u8])) {
        match self.count {
            0 => {}
            1 => {
                let packet = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + self.len];
                write(&[0; VNET_HDR_LEN], packet);
                self.counters.writes += 1;
                self.counters.packets += 1;
            }
            n => {
                self.finish();
                let (header, packet) = self.buf[..VNET_HDR_LEN + self.len].split_at(VNET_HDR_LEN);
                write(header, packet);
                self.counters.writes += 1;
                self.counters.packets += n as u64;
            }
        }
        self.count = 0;
        self.len = 0;
    }

    fn write_alone(&mut self, p: &[u8], write: &mut impl FnMut(&[u8], &[u8])) {
        write(&[0; VNET_HDR_LEN], p);
        self.counters.writes += 1;
        self.counters.packets += 1;
    }

    fn start(&mut self, p: &[u8], headers: usize, payload: usize) {
        if self.buf.len() < VNET_HDR_LEN + MAX_TOTAL {
            self.buf.resize(VNET_HDR_LEN + MAX_TOTAL, 0);
        }
        self.buf[VNET_HDR_LEN..VNET_HDR_LEN + p.len()].copy_from_slice(p);
        self.len = p.len();
        self.count = 1;
        self.headers = headers;
        self.mss = payload;
        self.next_seq = seq(p).wrapping_add(payload as u32);
        self.closed = p[IP_LEN + 13] & PSH != 0;
    }

    fn joins(&self, p: &[u8], shape: Option<(usize, usize)>) -> bool {
        let Some((headers, payload)) = shape.filter(|_| self.count > 0 && !self.closed) else {
            return false;
        };
        let first = &self.buf[VNET_HDR_LEN..VNET_HDR_LEN + headers.min(self.len)];
        headers == self.headers
            && payload <= self.mss
            && self.len + payload <= MAX_TOTAL
            && seq(p) == self.next_seq
            // TOS, TTL, protocol, addresses; ports; ACK; TCP header length,
            // window and options: as the first.
            && p[1] == first[1]
            && p[8..10] == first[8..10]
            && p[12..IP_LEN] == first[12..IP_LEN]
            && p[IP_LEN..IP_LEN + 4] == first[IP_LEN..IP_LEN + 4]
            && p[IP_LEN + 8..IP_LEN + 13] == first[IP_LEN + 8..IP_LEN + 13]
            && p[IP_LEN + 14..IP_LEN + 16] == first[IP_LEN + 14..IP_LEN + 16]
            && p[IP_LEN + 20..headers] == first[IP_LEN + 20..headers]
    }

    fn append(&mut self, p: &[u8]) {
        let payload = &p[self.headers..];
        let at = VNET_HDR_LEN + self.len;
        self.buf[at..at + payload.len()].copy_from_slice(payload);
        self.len += payload.len();
        self.count += 1;
        self.next_seq = self.next_seq.wrapping_add(payload.len() as u32);
        let flags = p[IP_LEN + 13];
        self.closed = payload.len() < self.mss || flags & PSH != 0;
        // The super-packet carries the last segment's flags (PSH).
        self.buf[VNET_HDR_LEN + IP_LEN + 13] |= flags;
    }

    /// The vnet header and the super-packet's lengths and checksums: the
    /// IPv4 header's whole, TCP's the pseudo-header's sum for the kernel to
    /// complete per segment (as a NIC's TSO expects it).
    fn finish(&mut self) {
        let total = self.len as u16;
        let mss = self.mss as u16;
        let headers = self.headers as u16;
        let h = &mut self.buf[..VNET_HDR_LEN];
        h[0] = NEEDS_CSUM;
        h[1] = GSO_TCPV4;
        h[2..4].copy_from_slice(&headers.to_ne_bytes());
        h[4..6].copy_from_slice(&mss.to_ne_bytes());
        h[6..8].copy_from_slice(&(IP_LEN as u16).to_ne_bytes());
        h[8..10].copy_from_slice(&16u16.to_ne_bytes());
        let p = &mut self.buf[VNET_HDR_LEN..VNET_HDR_LEN + self.len];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[10..12].fill(0);
        let ip_sum = !fold(sum(&p[..IP_LEN], 0));
        p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
        let tcp_len = self.len - IP_LEN;
        let pseudo = fold(sum(&p[12..20], u64::from(TCP) + tcp_len as u64));
        p[IP_LEN + 16..IP_LEN + 18].copy_from_slice(&pseudo.to_be_bytes());
    }
}

#[cfg(test)]
mod tests;
