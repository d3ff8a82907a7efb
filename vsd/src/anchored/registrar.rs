//! The router's bindings with the anchor, sans-IO: each member (path)
//! registers its own address as a co-located care-of address of the one
//! home address (RFC 5944, S flag: every path is bound at once), over its
//! own socket so the registration and the path's tunnel packets share one
//! NAT mapping (RFC 3519). It is fed member addresses, replies and time;
//! it asks for datagrams to be sent and tells which bindings hold.
//!
//! - A path registers when its address appears or changes, renews at two
//!   thirds of the lifetime granted, and retransmits unanswered requests
//!   (doubling, up to [`MAX_RETRANSMIT_MS`]) until answered.
//! - A renewal is a new registration: the anchor derives fresh tunnel keys
//!   from it as soon as it accepts it. [`Output::Renewing`] lets the shell
//!   open downlink packets with those keys before the reply arrives; the
//!   old keys still seal uplink until then.
//! - Identifications are NTP times, strictly increasing over all paths
//!   (the anchor's replay check is per SPI); code 133 resynchronises to the
//!   anchor's clock and retries at once.
//! - An anchor that has no binding for a path's packets (it was restarted,
//!   or a NAT moved the mapping) says so with an unsigned notice; the path
//!   registers again at once, at most once per [`REBIND_EVERY_MS`]
//!   (`notice`). A restarted anchor remembers no Identification, so the
//!   next one (the clock's) is fresh to it.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use mimm_io::clock::Millis;
use mimm_proto::auth::Algorithm;
use mimm_proto::ext::Extension;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::registration::{Flags, Header, RequestHeader, code};
use mimm_proto::replay::{self, Now};
use mimm_tunnel::cipher::Cipher;

pub const MAX_RETRANSMIT_MS: Millis = 4_000;
const DATAGRAM: usize = 256;

mod notice;
pub use notice::REBIND_EVERY_MS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// The anchor's own (inner) address: the home agent address.
    pub home_agent: Ipv4Addr,
    /// The home address asked for; unspecified: one from the anchor's pool.
    pub home: Ipv4Addr,
    pub spi: u32,
    pub algorithm: Algorithm,
    pub key: Vec<u8>,
    /// The enterprise number the anchor's server signs MIMM extensions with.
    pub vendor: u32,
    pub lifetime_s: u16,
    pub retransmit_ms: Millis,
    /// The tunnel's, named in the UDP Tunnel Request.
    pub cipher: Cipher,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this registration to the anchor out of path `path`.
    Send { path: usize, bytes: Vec<u8> },
    /// A renewal of a bound path is on its way: the anchor will seal
    /// downlink with the keys of `identification` once it accepts it.
    Renewing {
        path: usize,
        identification: u64,
        care_of: Ipv4Addr,
    },
    /// Path `path` is bound with the keys of `identification`; `again`:
    /// by the registration a notice of the anchor's asked for (it had no
    /// binding for the path any more).
    Bound {
        path: usize,
        home: Ipv4Addr,
        care_of: Ipv4Addr,
        identification: u64,
        again: bool,
    },
    /// Path `path` has no binding any more (why).
    Unbound { path: usize, why: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Asking {
    identification: u64,
    care_of: Ipv4Addr,
    next_at: Millis,
    interval: Millis,
    tries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    identification: u64,
    care_of: Ipv4Addr,
    renew_at: Millis,
    expires: Millis,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Path {
    care_of: Option<Ipv4Addr>,
    asking: Option<Asking>,
    bound: Option<Bound>,
    /// The last refusal's code (shown in status).
    refused: Option<u8>,
    /// Registrations made again on the anchor's notice, and when the last
    /// was (notices before [`REBIND_EVERY_MS`] after it are not heeded).
    rebinds: u64,
    rebound_at: Option<Millis>,
    /// The registration outstanding is one a notice asked for.
    asked_by_notice: bool,
}

/// What status shows of one path's binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathBinding {
    pub care_of: Option<Ipv4Addr>,
    pub bound: bool,
    pub asking: bool,
    pub tries: u32,
    pub refused: Option<u8>,
    /// Seconds the binding has left.
    pub left_s: Option<u64>,
    /// Registrations made again because the anchor had no binding.
    pub rebinds: u64,
}

#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    paths: Vec<Path>,
    /// The home address the anchor gave (or the one configured).
    home: Option<Ipv4Addr>,
    last_identification: u64,
    /// Seconds to add to the local clock to match the anchor's (code 133).
    clock_offset_s: i64,
    outputs: VecDeque<Output>,
}

