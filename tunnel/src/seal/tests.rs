use super::*;
use crate::keys::derive;
use std::net::Ipv4Addr;

fn keys() -> crate::keys::BindingKeys {
    derive(
        b"0123456789abcdef",
        42,
        Ipv4Addr::new(10, 64, 0, 2),
        Ipv4Addr::new(100, 64, 1, 7),
    )
}

/// A sealed packet carrying `inner`.
fn sealed(sealer: &mut Sealer, inner: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; inner.len() + SEALED_OVERHEAD];
    let len = sealer.seal_into(inner, &mut buf).unwrap();
    buf.truncate(len);
    buf
}

const INNER: &[u8] = b"\x45\x00\x00\x1c an IPv4 packet, more or less";

#[test]
fn what_is_sealed_opens_once_and_only_with_its_key() {
    let k = keys();
    let mut up = Sealer::new(&k.uplink);
    let mut anchor = Opener::new(&k.uplink);
    let first = sealed(&mut up, INNER);
    assert_eq!(first.len(), INNER.len() + 26, "26 tunnel bytes");
    assert_ne!(
        &first[SEALED_HEADER..SEALED_HEADER + INNER.len()],
        INNER,
        "encrypted"
    );
    assert_eq!(anchor.open(&mut first.clone()), Ok(INNER));
    assert_eq!(anchor.open(&mut first.clone()), Err(Dropped::Replayed));
    // The other direction's key, or another binding's, does not open it.
    let second = sealed(&mut up, INNER);
    let mut wrong = Opener::new(&k.downlink);
    assert_eq!(wrong.open(&mut second.clone()), Err(Dropped::Forged));
    let other = derive(
        b"0123456789abcdef",
        43,
        Ipv4Addr::new(10, 64, 0, 2),
        Ipv4Addr::new(100, 64, 1, 7),
    );
    assert_eq!(
        Opener::new(&other.uplink).open(&mut second.clone()),
        Err(Dropped::Forged)
    );
    // Late but within the window: still delivered.
    let third = sealed(&mut up, INNER);
    assert_eq!(anchor.open(&mut third.clone()), Ok(INNER));
    assert_eq!(anchor.open(&mut second.clone()), Ok(INNER));
    assert_eq!(
        anchor.counters(),
        OpenCounters {
            opened: 3,
            replayed: 1,
            ..OpenCounters::default()
        }
    );
}

#[test]
fn a_flipped_bit_anywhere_is_forged_and_does_not_move_the_window() {
    let k = keys();
    let mut up = Sealer::new(&k.uplink);
    let mut anchor = Opener::new(&k.uplink);
    let packet = sealed(&mut up, INNER);
    for byte in 0..packet.len() {
        for bit in 0..8 {
            let mut bad = packet.clone();
            bad[byte] ^= 1 << bit;
            let got = anchor.open(&mut bad);
            assert!(got.is_err(), "byte {byte} bit {bit} passed");
        }
    }
    assert_eq!(anchor.counters().opened, 0);
    // The genuine packet, after all the forgeries with its number and others.
    assert_eq!(anchor.open(&mut packet.clone()), Ok(INNER));
}

#[test]
fn clear_short_and_foreign_packets_are_dropped_and_counted() {
    let mut anchor = Opener::new(&keys().uplink);
    let mut clear = vec![4u8, 4, 0, 0];
    clear.extend_from_slice(INNER);
    assert_eq!(anchor.open(&mut clear), Err(Dropped::Clear));
    assert_eq!(
        anchor.open(&mut [4, 253, 0, 0, 0][..].to_vec()),
        Err(Dropped::Malformed(Malformed::Short))
    );
    assert_eq!(
        anchor.open(&mut [1u8; 40]),
        Err(Dropped::Malformed(Malformed::NotTunnelData)),
        "a registration on the same port"
    );
    let c = anchor.counters();
    assert_eq!((c.clear, c.malformed, c.opened), (1, 2, 0));
    let mut small = [0u8; 20];
    assert_eq!(
        Sealer::new(&keys().uplink).seal(&mut small, 5),
        Err(SealError::TooSmall)
    );
}

/// `cipher none`: the same calls make plain RFC 3519 IPv4-in-UDP, flags
/// kept; a clear opener takes nothing sealed, a sealed one nothing clear.
#[test]
fn a_clear_binding_carries_plain_ipv4_in_udp() {
    use crate::cipher::Cipher;
    use crate::packet::{CLEAR_HEADER, FLAG_DUPLICATE};
    let k = keys();
    let (mut up, mut anchor) = (
        Sealer::with(Cipher::None, &k.uplink),
        Opener::with(Cipher::None, &k.uplink),
    );
    let mut buf = vec![0u8; SEALED_HEADER + INNER.len()];
    buf[SEALED_HEADER..].copy_from_slice(INNER);
    let len = up
        .seal_flagged(&mut buf, INNER.len(), FLAG_DUPLICATE)
        .unwrap();
    assert_eq!(len, CLEAR_HEADER + INNER.len(), "4 tunnel bytes");
    assert_eq!(&buf[..4], &[4, 4, FLAG_DUPLICATE, 0]);
    assert_eq!(&buf[4..len], INNER, "the inner packet as it was");
    let mut packet = buf[..len].to_vec();
    let inner = anchor.open_range(&mut packet).unwrap();
    assert_eq!((inner.clone(), &packet[inner.clone()]), (4..len, INNER));
    // An answer written where it was opened goes back clear, flags gone.
    let again = up.seal_opened(&mut packet, inner).unwrap();
    assert_eq!((again, &packet[..4]), (len, &[4u8, 4, 0, 0][..]));
    let mut sealed_one = sealed(&mut Sealer::new(&k.uplink), INNER);
    assert_eq!(anchor.open(&mut sealed_one), Err(Dropped::Sealed));
    assert_eq!(
        Opener::new(&k.uplink).open(&mut packet),
        Err(Dropped::Clear)
    );
    let c = anchor.counters();
    assert_eq!((c.opened, c.sealed), (1, 1));
    assert_eq!(up.seal(&mut [0u8; 12], 5), Err(SealError::TooSmall));
}

proptest::proptest! {
    #[test]
    fn no_bytes_panic_or_open(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let mut anchor = Opener::new(&keys().uplink);
        proptest::prop_assert!(anchor.open(&mut bytes).is_err());
    }

    #[test]
    fn no_bytes_panic_a_clear_opener(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let mut anchor = Opener::with(crate::cipher::Cipher::None, &keys().uplink);
        if let Ok(inner) = anchor.open_range(&mut bytes) {
            proptest::prop_assert!(inner.start == 4 && inner.end == bytes.len());
        }
    }
}
