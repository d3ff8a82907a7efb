//! One simulated router of the loopback bench: its own UDP socket (the
//! anchor keys tunnels by source address and port), its SPI and key, the
//! registration it has in flight, and once bound its tunnel keys.

use mimm_tunnel::cipher::Cipher;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use mimm_proto::DOC_ENTERPRISE;
use mimm_proto::auth::Algorithm;
use mimm_proto::ext::Extension;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::registration::{Flags, Header, RequestHeader, code};
use mimm_proto::replay;
use mimm_tunnel::keepalive::{self, ECHO_LEN, Keepalive};
use mimm_tunnel::keys::derive;
use mimm_tunnel::packet::SEALED_OVERHEAD;
use mimm_tunnel::seal::{Opener, Sealer};
use mio::net::UdpSocket;

pub const FIRST_SPI: u32 = 1000;
/// The anchor's inner address (the home agent address clients name).
pub const ANCHOR_INNER: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);
const LIFETIME_S: u16 = 600;

/// Client `spi`'s 128-bit key: its SPI first, so no two share one.
pub fn key(spi: u32) -> [u8; 16] {
    let mut k = [0x5au8; 16];
    k[..4].copy_from_slice(&spi.to_be_bytes());
    for (i, b) in k.iter_mut().enumerate().skip(4) {
        *b ^= (spi as u8).wrapping_mul(i as u8 | 1);
    }
    k
}

pub fn key_hex(spi: u32) -> String {
    key(spi).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a reply from the anchor came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Bound,
    /// Authenticated and ours, but not an accepted binding (its code).
    Refused(u8),
    /// Not signed with this client's key, not a reply, not to the request
    /// in flight, or without a UDP Tunnel Reply.
    Bad,
}

struct Tunnel {
    up: Sealer,
    down: Opener,
}

pub struct Client {
    pub spi: u32,
    pub socket: UdpSocket,
    care_of: Ipv4Addr,
    last_id: u64,
    /// The Identification of the registration in flight, and when it left.
    pub asking: Option<(u64, Instant)>,
    pub home: Option<Ipv4Addr>,
    tunnel: Option<Tunnel>,
    seq: u16,
}

impl Client {
    /// A client on its own socket on 127.0.0.1 (its care-of address).
    pub fn new(spi: u32) -> std::io::Result<Client> {
        let socket = UdpSocket::bind("127.0.0.1:0".parse().expect("an address"))?;
        Ok(Client {
            spi,
            socket,
            care_of: Ipv4Addr::LOCALHOST,
            last_id: 0,
            asking: None,
            home: None,
            tunnel: None,
            seq: 0,
        })
    }

    /// A signed registration asking for a UDP tunnel (a renewal once
    /// bound: the same home address, a new Identification, new keys).
    pub fn registration(&mut self, out: &mut [u8]) -> Option<usize> {
        let identification = replay::wall_identification().max(self.last_id + 1);
        self.last_id = identification;
        let header = Header::Request(RequestHeader {
            flags: Flags(Flags::S | Flags::D | Flags::T),
            lifetime: LIFETIME_S,
            home_address: self.home.unwrap_or(Ipv4Addr::UNSPECIFIED),
            home_agent: ANCHOR_INNER,
            care_of: self.care_of,
            identification,
        });
        let key = key(self.spi);
        let mut b = Builder::new(out, &header, DOC_ENTERPRISE).ok()?;
        b.udp_tunnel_request(0, Cipher::default().encapsulation())
            .ok()?;
        let len = b.sign(self.spi, Algorithm::HmacSha256, &key).ok()?.len();
        self.asking = Some((identification, Instant::now()));
        Some(len)
    }

    /// A datagram from the anchor while a registration is in flight: only
    /// a signed, accepted reply to it with a UDP Tunnel Reply binds (and
    /// gives the keys of this registration).
    pub fn on_reply(&mut self, bytes: &[u8]) -> Verdict {
        let key = key(self.spi);
        let keys = OneKey {
            spi: self.spi,
            algorithm: Algorithm::HmacSha256,
            key: &key,
        };
        let Ok(reply) = message::parse(bytes, DOC_ENTERPRISE, &keys) else {
            return Verdict::Bad;
        };
        let (Header::Reply(h), Some((id, _))) = (reply.header, self.asking) else {
            return Verdict::Bad;
        };
        if h.identification != id {
            return Verdict::Bad;
        }
        self.asking = None;
        if h.code != code::ACCEPTED {
            return Verdict::Refused(h.code);
        }
        if !matches!(reply.udp_tunnel, Some(Extension::UdpTunnelReply { .. })) {
            return Verdict::Bad;
        }
        let keys = derive(&key, id, h.home_address, self.care_of);
        self.home = Some(h.home_address);
        self.tunnel = Some(Tunnel {
            up: Sealer::new(&keys.uplink),
            down: Opener::new(&keys.downlink),
        });
        Verdict::Bound
    }

    /// A sealed keepalive to the anchor in `out`: its length.
    pub fn keepalive(&mut self, out: &mut [u8; ECHO_LEN + SEALED_OVERHEAD]) -> Option<usize> {
        let (home, tunnel) = (self.home?, self.tunnel.as_mut()?);
        self.seq = self.seq.wrapping_add(1);
        let mut inner = [0u8; ECHO_LEN];
        let k = Keepalive {
            path: 0,
            seq: self.seq,
            primary: false,
            duplicate: false,
        };
        keepalive::request(&mut inner, home, ANCHOR_INNER, k);
        tunnel.up.seal_into(&inner, out).ok()
    }

    /// Whether `packet` is the anchor's sealed answer to a keepalive.
    pub fn is_answer(&mut self, packet: &mut [u8]) -> bool {
        let (Some(home), Some(tunnel)) = (self.home, self.tunnel.as_mut()) else {
            return false;
        };
        match tunnel.down.open(packet) {
            Ok(inner) => keepalive::answered(inner, home, ANCHOR_INNER).is_some(),
            Err(_) => false,
        }
    }

    pub fn send(&self, datagram: &[u8], to: SocketAddr) -> bool {
        self.socket.send_to(datagram, to).is_ok()
    }
}
