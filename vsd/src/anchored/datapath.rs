//! The anchored data path: packets from the TUN sealed in place and sent
//! out of the active path; packets from any bound path (the old one's are
//! still in flight after a switch) opened and written to the TUN; the
//! anchor's registration replies, notices and keepalive answers taken
//! aside.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::AsRawFd;

use mimm_io::clock::{self, Nanos};
use mimm_io::udp::batch::Destination;
use mimm_io::udp::msg;
use mimm_proto::notice;
use mimm_tunnel::duplicate::{self, ID_LEN};
use mimm_tunnel::keepalive::{self, Keepalive};
use mimm_tunnel::packet::{Packet, SEALED_HEADER, SEALED_OVERHEAD, TAG_LEN, TUNNEL_DATA};
use mimm_tunnel::segment::{Segments, VNET_HDR_LEN};

use mio::Token;

use super::engine::{BUF_LEN, Engine, PATH_BASE, TUN};

/// Packets moved per wake-up and source before the others get a turn.
const BUDGET: usize = 64;
/// The first byte of a Registration Reply.
const REGISTRATION_REPLY: u8 = 3;
/// Where a packet from the TUN is read: room in front for the tunnel
/// header and, when duplicated, its number.
pub(super) const INNER_AT: usize = SEALED_HEADER + ID_LEN;

impl Engine {
    pub(super) fn tun_readable(&mut self) {
        // A dead active path is left before the packets go out, not after.
        let now = clock::now();
        self.check_active_carrier(now);
        let drained = self.read_tun();
        let read = std::mem::take(&mut self.tun_packets);
        self.traffic.count(now, read);
        self.batch.flush();
        if !drained {
            // More may be waiting: edge-triggered, so come back at once.
            self.again.push(TUN);
        }
    }

