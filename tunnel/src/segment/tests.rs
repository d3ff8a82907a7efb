use super::*;

/// The Internet checksum the slow way, 16-bit word by word: a valid
/// header or segment sums to 0xffff.
fn naive(words: &[u8], mut acc: u32) -> u16 {
    for pair in words.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        acc += hi | pair.get(1).map_or(0, |&b| u32::from(b));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

fn vnet(flags: u8, gso_type: u8, gso_size: u16, csum: (u16, u16)) -> Vec<u8> {
    let mut h = vec![flags, gso_type];
    h.extend_from_slice(&0u16.to_ne_bytes());
    h.extend_from_slice(&gso_size.to_ne_bytes());
    h.extend_from_slice(&csum.0.to_ne_bytes());
    h.extend_from_slice(&csum.1.to_ne_bytes());
    h
}

/// A TCP/IPv4 super-packet from 10.64.0.2 with `payload` bytes, PSH|ACK,
/// sequence 1000, IP id 7, and a 12-byte TCP option block.
fn super_packet(payload: usize, flags: u8) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 0, 0, 7, 0x40, 0, 64, TCP, 0, 0, 10, 64, 0, 2, 198, 51, 100, 1,
    ];
    let mut tcp = vec![0x9c, 0x40, 0x14, 0x51];
    tcp.extend_from_slice(&1000u32.to_be_bytes());
    tcp.extend_from_slice(&1u32.to_be_bytes());
    tcp.extend_from_slice(&[0x80, flags, 0x01, 0x00, 0, 0, 0, 0]);
    tcp.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    p.extend_from_slice(&tcp);
    p.extend((0..payload).map(|i| (i % 251) as u8));
    p
}

fn segments(read: &[u8]) -> Vec<Vec<u8>> {
    let mut s = Segments::new(read).unwrap();
    let mut out = vec![0u8; 2000];
    let mut all = Vec::new();
    while let Some(n) = s.next_into(&mut out) {
        all.push(out[..n].to_vec());
    }
    all
}

#[test]
fn a_super_packet_becomes_whole_checksummed_segments() {
    let packet = super_packet(2500, 0x18 | TCP_FIN | TCP_CWR);
    let mut read = vnet(NEEDS_CSUM, GSO_TCPV4, 1000, (20, 16));
    read.extend_from_slice(&packet);
    let segs = segments(&read);
    assert_eq!(segs.len(), 3);
    let headers = 20 + 32;
    for (i, seg) in segs.iter().enumerate() {
        let payload = if i < 2 { 1000 } else { 500 };
        assert_eq!(seg.len(), headers + payload, "segment {i}");
        assert_eq!(be16(seg, 2) as usize, seg.len(), "IPv4 total length");
        assert_eq!(be16(seg, 4), 7 + i as u16, "IPv4 id");
        assert_eq!(naive(&seg[..20], 0), 0xffff, "IPv4 header checksum of {i}");
        let seq = u32::from_be_bytes(seg[24..28].try_into().unwrap());
        assert_eq!(seq, 1000 + 1000 * i as u32);
        let flags = seg[33];
        assert_eq!(
            flags & (TCP_FIN | TCP_PSH) != 0,
            i == 2,
            "FIN/PSH on the last only"
        );
        assert_eq!(flags & TCP_CWR != 0, i == 0, "CWR on the first only");
        let tcp_len = (seg.len() - 20) as u32;
        let pseudo = naive(&seg[12..20], u32::from(TCP) + tcp_len);
        assert_eq!(
            naive(&seg[20..], u32::from(pseudo)),
            0xffff,
            "TCP checksum of {i}"
        );
        assert_eq!(&seg[headers..], &packet[headers + 1000 * i..][..payload]);
    }
}

#[test]
fn a_single_packet_gets_its_checksum_completed() {
    // UDP from 10.64.0.2 to 198.51.100.1, its checksum field holding the
    // pseudo-header's sum, as the kernel leaves it for the device.
    let mut p = vec![
        0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 64, 0, 2, 198, 51, 100, 1,
    ];
    p.extend_from_slice(&[0x30, 0x39, 0x01, 0xbb, 0, 12, 0, 0, b'h', b'e', b'l', b'o']);
    let pseudo = naive(&p[12..20], 17 + 12);
    p[26..28].copy_from_slice(&pseudo.to_be_bytes());
    let mut read = vnet(NEEDS_CSUM, GSO_NONE, 0, (20, 6));
    read.extend_from_slice(&p);
    let segs = segments(&read);
    assert_eq!(segs.len(), 1);
    let u = &segs[0];
    assert_eq!(
        naive(&u[20..], u32::from(naive(&u[12..20], 17 + 12))),
        0xffff
    );
    // Without the flag, the packet as it was.
    let mut plain = PLAIN_HDR.to_vec();
    plain.extend_from_slice(&p);
    assert_eq!(segments(&plain), vec![p.clone()]);
}

#[test]
fn what_this_side_cannot_cut_is_refused() {
    let mut udp_gso = vnet(0, 3, 1000, (0, 0));
    udp_gso.extend_from_slice(&super_packet(100, 0x10));
    assert_eq!(Segments::new(&udp_gso).unwrap_err(), Malformed::Unsupported);
    let mut not_tcp = vnet(0, GSO_TCPV4, 1000, (0, 0));
    let mut p = super_packet(100, 0x10);
    p[9] = 17;
    not_tcp.extend_from_slice(&p);
    assert_eq!(Segments::new(&not_tcp).unwrap_err(), Malformed::Unsupported);
    let mut outside = vnet(NEEDS_CSUM, GSO_NONE, 0, (60, 16));
    outside.extend_from_slice(&[0x45; 40]);
    assert_eq!(Segments::new(&outside).unwrap_err(), Malformed::Checksum);
    assert_eq!(Segments::new(&[0; 4]).unwrap_err(), Malformed::Short);
    // A buffer too small for the next segment ends the packets.
    let mut read = vnet(0, GSO_TCPV4, 1000, (0, 0));
    read.extend_from_slice(&super_packet(2500, 0x10));
    let mut s = Segments::new(&read).unwrap();
    assert_eq!(s.next_into(&mut [0u8; 100]), None);
}

proptest::proptest! {
    #[test]
    fn the_sum_is_the_word_by_word_one(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), acc in 0u64..0x1_0000_0000) {
        let folded = |acc: u64| u32::from(fold(acc));
        let start = folded(acc);
        proptest::prop_assert_eq!(fold(sum(&bytes, acc)), naive(&bytes, start));
    }

    #[test]
    fn no_read_panics_or_overflows(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400), size in 0usize..300) {
        if let Ok(mut s) = Segments::new(&bytes) {
            let mut out = vec![0u8; size];
            let mut n = 0;
            while let Some(len) = s.next_into(&mut out) {
                proptest::prop_assert!(len <= size);
                n += 1;
                proptest::prop_assert!(n <= 400);
            }
        }
    }
}
