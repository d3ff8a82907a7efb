//! The registrar against the real server core with its anchor: both
//! sans-IO, so the exchange runs here datagram by datagram.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use mimm_proto::DOC_ENTERPRISE;
use mimm_server::anchor::AnchorConfig;
use mimm_server::core::{ClientKey, Server, ServerConfig};
use mimm_tunnel::cipher::Cipher;

use super::*;

const SPI: u32 = 1000;
const KEY: &[u8] = b"router-one-key-0";
const T0_MS: u64 = 1_800_000_000_000;
const HOME_AGENT: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);

fn now(ms: u64) -> Now {
    Now {
        mono: ms,
        id: replay::identification(std::time::Duration::from_millis(T0_MS + ms)),
    }
}

fn anchor() -> Server {
    anchor_with(Cipher::default())
}

fn anchor_with(cipher: Cipher) -> Server {
    Server::new(ServerConfig {
        clients: vec![ClientKey {
            name: "bus17".into(),
            spi: SPI,
            algorithm: Algorithm::HmacSha256,
            key: KEY.to_vec(),
        }],
        anchor: Some(AnchorConfig {
            address: HOME_AGENT,
            pool: (Ipv4Addr::new(10, 64, 0, 2), Ipv4Addr::new(10, 64, 0, 9)),
            fixed: Default::default(),
            max_lifetime_s: 60,
            cipher,
        }),
        ..ServerConfig::default()
    })
}

fn registrar(key: &[u8]) -> Registrar {
    registrar_with(key, Cipher::default())
}

fn registrar_with(key: &[u8], cipher: Cipher) -> Registrar {
    Registrar::new(RegistrarConfig {
        home_agent: HOME_AGENT,
        home: Ipv4Addr::UNSPECIFIED,
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: key.to_vec(),
        vendor: DOC_ENTERPRISE,
        lifetime_s: 600,
        retransmit_ms: 500,
        cipher,
    })
}

/// Where each path's packets appear to come from at the anchor (its NAT).
fn source(path: usize) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(198, 51, 100, 1 + path as u8),
        40_000,
    ))
}

fn coa(path: usize) -> Option<Ipv4Addr> {
    Some(Ipv4Addr::new(100, 64, path as u8, 2))
}

/// Carries every datagram the registrar wants sent to the server and every
/// reply back (`lose_replies`: replies vanish); the other outputs.
fn exchange(r: &mut Registrar, s: &mut Server, t: u64, lose_replies: bool) -> Vec<Output> {
    let mut others = Vec::new();
    while let Some(o) = r.poll_output() {
        match o {
            Output::Send { path, bytes } => {
                s.handle_datagram(now(t), source(path), &bytes);
                while let Some((to, reply)) = s.poll_transmit() {
                    assert_eq!(to, source(path), "answered to the observed source");
                    if !lose_replies {
                        r.on_reply(path, &reply, now(t));
                    }
                }
            }
            other => others.push(other),
        }
    }
    others
}

/// A router whose `option cipher` is not the anchor's is refused with
/// code 139 and binds nothing; with the same cipher it binds.
#[test]
fn a_cipher_the_anchor_does_not_carry_is_refused_with_code_139() {
    for (router, anchor_cipher) in [
        (Cipher::ChaCha20Poly1305, Cipher::None),
        (Cipher::None, Cipher::ChaCha20Poly1305),
    ] {
        let (mut r, mut s) = (registrar_with(KEY, router), anchor_with(anchor_cipher));
        r.set_care_of(0, coa(0), now(0));
        let out = exchange(&mut r, &mut s, 0, false);
        assert!(
            out.is_empty(),
            "{router:?} at a {anchor_cipher:?} anchor: {out:?}"
        );
        let b = r.binding(0, 0).unwrap();
        assert_eq!((b.bound, b.refused), (false, Some(139)), "{router:?}");
        assert_eq!(s.anchor_mut().unwrap().tunnels(), 0);
    }
    let (mut r, mut s) = (registrar_with(KEY, Cipher::None), anchor_with(Cipher::None));
    r.set_care_of(0, coa(0), now(0));
    let out = exchange(&mut r, &mut s, 0, false);
    assert!(
        matches!(out[..], [Output::Bound { path: 0, .. }]),
        "{out:?}"
    );
}

