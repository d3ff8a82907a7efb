//! Hostile bytes never panic the frame parsers, and whatever they accept
//! they accept again after emitting it.

use mimm_vsd::announce::{self, Announcement};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_parse_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = announce::parse(&bytes);
    }

    #[test]
    fn mutated_announcements_parse_without_panicking(
        v6 in any::<bool>(),
        at in 0usize..86,
        xor in 1u8..=255,
        cut in 0usize..86,
    ) {
        let mut buf = [0u8; 128];
        let mac = [2, 0, 0, 0, 0, 9];
        let n = if v6 {
            announce::neighbor_advertisement(&mut buf, mac, "fe80::9".parse().unwrap()).unwrap()
        } else {
            announce::arp_announcement(&mut buf, mac, "10.0.0.9".parse().unwrap()).unwrap()
        };
        buf[at % n] ^= xor;
        let _ = announce::parse(&buf[..cut.min(n)]);
        // Whatever parses is an announcement that re-emits to itself.
        if let Some(a) = announce::parse(&buf[..n]) {
            let mut again = [0u8; 128];
            let m = match a {
                Announcement::V4 { ip, mac } => announce::arp_announcement(&mut again, mac, ip),
                Announcement::V6 { ip, mac } => announce::neighbor_advertisement(&mut again, mac, ip),
            }
            .unwrap();
            prop_assert_eq!(announce::parse(&again[..m]), Some(a));
        }
    }
}
