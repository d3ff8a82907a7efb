//! Keepalives answered by the anchor itself (the format is
//! [`mimm_tunnel::keepalive`]'s: an ICMP Echo Request from the home address
//! to the anchor's own). The answer goes back sealed over the tunnel the
//! request came in on, not over the client's downlink binding: each path,
//! backups too, gets its own round trip and its NAT mapping refreshed.

use mimm_tunnel::keepalive::{self, Keepalive};
use mimm_tunnel::seal::{SealError, Sealer};

use std::net::Ipv4Addr;
use std::ops::Range;

/// When the inner packet opened at `packet[inner]` is a keepalive from
/// `home` to `own`: turns it into its Echo Reply and seals that in place
/// with `sealer` (the request's own tunnel). What the keepalive said and
/// the sealed length; `None` for any other packet (an application's ping
/// of the anchor's address too: the kernel answers it).
pub(super) fn answer(
    sealer: &mut Sealer,
    packet: &mut [u8],
    inner: Range<usize>,
    home: Ipv4Addr,
    own: Ipv4Addr,
) -> Option<Result<(Keepalive, usize), SealError>> {
    let said = keepalive::answer_in_place(packet.get_mut(inner.clone())?, home, own)?;
    Some(sealer.seal_opened(packet, inner).map(|len| (said, len)))
}
