//! The addresses a link carries (what the VSD announces after a switch).

use std::io;
use std::net::IpAddr;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};

use crate::Rtnl;

/// Every IPv4 and IPv6 address on link `index` (IPv6 link-local included).
pub fn of_link(rtnl: &mut Rtnl, index: u32) -> io::Result<Vec<IpAddr>> {
    let answers = rtnl.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
    Ok(answers
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) if a.header.index == index => Some(a),
            _ => None,
        })
        .filter_map(|a| {
            // IFA_LOCAL is the address itself on point-to-point links;
            // IFA_ADDRESS elsewhere.
            let local = a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            local.or_else(|| {
                a.attributes.iter().find_map(|x| match x {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            })
        })
        .collect())
}
