use super::*;

/// Every client's MN-HA key (the tunnel keys differ by binding anyway).
const KEY: &[u8] = b"0123456789abcdef";
const A: u32 = 0x100;
const B: u32 = 0x200;
const FIXED: u32 = 0x300;

fn anchor() -> Anchor {
    Anchor::new(AnchorConfig {
        address: Ipv4Addr::new(10, 64, 0, 1),
        pool: (Ipv4Addr::new(10, 64, 0, 2), Ipv4Addr::new(10, 64, 0, 4)),
        fixed: [(FIXED, Ipv4Addr::new(10, 64, 0, 3))].into(),
        max_lifetime_s: 600,
        cipher: mimm_tunnel::cipher::Cipher::default(),
    })
}

fn request(home: [u8; 4], care_of: [u8; 4], lifetime: u16, simultaneous: bool) -> RequestHeader {
    RequestHeader {
        flags: Flags(if simultaneous {
            Flags::S | Flags::D
        } else {
            Flags::D
        }),
        lifetime,
        home_address: home.into(),
        home_agent: Ipv4Addr::new(192, 0, 2, 1),
        care_of: care_of.into(),
        identification: 1,
    }
}

fn from(ip: [u8; 4], port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(ip.into(), port)
}

/// An IPv4 header from `src` to `dst` and a payload.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(b"payload!");
    p
}

const ANY: [u8; 4] = [0, 0, 0, 0];
const LTE: [u8; 4] = [100, 64, 1, 7];
const WIFI: [u8; 4] = [192, 168, 8, 20];

#[test]
fn homes_come_from_the_pool_skip_fixed_ones_and_stay_with_their_client() {
    let mut a = anchor();
    let got = a.register(0, A, KEY, &request(ANY, LTE, 300, false), from(LTE, 434));
    assert_eq!(
        got,
        Answer {
            code: 0,
            home: Ipv4Addr::new(10, 64, 0, 2),
            lifetime_s: 300
        }
    );
    // The pool's .3 is FIXED's own: B gets .4.
    let b = a.register(0, B, KEY, &request(ANY, WIFI, 300, false), from(WIFI, 434));
    assert_eq!(b.home, Ipv4Addr::new(10, 64, 0, 4));
    let again = a.register(
        10,
        A,
        KEY,
        &request(ANY, WIFI, 300, false),
        from(WIFI, 5000),
    );
    assert_eq!(again.home, Ipv4Addr::new(10, 64, 0, 2));
    let fixed = a.register(0, FIXED, KEY, &request(ANY, LTE, 300, false), from(LTE, 9));
    assert_eq!(fixed.home, Ipv4Addr::new(10, 64, 0, 3));
    // The pool is now empty for a fourth client.
    let full = a.register(0, 0x400, KEY, &request(ANY, LTE, 300, false), from(LTE, 1));
    assert_eq!(full.code, code::INSUFFICIENT_RESOURCES);
}

#[test]
fn a_client_never_takes_another_clients_home_address_or_bindings() {
    let mut a = anchor();
    let home = a
        .register(0, A, KEY, &request(ANY, LTE, 300, false), from(LTE, 434))
        .home;
    let before = a.client(A).cloned();
    for (asked, lifetime) in [
        (home.octets(), 300),
        (home.octets(), 0),
        ([10, 64, 0, 3], 300),
    ] {
        let got = a.register(
            5,
            B,
            KEY,
            &request(asked, WIFI, lifetime, false),
            from(WIFI, 1),
        );
        assert_eq!(
            got.code,
            code::ADMINISTRATIVELY_PROHIBITED,
            "{asked:?} {lifetime}"
        );
    }
    assert_eq!(a.client(A).cloned(), before);
    assert_eq!(
        a.bindings_of(home).map(|(spi, b)| (spi, b.len())),
        Some((A, 1))
    );
    assert_eq!(a.counters().refused, 3);
    // A client that has a home cannot ask for another one either.
    let other = a.register(
        5,
        A,
        KEY,
        &request([10, 64, 0, 4], LTE, 300, false),
        from(LTE, 434),
    );
    assert_eq!(other.code, code::ADMINISTRATIVELY_PROHIBITED);
}

