//! The anchor's tunnel per binding: keys derived at registration, the
//! downlink sealer and the uplink opener with its replay window, found by
//! the source packets come from. Kept in step with the binding cache by
//! [`Tunnels::sync`] after every change to a client's bindings, touching
//! that client's tunnels only.
//!
//! A renewal re-keys a binding at once, but the client seals uplink with
//! the old keys until the reply reaches it: the old opener stays beside
//! the new one until the new keys have opened a packet (the client has
//! switched), so the renewal loses nothing.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;

use mimm_tunnel::cipher::Cipher;
use mimm_tunnel::keys::derive;
use mimm_tunnel::seal::{Dropped, Opener, Sealer};

use super::ClientBindings;

pub(super) struct Tunnel {
    pub spi: u32,
    pub home: Ipv4Addr,
    pub care_of: Ipv4Addr,
    /// The registration whose Identification salted the keys.
    pub identification: u64,
    pub sealer: Sealer,
    pub opener: Opener,
    /// The uplink opener of this binding's keys before its last renewal,
    /// until the new keys open a packet.
    pub previous: Option<Opener>,
}

impl Tunnel {
    /// Opens an uplink packet in place, with the current keys or else the
    /// previous ones: where the inner packet lies and whether the previous
    /// keys opened it.
    pub fn open(&mut self, packet: &mut [u8]) -> Result<(Range<usize>, bool), Dropped> {
        match self.opener.open_range(packet) {
            Ok(inner) => {
                self.previous = None;
                Ok((inner, false))
            }
            // A failed tag leaves the packet as it was.
            Err(Dropped::Forged) => match self.previous.as_mut() {
                Some(previous) => previous.open_range(packet).map(|inner| (inner, true)),
                None => Err(Dropped::Forged),
            },
            Err(other) => Err(other),
        }
    }
}

pub(super) struct Tunnels {
    cipher: Cipher,
    by_source: BTreeMap<SocketAddrV4, Tunnel>,
    /// Each client's tunnels, by source.
    of_client: BTreeMap<u32, Vec<SocketAddrV4>>,
}

/// Keys and windows are not printed: which sources have a tunnel is.
impl std::fmt::Debug for Tunnels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_source.keys()).finish()
    }
}

impl Tunnels {
    pub fn new(cipher: Cipher) -> Tunnels {
        Tunnels {
            cipher,
            by_source: BTreeMap::new(),
            of_client: BTreeMap::new(),
        }
    }

    /// The tunnel of the binding whose packets come from (and go to) `source`.
    pub fn get(&mut self, source: SocketAddrV4) -> Option<&mut Tunnel> {
        self.by_source.get_mut(&source)
    }

    /// Makes client `spi`'s tunnels match its bindings: gone bindings lose
    /// theirs, a binding made or refreshed by another registration gets
    /// fresh keys (and sequence numbers); `key` is the client's MN-HA key.
    /// A source held by another client's binding is taken only by the
    /// registration that just came from it (the NAT gave the mapping away);
    /// otherwise the holder keeps it.
    pub fn sync(
        &mut self,
        spi: u32,
        client: Option<&ClientBindings>,
        key: &[u8],
        registered_from: Option<SocketAddrV4>,
    ) {
        let mut retired = self.retire(spi, client);
        let Some(client) = client else { return };
        let Some(home) = client.home else { return };
        let mut mine = self.of_client.remove(&spi).unwrap_or_default();
        for b in &client.bindings {
            match self.by_source.get(&b.source) {
                Some(t) if t.spi == spi => continue,
                Some(_) if registered_from != Some(b.source) => continue,
                Some(taken) => {
                    let loser = taken.spi;
                    if let Some(list) = self.of_client.get_mut(&loser) {
                        list.retain(|s| *s != b.source);
                    }
                }
                None => {}
            }
            let keys = derive(key, b.identification, home, b.care_of);
            // The same path re-keyed (from the same source or, after the
            // NAT moved it, another): its old opener stays for a while.
            let previous = retired
                .iter()
                .position(|t| t.care_of == b.care_of)
                .map(|i| retired.swap_remove(i).opener);
            let tunnel = Tunnel {
                spi,
                home,
                care_of: b.care_of,
                identification: b.identification,
                sealer: Sealer::with(self.cipher, &keys.downlink),
                opener: Opener::with(self.cipher, &keys.uplink),
                previous,
            };
            self.by_source.insert(b.source, tunnel);
            mine.push(b.source);
        }
        if !mine.is_empty() {
            self.of_client.insert(spi, mine);
        }
    }

    /// Drops client `spi`'s tunnels whose binding is gone (or was made
    /// again by a newer registration); needs no key.
    pub fn forget_gone(&mut self, spi: u32, client: Option<&ClientBindings>) {
        self.retire(spi, client);
    }

    /// [`Tunnels::forget_gone`], handing back the tunnels dropped (a
    /// re-keyed binding's old opener lives on in its new tunnel).
    fn retire(&mut self, spi: u32, client: Option<&ClientBindings>) -> Vec<Tunnel> {
        let bindings = client.map_or(&[][..], |c| &c.bindings);
        let mut retired = Vec::new();
        let Some(sources) = self.of_client.remove(&spi) else {
            return retired;
        };
        let mut kept = Vec::new();
        for source in sources {
            let Some(t) = self.by_source.get(&source).filter(|t| t.spi == spi) else {
                continue;
            };
            let current = bindings.iter().any(|b| {
                b.source == source && b.care_of == t.care_of && b.identification == t.identification
            });
            if current {
                kept.push(source);
            } else {
                retired.extend(self.by_source.remove(&source));
            }
        }
        if !kept.is_empty() {
            self.of_client.insert(spi, kept);
        }
        retired
    }

    pub fn len(&self) -> usize {
        self.by_source.len()
    }
}