    /// Up to [`BUDGET`] packets from the TUN, each read into the uplink
    /// batch behind room for the tunnel header; true once none were left.
    fn read_tun(&mut self) -> bool {
        if self.tun.has_vnet_header() {
            return self.read_vnet_tun();
        }
        for _ in 0..BUDGET {
            let slot = self.batch.slot();
            let room = slot.len().saturating_sub(TAG_LEN);
            let n = match self.tun.recv(&mut slot[SEALED_HEADER..room]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("{}: read: {e}", self.cfg.name);
                    return true;
                }
            };
            self.uplink(n);
        }
        false
    }

    /// [`Engine::read_tun`] from a vnet-header TUN: up to [`BUDGET`] reads,
    /// each cut into whole packets (a 64 KiB TCP super-packet into its
    /// segments) written into the uplink batch.
    fn read_vnet_tun(&mut self) -> bool {
        let mut read = std::mem::take(&mut self.tun_buf);
        read.resize(BUF_LEN + VNET_HDR_LEN, 0);
        let mut drained = false;
        for _ in 0..BUDGET {
            let n = match self.tun.recv(&mut read) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        tracing::warn!("{}: read: {e}", self.cfg.name);
                    }
                    drained = true;
                    break;
                }
            };
            let Ok(mut packets) = Segments::new(&read[..n]) else {
                self.no_path_drops += 1;
                continue;
            };
            loop {
                let slot = self.batch.slot();
                let room = slot.len().saturating_sub(TAG_LEN);
                let Some(len) = packets.next_into(&mut slot[SEALED_HEADER..room]) else {
                    break;
                };
                self.uplink(len);
            }
        }
        self.tun_buf = read;
        drained
    }

    /// Seals the packet read at the batch slot's `SEALED_HEADER..][..len]`
    /// there for the active path; while duplicating, numbered copies for
    /// both paths from the engine's own buffer instead.
    fn uplink(&mut self, len: usize) {
        self.tun_packets += 1;
        let slot = self.batch.slot();
        let is_ipv4 = slot.get(SEALED_HEADER).is_some_and(|b| b >> 4 == 4);
        let Some(tx) = self.switch.tx().filter(|_| is_ipv4) else {
            self.no_path_drops += 1;
            return;
        };
        if let Some(second) = self.duplicating_to(tx) {
            let packet = SEALED_HEADER..SEALED_HEADER + len;
            self.buf[INNER_AT..INNER_AT + len].copy_from_slice(&self.batch.slot()[packet]);
            // In order: what was gathered leaves first.
            self.batch.flush();
            self.uplink_duplicated(tx, second, len);
            return;
        }
        let Some(p) = self.paths.get_mut(tx).and_then(Option::as_mut) else {
            self.no_path_drops += 1;
            return;
        };
        let Ok(sealed) = p.tunnel.seal(self.batch.slot(), len, 0) else {
            self.no_path_drops += 1;
            return;
        };
        let to = Destination {
            fd: p.socket.as_raw_fd(),
            to: self.a.anchor,
            local: None,
        };
        self.batch.push(sealed, to);
    }

    /// Seals `buf[at + SEALED_HEADER..][..len]` in place for path `id` and
    /// sends it; whether it went.
    pub(super) fn send_sealed(&mut self, id: usize, at: usize, len: usize, flags: u8) -> bool {
        let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) else {
            return false;
        };
        let Ok(sealed) = p.tunnel.seal(&mut self.buf[at..], len, flags) else {
            return false;
        };
        if let Err(e) = p
            .socket
            .send_to(&self.buf[at..at + sealed], self.a.anchor.into())
        {
            if e.kind() != io::ErrorKind::WouldBlock {
                tracing::debug!("member {}: send: {e}", p.name);
            }
            p.tunnel.counters.unsent += 1;
        }
        true
    }

    pub(super) fn path_readable(&mut self, id: usize) {
        let datagrams = self.read_path(id);
        self.traffic.count(clock::now(), datagrams);
        // What was gathered for the TUN goes now: nothing waits for more.
        let tun = &self.tun;
        self.coalescer.flush(|header, packet| {
            let _ = tun.send_behind(header, packet);
        });
    }

    /// Up to [`BUDGET`] reads from path `id`; how many datagrams they held.
    fn read_path(&mut self, id: usize) -> usize {
        let mut datagrams = 0;
        for _ in 0..BUDGET {
            let Some(p) = self.paths.get(id).and_then(Option::as_ref) else {
                return datagrams;
            };
            let got = match msg::recv_msg(p.socket.as_raw_fd(), &mut self.buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return datagrams,
                // A queued ICMP error from an earlier send: read on.
                Err(_) => continue,
            };
            if got.from != SocketAddr::V4(self.a.anchor) {
                continue;
            }
            // Several at once when the anchor's send was segmented (UDP_GRO).
            for datagram in got.datagrams() {
                datagrams += 1;
                self.anchor_datagram(id, datagram);
            }
        }
        self.again.push(Token(PATH_BASE + id));
        datagrams
    }

    /// One datagram from the anchor on path `id`, at `buf[at]`.
    fn anchor_datagram(&mut self, id: usize, at: Range<usize>) {
        match self.buf.get(at.start) {
            Some(&TUNNEL_DATA) => self.downlink(id, at),
            Some(&REGISTRATION_REPLY) => {
                let now = self.now();
                let reply = self.buf[at].to_vec();
                self.registrar.on_reply(id, &reply, now);
                self.handle_outputs();
            }
            Some(&notice::EXPERIMENTAL) => {
                let now = self.now();
                if self.registrar.on_notice(id, &self.buf[at], now) {
                    self.handle_outputs();
                }
            }
            _ => {}
        }
    }

    fn downlink(&mut self, id: usize, at: Range<usize>) {
        let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let Some(opened) = p.tunnel.open(&mut self.buf[at.clone()]) else {
            return;
        };
        let mut inner = at.start + opened.start..at.start + opened.end;
        // The header is intact after opening, and authentic.
        if duplicate::is_duplicate(Packet::new_unchecked(&self.buf[at]).flags()) {
            if !self.dup.filter.first_copy(&self.buf[inner.clone()]) {
                return;
            }
            inner.start += ID_LEN;
        }
        let home = self.home.unwrap_or(self.a.home);
        if let Some(k) = keepalive::answered(&self.buf[inner.clone()], home, self.a.home_agent) {
            if let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) {
                if usize::from(k.path) == id {
                    p.keepalive_answered(k.seq, clock::now());
                    self.update_usable(id, "keepalive answered");
                }
            }
            return;
        }
        if self.tun.has_vnet_header() {
            // Segments of one flow go to the kernel together (see
            // mimm_tunnel::coalesce).
            let tun = &self.tun;
            self.coalescer.push(&self.buf[inner], |header, packet| {
                let _ = tun.send_behind(header, packet);
            });
        } else if let Err(e) = self.tun.send(&self.buf[inner]) {
            tracing::debug!("{}: write: {e}", self.cfg.name);
        }
    }

    /// Sends path `id`'s next keepalive (marked primary if it is the
    /// active path).
    pub(super) fn send_keepalive(&mut self, id: usize, now: Nanos) {
        let Some(home) = self.home else { return };
        let primary = self.switch.tx() == Some(id);
        let duplicate = !primary && self.dup.to == Some(id);
        let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        if !p.tunnel.is_bound() {
            return;
        }
        let mut packet = [0u8; SEALED_OVERHEAD + keepalive::ECHO_LEN];
        let k = Keepalive {
            path: id as u16,
            // Given up on a little before the next is due: the timer's
            // jitter must not hold a miss over for another interval.
            seq: p.keepalive_sent(now, Nanos::from_ms(self.a.keepalive_ms * 9 / 10)),
            primary,
            duplicate,
        };
        let len = keepalive::request(&mut packet[SEALED_HEADER..], home, self.a.home_agent, k);
        if let Ok(sealed) = p.tunnel.seal(&mut packet, len, 0) {
            let _ = p.socket.send_to(&packet[..sealed], self.a.anchor.into());
        }
    }
}
