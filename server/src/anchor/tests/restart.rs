//! A restarted anchor: a fresh core that never saw the client's bindings
//! gets its tunnel packets, and tells it so until it registers again.

use super::two_paths::{LTE_NAT, WIFI_NAT, two_paths};
use super::*;
use mimm_proto::notice::{self, Kind};
use mimm_tunnel::packet::SEALED_OVERHEAD;
use mimm_tunnel::seal::Sealer;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn sealed(sealer: &mut Sealer, inner: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
    let len = sealer.seal_into(inner, &mut buf).unwrap();
    buf.truncate(len);
    buf
}

/// What the anchor makes of `packet` from `source` at `now`: the drop,
/// and the notice it would send, parsed.
fn told(a: &mut Anchor, now: Millis, source: SocketAddrV4, packet: &[u8]) -> Option<Kind> {
    assert_eq!(
        a.uplink(source, &mut packet.to_vec()),
        Err(AnchorDrop::UnknownSource)
    );
    let mut out = [0u8; 16];
    let len = a.notice(now, source, packet, &mut out)?;
    assert_eq!(len, notice::LEN, "never larger than the packet answered");
    Some(notice::parse(&out[..len]).unwrap().kind)
}

#[test]
fn a_restarted_anchor_tells_each_path_once_per_interval_until_it_registers_again() {
    let mut before = anchor();
    let (home, mut lte, mut wifi) = two_paths(&mut before);
    let inner = ipv4(home, SERVER);
    // Restarted: nothing of the old one's bindings.
    let mut a = anchor();
    let t0 = 1_000_000;
    let from_lte = sealed(&mut lte.up, &inner);
    assert_eq!(told(&mut a, t0, LTE_NAT, &from_lte), Some(Kind::NoBinding));
    let again = sealed(&mut lte.up, &inner);
    assert_eq!(told(&mut a, t0 + 5, LTE_NAT, &again), None, "held back");
    // The other path is told on its own first packet, a keepalive say.
    let from_wifi = sealed(&mut wifi.up, &inner);
    assert_eq!(
        told(&mut a, t0 + 6, WIFI_NAT, &from_wifi),
        Some(Kind::NoBinding)
    );
    let later = sealed(&mut lte.up, &inner);
    let due = t0 + super::super::notice::EVERY_MS;
    assert_eq!(told(&mut a, due, LTE_NAT, &later), Some(Kind::NoBinding));
    assert_eq!((a.counters().notices, a.counters().notices_held), (3, 1));
    assert_eq!(a.counters().unknown_source, 4);

    // Registered again, asking for the same home: it is given, and the
    // path's packets pass, with no notice.
    let mut req = request(home.octets(), LTE, 300, true);
    req.identification = 9;
    let answer = a.register(0, A, KEY, &req, LTE_NAT);
    assert_eq!((answer.code, answer.home), (code::ACCEPTED, home));
    let keys = mimm_tunnel::keys::derive(KEY, 9, home, LTE.into());
    let mut fresh = Sealer::new(&keys.uplink);
    let mut packet = sealed(&mut fresh, &inner);
    assert_eq!(
        a.uplink(LTE_NAT, &mut packet),
        Ok(Uplink::Forward(&inner[..]))
    );
    // A bound source's packet that does not open (forged, or sealed with
    // the old anchor's keys) is never answered: nothing to learn from it.
    let stale = sealed(&mut lte.up, &inner);
    assert!(a.uplink(LTE_NAT, &mut stale.clone()).is_err());
    let mut out = [0u8; 16];
    assert_eq!(a.notice(due + 10_000, LTE_NAT, &stale, &mut out), None);
    // Nor is anything but tunnel data, from anyone.
    let registration = [1u8; 40];
    let stranger = from([192, 0, 2, 66], 1234);
    assert_eq!(
        a.notice(due + 10_000, stranger, &registration, &mut out),
        None
    );
    assert_eq!(a.notice(due + 10_000, stranger, &[4], &mut out), None);
}
