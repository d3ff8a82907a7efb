//! The frames that tell the segment where the VSD's addresses are now:
//! ARP announcements for IPv4 and unsolicited neighbour advertisements for
//! IPv6, sent on the new active member after a switch (like bonding's
//! num_grat_arp / num_unsol_na), built into a caller's buffer.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{Mac, arp, ethernet, icmpv6, ipv6};

/// Ethernet + ARP.
pub const ARP_FRAME_LEN: usize = ethernet::HEADER_LEN + arp::PACKET_LEN;
/// Ethernet + IPv6 + neighbour advertisement.
pub const NA_FRAME_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + icmpv6::NA_LEN;

/// Writes an ARP announcement of `ip` at `mac`, broadcast; `None` if `buf`
/// is too small.
pub fn arp_announcement(buf: &mut [u8], mac: Mac, ip: Ipv4Addr) -> Option<usize> {
    let frame = buf.get_mut(..ARP_FRAME_LEN)?;
    let mut eth = ethernet::Frame::new_unchecked(frame);
    ethernet::Repr {
        destination: crate::wire::BROADCAST,
        source: mac,
        ethertype: ethernet::ETHERTYPE_ARP,
    }
    .emit(&mut eth);
    arp::Repr::announcement(mac, ip).emit(&mut arp::Packet::new_unchecked(eth.payload_mut()));
    Some(ARP_FRAME_LEN)
}

/// Writes an unsolicited neighbour advertisement of `ip` at `mac` to all
/// nodes; `None` if `buf` is too small.
pub fn neighbor_advertisement(buf: &mut [u8], mac: Mac, ip: Ipv6Addr) -> Option<usize> {
    let frame = buf.get_mut(..NA_FRAME_LEN)?;
    let mut eth = ethernet::Frame::new_unchecked(frame);
    ethernet::Repr {
        destination: icmpv6::ALL_NODES_MAC,
        source: mac,
        ethertype: ethernet::ETHERTYPE_IPV6,
    }
    .emit(&mut eth);
    let header = ipv6::Repr {
        source: ip,
        destination: icmpv6::ALL_NODES,
        next_header: ipv6::NEXT_HEADER_ICMPV6,
        hop_limit: 255,
        payload_len: icmpv6::NA_LEN as u16,
    };
    let mut packet = ipv6::Packet::new_unchecked(eth.payload_mut());
    header.emit(&mut packet);
    let payload = &mut eth.payload_mut()[ipv6::HEADER_LEN..];
    icmpv6::NeighborAdvertisement::unsolicited(ip, mac)
        .emit(&header, &mut icmpv6::Packet::new_unchecked(payload));
    Some(NA_FRAME_LEN)
}

/// What an announcement frame says, if `frame` is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announcement {
    V4 { ip: Ipv4Addr, mac: Mac },
    V6 { ip: Ipv6Addr, mac: Mac },
}

/// Recognises the announcements above (and anyone else's) in a frame.
pub fn parse(frame: &[u8]) -> Option<Announcement> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    match eth.ethertype() {
        ethernet::ETHERTYPE_ARP => {
            let a = arp::Repr::parse(&arp::Packet::new_checked(eth.payload()).ok()?).ok()?;
            (a.sender_ip == a.target_ip).then_some(Announcement::V4 {
                ip: a.sender_ip,
                mac: a.sender_mac,
            })
        }
        ethernet::ETHERTYPE_IPV6 => {
            let packet = ipv6::Packet::new_checked(eth.payload()).ok()?;
            let header = ipv6::Repr::parse(&packet);
            let na = icmpv6::NeighborAdvertisement::parse(
                &header,
                &icmpv6::Packet::new_checked(packet.payload()).ok()?,
            )
            .ok()?;
            (!na.solicited).then_some(Announcement::V6 {
                ip: na.target,
                mac: na.target_mac,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: Mac = [0x02, 0x6d, 0x69, 0x6d, 0x6d, 0x01];

    #[test]
    fn both_kinds_round_trip_and_small_buffers_are_refused() {
        let mut buf = [0u8; 128];
        let n = arp_announcement(&mut buf, MAC, Ipv4Addr::new(10, 200, 0, 50)).unwrap();
        assert_eq!(
            parse(&buf[..n]),
            Some(Announcement::V4 {
                ip: Ipv4Addr::new(10, 200, 0, 50),
                mac: MAC
            })
        );
        let ip6: Ipv6Addr = "2001:db8::50".parse().unwrap();
        let n = neighbor_advertisement(&mut buf, MAC, ip6).unwrap();
        assert_eq!(n, 86);
        assert_eq!(
            parse(&buf[..n]),
            Some(Announcement::V6 { ip: ip6, mac: MAC })
        );
        assert_eq!(
            arp_announcement(&mut buf[..41], MAC, Ipv4Addr::LOCALHOST),
            None
        );
        assert_eq!(neighbor_advertisement(&mut buf[..85], MAC, ip6), None);
    }
}
