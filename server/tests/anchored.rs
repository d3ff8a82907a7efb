//! Registrations that ask for a UDP tunnel (RFC 3519) make bindings when
//! the anchor runs beside the server: the reply carries the home address,
//! the lifetime granted and a UDP Tunnel Reply, and the tunnel it sets up
//! carries packets both ways, with the keys both ends derive. Without an
//! anchor, or without the extension, registrations are answered as before.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use mimm_proto::auth::Algorithm;
use mimm_proto::ext::Extension;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader, code};
use mimm_proto::{DOC_ENTERPRISE, replay};
use mimm_server::anchor::{AnchorConfig, Downlink, Uplink};
use mimm_server::core::{ClientKey, Now, Peer, Server, ServerConfig};
use mimm_tunnel::keys::derive;
use mimm_tunnel::packet::SEALED_OVERHEAD;
use mimm_tunnel::seal::{Opener, Sealer};

const KEYS: [(u32, &[u8]); 2] = [(1000, b"client-one-key-0"), (1001, b"client-two-key-0")];
const T0: u64 = 1_800_000_000;

fn now(ms: u64) -> Now {
    Now {
        mono: ms,
        id: replay::identification(std::time::Duration::from_millis(T0 * 1000 + ms)),
    }
}

fn server(anchor: bool) -> Server {
    Server::new(ServerConfig {
        clients: KEYS
            .iter()
            .map(|&(spi, key)| ClientKey {
                name: format!("bus-{spi}"),
                spi,
                algorithm: Algorithm::HmacSha256,
                key: key.to_vec(),
            })
            .collect(),
        anchor: anchor.then(|| AnchorConfig {
            address: Ipv4Addr::new(10, 64, 0, 1),
            pool: (Ipv4Addr::new(10, 64, 0, 2), Ipv4Addr::new(10, 64, 0, 200)),
            fixed: Default::default(),
            max_lifetime_s: 600,
            cipher: mimm_tunnel::cipher::Cipher::default(),
        }),
        ..ServerConfig::default()
    })
}

/// A registration from client `k` for `home` over `care_of`, asking for a
/// UDP tunnel when `tunnel`.
fn registration(ms: u64, k: usize, home: Ipv4Addr, care_of: Ipv4Addr, tunnel: bool) -> Vec<u8> {
    let header = Header::Request(RequestHeader {
        flags: Flags(Flags::S | Flags::D | Flags::T),
        lifetime: 900,
        home_address: home,
        home_agent: Ipv4Addr::new(192, 0, 2, 10),
        care_of,
        identification: now(ms).id,
    });
    let mut buf = [0u8; 1500];
    let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
    if tunnel {
        b.udp_tunnel_request(
            0,
            mimm_tunnel::cipher::Cipher::ChaCha20Poly1305.encapsulation(),
        )
        .unwrap();
    }
    let (spi, key) = KEYS[k];
    b.sign(spi, Algorithm::HmacSha256, key).unwrap().to_vec()
}

/// The reply queued, read and authenticated with client `k`'s key: its
/// header and its UDP Tunnel Reply's (code, keepalive), if any.
fn reply(s: &mut Server, k: usize) -> (ReplyHeader, Option<(u8, u16)>) {
    let (_, d) = s.poll_transmit().expect("a reply");
    let bytes = &d[..];
    let (spi, key) = KEYS[k];
    let keys = OneKey {
        spi,
        algorithm: Algorithm::HmacSha256,
        key,
    };
    let r = message::parse(bytes, DOC_ENTERPRISE, &keys).expect("signed by the server");
    let Header::Reply(h) = r.header else {
        panic!("not a reply")
    };
    let tunnel = match r.udp_tunnel {
        Some(Extension::UdpTunnelReply {
            code, keepalive, ..
        }) => Some((code, keepalive)),
        _ => None,
    };
    (h, tunnel)
}

fn nat(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 9), port))
}

const LTE: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 7);

#[test]
fn a_tunnel_registration_binds_a_home_address_and_the_tunnel_carries_both_ways() {
    let mut s = server(true);
    s.handle_datagram(
        now(0),
        nat(40000),
        &registration(0, 0, Ipv4Addr::UNSPECIFIED, LTE, true),
    );
    let (h, tunnel) = reply(&mut s, 0);
    assert_eq!(
        (h.code, h.lifetime),
        (code::ACCEPTED, 600),
        "lifetime capped"
    );
    let home = h.home_address;
    assert_eq!(home, Ipv4Addr::new(10, 64, 0, 2), "from the pool");
    assert_eq!(
        tunnel,
        Some((0, 20)),
        "a UDP Tunnel Reply: accepted, keepalive 20 s"
    );
    // The client derives the same keys from what it sent.
    let keys = derive(KEYS[0].1, now(0).id, home, LTE);
    let mut inner = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
    inner.extend_from_slice(&home.octets());
    inner.extend_from_slice(&[198, 51, 100, 1]);
    inner.extend_from_slice(b"8 bytes!");
    let mut up = vec![0u8; inner.len() + SEALED_OVERHEAD];
    let len = Sealer::new(&keys.uplink)
        .seal_into(&inner, &mut up)
        .unwrap();
    let SocketAddr::V4(source) = nat(40000) else {
        unreachable!()
    };
    let anchor = s.anchor_mut().expect("an anchor");
    assert_eq!(
        anchor.uplink(source, &mut up[..len]),
        Ok(Uplink::Forward(&inner[..]))
    );
    // And back: a packet for the home address goes to the NAT's mapping.
    let mut back = inner.clone();
    back[12..16].copy_from_slice(&[198, 51, 100, 1]);
    back[16..20].copy_from_slice(&home.octets());
    let mut buf = vec![0u8; back.len() + SEALED_OVERHEAD];
    buf[10..10 + back.len()].copy_from_slice(&back);
    let Downlink { to, len, local } = anchor.downlink(&mut buf, back.len()).unwrap();
    assert_eq!((SocketAddr::V4(to), local), (nat(40000), None));
    assert_eq!(
        Opener::new(&keys.downlink).open(&mut buf[..len]),
        Ok(&back[..])
    );
}