#[test]
fn every_path_binds_the_one_home_address_from_the_pool() {
    let (mut r, mut s) = (registrar(KEY), anchor());
    r.set_care_of(0, coa(0), now(0));
    r.set_care_of(1, coa(1), now(0));
    let out = exchange(&mut r, &mut s, 0, false);
    let home = Ipv4Addr::new(10, 64, 0, 2);
    assert!(
        matches!(out[..], [
        Output::Bound { path: 0, home: h0, .. },
        Output::Bound { path: 1, home: h1, .. },
    ] if h0 == home && h1 == home),
        "{out:?}"
    );
    assert_eq!(r.home(), Some(home));
    let bindings = s
        .anchor_mut()
        .unwrap()
        .client(SPI)
        .unwrap()
        .bindings
        .clone();
    assert_eq!(bindings.len(), 2, "simultaneous bindings");
    let b = r.binding(1, 0).unwrap();
    assert!(b.bound && !b.asking);
    assert_eq!(b.left_s, Some(60), "the anchor's cap is what is granted");
}

#[test]
fn a_binding_is_renewed_before_it_runs_out_with_fresh_keys_announced() {
    let (mut r, mut s) = (registrar(KEY), anchor());
    r.set_care_of(0, coa(0), now(0));
    exchange(&mut r, &mut s, 0, false);
    assert_eq!(r.poll_timeout(), Some(40_000), "two thirds of 60 s");
    r.handle_timeout(now(40_000));
    let out = exchange(&mut r, &mut s, 40_000, false);
    let (pending, bound) = match &out[..] {
        [
            Output::Renewing {
                identification: p, ..
            },
            Output::Bound {
                identification: b, ..
            },
        ] => (*p, *b),
        other => panic!("{other:?}"),
    };
    assert_eq!(pending, bound, "the keys announced are the ones bound");
    let at_anchor = s.anchor_mut().unwrap().client(SPI).unwrap().bindings[0];
    assert_eq!(at_anchor.identification, bound);
    assert!(r.binding(0, 40_000).unwrap().left_s == Some(60));
}

#[test]
fn unanswered_requests_are_sent_again_later_each_time_then_the_binding_lapses() {
    let (mut r, mut s) = (registrar(KEY), anchor());
    r.set_care_of(0, coa(0), now(0));
    exchange(&mut r, &mut s, 0, false);
    let mut sent_at = Vec::new();
    let mut t = 40_000;
    let mut lapsed = false;
    while t <= 61_000 {
        if r.poll_timeout().is_some_and(|at| at <= t) {
            r.handle_timeout(now(t));
            let mut sends = 0;
            while let Some(o) = r.poll_output() {
                match o {
                    Output::Send { .. } => sends += 1,
                    Output::Unbound { path: 0, .. } => lapsed = true,
                    _ => {}
                }
            }
            if sends > 0 {
                sent_at.push(t);
            }
        }
        t += 100;
    }
    assert_eq!(&sent_at[..5], &[40_000, 40_500, 41_500, 43_500, 47_500]);
    assert!(lapsed, "after 60 s without an answer the path is unbound");
    assert!(!r.binding(0, t).unwrap().bound);
    assert!(r.binding(0, t).unwrap().asking, "and still asking");
}

#[test]
fn a_clock_off_by_minutes_is_resynchronised_by_code_133() {
    let (mut r, mut s) = (registrar(KEY), anchor());
    // The router's clock is 5 minutes slow.
    let slow = |ms: u64| Now {
        mono: ms,
        id: replay::identification(std::time::Duration::from_millis(T0_MS - 300_000 + ms)),
    };
    r.set_care_of(0, coa(0), slow(0));
    let mut bound = false;
    for _ in 0..3 {
        while let Some(o) = r.poll_output() {
            match o {
                Output::Send { path, bytes } => {
                    s.handle_datagram(now(0), source(path), &bytes);
                    while let Some((_, reply)) = s.poll_transmit() {
                        r.on_reply(path, &reply, slow(0));
                    }
                }
                Output::Bound { .. } => bound = true,
                _ => {}
            }
        }
    }
    assert!(bound);
}

#[test]
fn replies_not_signed_with_the_key_or_not_for_the_request_are_ignored() {
    let (mut r, mut s) = (registrar(b"not-the-right-k0"), anchor());
    r.set_care_of(0, coa(0), now(0));
    let out = exchange(&mut r, &mut s, 0, false);
    assert!(out.is_empty(), "{out:?}");
    let b = r.binding(0, 0).unwrap();
    assert!(
        !b.bound && b.asking,
        "the anchor refused it unsigned: still asking"
    );
    assert_eq!(s.counters().bad_authenticator, 1);

    // A genuine reply handed to another path is not that path's answer.
    let (mut r, mut s) = (registrar(KEY), anchor());
    r.set_care_of(0, coa(0), now(0));
    r.set_care_of(1, coa(1), now(0));
    let Some(Output::Send { bytes, .. }) = r.poll_output() else {
        panic!("a request")
    };
    s.handle_datagram(now(0), source(0), &bytes);
    let (_, reply) = s.poll_transmit().unwrap();
    r.on_reply(1, &reply, now(0));
    assert!(!r.binding(1, 0).unwrap().bound);
    r.on_reply(0, &reply, now(0));
    assert!(r.binding(0, 0).unwrap().bound);
}