#[test]
fn simultaneous_bindings_add_without_s_they_replace_and_deregistration_removes() {
    let mut a = anchor();
    let home = a
        .register(
            0,
            A,
            KEY,
            &request(ANY, LTE, 300, false),
            from([203, 0, 113, 9], 40000),
        )
        .home;
    let h = home.octets();
    a.register(1, A, KEY, &request(h, WIFI, 300, true), from(WIFI, 434));
    let bound = |a: &Anchor| -> Vec<Ipv4Addr> {
        a.bindings_of(home)
            .unwrap()
            .1
            .iter()
            .map(|b| b.care_of)
            .collect()
    };
    assert_eq!(bound(&a), [Ipv4Addr::from(LTE), WIFI.into()]);
    // The NAT's mapping is where tunnel packets go.
    assert_eq!(
        a.bindings_of(home).unwrap().1[0].source,
        from([203, 0, 113, 9], 40000)
    );
    // Re-registering a bound care-of address refreshes it in place.
    a.register(
        2,
        A,
        KEY,
        &request(h, LTE, 300, true),
        from([203, 0, 113, 9], 40001),
    );
    assert_eq!(bound(&a).len(), 2);
    assert_eq!(a.bindings_of(home).unwrap().1[0].source.port(), 40001);
    // Without S, the new care-of address is the only one.
    a.register(3, A, KEY, &request(h, WIFI, 300, false), from(WIFI, 434));
    assert_eq!(bound(&a), [Ipv4Addr::from(WIFI)]);
    a.register(4, A, KEY, &request(h, LTE, 300, true), from(LTE, 434));
    // Lifetime 0 for one care-of address, then for the home address: all.
    let gone = a.register(5, A, KEY, &request(h, WIFI, 0, true), from(WIFI, 434));
    assert_eq!((gone.code, gone.lifetime_s), (0, 0));
    assert_eq!(bound(&a), [Ipv4Addr::from(LTE)]);
    a.register(6, A, KEY, &request(h, LTE, 300, true), from(LTE, 434));
    a.register(7, A, KEY, &request(h, h, 0, false), from(LTE, 434));
    assert!(bound(&a).is_empty());
    assert_eq!(a.counters().deregistrations, 2);
}

#[test]
fn bindings_are_capped_in_number_and_lifetime_and_expire() {
    let mut a = anchor();
    let home = a.register(
        0,
        A,
        KEY,
        &request(ANY, [1, 0, 0, 1], 5000, false),
        from(LTE, 1),
    );
    assert_eq!(home.lifetime_s, 600, "capped");
    let h = home.home.octets();
    for i in 2..=MAX_BINDINGS as u8 {
        assert_eq!(
            a.register(0, A, KEY, &request(h, [1, 0, 0, i], 10, true), from(LTE, 1))
                .code,
            0
        );
    }
    let over = a.register(
        0,
        A,
        KEY,
        &request(h, [1, 0, 0, 99], 10, true),
        from(LTE, 1),
    );
    assert_eq!(over.code, code::INSUFFICIENT_RESOURCES);
    assert_eq!(a.poll_timeout(), Some(10_000));
    a.expire(10_000);
    assert_eq!(
        a.bindings_of(home.home).unwrap().1.len(),
        1,
        "the 600 s one is left"
    );
    assert_eq!(a.counters().expired, 3);
    a.expire(600_000);
    assert_eq!(a.poll_timeout(), None);
    // Unbound, A keeps its pool address while the pool has others...
    let b = a.register(
        600_001,
        B,
        KEY,
        &request(ANY, WIFI, 10, false),
        from(WIFI, 1),
    );
    assert_ne!(b.home, home.home);
    let again = a.register(600_002, A, KEY, &request(ANY, LTE, 10, false), from(LTE, 1));
    assert_eq!(again.home, home.home);
}

#[test]
fn an_idle_pool_address_goes_to_another_client_only_when_the_pool_is_full() {
    let mut a = anchor();
    let first = a
        .register(0, A, KEY, &request(ANY, LTE, 10, false), from(LTE, 1))
        .home;
    a.register(0, B, KEY, &request(ANY, LTE, 10, false), from(LTE, 2));
    a.expire(10_000);
    // C needs an address: the pool is full of idle ones, so A's goes.
    let c = a.register(
        10_001,
        0x400,
        KEY,
        &request(ANY, WIFI, 10, false),
        from(WIFI, 3),
    );
    assert_eq!(c.code, 0);
    assert!(a.bindings_of(c.home).is_some_and(|(spi, _)| spi == 0x400));
    assert!(c.home == first || c.home == Ipv4Addr::new(10, 64, 0, 4));
}

