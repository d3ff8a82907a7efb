//! Keepalives: answered by the anchor on the tunnel each came in on; a
//! primary one moves the downlink; anything else to or from the anchor's
//! address is ordinary traffic, and a keepalive is still only the
//! client's own.

use super::two_paths::{LTE_NAT, Path, WIFI_NAT, two_paths};
use super::*;
use mimm_tunnel::keepalive::{self, ECHO_LEN, Keepalive};
use mimm_tunnel::keys::derive;
use mimm_tunnel::packet::{SEALED_HEADER, SEALED_OVERHEAD};
use mimm_tunnel::seal::Sealer;

const ANCHOR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn sealed_keepalive(path: &mut Path, from: Ipv4Addr, to: Ipv4Addr, k: Keepalive) -> Vec<u8> {
    let mut inner = [0u8; ECHO_LEN];
    keepalive::request(&mut inner, from, to, k);
    let mut buf = vec![0u8; ECHO_LEN + SEALED_OVERHEAD];
    let len = path.up.seal_into(&inner, &mut buf).unwrap();
    buf.truncate(len);
    buf
}

const K: Keepalive = Keepalive {
    path: 1,
    seq: 41,
    primary: false,
    duplicate: false,
};

#[test]
fn a_keepalive_is_answered_on_the_tunnel_it_came_in_on() {
    let mut a = anchor();
    let (home, mut lte, mut wifi) = two_paths(&mut a);
    // LTE is the older binding, not the downlink's: the answer still goes
    // back over LTE, sealed with LTE's keys.
    let mut packet = sealed_keepalive(&mut lte, home, ANCHOR, K);
    let Ok(Uplink::Answer { to, len }) = a.uplink(LTE_NAT, &mut packet) else {
        panic!("not answered");
    };
    assert_eq!(to, LTE_NAT);
    assert_eq!(
        wifi.down.open(&mut packet[..len].to_vec()),
        Err(Dropped::Forged),
        "not Wi-Fi's"
    );
    let reply = lte
        .down
        .open(&mut packet[..len])
        .expect("LTE's keys open it");
    assert_eq!(keepalive::answered(reply, home, ANCHOR), Some(K));
    // Checksums right: the IP header's and the ICMP message's sum to zero.
    assert_eq!(keepalive::checksum(&reply[..20]), 0);
    assert_eq!(keepalive::checksum(&reply[20..]), 0);
    assert_eq!(reply[20], 0, "an Echo Reply");
    let c = a.counters();
    assert_eq!((c.keepalives, c.uplink, c.downlink), (1, 0, 0));
    // Replayed, it is not answered again.
    let again = sealed_keepalive(&mut lte, home, ANCHOR, K);
    let replay = again.clone();
    assert!(a.uplink(LTE_NAT, &mut again.clone()).is_ok());
    assert_eq!(
        a.uplink(LTE_NAT, &mut replay.clone()),
        Err(AnchorDrop::Tunnel(Dropped::Replayed))
    );
}

#[test]
fn a_primary_keepalive_moves_the_downlink_to_its_path() {
    let mut a = anchor();
    let (home, mut lte, mut wifi) = two_paths(&mut a);
    let downlink_to = |a: &mut Anchor| {
        let inner = ipv4(SERVER, home);
        let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
        buf[SEALED_HEADER..][..inner.len()].copy_from_slice(&inner);
        a.downlink(&mut buf, inner.len()).map(|d| d.to)
    };
    assert_eq!(downlink_to(&mut a), Ok(WIFI_NAT), "the newest binding");
    let mut packet = sealed_keepalive(&mut lte, home, ANCHOR, K);
    a.uplink(LTE_NAT, &mut packet).unwrap();
    assert_eq!(downlink_to(&mut a), Ok(WIFI_NAT), "not primary: no move");
    let primary = Keepalive { primary: true, ..K };
    let mut packet = sealed_keepalive(&mut lte, home, ANCHOR, primary);
    a.uplink(LTE_NAT, &mut packet).unwrap();
    assert_eq!(downlink_to(&mut a), Ok(LTE_NAT));
    // A refresh of the Wi-Fi binding does not take it back...
    let mut req = request(home.octets(), WIFI, 300, true);
    req.identification = 9;
    a.register(2, A, KEY, &req, WIFI_NAT);
    assert_eq!(downlink_to(&mut a), Ok(LTE_NAT));
    // ...a primary keepalive over Wi-Fi does (with the renewed keys).
    wifi.up = Sealer::new(&derive(KEY, 9, home, WIFI.into()).uplink);
    let mut packet = sealed_keepalive(&mut wifi, home, ANCHOR, primary);
    a.uplink(WIFI_NAT, &mut packet).unwrap();
    assert_eq!(downlink_to(&mut a), Ok(WIFI_NAT));
    // The primary path's binding gone, downlink falls back to the newest.
    a.register(3, A, KEY, &request(home.octets(), WIFI, 0, true), WIFI_NAT);
    assert_eq!(downlink_to(&mut a), Ok(LTE_NAT));
}

#[test]
fn other_echoes_are_forwarded_and_a_spoofed_one_is_dropped() {
    let mut a = anchor();
    let (home, mut lte, _) = two_paths(&mut a);
    // An echo to another address is traffic like any other.
    let mut packet = sealed_keepalive(&mut lte, home, SERVER, K);
    match a.uplink(LTE_NAT, &mut packet) {
        Ok(Uplink::Forward(inner)) => assert_eq!(&inner[16..20], &SERVER.octets()),
        other => panic!("{other:?}"),
    }
    // So is an application's ping of the anchor's address (not the
    // keepalive's identifier): the anchor's kernel answers it.
    let mut inner = [0u8; ECHO_LEN];
    keepalive::request(&mut inner, home, ANCHOR, K);
    inner[24..26].copy_from_slice(&[0x12, 0x34]); // the identifier
    inner[22..24].fill(0);
    let sum = keepalive::checksum(&inner[20..]);
    inner[22..24].copy_from_slice(&sum.to_be_bytes());
    let mut buf = vec![0u8; ECHO_LEN + SEALED_OVERHEAD];
    let len = lte.up.seal_into(&inner, &mut buf).unwrap();
    assert_eq!(
        a.uplink(LTE_NAT, &mut buf[..len]),
        Ok(Uplink::Forward(&inner[..]))
    );
    // A keepalive from an address not the client's home: dropped.
    let other = Ipv4Addr::new(10, 64, 0, 4);
    let mut packet = sealed_keepalive(&mut lte, other, ANCHOR, K);
    assert_eq!(a.uplink(LTE_NAT, &mut packet), Err(AnchorDrop::Spoofed));
    let c = a.counters();
    assert_eq!((c.uplink, c.keepalives, c.spoofed), (2, 0, 1));
}
