//! The anchored mode's data plane (mimm-tunnel) and the anchor's side of
//! it (mimm-server's `Anchor`): whatever arrives on the tunnel port, none
//! may panic, garbage never opens, and what one side seals the other opens
//! to the same bytes.
//!
//! The first byte picks what the rest is:
//! - 0: one tunnel packet off the wire: the header view, the opener of
//!   both ciphers with a fixed key, a keepalive (answered and read back);
//! - 1: a sealer and an opener of one binding, driven by operations (seal
//!   and open, tamper, replay, hold back and deliver late, garbage);
//! - 2: the anti-replay window fed sequence numbers, checked against the
//!   obvious model (every number accepted, and the highest);
//! - 3: the duplicate filter fed numbered plaintexts;
//! - 4: a read from a vnet-header TUN cut into segments, gathered back by
//!   the coalescer, and cut again (the same packets must come out);
//!   then length-prefixed packets gathered as they come;
//! - 5: an anchor with one client bound over two paths, driven by
//!   operations (uplink sealed by the client or garbage, downlink,
//!   keepalives, re-registration), each result checked.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use libfuzzer_sys::fuzz_target;
use mimm_proto::registration::{Flags, RequestHeader};
use mimm_server::anchor::{Anchor, AnchorConfig, AnchorDrop, Uplink};
use mimm_tunnel::cipher::Cipher;
use mimm_tunnel::coalesce::Coalescer;
use mimm_tunnel::duplicate::{DupFilter, DupNumbers, ID_LEN};
use mimm_tunnel::keepalive::{self, Keepalive};
use mimm_tunnel::keys::{KEY_LEN, derive};
use mimm_tunnel::packet::{FLAG_DUPLICATE, MAX_SEQUENCE, Packet, SEALED_HEADER, SEALED_OVERHEAD};
use mimm_tunnel::replay_window::{ReplayWindow, Verdict, WINDOW};
use mimm_tunnel::seal::{Dropped, Opener, Sealer};
use mimm_tunnel::segment::{PLAIN_HDR, Segments, VNET_HDR_LEN};

const KEY: [u8; KEY_LEN] = *b"fuzzing key, 32 bytes, fixed....";
const HOME: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 2);
const ANCHOR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);

/// Operations read off the input.
struct Ops<'a> {
    data: &'a [u8],
}

impl<'a> Ops<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// A length byte and that many bytes.
    fn chunk(&mut self) -> &'a [u8] {
        let n = self.byte().unwrap_or(0);
        self.take(usize::from(n))
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let got = self.take(8);
        b[..got.len()].copy_from_slice(got);
        u64::from_be_bytes(b)
    }
}

fn cipher_of(bit: u8) -> Cipher {
    if bit & 1 == 0 {
        Cipher::ChaCha20Poly1305
    } else {
        Cipher::None
    }
}

/// Seals `inner` with `sealer` and `flags`: the packet.
fn seal(sealer: &mut Sealer, inner: &[u8], flags: u8) -> Vec<u8> {
    let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
    buf[SEALED_HEADER..SEALED_HEADER + inner.len()].copy_from_slice(inner);
    let len = sealer
        .seal_flagged(&mut buf, inner.len(), flags)
        .expect("room to seal");
    buf.truncate(len);
    buf
}

fn one_packet(data: &[u8]) {
    if let Ok(p) = Packet::new_checked(data) {
        let r = p.payload_range();
        assert!(
            r.start <= r.end && r.end <= data.len(),
            "{r:?} of {}",
            data.len()
        );
        assert_eq!(p.payload().len(), r.len());
        assert!(p.sequence() <= MAX_SEQUENCE);
        let _ = p.flags();
    }
    for cipher in [Cipher::ChaCha20Poly1305, Cipher::None] {
        let mut opener = Opener::with(cipher, &KEY);
        let mut buf = data.to_vec();
        let result = opener.open_range(&mut buf);
        if let Ok(r) = &result {
            assert!(r.start <= r.end && r.end <= buf.len());
        }
        let c = opener.counters();
        let counted = c.opened + c.malformed + c.clear + c.sealed + c.replayed + c.too_old;
        assert_eq!(counted + c.forged, 1, "{result:?} counted once: {c:?}");
    }
    let _ = keepalive::answered(data, HOME, ANCHOR);
    let mut buf = data.to_vec();
    if let Some(k) = keepalive::answer_in_place(&mut buf, HOME, ANCHOR) {
        assert_eq!(keepalive::answered(&buf, HOME, ANCHOR), Some(k));
    }
    let _ = keepalive::checksum(data);
}