#[test]
fn another_clients_home_address_is_refused_and_nothing_changes() {
    let mut s = server(true);
    s.handle_datagram(
        now(0),
        nat(40000),
        &registration(0, 0, Ipv4Addr::UNSPECIFIED, LTE, true),
    );
    let home = reply(&mut s, 0).0.home_address;
    let taker = Ipv4Addr::new(100, 64, 9, 9);
    s.handle_datagram(now(10), nat(50000), &registration(10, 1, home, taker, true));
    let (h, _) = reply(&mut s, 1);
    assert_eq!(h.code, code::ADMINISTRATIVELY_PROHIBITED);
    let anchor = s.anchor_mut().unwrap();
    let (spi, bindings) = anchor.bindings_of(home).unwrap();
    assert_eq!((spi, bindings.len(), bindings[0].care_of), (1000, 1, LTE));
    assert_eq!(anchor.counters().refused, 1);
}

#[test]
fn without_an_anchor_or_the_extension_replies_are_as_before() {
    for (anchor, tunnel) in [(false, true), (true, false)] {
        let mut s = server(anchor);
        let home = Ipv4Addr::new(10, 1, 0, 2);
        s.handle_datagram(now(0), nat(40000), &registration(0, 0, home, LTE, tunnel));
        let (h, ext) = reply(&mut s, 0);
        assert_eq!(
            (h.code, h.home_address, h.lifetime, ext),
            (code::ACCEPTED, home, 900, None)
        );
        if let Some(a) = s.anchor_mut() {
            assert_eq!(a.tunnels(), 0);
        }
    }
}

#[test]
fn bindings_expire_on_the_servers_timer() {
    let mut s = server(true);
    s.handle_datagram(
        now(0),
        nat(40000),
        &registration(0, 0, Ipv4Addr::UNSPECIFIED, LTE, true),
    );
    reply(&mut s, 0);
    assert_eq!(s.poll_timeout(), Some(600_000));
    s.handle_timeout(now(600_000));
    assert_eq!(s.anchor_mut().unwrap().tunnels(), 0);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn registrations_of_several_members_may_arrive_out_of_order_but_none_twice() {
    let mut s = server(true);
    let home = Ipv4Addr::UNSPECIFIED;
    let (slow, fast) = (Ipv4Addr::new(100, 64, 1, 2), Ipv4Addr::new(100, 64, 2, 2));
    // The router sends over the slow path first, the fast one's arrives first.
    let first = registration(10, 0, home, slow, true);
    let second = registration(11, 0, home, fast, true);
    s.handle_datagram(now(20), nat(40001), &second);
    assert_eq!(reply(&mut s, 0).0.code, code::ACCEPTED);
    s.handle_datagram(now(30), nat(40000), &first);
    assert_eq!(
        reply(&mut s, 0).0.code,
        code::ACCEPTED,
        "an older id over another care-of address"
    );
    let bindings = &s.anchor_mut().unwrap().client(KEYS[0].0).unwrap().bindings;
    assert_eq!(bindings.len(), 2);
    // Each again: replays.
    for again in [first, second] {
        s.handle_datagram(now(40), nat(40002), &again);
        assert_eq!(reply(&mut s, 0).0.code, code::IDENTIFICATION_MISMATCH);
    }
    assert_eq!(s.counters().replayed, 2);
}

#[test]
fn a_binding_answers_from_the_address_its_registration_came_to() {
    let mut s = server(true);
    let far = Ipv4Addr::new(198, 51, 100, 1);
    let from = Peer {
        addr: nat(40000),
        local: Some(far),
    };
    let bytes = registration(0, 0, Ipv4Addr::UNSPECIFIED, LTE, true);
    s.handle_datagram_from(now(0), from, &bytes);
    let t = s.poll_transmit_from().expect("a reply");
    assert_eq!((t.to, t.local), (nat(40000), Some(far)));
    let anchor = s.anchor_mut().unwrap();
    let home = Ipv4Addr::new(10, 64, 0, 2);
    let mut back = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 2];
    back.extend_from_slice(&home.octets());
    let mut buf = vec![0u8; back.len() + SEALED_OVERHEAD];
    buf[10..10 + back.len()].copy_from_slice(&back);
    let d = anchor.downlink(&mut buf, back.len()).unwrap();
    assert_eq!((SocketAddr::V4(d.to), d.local), (nat(40000), Some(far)));
}
