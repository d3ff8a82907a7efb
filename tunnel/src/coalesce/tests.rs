use super::*;
use crate::segment::Segments;

/// A TCP/IPv4 super-packet read from a vnet TUN: 3500 bytes of payload,
/// MSS 1000, timestamps, ACK|PSH.
fn read() -> Vec<u8> {
    let mut r = vec![NEEDS_CSUM, GSO_TCPV4, 0, 0];
    r.extend_from_slice(&1000u16.to_ne_bytes());
    r.extend_from_slice(&20u16.to_ne_bytes());
    r.extend_from_slice(&16u16.to_ne_bytes());
    r.extend_from_slice(&[
        0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, TCP, 0, 0, 10, 64, 0, 2, 198, 51, 100, 1,
    ]);
    r.extend_from_slice(&[
        0x9c,
        0x40,
        0x14,
        0x51,
        0,
        0,
        0x10,
        0,
        0,
        0,
        0,
        9,
        0x80,
        ACK | PSH,
        1,
        0,
        0,
        0,
        0,
        0,
    ]);
    r.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6]);
    r.extend((0..3500).map(|i| (i % 253) as u8));
    r
}

fn cut(read: &[u8]) -> Vec<Vec<u8>> {
    let mut s = Segments::new(read).unwrap();
    let mut out = vec![0u8; 70_000];
    let mut all = Vec::new();
    while let Some(n) = s.next_into(&mut out) {
        all.push(out[..n].to_vec());
    }
    all
}

/// Everything the coalescer wrote: (vnet header, packet).
fn written(c: &mut Coalescer, packets: &[Vec<u8>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for p in packets {
        c.push(p, |h, p| out.push((h.to_vec(), p.to_vec())));
    }
    c.flush(|h, p| out.push((h.to_vec(), p.to_vec())));
    out
}

/// Segments cut from a super-packet come back together as one, which cuts
/// into the same segments again.
#[test]
fn segments_of_one_flow_become_one_write_that_cuts_into_the_same() {
    let segments = cut(&read());
    assert_eq!(segments.len(), 4);
    let mut c = Coalescer::default();
    let out = written(&mut c, &segments);
    assert_eq!(out.len(), 1, "one write");
    assert_eq!((c.counters.writes, c.counters.packets), (1, 4));
    let (header, packet) = &out[0];
    assert_eq!((header[0], header[1]), (NEEDS_CSUM, GSO_TCPV4));
    assert_eq!(u16::from_ne_bytes([header[4], header[5]]), 1000, "gso_size");
    assert_eq!(packet.len(), 20 + 32 + 3500);
    assert_eq!(
        usize::from(u16::from_be_bytes([packet[2], packet[3]])),
        packet.len()
    );
    let mut again = header.clone();
    again.extend_from_slice(packet);
    assert_eq!(cut(&again), segments);
}

#[test]
fn a_gap_another_flow_or_not_tcp_is_written_apart() {
    let segments = cut(&read());
    let mut udp = segments[0].clone();
    udp[9] = 17;
    let mut other_port = segments[2].clone();
    other_port[21] ^= 1;
    // 0, 1 gather; UDP alone; 3 does not follow 1 (2 missing): apart.
    let packets = [
        segments[0].clone(),
        segments[1].clone(),
        udp,
        segments[3].clone(),
    ];
    let mut c = Coalescer::default();
    let out = written(&mut c, &packets);
    let kinds: Vec<(u8, usize)> = out.iter().map(|(h, p)| (h[1], p.len())).collect();
    assert_eq!(kinds, vec![(GSO_TCPV4, 52 + 2000), (0, 1052), (0, 552)]);
    // Another port does not join either; a single packet goes as it came.
    let out = written(&mut c, &[segments[1].clone(), other_port]);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], (vec![0; VNET_HDR_LEN], segments[1].clone()));
}

/// Found by the fuzz target `tunnel`: a TCP/IPv4 packet cut off right
/// after the TCP data offset (33 bytes, which anyone may send to a home
/// address through the anchor) made the coalescer index past its end.
#[test]
fn a_packet_cut_off_in_the_tcp_header_is_written_alone() {
    let mut p = cut(&read())[0][..33].to_vec();
    p[2..4].copy_from_slice(&33u16.to_be_bytes());
    let mut c = Coalescer::default();
    let out = written(&mut c, &[p.clone()]);
    assert_eq!(out, vec![(vec![0; VNET_HDR_LEN], p)]);
}

/// Found by the fuzz target `tunnel`: a TCP header longer than the packet
/// said it was underflowed `total - headers` (computed even for a packet
/// that does not join: a panic wherever overflow is checked).
#[test]
fn a_tcp_header_longer_than_the_packet_is_written_alone() {
    let mut p = cut(&read())[0][..40].to_vec();
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[IP_LEN + 12] = 0xf0;
    let mut c = Coalescer::default();
    let out = written(&mut c, &[p.clone()]);
    assert_eq!(out, vec![(vec![0; VNET_HDR_LEN], p)]);
}
