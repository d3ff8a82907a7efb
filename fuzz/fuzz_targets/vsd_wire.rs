//! The frames the VSD looks into (mimm-vsd's `wire` views and
//! `announce`): any bytes, as a whole frame and as each view's own
//! packet, checked views and `Repr` parses that never panic; what parses
//! is emitted again and reads back the same (byte for byte where the
//! `Repr` holds every field).
#![no_main]

use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use mimm_vsd::announce::{self, Announcement};
use mimm_vsd::wire::{self, arp, ethernet, icmpv6, ipv6};

fn ethernet_frame(data: &[u8]) {
    let Ok(f) = ethernet::Frame::new_checked(data) else {
        return;
    };
    let repr = ethernet::Repr::parse(&f);
    let mut out = data.to_vec();
    out[..ethernet::HEADER_LEN].fill(0);
    repr.emit(&mut ethernet::Frame::new_unchecked(&mut out[..]));
    assert_eq!(out, data, "the header holds nothing the Repr does not");
    let again = ethernet::Frame::new_checked(&out[..]).expect("emitted");
    assert_eq!(ethernet::Repr::parse(&again), repr);
    assert_eq!(again.payload(), f.payload());
}

fn arp_packet(data: &[u8]) {
    let Ok(p) = arp::Packet::new_checked(data) else {
        return;
    };
    let _ = (p.hardware_type(), p.protocol_type(), p.operation());
    let Ok(repr) = arp::Repr::parse(&p) else {
        return;
    };
    let mut out = [0u8; arp::PACKET_LEN];
    repr.emit(&mut arp::Packet::new_unchecked(&mut out[..]));
    assert_eq!(
        out,
        data[..arp::PACKET_LEN],
        "ARP holds nothing the Repr does not"
    );
    let again = arp::Repr::parse(&arp::Packet::new_checked(&out[..]).expect("emitted"));
    assert_eq!(again, Ok(repr));
}

/// The IPv6 header's Repr, emitted and read back; then the neighbour
/// advertisement it may carry.
fn ipv6_packet(data: &[u8]) {
    let Ok(p) = ipv6::Packet::new_checked(data) else {
        return;
    };
    let repr = ipv6::Repr::parse(&p);
    assert!(ipv6::HEADER_LEN + p.payload().len() <= data.len());
    let mut out = vec![0u8; ipv6::HEADER_LEN + usize::from(repr.payload_len)];
    repr.emit(&mut ipv6::Packet::new_unchecked(&mut out[..]));
    let again = ipv6::Packet::new_checked(&out[..]).expect("emitted");
    assert_eq!(ipv6::Repr::parse(&again), repr);
    let _ = repr.pseudo_header_sum();
    neighbor_advertisement(&repr, p.payload());
}

fn neighbor_advertisement(ip: &ipv6::Repr, data: &[u8]) {
    let Ok(p) = icmpv6::Packet::new_checked(data) else {
        return;
    };
    let _ = icmpv6::NeighborAdvertisement::checksum(&p);
    let Ok(na) = icmpv6::NeighborAdvertisement::parse(ip, &p) else {
        return;
    };
    let mut out = [0u8; icmpv6::NA_LEN];
    na.emit(ip, &mut icmpv6::Packet::new_unchecked(&mut out[..]));
    let again = icmpv6::Packet::new_checked(&out[..]).expect("emitted");
    assert_eq!(icmpv6::NeighborAdvertisement::parse(ip, &again), Ok(na));
}

/// An announcement recognised is one the VSD would send for the same
/// address and MAC (and recognises again).
fn announcement(data: &[u8]) {
    let Some(a) = announce::parse(data) else {
        return;
    };
    let mut buf = [0u8; 128];
    let len = match a {
        Announcement::V4 { ip, mac } => announce::arp_announcement(&mut buf, mac, ip),
        Announcement::V6 { ip, mac } => announce::neighbor_advertisement(&mut buf, mac, ip),
    };
    let len = len.expect("128 bytes hold an announcement");
    assert_eq!(announce::parse(&buf[..len]), Some(a));
}

fuzz_target!(|data: &[u8]| {
    ethernet_frame(data);
    announcement(data);
    if let Ok(f) = ethernet::Frame::new_checked(data) {
        arp_packet(f.payload());
        ipv6_packet(f.payload());
    }
    arp_packet(data);
    ipv6_packet(data);
    // An advertisement on its own, under an on-link header for it.
    let ip = ipv6::Repr {
        source: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        destination: icmpv6::ALL_NODES,
        next_header: ipv6::NEXT_HEADER_ICMPV6,
        hop_limit: 255,
        payload_len: icmpv6::NA_LEN as u16,
    };
    neighbor_advertisement(&ip, data);
    let _ = wire::checksum(data);
});
