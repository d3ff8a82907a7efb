//! Selective duplication at the anchor: a client's uplink sent over two
//! paths is forwarded once; while a keepalive on a second path asks for
//! it, each downlink packet also goes there, numbered, and the client
//! passes one copy of each.

use super::two_paths::{LTE_NAT, Path, WIFI_NAT, two_paths};
use super::*;
use mimm_tunnel::duplicate::{DupFilter, DupNumbers, ID_LEN};
use mimm_tunnel::keepalive::{self, ECHO_LEN, Keepalive};
use mimm_tunnel::packet::{FLAG_DUPLICATE, Packet, SEALED_HEADER, SEALED_OVERHEAD};

const INET: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const ANCHOR_ADDR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);

/// `inner` sealed by `path`, numbered `numbers`' next when given.
fn sealed(path: &mut Path, inner: &[u8], numbers: Option<&mut DupNumbers>) -> Vec<u8> {
    let mut buf = vec![0u8; inner.len() + ID_LEN + SEALED_OVERHEAD];
    let Some(n) = numbers else {
        let len = path.up.seal_into(inner, &mut buf).unwrap();
        buf.truncate(len);
        return buf;
    };
    n.stamp(&mut buf[SEALED_HEADER..]);
    buf[SEALED_HEADER + ID_LEN..][..inner.len()].copy_from_slice(inner);
    let len = path
        .up
        .seal_flagged(&mut buf, ID_LEN + inner.len(), FLAG_DUPLICATE)
        .unwrap();
    buf.truncate(len);
    buf
}

fn keepalive_on(path: &mut Path, home: Ipv4Addr, primary: bool, duplicate: bool) -> Vec<u8> {
    let mut inner = [0u8; ECHO_LEN];
    let k = Keepalive {
        path: 0,
        seq: 1,
        primary,
        duplicate,
    };
    keepalive::request(&mut inner, home, ANCHOR_ADDR, k);
    sealed(path, &inner, None)
}

#[test]
fn uplink_sent_over_two_paths_is_forwarded_once() {
    let mut a = anchor();
    let (home, mut lte, mut wifi) = two_paths(&mut a);
    let mut numbers = DupNumbers::default();
    for i in 0..3u8 {
        let mut inner = ipv4(home, INET);
        inner[19] = i;
        let mut via_lte = sealed(&mut lte, &inner, Some(&mut numbers));
        let mut numbers_again = DupNumbers::default();
        for _ in 0..i {
            numbers_again.stamp(&mut [0u8; 4]);
        }
        let mut via_wifi = sealed(&mut wifi, &inner, Some(&mut numbers_again));
        assert_eq!(
            a.uplink(WIFI_NAT, &mut via_wifi),
            Ok(Uplink::Forward(&inner[..]))
        );
        assert_eq!(a.uplink(LTE_NAT, &mut via_lte), Err(AnchorDrop::SecondCopy));
    }
    assert_eq!(a.counters().second_copies, 3);
    assert_eq!(a.counters().uplink, 3);
}

#[test]
fn downlink_goes_over_a_second_path_while_its_keepalives_ask() {
    let mut a = anchor();
    let (home, mut lte, mut wifi) = two_paths(&mut a);
    let mut k = keepalive_on(&mut lte, home, true, false);
    assert!(matches!(
        a.uplink(LTE_NAT, &mut k),
        Ok(Uplink::Answer { .. })
    ));
    let mut k = keepalive_on(&mut wifi, home, false, true);
    assert!(matches!(
        a.uplink(WIFI_NAT, &mut k),
        Ok(Uplink::Answer { .. })
    ));
    let mut filter = DupFilter::default();
    let inner = ipv4(INET, home);
    let mut buf = vec![0u8; 200];
    buf[SEALED_HEADER..][..inner.len()].copy_from_slice(&inner);
    let Downlink { to, len, .. } = a.downlink(&mut buf, inner.len()).unwrap();
    assert_eq!(to, LTE_NAT, "the primary path first");
    let (copy_to, copy) = a
        .take_copy()
        .map(|(d, c)| (d.to, c.to_vec()))
        .expect("a copy");
    assert_eq!(copy_to, WIFI_NAT);
    assert!(a.take_copy().is_none(), "taken once");
    let mut passed = Vec::new();
    for (path, mut packet) in [(&mut lte, buf[..len].to_vec()), (&mut wifi, copy)] {
        assert_eq!(
            Packet::new_checked(&packet[..]).unwrap().flags(),
            FLAG_DUPLICATE
        );
        let plaintext = path.down.open(&mut packet).unwrap().to_vec();
        assert_eq!(&plaintext[ID_LEN..], &inner[..]);
        passed.push(filter.first_copy(&plaintext));
    }
    assert_eq!(passed, [true, false], "one copy passes");
    // The second path's next keepalive without the mark ends it.
    let mut k = keepalive_on(&mut wifi, home, false, false);
    a.uplink(WIFI_NAT, &mut k).unwrap();
    let mut buf = vec![0u8; 200];
    buf[SEALED_HEADER..][..inner.len()].copy_from_slice(&inner);
    let len = a.downlink(&mut buf, inner.len()).unwrap().len;
    assert!(a.take_copy().is_none());
    assert_eq!(Packet::new_checked(&buf[..len]).unwrap().flags(), 0);
    assert_eq!(a.counters().duplicated, 1);
}