proptest::proptest! {
    /// Whatever three clients (and a fourth with no room) send, in any
    /// order: no home address has two owners, every client's bindings are
    /// under its own home address, and none has more than the cap.
    #[test]
    fn no_sequence_of_registrations_gives_one_home_to_two_clients(
        steps in proptest::collection::vec(
            (0usize..4, 0u8..6, 0u8..4, proptest::bool::ANY, 0u16..3, 0u64..20_000),
            1..120,
        )
    ) {
        let spis = [A, B, FIXED, 0x400];
        let mut a = anchor();
        let mut now = 0;
        for (who, home, care_of, s, lifetime, dt) in steps {
            now += dt;
            let home = if home == 5 { ANY } else { [10, 64, 0, home] };
            let req = request(home, [1, 0, 0, care_of], lifetime * 10, s);
            a.register(now, spis[who], KEY, &req, from(LTE, 1));
            let (first, last) = (u32::from(a.cfg.pool.0), u32::from(a.cfg.pool.1));
            let free = (first..=last)
                .map(Ipv4Addr::from)
                .filter(|h| a.in_pool(*h) && !a.owners.contains_key(h))
                .count();
            proptest::prop_assert_eq!(a.pool_free, free, "the free count is the pool's");
            let bound: usize = spis.iter().filter_map(|s| a.client(*s)).map(|c| c.bindings.len()).sum();
            proptest::prop_assert!(a.tunnels() <= bound, "a tunnel without a binding");
            let mut seen = std::collections::BTreeMap::new();
            for &spi in &spis {
                let Some(c) = a.client(spi) else { continue };
                proptest::prop_assert!(c.bindings.len() <= MAX_BINDINGS);
                if c.bindings.is_empty() {
                    continue;
                }
                let home = c.home.expect("a bound client has a home");
                proptest::prop_assert_eq!(seen.insert(home, spi), None, "two owners of {}", home);
                proptest::prop_assert_eq!(a.bindings_of(home).map(|(o, _)| o), Some(spi));
            }
        }
    }
}

mod clear;
mod duplication;
mod keepalives;
mod restart;
mod two_paths;

mod data {
    use super::*;
    use mimm_tunnel::keys::derive;
    use mimm_tunnel::packet::{SEALED_HEADER, SEALED_OVERHEAD};
    use mimm_tunnel::seal::{Dropped, Opener, Sealer};

    fn sealed(sealer: &mut Sealer, inner: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
        let len = sealer.seal_into(inner, &mut buf).unwrap();
        buf.truncate(len);
        buf
    }

    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

    /// Client A bound over LTE from `nat`: its home and its side's keys.
    fn bound(
        a: &mut Anchor,
        spi: u32,
        nat: SocketAddrV4,
        ident: u64,
    ) -> (Ipv4Addr, Sealer, Opener) {
        let mut req = request(ANY, LTE, 300, false);
        req.identification = ident;
        let home = a.register(0, spi, KEY, &req, nat).home;
        let keys = derive(KEY, ident, home, LTE.into());
        (home, Sealer::new(&keys.uplink), Opener::new(&keys.downlink))
    }

