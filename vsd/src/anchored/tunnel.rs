//! One path's tunnel at the router: the uplink sealer and the downlink
//! openers of its binding, kept in step with the registrar, sans-IO.
//!
//! A renewal changes keys without a gap: the anchor seals downlink with
//! the new keys as soon as it accepts the registration, so the opener for
//! them is ready before the reply ([`PathTunnel::renewing`]); the old keys'
//! opener stays for packets sealed before. Uplink moves to the new keys
//! with the reply ([`PathTunnel::bound`]): the anchor accepts both for a
//! while.

use std::net::Ipv4Addr;

use mimm_tunnel::cipher::Cipher;
use mimm_tunnel::keys::derive;
use mimm_tunnel::seal::{Dropped, Opener, SealError, Sealer};

struct Keyed {
    identification: u64,
    sealer: Sealer,
    opener: Opener,
}

fn keyed(
    cipher: Cipher,
    key: &[u8],
    identification: u64,
    home: Ipv4Addr,
    care_of: Ipv4Addr,
) -> Keyed {
    let keys = derive(key, identification, home, care_of);
    Keyed {
        identification,
        sealer: Sealer::with(cipher, &keys.uplink),
        opener: Opener::with(cipher, &keys.downlink),
    }
}

/// What a path's tunnel did with packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TunnelCounters {
    pub sealed: u64,
    pub opened: u64,
    /// Not authentic under any key the path holds (or malformed, clear).
    pub rejected: u64,
    pub replayed: u64,
    /// Uplink packets with no binding to carry them.
    pub unbound: u64,
    /// Sealed but refused by the socket (full, or no route).
    pub unsent: u64,
}

#[derive(Default)]
pub struct PathTunnel {
    cipher: Cipher,
    current: Option<Keyed>,
    /// The renewal's keys, before its reply.
    pending: Option<Keyed>,
    /// The keys before the last renewal: downlink sealed with them may
    /// still be on its way.
    previous: Option<Keyed>,
    pub counters: TunnelCounters,
}

impl PathTunnel {
    pub fn new(cipher: Cipher) -> PathTunnel {
        PathTunnel {
            cipher,
            ..PathTunnel::default()
        }
    }

    pub fn is_bound(&self) -> bool {
        self.current.is_some()
    }

    pub fn renewing(&mut self, key: &[u8], identification: u64, home: Ipv4Addr, care_of: Ipv4Addr) {
        self.pending = Some(keyed(self.cipher, key, identification, home, care_of));
    }

    /// The registration `identification` is accepted: its keys are current.
    pub fn bound(&mut self, key: &[u8], identification: u64, home: Ipv4Addr, care_of: Ipv4Addr) {
        let next = match self.pending.take() {
            Some(p) if p.identification == identification => p,
            _ => keyed(self.cipher, key, identification, home, care_of),
        };
        self.previous = self.current.replace(next);
    }

    pub fn unbound(&mut self) {
        self.current = None;
        self.pending = None;
        self.previous = None;
    }

    /// Seals the inner packet at `buf[SEALED_HEADER..][..inner_len]`
    /// with header `flags`.
    pub fn seal(
        &mut self,
        buf: &mut [u8],
        inner_len: usize,
        flags: u8,
    ) -> Result<usize, SealError> {
        let Some(k) = self.current.as_mut() else {
            self.counters.unbound += 1;
            return Err(SealError::TooSmall);
        };
        let len = k.sealer.seal_flagged(buf, inner_len, flags)?;
        self.counters.sealed += 1;
        Ok(len)
    }

    /// Opens a downlink packet in place with whichever key sealed it: the
    /// inner packet's range in `packet`.
    pub fn open(&mut self, packet: &mut [u8]) -> Option<std::ops::Range<usize>> {
        let mut replayed = false;
        for k in [&mut self.current, &mut self.pending, &mut self.previous]
            .into_iter()
            .flatten()
        {
            match k.opener.open_range(packet) {
                Ok(inner) => {
                    self.counters.opened += 1;
                    return Some(inner);
                }
                Err(Dropped::Replayed | Dropped::TooOld) => replayed = true,
                // A failed tag leaves the packet as it was: try the next key.
                Err(_) => {}
            }
        }
        if replayed {
            self.counters.replayed += 1;
        } else {
            self.counters.rejected += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimm_tunnel::packet::{CLEAR_HEADER, SEALED_HEADER};

    const KEY: &[u8] = b"router-one-key-0";
    const HOME: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 2);
    const COA: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 2);

    /// What the anchor seals downlink with for registration `id`.
    fn anchor_sealer(id: u64) -> Sealer {
        Sealer::new(&derive(KEY, id, HOME, COA).downlink)
    }

    fn sealed(s: &mut Sealer, byte: u8) -> Vec<u8> {
        let mut buf = vec![0u8; 100];
        let len = s.seal_into(&[byte; 20], &mut buf).unwrap();
        buf.truncate(len);
        buf
    }

    #[test]
    fn a_renewal_opens_old_and_new_keys_and_nothing_else() {
        let mut t = PathTunnel::default();
        t.bound(KEY, 1, HOME, COA);
        let (mut old, mut new) = (anchor_sealer(1), anchor_sealer(2));
        let before = sealed(&mut old, 1);
        t.renewing(KEY, 2, HOME, COA);
        // The anchor accepted the renewal: new keys before the reply...
        let mut p = sealed(&mut new, 2);
        let inner = t.open(&mut p).expect("the pending keys open it");
        assert_eq!(p[inner], [2u8; 20]);
        t.bound(KEY, 2, HOME, COA);
        // ...and a packet sealed with the old keys arriving late.
        let mut late = before.clone();
        assert!(t.open(&mut late).is_some());
        let mut again = before;
        assert!(t.open(&mut again).is_none(), "a replay under the old keys");
        let mut forged = sealed(&mut new, 3);
        forged[SEALED_HEADER] ^= 1;
        assert!(t.open(&mut forged).is_none());
        assert_eq!(
            (t.counters.opened, t.counters.replayed, t.counters.rejected),
            (2, 1, 1)
        );
        let mut stranger = sealed(&mut Sealer::new(&[7; 32]), 4);
        assert!(t.open(&mut stranger).is_none());
        t.unbound();
        let mut buf = [0u8; 64];
        assert!(t.seal(&mut buf, 10, 0).is_err());
        assert_eq!(t.counters.unbound, 1);
    }

    /// `cipher none`: clear packets both ways, the inner packet after the
    /// 4-byte header; a sealed one from the anchor is not taken.
    #[test]
    fn a_clear_path_takes_clear_packets_only() {
        let mut t = PathTunnel::new(Cipher::None);
        t.bound(KEY, 1, HOME, COA);
        let mut anchor = Sealer::with(Cipher::None, &derive(KEY, 1, HOME, COA).downlink);
        let mut p = sealed(&mut anchor, 5);
        assert_eq!(p.len(), CLEAR_HEADER + 20);
        let inner = t.open(&mut p).expect("clear opens");
        assert_eq!((inner.start, &p[inner]), (CLEAR_HEADER, &[5u8; 20][..]));
        let mut sealed_one = sealed(&mut anchor_sealer(1), 6);
        assert!(t.open(&mut sealed_one).is_none());
        let mut buf = [0u8; 64];
        buf[SEALED_HEADER..SEALED_HEADER + 10].fill(7);
        assert_eq!(t.seal(&mut buf, 10, 0), Ok(CLEAR_HEADER + 10));
        assert_eq!(
            &buf[..CLEAR_HEADER + 10],
            &[4, 4, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]
        );
    }
}
