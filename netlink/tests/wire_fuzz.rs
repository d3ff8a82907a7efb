//! Whatever the socket hands over, parsing never panics.

use mimm_netlink::addresses::parse_address;
use mimm_netlink::links::parse_link;
use mimm_netlink::wire::{self, IFINFO_LEN};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for m in wire::messages(&bytes) {
            let _ = (m.kind(), m.seq(), m.error_code());
            let _ = parse_link(&m);
            let _ = parse_address(&m);
            for (_, payload) in m.attributes(IFINFO_LEN) {
                prop_assert!(payload.len() <= bytes.len());
            }
        }
    }

    /// Plausible headers with random bodies reach the attribute walk.
    #[test]
    fn random_bodies_behind_valid_headers_never_panic(
        kind in prop_oneof![Just(16u16), Just(17), Just(20), Just(2), Just(3)],
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&[0; 10]);
        bytes.extend_from_slice(&body);
        let all: Vec<_> = wire::messages(&bytes).collect();
        prop_assert_eq!(all.len(), 1);
        let _ = parse_link(&all[0]);
        let _ = parse_address(&all[0]);
    }
}
