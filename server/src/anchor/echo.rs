//! Keepalives answered by the anchor itself (the format is
//! [`mimm_tunnel::keepalive`]'s: an ICMP Echo Request from the home address
//! to the anchor's own). The answer goes back sealed over the tunnel the
//! request came in on, not over the client's downlink binding: each path,
//! backups too, gets its own round trip and its NAT mapping refreshed.

use mimm_tunnel::keepalive::{self, Keepalive};
use mimm_tunnel::packet::SEALED_HEADER;
use mimm_tunnel::seal::{SealError, Sealer};

use std::net::Ipv4Addr;

/// When the opened inner packet at `packet[SEALED_HEADER..][..inner_len]`
/// is a keepalive from `home` to `own`: turns it into its Echo Reply and
/// seals that in place with `sealer` (the request's own tunnel). What the
/// keepalive said and the sealed length; `None` for any other packet (an
/// application's ping of the anchor's address too: the kernel answers it).
pub(super) fn answer(
    sealer: &mut Sealer,
    packet: &mut [u8],
    inner_len: usize,
    home: Ipv4Addr,
    own: Ipv4Addr,
) -> Option<Result<(Keepalive, usize), SealError>> {
    let inner = packet.get_mut(SEALED_HEADER..SEALED_HEADER + inner_len)?;
    let said = keepalive::answer_in_place(inner, home, own)?;
    Some(sealer.seal(packet, inner_len).map(|len| (said, len)))
}
