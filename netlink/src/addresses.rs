//! The addresses a link carries (what the VSD announces after a switch),
//! and giving one to a link or taking it off (the anchor's TUN).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustix::io::Errno;

use crate::Rtnl;
use crate::wire::{
    IFA_ADDRESS, IFA_LOCAL, IFADDR_LEN, Message, NLM_F_CREATE, NLM_F_REPLACE, RTM_DELADDR,
    RTM_GETADDR, RTM_NEWADDR, Request,
};

const AF_INET: u8 = rustix::net::AddressFamily::INET.as_raw() as u8;

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

/// `struct ifaddrmsg` of an IPv4 address with its prefix on link `index`:
/// family, prefix length, flags, scope (universe); index.
fn ifaddrmsg(index: u32, prefix_len: u8) -> [u8; IFADDR_LEN] {
    let mut b = [0u8; IFADDR_LEN];
    b[0] = AF_INET;
    b[1] = prefix_len;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b
}

/// The request for `addr/prefix_len` on link `index`: the local address and,
/// as the kernel reads a peer-less one, the same as IFA_ADDRESS.
fn address(kind: u16, flags: u16, index: u32, addr: Ipv4Addr, prefix_len: u8) -> Request {
    Request::new(kind, flags, &ifaddrmsg(index, prefix_len))
        .attr(IFA_LOCAL, &addr.octets())
        .attr(IFA_ADDRESS, &addr.octets())
}

/// Gives link `index` the address `addr/prefix_len` (replacing the same
/// address with another prefix).
pub fn add(rtnl: &mut Rtnl, index: u32, addr: Ipv4Addr, prefix_len: u8) -> io::Result<()> {
    let flags = NLM_F_CREATE | NLM_F_REPLACE;
    rtnl.request(address(RTM_NEWADDR, flags, index, addr, prefix_len))
}

/// Takes `addr/prefix_len` off link `index` (no error if it is not there).
pub fn remove(rtnl: &mut Rtnl, index: u32, addr: Ipv4Addr, prefix_len: u8) -> io::Result<()> {
    match rtnl.request(address(RTM_DELADDR, 0, index, addr, prefix_len)) {
        Err(e)
            if [Errno::NOENT, Errno::ADDRNOTAVAIL]
                .iter()
                .any(|a| e.raw_os_error() == Some(a.raw_os_error())) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_request_carries_local_and_address() {
        let addr = Ipv4Addr::new(10, 64, 0, 1);
        let r = address(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, 7, addr, 32);
        let m = Message::new_checked(r.as_bytes()).unwrap();
        assert_eq!(m.kind(), RTM_NEWADDR);
        assert_eq!(m.payload()[..4], [AF_INET, 32, 0, 0]);
        assert_eq!(parse_address(&m), Some((7, IpAddr::V4(addr))));
        let attrs = m.attributes(IFADDR_LEN);
        assert_eq!(attrs.clone().find(IFA_LOCAL), Some(&addr.octets()[..]));
        assert_eq!(attrs.clone().find(IFA_ADDRESS), Some(&addr.octets()[..]));
        assert_eq!(attrs.count(), 2);
        let flags = u16::from_ne_bytes(r.as_bytes()[6..8].try_into().unwrap());
        assert_eq!(flags, NLM_F_CREATE | NLM_F_REPLACE);
    }
}