/// One binding's sealer and opener.
fn seal_and_open(mut ops: Ops) {
    let cipher = cipher_of(ops.byte().unwrap_or(0));
    let sealed = cipher == Cipher::ChaCha20Poly1305;
    let mut sealer = Sealer::with(cipher, &KEY);
    let mut opener = Opener::with(cipher, &KEY);
    // Garbage goes to an opener of its own: the fuzzer may know a packet
    // sealed with the fixed key, and it must not move this window.
    let mut garbage = Opener::with(cipher, &KEY);
    // Sealed, not yet delivered: (sequence, inner, packet).
    let mut held: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut next = 0u64;
    let mut highest: Option<u64> = None;
    while let Some(op) = ops.byte() {
        let inner = ops.chunk();
        let flags = if op & 0x80 != 0 { FLAG_DUPLICATE } else { 0 };
        match (op & 0x07) % 6 {
            // Sealed and opened at once.
            0 => {
                let mut p = seal(&mut sealer, inner, flags);
                assert_eq!(opener.open(&mut p), Ok(inner), "opens to what was sealed");
                highest = Some(next);
                next += 1;
            }
            // Tampered with: refused, and the window does not move.
            1 => {
                let mut p = seal(&mut sealer, inner, flags);
                next += 1;
                let at = usize::from(ops.byte().unwrap_or(0)) % p.len();
                let bit = 1u8 << (ops.byte().unwrap_or(0) % 8);
                p[at] ^= bit;
                let got = opener.open(&mut p).map(<[u8]>::to_vec);
                if sealed {
                    assert!(got.is_err(), "a tampered packet opened: {got:?}");
                }
            }
            // Opened twice: a replay.
            2 => {
                let p = seal(&mut sealer, inner, flags);
                let mut first = p.clone();
                assert_eq!(opener.open(&mut first), Ok(inner));
                highest = Some(next);
                next += 1;
                let mut again = p;
                let got = opener.open(&mut again).map(<[u8]>::to_vec);
                if sealed {
                    assert_eq!(got, Err(Dropped::Replayed));
                }
            }
            // Anything at all.
            3 => {
                let mut p = inner.to_vec();
                let _ = garbage.open(&mut p);
            }
            // Held back...
            4 => {
                let p = seal(&mut sealer, inner, flags);
                if held.len() < 64 {
                    held.push((next, inner.to_vec(), p));
                }
                next += 1;
            }
            // ...and delivered late: within the window it opens.
            _ => {
                if held.is_empty() {
                    continue;
                }
                let i = usize::from(inner.first().copied().unwrap_or(0)) % held.len();
                let (seq, inner, mut p) = held.swap_remove(i);
                let got = opener.open(&mut p).map(<[u8]>::to_vec);
                match highest {
                    Some(h) if sealed && seq < h && h - seq >= WINDOW => {
                        assert_eq!(got, Err(Dropped::TooOld))
                    }
                    _ => {
                        assert_eq!(got, Ok(inner), "sequence {seq}, highest {highest:?}");
                        highest = Some(highest.map_or(seq, |h| h.max(seq)));
                    }
                }
            }
        }
    }
}

/// The replay window against a set of everything it accepted.
fn replay_window(mut ops: Ops) {
    let mut w = ReplayWindow::default();
    let mut seen = BTreeSet::new();
    let mut last = 0u64;
    while let Some(op) = ops.byte() {
        let seq = if op & 2 == 0 {
            ops.u64()
        } else {
            let d = i16::from_be_bytes([ops.byte().unwrap_or(0), ops.byte().unwrap_or(0)]);
            last.wrapping_add_signed(i64::from(d))
        };
        last = seq;
        let highest = seen.last().copied();
        let want = match highest {
            Some(h) if seq <= h && h - seq >= WINDOW => Verdict::TooOld,
            _ if seen.contains(&seq) => Verdict::Duplicate,
            _ => Verdict::Fresh,
        };
        let record = op & 1 == 1;
        let got = if record { w.accept(seq) } else { w.check(seq) };
        assert_eq!(got, want, "{seq} after highest {highest:?}");
        if record && want == Verdict::Fresh {
            seen.insert(seq);
            // Older than the window: the model needs them no longer.
            while seen.len() > 2048 {
                seen.pop_first();
            }
        }
    }
}

