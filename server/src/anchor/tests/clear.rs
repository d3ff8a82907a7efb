//! `cipher none`: an anchor whose bindings carry clear RFC 3519 packets
//! forwards them, answers keepalives and sends downlink in the clear; a
//! clear binding still takes packets only from its own source and as the
//! client itself, and takes nothing sealed.

use super::*;
use mimm_tunnel::cipher::Cipher;
use mimm_tunnel::keepalive::{self, ECHO_LEN, Keepalive};
use mimm_tunnel::packet::{CLEAR_HEADER, SEALED_HEADER};
use mimm_tunnel::seal::Sealer;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn clear_anchor() -> Anchor {
    Anchor::new(AnchorConfig {
        cipher: Cipher::None,
        ..anchor().cfg
    })
}

fn clear(inner: &[u8]) -> Vec<u8> {
    let mut p = vec![4, 4, 0, 0];
    p.extend_from_slice(inner);
    p
}

#[test]
fn a_clear_binding_forwards_answers_and_sends_in_the_clear() {
    let mut a = clear_anchor();
    let nat = from([203, 0, 113, 9], 40000);
    let home = a
        .register(0, A, KEY, &request(ANY, LTE, 300, false), nat)
        .home;
    let inner = ipv4(home, SERVER);
    assert_eq!(
        a.uplink(nat, &mut clear(&inner)),
        Ok(Uplink::Forward(&inner[..]))
    );
    // Not from the binding's source, not as the client, sealed: dropped.
    let elsewhere = from([203, 0, 113, 9], 40001);
    assert_eq!(
        a.uplink(elsewhere, &mut clear(&inner)),
        Err(AnchorDrop::UnknownSource)
    );
    let spoofed = clear(&ipv4(Ipv4Addr::new(10, 64, 0, 4), SERVER));
    assert_eq!(
        a.uplink(nat, &mut spoofed.clone()),
        Err(AnchorDrop::Spoofed)
    );
    let mut sealed = vec![0u8; 200];
    let len = Sealer::new(&[1; 32])
        .seal_into(&inner, &mut sealed)
        .unwrap();
    assert_eq!(
        a.uplink(nat, &mut sealed[..len]),
        Err(AnchorDrop::Tunnel(Dropped::Sealed))
    );
    // A keepalive: answered in the clear, where it came from.
    let k = Keepalive {
        path: 0,
        seq: 3,
        primary: true,
        duplicate: false,
    };
    let mut echo = [0u8; ECHO_LEN];
    keepalive::request(&mut echo, home, a.cfg.address, k);
    let mut packet = clear(&echo);
    let Ok(Uplink::Answer { to, len }) = a.uplink(nat, &mut packet) else {
        panic!("not answered");
    };
    assert_eq!((to, len), (nat, CLEAR_HEADER + ECHO_LEN));
    assert_eq!(&packet[..CLEAR_HEADER], &[4, 4, 0, 0]);
    let reply = &packet[CLEAR_HEADER..len];
    assert_eq!(keepalive::answered(reply, home, a.cfg.address), Some(k));
    // Downlink: plain IPv4 in UDP to the binding's source.
    let down = ipv4(SERVER, home);
    let mut buf = vec![0u8; SEALED_HEADER + down.len()];
    buf[SEALED_HEADER..].copy_from_slice(&down);
    let Downlink { to, len, .. } = a.downlink(&mut buf, down.len()).unwrap();
    assert_eq!(to, nat);
    assert_eq!(buf[..len], clear(&down)[..]);
    let c = a.counters();
    assert_eq!(
        (c.uplink, c.keepalives, c.downlink, c.spoofed, c.unopened),
        (1, 1, 1, 1, 1)
    );
}
