//! Moving frames: TAP → active member in batches, members → TAP for the
//! ones the switch accepts (the members the kernel path steers send only
//! samples, which say that traffic flows). Frames keep their virtio_net_hdr
//! both ways (the TAP and the packet sockets use the same 10-byte header),
//! so GSO super-frames cross untouched; nothing is allocated per frame.

use std::io;

use mimm_io::tuntap::VNET_HDR_LEN;

use crate::engine::Engine;
use crate::packet::PacketType;

impl Engine {
    /// Drains the TAP (edge-triggered: until it would block) into the
    /// active member.
    pub(super) fn tap_readable(&mut self) {
        loop {
            self.tx_batch.clear();
            let mut drained = false;
            while let Some(slot) = self.tx_batch.next_slot() {
                match self.tap.dev.recv(slot) {
                    Ok(n) => self.tx_batch.commit(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        drained = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::warn!("{}: read: {e}", self.cfg.name);
                        drained = true;
                        break;
                    }
                }
            }
            let queued = self.tx_batch.len();
            if queued > 0 {
                self.send_queued(queued);
            }
            if drained {
                return;
            }
        }
    }

    fn send_queued(&mut self, queued: usize) {
        let now = mimm_io::clock::now();
        self.traffic.count(now, queued);
        // A dead active member is left before the batch goes out, not after.
        self.check_active_carrier(now);
        let member = self
            .switch
            .tx()
            .and_then(|id| self.members.get_mut(id).and_then(Option::as_mut));
        let Some(member) = member else {
            self.no_member_drops += queued as u64;
            return;
        };
        let sent = match member.socket.send_batch(&mut self.tx_batch) {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("{}: send: {e}", member.name);
                0
            }
        };
        let c = &mut member.counters;
        for i in 0..sent {
            let len = self.tx_batch.queued(i).map_or(0, <[u8]>::len);
            c.tx_packets += 1;
            c.tx_bytes += len.saturating_sub(VNET_HDR_LEN) as u64;
        }
        c.tx_dropped += (queued - sent) as u64;
    }

    /// Drains member `id`'s socket; accepted frames go up the TAP.
    pub(super) fn member_readable(&mut self, id: usize) {
        loop {
            let Some(member) = self.members.get_mut(id).and_then(Option::as_mut) else {
                return;
            };
            let n = match member.socket.recv_batch(&mut self.rx_batch) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("{}: receive: {e}", member.name);
                    return;
                }
            };
            let now = mimm_io::clock::now();
            if member.kernel_path {
                // Samples of what the kernel forwards: only that it flows,
                // and the carrier read while it does.
                self.traffic.count_sampled(now, n);
                self.check_active_carrier(now);
                if n < self.rx_batch.capacity() {
                    return;
                }
                continue;
            }
            self.traffic.count(now, n);
            let accepted = self.switch.accepts(id);
            let c = &mut member.counters;
            for i in 0..n {
                let Some((frame, kind, truncated)) = self.rx_batch.received(i) else {
                    break;
                };
                let wanted = matches!(
                    kind,
                    PacketType::Host | PacketType::Broadcast | PacketType::Multicast
                );
                if !accepted || !wanted || truncated || frame.len() <= VNET_HDR_LEN {
                    c.rx_dropped += 1;
                    continue;
                }
                match self.tap.dev.send(frame) {
                    Ok(_) => {
                        c.rx_packets += 1;
                        c.rx_bytes += (frame.len() - VNET_HDR_LEN) as u64;
                    }
                    Err(_) => c.rx_dropped += 1,
                }
            }
            if n < self.rx_batch.capacity() {
                return;
            }
        }
    }
}