/// The duplicate filter: a second copy right after the first is dropped.
fn duplicate_filter(mut ops: Ops) {
    let mut f = DupFilter::default();
    let mut refused = 0u64;
    while let Some(op) = ops.byte() {
        let p = ops.take(usize::from(op % 8));
        let first = f.first_copy(p);
        if !first && p.len() >= ID_LEN {
            refused += 1;
        }
        if op & 0x80 != 0 {
            let second = f.first_copy(p);
            assert!(!second, "the second copy of {p:?} passed");
            if p.len() >= ID_LEN {
                refused += 1;
            }
        }
    }
    assert_eq!(f.dropped, refused);
}

/// Every packet a read from the TUN is cut into (each checked).
fn segments_of(read: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut s = Segments::new(read).ok()?;
    let mut out = vec![0u8; 70_000];
    let mut packets = Vec::new();
    // One segment per byte of payload at most, and one for an empty one.
    for _ in 0..read.len() + 2 {
        let Some(len) = s.next_into(&mut out) else {
            return Some(packets);
        };
        assert!(len <= read.len() - VNET_HDR_LEN);
        packets.push(out[..len].to_vec());
    }
    panic!("more segments than the read has bytes");
}

fn segment_and_coalesce(mut ops: Ops) {
    let n = u16::from_be_bytes([ops.byte().unwrap_or(0), ops.byte().unwrap_or(0)]);
    let read = ops.take(usize::from(n));
    if let Some(first) = segments_of(read) {
        let gso = read[1] & 0x7f != 0;
        if gso {
            for p in &first {
                let ip_len = usize::from(p[0] & 0x0f) * 4;
                assert_eq!(keepalive::checksum(&p[..ip_len]), 0, "IPv4 checksum");
            }
        }
        let mut c = Coalescer::default();
        let mut writes: Vec<Vec<u8>> = Vec::new();
        for p in &first {
            c.push(p, |h, p| writes.push([h, p].concat()));
        }
        c.flush(|h, p| writes.push([h, p].concat()));
        assert_eq!(c.counters.packets, first.len() as u64);
        assert_eq!(c.counters.writes, writes.len() as u64);
        // Cut again, the gathered packets are the ones gathered.
        let again: Vec<Vec<u8>> = writes
            .iter()
            .flat_map(|w| segments_of(w).expect("the coalescer's writes read back"))
            .collect();
        assert_eq!(again, first, "cut, gathered and cut again");
    }
    // Packets as they come off the tunnel: each is written, alone or gathered.
    let mut c = Coalescer::default();
    let mut pushed = 0u64;
    let mut written = 0u64;
    while !ops.data.is_empty() {
        let p = ops.chunk();
        c.push(p, |h, w| {
            assert!(w.len() <= 65_535);
            assert!(
                h == PLAIN_HDR || h[1] != 0,
                "a gathered write is marked GSO"
            );
            written += 1;
        });
        pushed += 1;
    }
    c.flush(|_, w| {
        assert!(w.len() <= 65_535);
        written += 1;
    });
    assert_eq!(c.counters.packets, pushed);
    assert_eq!(c.counters.writes, written);
}

/// The client's end of one path.
struct Path {
    care_of: Ipv4Addr,
    source: SocketAddrV4,
    identification: u64,
    sealer: Sealer,
    opener: Opener,
    /// The uplink sealer of the keys before the last re-registration.
    old: Option<Sealer>,
}

const SPI: u32 = 0x100;
const MN_KEY: &[u8] = b"0123456789abcdef";

fn register(a: &mut Anchor, p: &Path) -> Ipv4Addr {
    let req = RequestHeader {
        flags: Flags(Flags::S | Flags::D),
        lifetime: 300,
        home_address: Ipv4Addr::UNSPECIFIED,
        home_agent: ANCHOR,
        care_of: p.care_of,
        identification: p.identification,
    };
    let answer = a.register(0, SPI, MN_KEY, &req, p.source);
    assert_eq!(answer.code, 0, "{answer:?}");
    answer.home
}

fn keys_for(p: &mut Path, cipher: Cipher, home: Ipv4Addr) {
    let keys = derive(MN_KEY, p.identification, home, p.care_of);
    p.old = Some(std::mem::replace(
        &mut p.sealer,
        Sealer::with(cipher, &keys.uplink),
    ));
    p.opener = Opener::with(cipher, &keys.downlink);
}

