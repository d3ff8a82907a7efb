//! Selective duplication at the anchor (see `mimm_tunnel::duplicate`):
//! uplink packets a client sent over two paths are forwarded once, and
//! while a client's keepalives on a second path ask for it, every downlink
//! packet goes over that path too, numbered, the copy sealed from a buffer
//! of the anchor's own (taken with [`Anchor::take_copy`]).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use mimm_tunnel::duplicate::{DupFilter, DupNumbers, ID_LEN};
use mimm_tunnel::packet::{FLAG_DUPLICATE, SEALED_HEADER, SEALED_OVERHEAD};

use super::{Anchor, Binding, Downlink};

/// One client's duplication state.
#[derive(Debug, Default)]
pub(super) struct ClientDuplication {
    uplink: DupFilter,
    downlink: DupNumbers,
    /// The care-of address whose path asked for downlink copies.
    to: Option<Ipv4Addr>,
}

/// Every client's, and the buffer the second downlink copy is sealed in.
#[derive(Debug, Default)]
pub(super) struct Duplication {
    clients: BTreeMap<u32, ClientDuplication>,
    copy: Vec<u8>,
    /// The sealed copy waiting in `copy`: where to (and from), how long.
    pending: Option<Downlink>,
}

impl Duplication {
    /// Whether the duplicated uplink packet `plaintext` of client `spi`
    /// is the first copy.
    pub fn first_uplink_copy(&mut self, spi: u32, plaintext: &[u8]) -> bool {
        self.clients
            .entry(spi)
            .or_default()
            .uplink
            .first_copy(plaintext)
    }

    /// A keepalive of client `spi` over `care_of` asked for downlink copies
    /// there (`wants`), or did not.
    pub fn keepalive(&mut self, spi: u32, care_of: Ipv4Addr, wants: bool) {
        let d = self.clients.entry(spi).or_default();
        if wants {
            d.to = Some(care_of);
        } else if d.to == Some(care_of) {
            d.to = None;
        }
    }

    fn to(&self, spi: u32) -> Option<Ipv4Addr> {
        self.clients.get(&spi)?.to
    }
}

impl Anchor {
    /// The sealed downlink copy [`Anchor::downlink`] made, if it made one:
    /// where to send it (and from), and its bytes.
    pub fn take_copy(&mut self) -> Option<(Downlink, &[u8])> {
        let d = self.dup.pending.take()?;
        Some((d, &self.dup.copy[..d.len]))
    }

    /// Client `spi`'s second path for downlink copies: its binding over
    /// the care-of address that asked, unless that is the one at `primary`
    /// (the path the packet goes over anyway).
    pub(super) fn copy_path(&self, spi: u32, primary: SocketAddrV4) -> Option<Binding> {
        let care_of = self.dup.to(spi)?;
        let client = self.clients.get(&spi)?;
        let b = client.bindings.iter().find(|b| b.care_of == care_of)?;
        (b.source != primary).then_some(*b)
    }

    /// Turns the packet at `buf[SEALED_HEADER..][..inner_len]` into a
    /// numbered duplicate (moving it [`ID_LEN`] bytes on) and seals a copy
    /// of it for `second`; the numbered plaintext's length, for sealing the
    /// original. `None` (nothing changed) when the buffer has no room.
    pub(super) fn duplicate_downlink(
        &mut self,
        spi: u32,
        buf: &mut [u8],
        inner_len: usize,
        second: Binding,
    ) -> Option<usize> {
        let numbered_len = ID_LEN + inner_len;
        let has_tunnel = self
            .tunnels
            .get(second.source)
            .is_some_and(|t| t.spi == spi);
        if buf.len() < numbered_len + SEALED_OVERHEAD || !has_tunnel {
            return None;
        }
        let inner = SEALED_HEADER..SEALED_HEADER + inner_len;
        buf.copy_within(inner, SEALED_HEADER + ID_LEN);
        let d = self.dup.clients.entry(spi).or_default();
        d.downlink.stamp(&mut buf[SEALED_HEADER..]);
        let copy = &mut self.dup.copy;
        if copy.len() < buf.len() {
            copy.resize(buf.len(), 0);
        }
        let plaintext = SEALED_HEADER..SEALED_HEADER + numbered_len;
        copy[plaintext.clone()].copy_from_slice(&buf[plaintext]);
        let tunnel = self.tunnels.get(second.source).filter(|t| t.spi == spi)?;
        let sealed = tunnel
            .sealer
            .seal_flagged(&mut self.dup.copy, numbered_len, FLAG_DUPLICATE);
        if let Ok(len) = sealed {
            self.dup.pending = Some(Downlink {
                to: second.source,
                local: second.local,
                len,
            });
            self.counters.duplicated += 1;
        }
        Some(numbered_len)
    }
}
