//! The anchor's binding cache (the Mobile IP home agent of RFC 5944), a
//! sans-IO core: it is given authenticated Registration Requests with the
//! client's SPI and the source they came from, and time; it answers with a
//! reply code and keeps, per client, one home address and its bindings to
//! care-of addresses. The shell tunnels downlink packets for a home address
//! to the bindings' observed sources (NAT-mapped, RFC 3519) and accepts
//! uplink packets only from them.
//!
//! - A client is its SPI: it gets one home address, configured or the next
//!   free one of the pool, and keeps it while it is bound (and after, until
//!   the pool runs short) — a client can never take another's.
//! - Without the S flag a registration replaces the client's bindings; with
//!   it the care-of address is added beside them (make-before-break and
//!   duplication), up to [`MAX_BINDINGS`].
//! - Lifetime 0 deregisters: the care-of address named, or every binding
//!   when it names the home address. Granted lifetimes are capped.
//! - Downlink goes over the binding whose path the client last marked
//!   primary in a keepalive, else over its newest binding.
//!
//! The data path (tunnel packets each way, keepalives) is in `data` and
//! `echo`, the tunnels themselves in `tunnels`; `notice` tells a client
//! whose packets come from a source without a binding (after a restart)
//! to register again.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use mimm_io::clock::Millis;
use mimm_proto::registration::{Flags, RequestHeader, code};
use mimm_tunnel::cipher::Cipher;
use mimm_tunnel::seal::{Dropped, SealError};

mod data;
mod duplicate;
mod echo;
mod notice;
mod tunnels;
pub use data::{Downlink, Uplink};
use tunnels::Tunnels;

/// Care-of addresses bound at once per client (one per member).
pub const MAX_BINDINGS: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorConfig {
    /// The anchor's own inner address (on its TUN): the home agent address
    /// clients register with, and where their keepalives go.
    pub address: Ipv4Addr,
    /// Home addresses handed out in order, `first..=last`.
    pub pool: (Ipv4Addr, Ipv4Addr),
    /// Clients (by SPI) with a home address of their own, outside the pool.
    pub fixed: BTreeMap<u32, Ipv4Addr>,
    /// The longest lifetime granted, seconds.
    pub max_lifetime_s: u16,
    /// What protects every binding's tunnel packets; a client asking for
    /// another is refused (code 139).
    pub cipher: Cipher,
}

/// Where a registration came from (the care-of address, or the NAT's
/// mapping of it) and which of the anchor host's addresses it was sent to
/// (`None`: the shell's socket has one address). Tunnel packets to the
/// binding go out from that address: the NAT's mapping expects them from
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub addr: SocketAddrV4,
    pub local: Option<Ipv4Addr>,
}

