//! The anchor's data path: tunnel packets from clients opened (and their
//! keepalives answered), packets for home addresses sealed to the client's
//! downlink binding. In place in the caller's buffer, no allocation.

use std::net::{Ipv4Addr, SocketAddrV4};

use mimm_tunnel::duplicate::{ID_LEN, is_duplicate};
use mimm_tunnel::packet::{FLAG_DUPLICATE, Packet, SEALED_HEADER};
use mimm_tunnel::seal::SealError;

use super::{Anchor, AnchorDrop, Binding, echo};

/// What an uplink tunnel packet came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Uplink<'a> {
    /// The inner packet, for the kernel (the TUN).
    Forward(&'a [u8]),
    /// A keepalive, answered: the first `len` bytes of the buffer are the
    /// sealed Echo Reply, to send to `to` (where the request came from).
    Answer { to: SocketAddrV4, len: usize },
}

/// A downlink packet sealed in the caller's buffer: the first `len` bytes,
/// to send to `to` from the anchor host's address `local` (the one the
/// binding's registration came to; `None`: the socket's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downlink {
    pub to: SocketAddrV4,
    pub local: Option<Ipv4Addr>,
    pub len: usize,
}

/// An IPv4 packet's source and destination.
fn ipv4_ends(packet: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let header = packet.get(..20).filter(|h| h[0] >> 4 == 4)?;
    let addr =
        |at: usize| Ipv4Addr::new(header[at], header[at + 1], header[at + 2], header[at + 3]);
    Some((addr(12), addr(16)))
}

impl Anchor {
    /// A tunnel data packet from `source`, opened in place: the inner
    /// packet when it comes over a binding, opens, is fresh and is from
    /// that client's home address (a client can send as itself only); or,
    /// for a keepalive, its answer sealed in the same buffer.
    pub fn uplink<'a>(
        &mut self,
        source: SocketAddrV4,
        packet: &'a mut [u8],
    ) -> Result<Uplink<'a>, AnchorDrop> {
        let result = self.open_uplink(source, packet);
        let c = &mut self.counters;
        match result {
            Ok(Uplink::Forward(_)) => c.uplink += 1,
            Ok(Uplink::Answer { .. }) => c.keepalives += 1,
            Err(AnchorDrop::UnknownSource) => c.unknown_source += 1,
            Err(AnchorDrop::Spoofed | AnchorDrop::NotIpv4) => c.spoofed += 1,
            Err(AnchorDrop::SecondCopy) => c.second_copies += 1,
            Err(_) => c.unopened += 1,
        }
        result
    }

    fn open_uplink<'a>(
        &mut self,
        source: SocketAddrV4,
        packet: &'a mut [u8],
    ) -> Result<Uplink<'a>, AnchorDrop> {
        let own = self.cfg.address;
        let tunnel = self.tunnels.get(source).ok_or(AnchorDrop::UnknownSource)?;
        let (spi, home, care_of) = (tunnel.spi, tunnel.home, tunnel.care_of);
        let (plaintext, with_previous) = tunnel.open(packet).map_err(AnchorDrop::Tunnel)?;
        if with_previous {
            self.counters.previous_keys += 1;
        }
        // The header is intact after opening, and authentic.
        let duplicated = is_duplicate(Packet::new_unchecked(&packet[..]).flags());
        if duplicated && !self.dup.first_uplink_copy(spi, &packet[plaintext.clone()]) {
            return Err(AnchorDrop::SecondCopy);
        }
        let inner = if duplicated {
            plaintext.start + ID_LEN..plaintext.end
        } else {
            plaintext.clone()
        };
        match ipv4_ends(packet.get(inner.clone()).unwrap_or_default()) {
            Some((from, _)) if from == home => {}
            Some(_) => return Err(AnchorDrop::Spoofed),
            None => return Err(AnchorDrop::NotIpv4),
        }
        if duplicated {
            // Keepalives are never duplicated.
            return Ok(Uplink::Forward(&packet[inner]));
        }
        let tunnel = self.tunnels.get(source).ok_or(AnchorDrop::UnknownSource)?;
        match echo::answer(&mut tunnel.sealer, packet, plaintext, home, own) {
            None => Ok(Uplink::Forward(&packet[inner])),
            Some(Err(e)) => Err(AnchorDrop::Seal(e)),
            Some(Ok((said, len))) => {
                if said.primary {
                    self.set_primary(spi, care_of);
                }
                self.dup.keepalive(spi, care_of, said.duplicate);
                Ok(Uplink::Answer { to: source, len })
            }
        }
    }

    /// Client `spi` says the path over `care_of` carries its traffic now:
    /// downlink moves there.
    fn set_primary(&mut self, spi: u32, care_of: Ipv4Addr) {
        if let Some(client) = self.clients.get_mut(&spi) {
            client.primary = Some(care_of);
        }
    }

    /// The client `home` belongs to and the binding its downlink goes over.
    fn downlink_binding(&self, home: Ipv4Addr) -> Option<(u32, Binding)> {
        let spi = *self.owners.get(&home)?;
        let binding = self.clients.get(&spi)?.downlink()?;
        Some((spi, *binding))
    }

    /// Seals an IPv4 packet written at `buf[SEALED_HEADER..][..inner_len]`
    /// for the client its destination belongs to, over its downlink
    /// binding: where to send it (and from), and the sealed length.
    pub fn downlink(&mut self, buf: &mut [u8], inner_len: usize) -> Result<Downlink, AnchorDrop> {
        let inner = buf
            .get(SEALED_HEADER..SEALED_HEADER + inner_len)
            .ok_or(AnchorDrop::Seal(SealError::TooSmall))?;
        let (_, to) = ipv4_ends(inner).ok_or(AnchorDrop::NotIpv4)?;
        // The tunnel must still be this client's: a NAT mapping another
        // client's registration took is not a way to it.
        let binding = self
            .downlink_binding(to)
            .filter(|(spi, b)| self.tunnels.get(b.source).is_some_and(|t| t.spi == *spi));
        let Some((spi, binding)) = binding else {
            self.counters.no_binding += 1;
            return Err(AnchorDrop::NoBinding);
        };
        let numbered = self
            .copy_path(spi, binding.source)
            .and_then(|second| self.duplicate_downlink(spi, buf, inner_len, second));
        let (plaintext_len, flags) = match numbered {
            Some(len) => (len, FLAG_DUPLICATE),
            None => (inner_len, 0),
        };
        let tunnel = self
            .tunnels
            .get(binding.source)
            .ok_or(AnchorDrop::NoBinding)?;
        let len = tunnel
            .sealer
            .seal_flagged(buf, plaintext_len, flags)
            .map_err(AnchorDrop::Seal)?;
        self.counters.downlink += 1;
        Ok(Downlink {
            to: binding.source,
            local: binding.local,
            len,
        })
    }
}
