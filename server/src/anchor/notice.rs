//! Notices for tunnel packets from a source no binding has
//! ([`mimm_proto::notice`]). A restarted anchor remembers no binding; told
//! nothing, its clients would send into the void until they renewed (at
//! two thirds of the lifetime: 400 s by default), the same with a NAT that
//! moved a client's mapping. Told, a client registers that path again at
//! once, signed.
//!
//! Held back twice, in fixed memory: each source is told at most once per
//! [`EVERY_MS`] (what it sends while its registration is on the way needs
//! no second notice), and all sources together at most [`PER_SECOND`]
//! times a second, so a flood of packets from spoofed sources gets no
//! flood back. A source is remembered in one of [`SLOTS`] slots chosen by
//! a hash of it: two in one slot cost an extra notice at most, within the
//! total.

use std::net::SocketAddrV4;

use mimm_io::clock::Millis;
use mimm_proto::notice::{Kind, Repr};
use mimm_tunnel::packet::Packet;

use super::Anchor;

/// How often one source is told.
pub const EVERY_MS: Millis = 500;
/// Notices a second, over all sources.
pub const PER_SECOND: u32 = 1000;
const SLOTS: usize = 256;

#[derive(Debug)]
pub(super) struct Notices {
    /// The sources told last, and when.
    told: Vec<Option<(SocketAddrV4, Millis)>>,
    /// The second the total counts in (its start), and the count.
    second: Millis,
    in_second: u32,
}

impl Default for Notices {
    fn default() -> Notices {
        Notices {
            told: vec![None; SLOTS],
            second: 0,
            in_second: 0,
        }
    }
}

fn slot(source: SocketAddrV4) -> usize {
    let key = (u64::from(u32::from(*source.ip())) << 16) | u64::from(source.port());
    // Fibonacci hashing: neighbouring addresses and ports spread out.
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % SLOTS
}

impl Notices {
    /// Whether `source` may be told at `now`; if so, it is counted as told.
    fn allow(&mut self, now: Millis, source: SocketAddrV4) -> bool {
        let i = slot(source);
        let recent =
            self.told[i].is_some_and(|(s, at)| s == source && now.saturating_sub(at) < EVERY_MS);
        if recent {
            return false;
        }
        if now.saturating_sub(self.second) >= 1000 {
            self.second = now;
            self.in_second = 0;
        }
        if self.in_second >= PER_SECOND {
            return false;
        }
        self.in_second += 1;
        self.told[i] = Some((source, now));
        true
    }
}

impl Anchor {
    /// After [`Anchor::uplink`] dropped `packet` from `source` as from an
    /// unknown source: the notice that tells the client so, written into
    /// `out` (its length), unless the limits hold it back or `packet` is
    /// not tunnel data. `now` is any monotonic clock's milliseconds (only
    /// notices compare them).
    pub fn notice(
        &mut self,
        now: Millis,
        source: SocketAddrV4,
        packet: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        // Only what a client's tunnel sends is answered, so a notice never
        // answers a notice or anything else on the port.
        Packet::new_checked(packet).ok()?;
        if self.tunnels.get(source).is_some() {
            return None;
        }
        if !self.notices.allow(now, source) {
            self.counters.notices_held += 1;
            return None;
        }
        let len = Repr {
            kind: Kind::NoBinding,
        }
        .emit(out)
        .ok()?;
        self.counters.notices += 1;
        Some(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8, port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(std::net::Ipv4Addr::new(198, 51, 100, last), port)
    }

    #[test]
    fn a_source_is_told_once_per_interval_and_all_within_the_total() {
        let mut n = Notices::default();
        let a = addr(1, 40_000);
        assert!(n.allow(0, a));
        assert!(!n.allow(1, a), "told already");
        assert!(!n.allow(EVERY_MS - 1, a));
        assert!(n.allow(EVERY_MS, a), "told again after the interval");
        // Many sources within one second: the total holds.
        let mut n = Notices::default();
        let told = (0..3000u16)
            .filter(|&p| n.allow(10, addr(2, 1000 + p)))
            .count();
        assert_eq!(told, PER_SECOND as usize);
        assert!(!n.allow(999, addr(3, 1)));
        assert!(n.allow(1010, addr(3, 1)), "a new second");
    }
}