impl From<SocketAddrV4> for Source {
    fn from(addr: SocketAddrV4) -> Source {
        Source { addr, local: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    pub care_of: Ipv4Addr,
    /// Where the registration came from: the care-of address behind a NAT
    /// is seen as the NAT's mapping, and tunnel packets go there.
    pub source: SocketAddrV4,
    /// The anchor host's address the registration was sent to, which
    /// tunnel packets to `source` go out from.
    pub local: Option<Ipv4Addr>,
    pub expires: Millis,
    /// The registration that made or last refreshed it (its tunnel keys).
    pub identification: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientBindings {
    pub home: Option<Ipv4Addr>,
    pub bindings: Vec<Binding>,
    /// The care-of address of the path the client's last primary keepalive
    /// came over: downlink goes there while it is bound.
    pub primary: Option<Ipv4Addr>,
}

impl ClientBindings {
    /// The binding downlink packets go over: the primary path's, else the
    /// newest (a client that never says which path is primary).
    pub fn downlink(&self) -> Option<&Binding> {
        let primary = self
            .primary
            .and_then(|p| self.bindings.iter().find(|b| b.care_of == p));
        primary.or(self.bindings.last())
    }
}

/// What a registration came to: the reply's code, home address and the
/// lifetime granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub code: u8,
    pub home: Ipv4Addr,
    pub lifetime_s: u16,
}

impl Answer {
    fn refused(code: u8, home: Ipv4Addr) -> Answer {
        Answer {
            code,
            home,
            lifetime_s: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnchorCounters {
    pub registrations: u64,
    pub deregistrations: u64,
    /// Refused: another client's home address, a full pool, too many bindings.
    pub refused: u64,
    pub expired: u64,
    pub uplink: u64,
    pub downlink: u64,
    /// Keepalives answered (each on the tunnel it came in on).
    pub keepalives: u64,
    /// Uplink packets opened with a binding's keys from before its last
    /// renewal (sealed before the client had the reply).
    pub previous_keys: u64,
    /// Tunnel packets from a source no binding has.
    pub unknown_source: u64,
    /// Uplink packets whose inner source is not the client's home address.
    pub spoofed: u64,
    /// Dropped by a tunnel's opener (clear, malformed, replayed, forged...;
    /// each tunnel counts which).
    pub unopened: u64,
    /// Downlink packets for an address without a binding.
    pub no_binding: u64,
    /// Second copies of duplicated uplink packets, dropped.
    pub second_copies: u64,
    /// Downlink packets also sent over a second path.
    pub duplicated: u64,
    /// Notices sent to sources without a binding (see `notice`), and
    /// those the rate limits held back.
    pub notices: u64,
    pub notices_held: u64,
}

/// Why the anchor dropped a tunnel packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorDrop {
    UnknownSource,
    Tunnel(Dropped),
    /// The inner packet is not IPv4 from (uplink) or to (downlink) a
    /// client's home address.
    NotIpv4,
    Spoofed,
    NoBinding,
    Seal(SealError),
    /// The second copy of a duplicated packet.
    SecondCopy,
}

#[derive(Debug)]
pub struct Anchor {
    cfg: AnchorConfig,
    clients: BTreeMap<u32, ClientBindings>,
    /// Which client holds each home address.
    owners: BTreeMap<Ipv4Addr, u32>,
    /// Pool addresses nobody holds, and where the search for one resumes:
    /// a new client costs a short search, not a walk over the pool.
    pool_free: usize,
    cursor: u32,
    tunnels: Tunnels,
    /// No binding runs out before this (a lower bound: refreshed bindings
    /// only move the true time later), so a registration does not walk
    /// every client.
    next_expiry: Millis,
    counters: AnchorCounters,
    dup: duplicate::Duplication,
    notices: notice::Notices,
}

impl Anchor {
    pub fn new(cfg: AnchorConfig) -> Anchor {
        let owners = cfg.fixed.iter().map(|(&spi, &home)| (home, spi)).collect();
        let (first, last) = (u32::from(cfg.pool.0), u32::from(cfg.pool.1));
        let fixed_inside = (cfg.fixed.values())
            .filter(|&&f| (first..=last).contains(&u32::from(f)))
            .count();
        let size = (last.saturating_sub(first) as usize + 1).saturating_sub(fixed_inside);
        Anchor {
            tunnels: Tunnels::new(cfg.cipher),
            cfg,
            clients: BTreeMap::new(),
            owners,
            pool_free: if first <= last { size } else { 0 },
            cursor: first,
            next_expiry: Millis::MAX,
            counters: AnchorCounters::default(),
            dup: Default::default(),
            notices: Default::default(),
        }
    }

    pub fn counters(&self) -> AnchorCounters {
        self.counters
    }

    pub fn client(&self, spi: u32) -> Option<&ClientBindings> {
        self.clients.get(&spi)
    }

    /// The client a home address belongs to, with its bindings (downlink).
    pub fn bindings_of(&self, home: Ipv4Addr) -> Option<(u32, &[Binding])> {
        let spi = *self.owners.get(&home)?;
        let client = self.clients.get(&spi)?;
        Some((spi, &client.bindings))
    }

    /// An authenticated Registration Request from client `spi` (whose MN-HA
    /// key is `key`), received from `source` (an address, or with the
    /// local address it came to).
    pub fn register(
        &mut self,
        now: Millis,
        spi: u32,
        key: &[u8],
        req: &RequestHeader,
        source: impl Into<Source>,
    ) -> Answer {
        let source = source.into();
        let answer = self.update_bindings(now, spi, req, source);
        let client = self.clients.get(&spi);
        self.tunnels.sync(spi, client, key, Some(source.addr));
        answer
    }

    /// A registration whose UDP Tunnel Request asks for `encapsulation`:
    /// refused (code 139, counted) unless it names this anchor's cipher.
    /// Refused, not bound: a client whose packets would all be dropped
    /// hears why at once.
    pub fn refuse_encapsulation(&mut self, encapsulation: u8, home: Ipv4Addr) -> Option<Answer> {
        if Cipher::from_encapsulation(encapsulation) == Some(self.cfg.cipher) {
            return None;
        }
        self.counters.refused += 1;
        Some(Answer::refused(code::ENCAPSULATION_UNAVAILABLE, home))
    }

    fn update_bindings(
        &mut self,
        now: Millis,
        spi: u32,
        req: &RequestHeader,
        source: Source,
    ) -> Answer {
        self.expire(now);
        if req.lifetime == 0 {
            // A deregistration never takes an address for a client.
            let home = self.own_home(spi).unwrap_or(req.home_address);
            let others = self
                .owners
                .get(&req.home_address)
                .is_some_and(|&o| o != spi);
            if others || (home != req.home_address && !req.home_address.is_unspecified()) {
                self.counters.refused += 1;
                return Answer::refused(code::ADMINISTRATIVELY_PROHIBITED, req.home_address);
            }
            self.deregister(spi, home, req.care_of);
            return Answer {
                code: code::ACCEPTED,
                home,
                lifetime_s: 0,
            };
        }
        let home = match self.home_for(spi, req.home_address) {
            Ok(home) => {
                self.cursor = u32::from(home).wrapping_add(1);
                home
            }
            Err(code) => {
                self.counters.refused += 1;
                return Answer::refused(code, req.home_address);
            }
        };
        let lifetime_s = req.lifetime.min(self.cfg.max_lifetime_s);
        let binding = Binding {
            care_of: req.care_of,
            source: source.addr,
            local: source.local,
            expires: now.saturating_add(u64::from(lifetime_s) * 1000),
            identification: req.identification,
        };
        let client = self.clients.entry(spi).or_default();
        client.home = Some(home);
        let bindings = &mut client.bindings;
        if !req.flags.has(Flags::S) {
            bindings.clear();
        }
        match bindings.iter().position(|b| b.care_of == req.care_of) {
            Some(i) => bindings[i] = binding,
            None if bindings.len() < MAX_BINDINGS => bindings.push(binding),
            None => {
                self.counters.refused += 1;
                return Answer::refused(code::INSUFFICIENT_RESOURCES, home);
            }
        }
        self.next_expiry = self.next_expiry.min(binding.expires);
        if self.owners.insert(home, spi).is_none() && self.in_pool(home) {
            self.pool_free -= 1;
        }
        self.counters.registrations += 1;
        Answer {
            code: code::ACCEPTED,
            home,
            lifetime_s,
        }
    }

    /// The home address `spi` may register: the one asked for if it is its
    /// own (or free in the pool), else its own, else the next free one.
    fn home_for(&self, spi: u32, asked: Ipv4Addr) -> Result<Ipv4Addr, u8> {
        let own = self.own_home(spi);
        if asked.is_unspecified() {
            return own
                .or_else(|| self.free_in_pool())
                .ok_or(code::INSUFFICIENT_RESOURCES);
        }
        match self.owners.get(&asked) {
            Some(&owner) if owner == spi => Ok(asked),
            // Another client's: never handed over.
            Some(_) => Err(code::ADMINISTRATIVELY_PROHIBITED),
            None if own.is_none() && self.in_pool(asked) => Ok(asked),
            None => Err(code::ADMINISTRATIVELY_PROHIBITED),
        }
    }

    /// The client's home address: configured, or the pool's it still holds.
    fn own_home(&self, spi: u32) -> Option<Ipv4Addr> {
        self.cfg.fixed.get(&spi).copied().or_else(|| {
            let home = self.clients.get(&spi)?.home?;
            (self.owners.get(&home) == Some(&spi)).then_some(home)
        })
    }

    fn in_pool(&self, a: Ipv4Addr) -> bool {
        let (first, last) = self.cfg.pool;
        (u32::from(first)..=u32::from(last)).contains(&u32::from(a))
            && !self.cfg.fixed.values().any(|&f| f == a)
    }

    fn free_in_pool(&self) -> Option<Ipv4Addr> {
        if self.pool_free == 0 {
            return None;
        }
        let (first, last) = (u32::from(self.cfg.pool.0), u32::from(self.cfg.pool.1));
        let cursor = self.cursor.clamp(first, last);
        (cursor..=last)
            .chain(first..cursor)
            .map(Ipv4Addr::from)
            .find(|a| !self.owners.contains_key(a) && self.in_pool(*a))
    }

    fn deregister(&mut self, spi: u32, home: Ipv4Addr, care_of: Ipv4Addr) {
        let Some(client) = self.clients.get_mut(&spi) else {
            return;
        };
        let before = client.bindings.len();
        if care_of == home {
            client.bindings.clear();
        } else {
            client.bindings.retain(|b| b.care_of != care_of);
        }
        self.counters.deregistrations += (before - client.bindings.len()) as u64;
    }

    /// Drops bindings whose lifetime ran out; a pool address stays with its
    /// client until another needs it (it may come back on a new link).
    pub fn expire(&mut self, now: Millis) {
        if now >= self.next_expiry {
            self.next_expiry = Millis::MAX;
            for client in self.clients.values_mut() {
                let before = client.bindings.len();
                client.bindings.retain(|b| b.expires > now);
                self.counters.expired += (before - client.bindings.len()) as u64;
                let soonest = client.bindings.iter().map(|b| b.expires).min();
                self.next_expiry = self.next_expiry.min(soonest.unwrap_or(Millis::MAX));
            }
            for (&spi, client) in &self.clients {
                self.tunnels.forget_gone(spi, Some(client));
            }
        }
        // Idle pool addresses are released only when the pool is full.
        if self.pool_free > 0 {
            return;
        }
        let idle: Vec<Ipv4Addr> = self
            .owners
            .iter()
            .filter(|(home, spi)| {
                self.in_pool(**home) && self.clients.get(spi).is_none_or(|c| c.bindings.is_empty())
            })
            .map(|(home, _)| *home)
            .collect();
        for home in idle {
            self.owners.remove(&home);
            self.pool_free += 1;
        }
    }

    /// Tunnels up (one per binding that has its source).
    pub fn tunnels(&self) -> usize {
        self.tunnels.len()
    }

    /// When to call [`Anchor::expire`] next (perhaps early: a binding
    /// refreshed since is found still alive).
    pub fn poll_timeout(&self) -> Option<Millis> {
        (self.next_expiry != Millis::MAX).then_some(self.next_expiry)
    }
}

#[cfg(test)]
mod tests;