#[test]
fn a_new_address_rebinds_and_stopping_deregisters_every_binding() {
    let (mut r, mut s) = (registrar(KEY), anchor());
    r.set_care_of(0, coa(0), now(0));
    r.set_care_of(1, coa(1), now(0));
    exchange(&mut r, &mut s, 0, false);
    r.set_care_of(1, Some(Ipv4Addr::new(100, 64, 9, 9)), now(1000));
    let out = exchange(&mut r, &mut s, 1000, false);
    assert!(matches!(
        out[..],
        [
            Output::Unbound { path: 1, .. },
            Output::Bound { path: 1, .. }
        ]
    ));
    r.deregister_all(now(2000));
    exchange(&mut r, &mut s, 2000, false);
    let client = s.anchor_mut().unwrap().client(SPI).unwrap();
    assert!(client.bindings.is_empty(), "{client:?}");
    assert!(!r.binding(0, 2000).unwrap().bound);
}

/// A restarted anchor (a fresh server core) knows no binding: its notice
/// has the path register again at once, for the same home, and the fresh
/// core takes the Identification it has no memory against. The binding
/// holds meanwhile; a path already registering, a second notice within
/// [`REBIND_EVERY_MS`] and anything that is not a notice change nothing.
#[test]
fn the_anchors_notice_has_a_path_register_again_at_once_and_no_more_often() {
    use mimm_proto::notice::{Kind, Repr};
    let (mut r, mut s) = (registrar(KEY), anchor());
    r.set_care_of(0, coa(0), now(0));
    r.set_care_of(1, coa(1), now(0));
    exchange(&mut r, &mut s, 0, false);
    let home = r.home().unwrap();
    let mut s = anchor();
    let mut no_binding = [0u8; 4];
    Repr {
        kind: Kind::NoBinding,
    }
    .emit(&mut no_binding)
    .unwrap();
    let t = 5_000;
    assert!(r.on_notice(0, &no_binding, now(t)));
    assert!(r.binding(0, t).unwrap().bound, "a notice unbinds nothing");
    assert!(
        !r.on_notice(0, &no_binding, now(t + 1)),
        "registering already"
    );
    let out = exchange(&mut r, &mut s, t, false);
    assert!(
        matches!(out[..], [
            Output::Renewing { path: 0, .. },
            Output::Bound { path: 0, home: h, again: true, .. },
        ] if h == home),
        "{out:?}"
    );
    let soon = now(t + REBIND_EVERY_MS - 1);
    assert!(
        !r.on_notice(0, &no_binding, soon),
        "too soon after the last"
    );
    assert!(
        r.on_notice(1, &no_binding, now(t + 10)),
        "each path for itself"
    );
    let out = exchange(&mut r, &mut s, t + 10, false);
    assert!(
        matches!(
            out[..],
            [
                _,
                Output::Bound {
                    path: 1,
                    again: true,
                    ..
                }
            ]
        ),
        "{out:?}"
    );
    let client = s.anchor_mut().unwrap().client(SPI).unwrap().clone();
    assert_eq!((client.home, client.bindings.len()), (Some(home), 2));
    for other in [
        &[255u8, 2, 0, 0][..],
        &[255, 1, 0, 1],
        &[255, 1],
        &[4, 253, 0, 0],
    ] {
        assert!(!r.on_notice(0, other, now(t + 5_000)), "{other:?}");
    }
    assert!(r.on_notice(0, &no_binding, now(t + REBIND_EVERY_MS)));
    let out = exchange(&mut r, &mut s, t + REBIND_EVERY_MS, false);
    assert!(matches!(out[..], [_, Output::Bound { again: true, .. }]));
    // A renewal no notice asked for is not bound "again".
    r.handle_timeout(now(t + 45_000));
    let out = exchange(&mut r, &mut s, t + 45_000, false);
    assert!(
        out.iter()
            .all(|o| !matches!(o, Output::Bound { again: true, .. })),
        "{out:?}"
    );
    let b = r.binding(0, t + 45_000).unwrap();
    assert_eq!((b.rebinds, b.bound), (2, true));
}
