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
/// What one segmented send carries at most. A UDP datagram could hold
/// 65,507 bytes, but a device segments in hardware (or, a veth, hands the
/// send over whole to a UDP_GRO socket) only frames shorter than its
/// `gso_max_size`, 65,536 by default, Ethernet, IPv4 and UDP headers (42
/// bytes) included; a longer one the kernel cuts into datagrams itself, in
/// the sender's system call: 46 of the tunnel's 1,424-byte datagrams made
/// 65,546 and cost the VSD most of its CPU (perf: skb_segment and its
/// copies). Room for IPv4 options and a VLAN tag is left too.
const MAX_PAYLOAD: usize = 65_536 - 14 - 4 - 60 - 8 - 1;

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
    /// built before its header moves it); `segmenting: false` (or the
    /// offload off, see [`super::offload`]) sends each datagram on its own.
    pub fn new(headroom: usize, segmenting: bool) -> Batch {
        let segmenting = segmenting && super::offload();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::udp::msg::{self, Received};
    use std::os::fd::AsRawFd;

    fn receiver() -> (std::net::UdpSocket, SocketAddrV4) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        msg::enable_gro(socket.as_raw_fd()).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .unwrap();
        let std::net::SocketAddr::V4(at) = socket.local_addr().unwrap() else {
            unreachable!()
        };
        (socket, at)
    }

    /// Every datagram `socket` got within `expect` bytes, by their first byte.
    fn datagrams(socket: &std::net::UdpSocket, expect: usize) -> Vec<(u8, usize)> {
        let mut buf = vec![0u8; 70_000];
        let mut got = Vec::new();
        let mut total = 0;
        while total < expect {
            let r: Received = msg::recv_msg(socket.as_raw_fd(), &mut buf).unwrap();
            for d in r.datagrams() {
                total += d.len();
                got.push((buf[d.start], d.len()));
            }
        }
        got
    }

    /// Ten datagrams of one size and a shorter last one go out in one
    /// segmented send and arrive as eleven datagrams; another destination
    /// or a longer datagram starts a new send.
    #[test]
    fn equal_datagrams_to_one_peer_go_in_one_send() {
        let (rx, at) = receiver();
        let (rx2, at2) = receiver();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = tx.as_raw_fd();
        let one = Destination {
            fd,
            to: at,
            local: None,
        };
        let mut batch = Batch::new(2048, true);
        for i in 0..10u8 {
            batch.slot()[..100].fill(i);
            batch.push(100, one);
        }
        batch.slot()[..50].fill(10);
        batch.push(50, one);
        assert_eq!((batch.counters.sends, batch.counters.datagrams), (1, 11));
        let want: Vec<(u8, usize)> = (0..10).map(|i| (i, 100)).chain([(10, 50)]).collect();
        let got = datagrams(&rx, 1050);
        // qemu-user (how CI runs the other arches' unit tests) takes UDP_GRO
        // but does not pass its control message on: the batch reads as one
        // 1050-byte datagram. A kernel passes it; natively it is required.
        let emulated = !cfg!(target_arch = "x86_64") && got == [(0, 1050)];
        if !emulated {
            assert_eq!(got, want);
        }
        // Longer than the batch's size, then for another peer: three sends.
        batch.slot()[..100].fill(20);
        batch.push(100, one);
        batch.slot()[..200].fill(21);
        batch.push(200, one);
        let other = Destination { to: at2, ..one };
        batch.slot()[..200].fill(22);
        batch.push(200, other);
        batch.flush();
        assert_eq!(batch.counters.sends, 4);
        assert_eq!(datagrams(&rx, 300), vec![(20, 100), (21, 200)]);
        assert_eq!(datagrams(&rx2, 200), vec![(22, 200)]);
        // Unsegmented, each datagram is its own send.
        let mut single = Batch::new(2048, false);
        for _ in 0..3 {
            single.push(80, one);
        }
        assert_eq!((single.counters.sends, single.counters.datagrams), (3, 3));
        assert_eq!(datagrams(&rx, 240).len(), 3);
    }

    #[test]
    fn coalesced_datagrams_are_split_at_the_segment_size() {
        let r = Received {
            len: 250,
            from: "127.0.0.1:1".parse().unwrap(),
            local: None,
            segment: Some(100),
        };
        let all: Vec<_> = r.datagrams().collect();
        assert_eq!(all, vec![0..100, 100..200, 200..250]);
        let single = Received { segment: None, ..r };
        assert_eq!(single.datagrams().collect::<Vec<_>>(), vec![0..250]);
        let empty = Received { len: 0, ..single };
        assert_eq!(empty.datagrams().count(), 0);
    }
}