    #[test]
    fn uplink_opens_only_over_a_binding_once_and_as_the_client_itself() {
        let mut a = anchor();
        let nat = from([203, 0, 113, 9], 40000);
        let (home, mut up, _) = bound(&mut a, A, nat, 7);
        let inner = ipv4(home, SERVER);
        let packet = sealed(&mut up, &inner);
        assert_eq!(
            a.uplink(nat, &mut packet.clone()),
            Ok(Uplink::Forward(&inner[..]))
        );
        assert_eq!(
            a.uplink(nat, &mut packet.clone()),
            Err(AnchorDrop::Tunnel(Dropped::Replayed))
        );
        let elsewhere = from([203, 0, 113, 9], 40001);
        let packet = sealed(&mut up, &inner);
        assert_eq!(
            a.uplink(elsewhere, &mut packet.clone()),
            Err(AnchorDrop::UnknownSource)
        );
        // Sealed right, but sent as another address: dropped.
        let spoof = sealed(&mut up, &ipv4(Ipv4Addr::new(10, 64, 0, 4), SERVER));
        assert_eq!(a.uplink(nat, &mut spoof.clone()), Err(AnchorDrop::Spoofed));
        let c = a.counters();
        assert_eq!(
            (c.uplink, c.unopened, c.unknown_source, c.spoofed),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn a_second_client_cannot_send_as_the_first_or_read_its_traffic() {
        let mut a = anchor();
        let nat_a = from([203, 0, 113, 9], 40000);
        let nat_b = from([203, 0, 113, 77], 5555);
        let (home_a, _, mut down_a) = bound(&mut a, A, nat_a, 7);
        let (_, mut up_b, mut down_b) = bound(&mut a, B, nat_b, 9);
        // B, over its own tunnel, claims A's address.
        let claim = sealed(&mut up_b, &ipv4(home_a, SERVER));
        assert_eq!(
            a.uplink(nat_b, &mut claim.clone()),
            Err(AnchorDrop::Spoofed)
        );
        // B's packet from A's mapping does not open with A's keys.
        let forged = sealed(&mut up_b, &ipv4(home_a, SERVER));
        assert_eq!(
            a.uplink(nat_a, &mut forged.clone()),
            Err(AnchorDrop::Tunnel(Dropped::Forged))
        );
        // Downlink for A goes to A's mapping, sealed for A only.
        let inner = ipv4(SERVER, home_a);
        let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
        buf[SEALED_HEADER..SEALED_HEADER + inner.len()].copy_from_slice(&inner);
        let Downlink { to, len, .. } = a.downlink(&mut buf, inner.len()).unwrap();
        assert_eq!(to, nat_a);
        assert_eq!(down_b.open(&mut buf[..len].to_vec()), Err(Dropped::Forged));
        assert_eq!(down_a.open(&mut buf[..len]), Ok(&inner[..]));
        // The NAT hands A's mapping to B, and B registers from it: A's
        // traffic is not sealed for B.
        let mut req = request(ANY, WIFI, 300, false);
        req.identification = 10;
        a.register(1, B, KEY, &req, nat_a);
        let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
        buf[SEALED_HEADER..SEALED_HEADER + inner.len()].copy_from_slice(&inner);
        assert_eq!(
            a.downlink(&mut buf, inner.len()),
            Err(AnchorDrop::NoBinding)
        );
    }

    #[test]
    fn downlink_follows_the_newest_binding_and_new_registrations_get_new_keys() {
        let mut a = anchor();
        let lte_nat = from([203, 0, 113, 9], 40000);
        let (home, mut up, _) = bound(&mut a, A, lte_nat, 7);
        let h = home.octets();
        let wifi_nat = from([192, 0, 2, 200], 61000);
        let mut req = request(h, WIFI, 300, true);
        req.identification = 8;
        a.register(1, A, KEY, &req, wifi_nat);
        assert_eq!(a.tunnels(), 2, "make-before-break: both paths up");
        let inner = ipv4(SERVER, home);
        let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
        buf[SEALED_HEADER..SEALED_HEADER + inner.len()].copy_from_slice(&inner);
        let Downlink { to, len, .. } = a.downlink(&mut buf, inner.len()).unwrap();
        assert_eq!(to, wifi_nat, "the newest binding carries the downlink");
        let wifi_keys = derive(KEY, 8, home, WIFI.into());
        assert_eq!(
            Opener::new(&wifi_keys.downlink).open(&mut buf[..len]),
            Ok(&inner[..])
        );
        // Uplink still arrives on the old path during the overlap.
        let late = sealed(&mut up, &ipv4(home, SERVER));
        assert!(a.uplink(lte_nat, &mut late.clone()).is_ok());
        // LTE registers again (a new Identification): new keys. Packets the
        // client sealed before it had the reply still open, until the new
        // keys open one; then the old keys' no longer do.
        let mut again = request(h, LTE, 300, true);
        again.identification = 9;
        a.register(2, A, KEY, &again, lte_nat);
        let stale = sealed(&mut up, &ipv4(home, SERVER));
        assert!(a.uplink(lte_nat, &mut stale.clone()).is_ok());
        assert_eq!(
            a.uplink(lte_nat, &mut stale.clone()),
            Err(AnchorDrop::Tunnel(Dropped::Replayed)),
            "the old keys keep their window"
        );
        assert_eq!(a.counters().previous_keys, 1);
        let fresh_keys = derive(KEY, 9, home, LTE.into());
        let mut fresh = Sealer::new(&fresh_keys.uplink);
        let packet = sealed(&mut fresh, &ipv4(home, SERVER));
        assert!(a.uplink(lte_nat, &mut packet.clone()).is_ok());
        let stale = sealed(&mut up, &ipv4(home, SERVER));
        assert_eq!(
            a.uplink(lte_nat, &mut stale.clone()),
            Err(AnchorDrop::Tunnel(Dropped::Forged))
        );
        // Expired (the last registration was at 2 ms, for 300 s): no
        // tunnel, nothing accepted.
        a.expire(300_001);
        assert_eq!(
            a.tunnels(),
            1,
            "Wi-Fi's (from 1 ms) ran out, LTE's (2 ms) not yet"
        );
        a.expire(300_002);
        assert_eq!(a.tunnels(), 0);
        let packet = sealed(&mut fresh, &ipv4(home, SERVER));
        assert_eq!(
            a.uplink(lte_nat, &mut packet.clone()),
            Err(AnchorDrop::UnknownSource)
        );
    }
}
