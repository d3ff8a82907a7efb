//! The addresses a link carries (what the VSD announces after a switch).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Rtnl;
use crate::wire::{IFA_ADDRESS, IFA_LOCAL, IFADDR_LEN, Message, RTM_GETADDR, RTM_NEWADDR, Request};

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).into()),
        16 => Some(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).into()),
        _ => None,
    }
}

/// The address an RTM_NEWADDR carries, with its link's index.
pub fn parse_address(m: &Message) -> Option<(u32, IpAddr)> {
    let p = m.payload();
    let index = u32::from_ne_bytes(p.get(4..8)?.try_into().ok()?);
    // IFA_LOCAL is the address itself on point-to-point links; IFA_ADDRESS
    // (the peer there) elsewhere.
    let local = m.attributes(IFADDR_LEN).find(IFA_LOCAL);
    let address = local.or_else(|| m.attributes(IFADDR_LEN).find(IFA_ADDRESS))?;
    Some((index, ip(address)?))
}

/// Every address of every link, with the link's index, in one dump.
pub fn all(rtnl: &mut Rtnl) -> io::Result<Vec<(u32, IpAddr)>> {
    let mut found = Vec::new();
    rtnl.dump(
        Request::new(RTM_GETADDR, 0, &[0; IFADDR_LEN]),
        RTM_NEWADDR,
        |m| found.extend(parse_address(m)),
    )?;
    Ok(found)
}

/// Every IPv4 and IPv6 address on link `index` (IPv6 link-local included).
pub fn of_link(rtnl: &mut Rtnl, index: u32) -> io::Result<Vec<IpAddr>> {
    let all = all(rtnl)?;
    Ok(all
        .into_iter()
        .filter(|(i, _)| *i == index)
        .map(|(_, a)| a)
        .collect())
}
