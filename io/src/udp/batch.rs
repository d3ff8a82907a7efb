//! Datagrams to one destination gathered into one `sendmsg` with UDP
//! segmentation offload (UDP_SEGMENT): the kernel walks its stack once for
//! the lot instead of once per datagram. The caller writes each datagram
//! in place at [`Batch::slot`] (sealing it there) and [`Batch::push`]es it;
//! the batch goes out when the next one cannot join it (another
//! destination, a longer one: only the last may be shorter), when it is
//! full, and at the end of every read loop ([`Batch::flush`]).
//!
//! Where the egress device cannot segment (a route through a device
//! without checksum offload answers EIO), the batch is sent one datagram
//! at a time and the socket's batches stay single from then on.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;

use super::msg::send_msg;

/// Linux's UDP_MAX_SEGMENTS.
const MAX_SEGMENTS: usize = 64;
/// What one UDP datagram (and so one segmented send) can carry.
const MAX_PAYLOAD: usize = 65_507;

/// Where a batch goes: the socket, the peer and (with IP_PKTINFO) the
/// local address to send from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination {
    pub fd: RawFd,
    pub to: SocketAddrV4,
    pub local: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounters {
    /// sendmsg calls, and the datagrams they carried.
    pub sends: u64,
    pub datagrams: u64,
    /// Datagrams the socket refused (full, no route).
    pub failed: u64,
}

pub struct Batch {
    buf: Vec<u8>,
    /// Bytes of whole datagrams gathered.
    len: usize,
    segment: usize,
    count: usize,
    to: Option<Destination>,
    /// False once a device refused segmentation (or never asked for).
    segmenting: bool,
    pub counters: BatchCounters,
}

impl Batch {
    /// Room for 64 KiB of datagrams (plus `headroom`, where a datagram is
    /// built before its header moves it); `segmenting: false` sends each
    /// datagram on its own (as without offload).
    pub fn new(headroom: usize, segmenting: bool) -> Batch {
        Batch {
            buf: vec![0u8; MAX_PAYLOAD + headroom],
            len: 0,
            segment: 0,
            count: 0,
            to: None,
            segmenting,
            counters: BatchCounters::default(),
        }
    }

    /// Where the next datagram is to be written: it starts at the slot's
    /// start.
    pub fn slot(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Takes the `len`-byte datagram written at the slot's start, for
    /// `to`; sends what was gathered first when it cannot join.
    pub fn push(&mut self, len: usize, to: Destination) {
        let joins = self.to == Some(to)
            && self.segmenting
            && len <= self.segment
            && self.count < MAX_SEGMENTS
            && self.len + len <= MAX_PAYLOAD;
        if !joins && self.count > 0 {
            let at = self.len;
            self.flush();
            self.buf.copy_within(at..at + len, 0);
        }
        if self.count == 0 {
            self.segment = len;
            self.to = Some(to);
        }
        self.len += len;
        self.count += 1;
        // A shorter one ends the batch: only the last may be.
        let ends = len < self.segment || !self.segmenting;
        if ends || self.count == MAX_SEGMENTS || self.len + self.segment > MAX_PAYLOAD {
            self.flush();
        }
    }

    /// Sends what was gathered.
    pub fn flush(&mut self) {
        let (Some(to), count) = (self.to, self.count) else {
            return;
        };
        if count > 0 {
            self.send(to);
        }
        self.len = 0;
        self.count = 0;
    }

    fn send(&mut self, to: Destination) {
        let data = &self.buf[..self.len];
        let c = &mut self.counters;
        if self.count > 1 {
            let segment = Some(self.segment as u16);
            match send_msg(to.fd, data, to.to, to.local, segment) {
                Ok(_) => {
                    c.sends += 1;
                    c.datagrams += self.count as u64;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.failed += self.count as u64;
                    return;
                }
                // This route's device cannot segment: one by one, now and after.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => self.segmenting = false,
                // Anything else: each datagram on its own, to count what fails.
                Err(_) => {}
            }
        }
        for datagram in data.chunks(self.segment.max(1)) {
            c.sends += 1;
            match send_msg(to.fd, datagram, to.to, to.local, None) {
                Ok(_) => c.datagrams += 1,
                Err(_) => c.failed += 1,
            }
        }
    }
}