/// `inner` made an IPv4 packet between `from` and `to` (at least a header).
fn ipv4(inner: &[u8], from: Option<Ipv4Addr>, to: Option<Ipv4Addr>) -> Vec<u8> {
    let mut p = inner.to_vec();
    if p.len() < 20 {
        p.resize(20, 0);
    }
    p[0] = 0x40 | (p[0] & 0x0f);
    if let Some(a) = from {
        p[12..16].copy_from_slice(&a.octets());
    }
    if let Some(a) = to {
        p[16..20].copy_from_slice(&a.octets());
    }
    p
}

fn ends(p: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let h = p.get(..20).filter(|h| h[0] >> 4 == 4)?;
    let a = |at: usize| Ipv4Addr::new(h[at], h[at + 1], h[at + 2], h[at + 3]);
    Some((a(12), a(16)))
}

fn anchor(mut ops: Ops) {
    let cipher = cipher_of(ops.byte().unwrap_or(0));
    let mut a = Anchor::new(AnchorConfig {
        address: ANCHOR,
        pool: (HOME, Ipv4Addr::new(10, 64, 0, 9)),
        fixed: BTreeMap::new(),
        max_lifetime_s: 600,
        cipher,
    });
    let path = |care_of: [u8; 4], port: u16, identification: u64| Path {
        care_of: care_of.into(),
        source: SocketAddrV4::new(care_of.into(), port),
        identification,
        sealer: Sealer::with(cipher, &[0; KEY_LEN]),
        opener: Opener::with(cipher, &[0; KEY_LEN]),
        old: None,
    };
    let mut paths = [
        path([100, 64, 1, 7], 434, 7),
        path([192, 168, 8, 20], 4500, 8),
    ];
    let mut home = Ipv4Addr::UNSPECIFIED;
    for p in &mut paths {
        home = register(&mut a, p);
        keys_for(p, cipher, home);
    }
    assert_eq!(home, HOME);
    let mut numbers = DupNumbers::default();
    // What the anchor must have heard: the path the last primary
    // keepalive came over (else the newest binding's) and the one whose
    // keepalives asked for copies. Garbage that opens (clear tunnels) may
    // say otherwise: then only what holds anyway is checked.
    let mut primary = 1usize;
    let mut copies_to: Option<usize> = None;
    let mut tainted = false;
    while let Some(op) = ops.byte() {
        let data = ops.chunk();
        let i = usize::from(op >> 7);
        match (op & 0x07) % 6 {
            // Uplink the client sealed, perhaps sent over both paths.
            0 => {
                let inner = if op & 0x08 != 0 {
                    ipv4(data, Some(home), None)
                } else {
                    data.to_vec()
                };
                let from_home = ends(&inner).is_some_and(|(from, _)| from == home);
                let mut probe = inner.clone();
                let is_keepalive = keepalive::answer_in_place(&mut probe, home, ANCHOR).is_some();
                let twice = op & 0x10 != 0;
                let (plaintext, flags) = if twice {
                    let mut n = vec![0u8; ID_LEN];
                    numbers.stamp(&mut n);
                    n.extend_from_slice(&inner);
                    (n, FLAG_DUPLICATE)
                } else {
                    (inner.clone(), 0)
                };
                for (copy, k) in [i, 1 - i]
                    .into_iter()
                    .take(1 + usize::from(twice))
                    .enumerate()
                {
                    let mut packet = seal(&mut paths[k].sealer, &plaintext, flags);
                    let got = a.uplink(paths[k].source, &mut packet);
                    match got {
                        Ok(Uplink::Forward(f)) => {
                            assert!(copy == 0 && from_home, "forwarded: {f:?}");
                            assert!(twice || !is_keepalive, "a keepalive forwarded");
                            assert_eq!(f, &inner[..]);
                        }
                        Ok(Uplink::Answer { to, len }) => {
                            assert!(!twice && is_keepalive, "answered {inner:?}");
                            assert_eq!(to, paths[k].source);
                            let reply =
                                paths[k].opener.open(&mut packet[..len]).map(<[u8]>::to_vec);
                            let reply = reply.expect("the answer opens");
                            assert!(keepalive::answered(&reply, home, ANCHOR).is_some());
                        }
                        Err(AnchorDrop::SecondCopy) => {
                            assert!(copy == 1 || tainted, "first copy dropped");
                        }
                        Err(AnchorDrop::NotIpv4 | AnchorDrop::Spoofed) => {
                            assert!(!from_home || (twice && copy == 1), "{got:?}");
                        }
                        Err(e) => panic!("the client's own packet: {e:?}"),
                    }
                }
            }
            // Anything, from a path or from elsewhere.
            1 => {
                let source = if op & 0x40 == 0 {
                    paths[i].source
                } else {
                    SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 9), 434)
                };
                let mut packet = data.to_vec();
                let got = a.uplink(source, &mut packet).map(|_| ());
                if source != paths[i].source {
                    assert_eq!(got, Err(AnchorDrop::UnknownSource));
                }
                if cipher == Cipher::None || got.is_ok() {
                    tainted = true;
                }
            }
            // Downlink: sealed to the primary path (and copied).
            2 => {
                let inner = match op & 0x18 {
                    0x08 => ipv4(data, None, Some(home)),
                    0x10 => ipv4(data, None, Some(Ipv4Addr::new(10, 64, 0, 5))),
                    _ => data.to_vec(),
                };
                let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD + ID_LEN];
                buf[SEALED_HEADER..SEALED_HEADER + inner.len()].copy_from_slice(&inner);
                let got = a.downlink(&mut buf, inner.len());
                let d = match (ends(&inner), got) {
                    (Some((_, to)), Ok(d)) if to == home => d,
                    (Some((_, to)), Err(AnchorDrop::NoBinding)) if to != home => continue,
                    (None, Err(AnchorDrop::NotIpv4)) => continue,
                    (ends, got) => panic!("downlink of {ends:?}: {got:?}"),
                };
                let k = (0..2)
                    .find(|&k| paths[k].source == d.to)
                    .expect("to a path");
                if !tainted {
                    assert_eq!(k, primary, "downlink over the primary path");
                }
                let duplicated = Packet::new_unchecked(&buf[..]).flags() & FLAG_DUPLICATE != 0;
                let opened = paths[k].opener.open(&mut buf[..d.len]).map(<[u8]>::to_vec);
                let opened = opened.expect("the client opens its downlink");
                let numbered = if duplicated {
                    &opened[ID_LEN..]
                } else {
                    &opened[..]
                };
                assert_eq!(numbered, &inner[..]);
                let copy = a.take_copy().map(|(d2, b)| (d2, b.to_vec()));
                if !tainted {
                    let want = copies_to.filter(|&c| c != k);
                    assert_eq!(
                        copy.as_ref().map(|(d2, _)| d2.to),
                        want.map(|c| paths[c].source)
                    );
                    assert_eq!(duplicated, want.is_some());
                }
                if let Some((d2, mut b)) = copy {
                    let c = (0..2).find(|&c| paths[c].source == d2.to).expect("a path");
                    let second = paths[c].opener.open(&mut b).map(<[u8]>::to_vec);
                    assert_eq!(second.expect("the copy opens"), opened);
                }
            }
            // A keepalive: answered over its own path, said what it said.
            3 => {
                let k = Keepalive {
                    path: u16::from(data.first().copied().unwrap_or(0)),
                    seq: u16::from(data.get(1).copied().unwrap_or(0)),
                    primary: op & 0x08 != 0,
                    duplicate: op & 0x10 != 0,
                };
                let mut inner = [0u8; keepalive::ECHO_LEN];
                let n = keepalive::request(&mut inner, home, ANCHOR, k);
                let mut packet = seal(&mut paths[i].sealer, &inner[..n], 0);
                let got = a.uplink(paths[i].source, &mut packet);
                let Ok(Uplink::Answer { to, len }) = got else {
                    panic!("keepalive: {got:?}");
                };
                assert_eq!(to, paths[i].source);
                let reply = paths[i].opener.open(&mut packet[..len]).map(<[u8]>::to_vec);
                let reply = reply.expect("the answer opens");
                assert_eq!(keepalive::answered(&reply, home, ANCHOR), Some(k));
                if k.primary {
                    primary = i;
                }
                if k.duplicate {
                    copies_to = Some(i);
                } else if copies_to == Some(i) {
                    copies_to = None;
                }
            }
            // Registered again: new keys (the anchor keeps the old uplink
            // ones until the new ones open a packet).
            4 => {
                paths[i].identification += 100;
                assert_eq!(register(&mut a, &paths[i]), home);
                keys_for(&mut paths[i], cipher, home);
            }
            // Sealed with the keys before that: may open, must not panic.
            _ => {
                if let Some(old) = paths[i].old.as_mut() {
                    let mut packet = seal(old, &ipv4(data, Some(home), None), 0);
                    let _ = a.uplink(paths[i].source, &mut packet);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let ops = Ops { data: rest };
    match mode % 6 {
        0 => one_packet(rest),
        1 => seal_and_open(ops),
        2 => replay_window(ops),
        3 => duplicate_filter(ops),
        4 => segment_and_coalesce(ops),
        _ => anchor(ops),
    }
});