impl Registrar {
    pub fn new(cfg: RegistrarConfig) -> Registrar {
        let home = (!cfg.home.is_unspecified()).then_some(cfg.home);
        Registrar {
            cfg,
            paths: Vec::new(),
            home,
            last_identification: 0,
            clock_offset_s: 0,
            outputs: VecDeque::new(),
        }
    }

    pub fn home(&self) -> Option<Ipv4Addr> {
        self.home
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    fn path(&mut self, path: usize) -> &mut Path {
        if self.paths.len() <= path {
            self.paths.resize_with(path + 1, Path::default);
        }
        &mut self.paths[path]
    }

    /// What path `path`'s binding is at `now`.
    pub fn binding(&self, path: usize, now: Millis) -> Option<PathBinding> {
        let p = self.paths.get(path)?;
        Some(PathBinding {
            care_of: p.care_of,
            bound: p.bound.is_some(),
            asking: p.asking.is_some(),
            tries: p.asking.map_or(0, |a| a.tries),
            refused: p.refused,
            left_s: p.bound.map(|b| b.expires.saturating_sub(now) / 1000),
            rebinds: p.rebinds,
        })
    }

    /// Path `path`'s address is `care_of` now (`None`: it has none): a new
    /// one is registered at once; without one the binding is let go here
    /// (the anchor's lapses with its lifetime).
    pub fn set_care_of(&mut self, path: usize, care_of: Option<Ipv4Addr>, now: Now) {
        if self.path(path).care_of == care_of {
            return;
        }
        let p = self.path(path);
        p.care_of = care_of;
        p.asking = None;
        p.asked_by_notice = false;
        p.refused = None;
        let had = p.bound.take().is_some();
        if had {
            let why = format!(
                "address {}",
                care_of.map_or("gone".into(), |a| format!("now {a}"))
            );
            self.outputs.push_back(Output::Unbound { path, why });
        }
        if care_of.is_some() {
            self.register(path, now);
        }
    }

    /// Registers path `path` again now (a renewal if bound).
    pub fn register(&mut self, path: usize, now: Now) {
        let Some(care_of) = self.path(path).care_of else {
            return;
        };
        let identification = self.next_identification(now.id);
        let interval = self.cfg.retransmit_ms.max(1);
        let p = self.path(path);
        p.asking = Some(Asking {
            identification,
            care_of,
            next_at: now.mono.saturating_add(interval),
            interval,
            tries: 1,
        });
        let renewing = p.bound.is_some_and(|b| b.care_of == care_of);
        if renewing && self.home.is_some() {
            self.outputs.push_back(Output::Renewing {
                path,
                identification,
                care_of,
            });
        }
        self.send(path, identification, care_of, self.cfg.lifetime_s);
    }

    /// Deregisters every binding (lifetime 0 for the home address) out of
    /// the first path that has one; the shell's last words on stopping.
    pub fn deregister_all(&mut self, now: Now) {
        let Some(home) = self.home else { return };
        let Some(path) = self.paths.iter().position(|p| p.bound.is_some()) else {
            return;
        };
        let identification = self.next_identification(now.id);
        self.send(path, identification, home, 0);
        for p in &mut self.paths {
            p.bound = None;
            p.asking = None;
        }
    }

    fn next_identification(&mut self, now_id: u64) -> u64 {
        let shifted = now_id.wrapping_add_signed(self.clock_offset_s << 32);
        self.last_identification = shifted.max(self.last_identification + 1);
        self.last_identification
    }

    fn send(&mut self, path: usize, identification: u64, care_of: Ipv4Addr, lifetime: u16) {
        let header = Header::Request(RequestHeader {
            // Simultaneous bindings, decapsulated by the router itself
            // (co-located care-of address), reverse-tunnelled uplink.
            flags: Flags(Flags::S | Flags::D | Flags::T),
            lifetime,
            home_address: self.home.unwrap_or(Ipv4Addr::UNSPECIFIED),
            home_agent: self.cfg.home_agent,
            care_of,
            identification,
        });
        let mut buf = [0u8; DATAGRAM];
        let built = Builder::new(&mut buf, &header, self.cfg.vendor).and_then(|mut b| {
            b.udp_tunnel_request(0, self.cfg.cipher.encapsulation())?;
            b.sign(self.cfg.spi, self.cfg.algorithm, &self.cfg.key)
        });
        match built {
            Ok(bytes) => self.outputs.push_back(Output::Send {
                path,
                bytes: bytes.to_vec(),
            }),
            // A fixed-size header and two short extensions always fit.
            Err(e) => tracing::error!("registration: {e}"),
        }
    }

    /// A datagram from the anchor on path `path`'s socket. Only a signed
    /// reply to the request outstanding there is believed.
    pub fn on_reply(&mut self, path: usize, bytes: &[u8], now: Now) {
        let keys = OneKey {
            spi: self.cfg.spi,
            algorithm: self.cfg.algorithm,
            key: &self.cfg.key,
        };
        let Ok(reg) = message::parse(bytes, self.cfg.vendor, &keys) else {
            return;
        };
        let Header::Reply(reply) = reg.header else {
            return;
        };
        let Some(asking) = self.paths.get(path).and_then(|p| p.asking) else {
            return;
        };
        let ours = reply.identification == asking.identification
            || (reply.code == code::IDENTIFICATION_MISMATCH
                && reply.identification & 0xffff_ffff == asking.identification & 0xffff_ffff);
        if !ours {
            return;
        }
        match reply.code {
            code::ACCEPTED if matches!(reg.udp_tunnel, Some(Extension::UdpTunnelReply { .. })) => {
                self.accepted(path, asking, reply.home_address, reply.lifetime, now.mono)
            }
            code::ACCEPTED => self.refused(path, code::DENIED, "accepted without a UDP tunnel"),
            code::IDENTIFICATION_MISMATCH if asking.tries < 4 => {
                let theirs = i64::from(replay::seconds(reply.identification));
                let ours = i64::from(replay::seconds(now.id));
                self.clock_offset_s = theirs - ours;
                self.register(path, now);
            }
            code::ENCAPSULATION_UNAVAILABLE => {
                let why = format!(
                    "refused: the anchor's tunnels are not {} (option cipher)",
                    self.cfg.cipher.name()
                );
                self.refused(path, code::ENCAPSULATION_UNAVAILABLE, &why);
            }
            c => self.refused(path, c, "refused"),
        }
    }

    fn accepted(
        &mut self,
        path: usize,
        asking: Asking,
        home: Ipv4Addr,
        lifetime: u16,
        now: Millis,
    ) {
        self.home = Some(home);
        let ms = u64::from(lifetime) * 1000;
        let p = self.path(path);
        let again = std::mem::take(&mut p.asked_by_notice);
        p.asking = None;
        p.refused = None;
        p.bound = Some(Bound {
            identification: asking.identification,
            care_of: asking.care_of,
            renew_at: now.saturating_add(ms * 2 / 3),
            expires: now.saturating_add(ms),
        });
        self.outputs.push_back(Output::Bound {
            path,
            home,
            care_of: asking.care_of,
            identification: asking.identification,
            again,
        });
    }

    fn refused(&mut self, path: usize, code: u8, what: &str) {
        let p = self.path(path);
        p.asking = None;
        p.asked_by_notice = false;
        p.refused = Some(code);
        let had = p.bound.take().is_some();
        tracing::warn!("path {path}: registration {what} (code {code})");
        if had {
            let why = format!("registration {what} (code {code})");
            self.outputs.push_back(Output::Unbound { path, why });
        }
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        let times = self.paths.iter().flat_map(|p| {
            let asking = p.asking.map(|a| a.next_at);
            let bound = p.bound.map(|b| b.renew_at.min(b.expires));
            asking.into_iter().chain(bound)
        });
        times.min()
    }

    pub fn handle_timeout(&mut self, now: Now) {
        for path in 0..self.paths.len() {
            let p = self.paths[path];
            if let Some(b) = p.bound.filter(|b| b.expires <= now.mono) {
                self.paths[path].bound = None;
                let why = format!("lifetime ran out ({} unanswered)", b.care_of);
                self.outputs.push_back(Output::Unbound { path, why });
            }
            match p.asking {
                Some(a) if a.next_at <= now.mono => self.retransmit(path, a, now),
                Some(_) => {}
                None if p.bound.is_some_and(|b| b.renew_at <= now.mono) => self.register(path, now),
                None => {}
            }
        }
    }

    /// The request again, later each time.
    fn retransmit(&mut self, path: usize, mut a: Asking, now: Now) {
        a.interval = (a.interval * 2).min(MAX_RETRANSMIT_MS);
        a.next_at = now.mono.saturating_add(a.interval);
        a.tries += 1;
        // A fresh Identification: a lost reply must not turn the anchor's
        // answer to the retransmission into a replay refusal.
        a.identification = self.next_identification(now.id);
        self.paths[path].asking = Some(a);
        let renewing = self.paths[path]
            .bound
            .is_some_and(|b| b.care_of == a.care_of);
        if renewing {
            self.outputs.push_back(Output::Renewing {
                path,
                identification: a.identification,
                care_of: a.care_of,
            });
        }
        self.send(path, a.identification, a.care_of, self.cfg.lifetime_s);
    }
}

#[cfg(test)]
mod tests;
