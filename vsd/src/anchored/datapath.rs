//! The anchored data path: packets from the TUN sealed in place and sent
//! out of the active path; packets from any bound path (the old one's are
//! still in flight after a switch) opened and written to the TUN; the
//! anchor's registration replies and keepalive answers taken aside.

use std::io;
use std::net::SocketAddr;

use mimm_io::clock::{self, Nanos};
use mimm_tunnel::keepalive::{self, Keepalive};
use mimm_tunnel::packet::{SEALED_HEADER, SEALED_OVERHEAD, TUNNEL_DATA};

use mio::Token;

use super::engine::{BUF_LEN, Engine, PATH_BASE, TUN};

/// Packets moved per wake-up and source before the others get a turn.
const BUDGET: usize = 64;
/// The first byte of a Registration Reply.
const REGISTRATION_REPLY: u8 = 3;

impl Engine {
    pub(super) fn tun_readable(&mut self) {
        for _ in 0..BUDGET {
            let room = BUF_LEN - SEALED_OVERHEAD;
            let n = match self
                .tun
                .recv(&mut self.buf[SEALED_HEADER..SEALED_HEADER + room])
            {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("{}: read: {e}", self.cfg.name);
                    return;
                }
            };
            self.uplink(n);
        }
        // More may be waiting: edge-triggered, so come back at once.
        self.again.push(TUN);
    }

    /// Seals the packet at `buf[SEALED_HEADER..][..len]` for the active path.
    fn uplink(&mut self, len: usize) {
        let is_ipv4 = self.buf.get(SEALED_HEADER).is_some_and(|b| b >> 4 == 4);
        let path = self.switch.tx().filter(|_| is_ipv4);
        let Some(p) = path.and_then(|id| self.paths.get_mut(id).and_then(Option::as_mut)) else {
            self.no_path_drops += 1;
            return;
        };
        let Ok(sealed) = p.tunnel.seal(&mut self.buf, len) else {
            self.no_path_drops += 1;
            return;
        };
        if let Err(e) = p.socket.send_to(&self.buf[..sealed], self.a.anchor.into()) {
            if e.kind() != io::ErrorKind::WouldBlock {
                tracing::debug!("member {}: send: {e}", p.name);
            }
            p.tunnel.counters.unsent += 1;
        }
    }

    pub(super) fn path_readable(&mut self, id: usize) {
        for _ in 0..BUDGET {
            let Some(p) = self.paths.get(id).and_then(Option::as_ref) else {
                return;
            };
            let Some((n, from)) = mimm_io::udp::recv(&p.socket, &mut self.buf) else {
                return;
            };
            if from != SocketAddr::V4(self.a.anchor) {
                continue;
            }
            match self.buf[..n].first() {
                Some(&TUNNEL_DATA) => self.downlink(id, n),
                Some(&REGISTRATION_REPLY) => {
                    let now = self.now();
                    let reply = self.buf[..n].to_vec();
                    self.registrar.on_reply(id, &reply, now);
                    self.handle_outputs();
                }
                _ => {}
            }
        }
        self.again.push(Token(PATH_BASE + id));
    }

    fn downlink(&mut self, id: usize, n: usize) {
        let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        let Some(inner) = p.tunnel.open(&mut self.buf[..n]) else {
            return;
        };
        let home = self.home.unwrap_or(self.a.home);
        if let Some(k) = keepalive::answered(&self.buf[inner.clone()], home, self.a.home_agent) {
            if usize::from(k.path) == id {
                p.keepalive_answered(k.seq, clock::now());
                self.update_usable(id, "keepalive answered");
            }
            return;
        }
        if let Err(e) = self.tun.send(&self.buf[inner]) {
            tracing::debug!("{}: write: {e}", self.cfg.name);
        }
    }

    /// Sends path `id`'s next keepalive (marked primary if it is the
    /// active path).
    pub(super) fn send_keepalive(&mut self, id: usize, now: Nanos) {
        let Some(home) = self.home else { return };
        let primary = self.switch.tx() == Some(id);
        let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        if !p.tunnel.is_bound() {
            return;
        }
        let mut packet = [0u8; SEALED_OVERHEAD + keepalive::ECHO_LEN];
        let k = Keepalive {
            path: id as u16,
            seq: p.keepalive_sent(now),
            primary,
        };
        let len = keepalive::request(&mut packet[SEALED_HEADER..], home, self.a.home_agent, k);
        if let Ok(sealed) = p.tunnel.seal(&mut packet, len) {
            let _ = p.socket.send_to(&packet[..sealed], self.a.anchor.into());
        }
    }
}
