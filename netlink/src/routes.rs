//! IPv4 routes and rules. Route mode's kernel state: a default route
//! through the primary in mimmd's own table, and two rules that send
//! traffic there:
//!
//! ```text
//! PRIO-1: from all lookup main suppress_prefixlength 0   (local and LAN routes still win)
//! PRIO:   from all lookup TABLE                          (everything else: the primary)
//! ```
//!
//! netifd (or the testbed) keeps managing the main table; mimmd never edits it.
//!
//! And a prefix on a device ([`add_prefix`]): the anchor's route for its
//! pool of home addresses through its TUN.

use std::io;
use std::net::Ipv4Addr;

use rustix::io::Errno;

use crate::Rtnl;
use crate::wire::{
    FRA_PRIORITY, FRA_SUPPRESS_PREFIXLEN, FRA_TABLE, Message, NLM_F_CREATE, NLM_F_REPLACE, RTA_DST,
    RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTM_DELROUTE, RTM_DELRULE, RTM_GETROUTE, RTM_NEWROUTE,
    RTM_NEWRULE, RTMSG_LEN, Request,
};

const AF_INET: u8 = rustix::net::AddressFamily::INET.as_raw() as u8;
const RT_TABLE_UNSPEC: u8 = 0;
const RT_TABLE_MAIN: u32 = 254;
const RTPROT_STATIC: u8 = 4;
const RTN_UNICAST: u8 = 1;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_NOWHERE: u8 = 255;
const FR_ACT_TO_TBL: u8 = 1;

/// The header's 8-bit table field cannot hold larger ids; the attribute can.
fn header_table(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RT_TABLE_UNSPEC)
}

/// `struct rtmsg` of an IPv4 route to a `dst_len`-bit prefix (0: the
/// default route) in `table`.
fn rtmsg(table: u32, dst_len: u8, scope: u8) -> [u8; RTMSG_LEN] {
    // family, dst_len, src_len, tos, table, protocol, scope, type; flags
    let mut b = [0u8; RTMSG_LEN];
    b[..8].copy_from_slice(&[
        AF_INET,
        dst_len,
        0,
        0,
        header_table(table),
        RTPROT_STATIC,
        scope,
        RTN_UNICAST,
    ]);
    b
}

/// Points the default route of `table` at device `oif`, through `gateway`
/// when there is one (a point-to-point device needs none).
pub fn set_default(
    rtnl: &mut Rtnl,
    table: u32,
    oif: u32,
    gateway: Option<Ipv4Addr>,
) -> io::Result<()> {
    rtnl.request(default_route(table, oif, gateway))
}

fn default_route(table: u32, oif: u32, gateway: Option<Ipv4Addr>) -> Request {
    let scope = if gateway.is_some() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    let mut r = Request::new(
        RTM_NEWROUTE,
        NLM_F_CREATE | NLM_F_REPLACE,
        &rtmsg(table, 0, scope),
    )
    .attr_u32(RTA_TABLE, table)
    .attr_u32(RTA_OIF, oif);
    if let Some(gw) = gateway {
        r = r.attr(RTA_GATEWAY, &gw.octets());
    }
    r
}

/// Removes the default route of `table` (no error if there is none).
pub fn clear_default(rtnl: &mut Rtnl, table: u32) -> io::Result<()> {
    let r = Request::new(RTM_DELROUTE, 0, &rtmsg(table, 0, RT_SCOPE_NOWHERE))
        .attr_u32(RTA_TABLE, table);
    absent_is_fine(rtnl.request(r), Errno::SRCH)
}

/// `result`, with the kernel's "there is none" (`absent`) as success.
pub(crate) fn absent_is_fine(result: io::Result<()>, absent: Errno) -> io::Result<()> {
    match result {
        Err(e) if e.raw_os_error() == Some(absent.raw_os_error()) => Ok(()),
        other => other,
    }
}

/// The request for a route to `dst/prefix_len` on device `oif` in `table`.
fn prefix_route(
    kind: u16,
    flags: u16,
    table: u32,
    dst: Ipv4Addr,
    prefix_len: u8,
    oif: u32,
) -> Request {
    Request::new(kind, flags, &rtmsg(table, prefix_len, RT_SCOPE_LINK))
        .attr_u32(RTA_TABLE, table)
        .attr(RTA_DST, &dst.octets())
        .attr_u32(RTA_OIF, oif)
}

/// Routes `dst/prefix_len` in `table` straight onto device `oif` (scope
/// link, no next hop: the anchor's pool on its TUN). Replaces a route to
/// the same prefix.
pub fn add_prefix(
    rtnl: &mut Rtnl,
    table: u32,
    dst: Ipv4Addr,
    prefix_len: u8,
    oif: u32,
) -> io::Result<()> {
    let flags = NLM_F_CREATE | NLM_F_REPLACE;
    rtnl.request(prefix_route(
        RTM_NEWROUTE,
        flags,
        table,
        dst,
        prefix_len,
        oif,
    ))
}

/// Removes the route [`add_prefix`] made (no error if there is none).
pub fn remove_prefix(
    rtnl: &mut Rtnl,
    table: u32,
    dst: Ipv4Addr,
    prefix_len: u8,
    oif: u32,
) -> io::Result<()> {
    let r = prefix_route(RTM_DELROUTE, 0, table, dst, prefix_len, oif);
    absent_is_fine(rtnl.request(r), Errno::SRCH)
}

/// (output device, gateway) of an IPv4 default route.
pub fn default_gateway(m: &Message) -> Option<(u32, Ipv4Addr)> {
    let p = m.payload();
    if p.first() != Some(&AF_INET) || p.get(1) != Some(&0) {
        return None;
    }
    let oif = m.attributes(RTMSG_LEN).find_u32(RTA_OIF)?;
    let gw = m.attributes(RTMSG_LEN).find(RTA_GATEWAY)?;
    Some((oif, Ipv4Addr::from(<[u8; 4]>::try_from(gw).ok()?)))
}

/// Gateways of the IPv4 default routes the kernel has, by output device,
/// in any table: how route mode learns a next hop netifd configured.
pub fn default_gateways(rtnl: &mut Rtnl) -> io::Result<Vec<(u32, Ipv4Addr)>> {
    let mut request = [0u8; RTMSG_LEN];
    request[0] = AF_INET;
    let mut found = Vec::new();
    rtnl.dump(Request::new(RTM_GETROUTE, 0, &request), RTM_NEWROUTE, |m| {
        found.extend(default_gateway(m))
    })?;
    Ok(found)
}

/// The output device of the IPv4 default route in `table`, if it has one:
/// what a restarted route mode finds its table pointing at.
pub fn default_device(rtnl: &mut Rtnl, table: u32) -> io::Result<Option<u32>> {
    let mut request = [0u8; RTMSG_LEN];
    request[0] = AF_INET;
    let mut found = None;
    rtnl.dump(Request::new(RTM_GETROUTE, 0, &request), RTM_NEWROUTE, |m| {
        found = found.or_else(|| default_in(m, table));
    })?;
    Ok(found)
}

/// The output device of `m` when it is an IPv4 default route in `table`.
fn default_in(m: &Message, table: u32) -> Option<u32> {
    let p = m.payload();
    if p.first() != Some(&AF_INET) || p.get(1) != Some(&0) {
        return None;
    }
    let attrs = m.attributes(RTMSG_LEN);
    let in_table = attrs
        .clone()
        .find_u32(RTA_TABLE)
        .or(p.get(4).map(|&t| u32::from(t)));
    (in_table == Some(table)).then(|| attrs.find_u32(RTA_OIF))?
}

/// `struct fib_rule_hdr`: family, dst_len, src_len, tos, table, res1, res2,
/// action; flags.
fn rule_header(table: u8, action: u8) -> [u8; RTMSG_LEN] {
    let mut b = [0u8; RTMSG_LEN];
    b[..8].copy_from_slice(&[AF_INET, 0, 0, 0, table, 0, 0, action]);
    b
}

fn rule(priority: u32, table: u32, suppress_default: bool) -> Request {
    let r = Request::new(
        RTM_NEWRULE,
        NLM_F_CREATE,
        &rule_header(header_table(table), FR_ACT_TO_TBL),
    )
    .attr_u32(FRA_PRIORITY, priority)
    .attr_u32(FRA_TABLE, table);
    if suppress_default {
        r.attr_u32(FRA_SUPPRESS_PREFIXLEN, 0)
    } else {
        r
    }
}

/// Installs the two rules (removing stale copies first).
pub fn install_rules(rtnl: &mut Rtnl, table: u32, priority: u32) -> io::Result<()> {
    remove_rules(rtnl, priority)?;
    rtnl.request(rule(priority.saturating_sub(1), RT_TABLE_MAIN, true))?;
    rtnl.request(rule(priority, table, false))
}

/// Removes every rule at `priority - 1` and `priority`.
pub fn remove_rules(rtnl: &mut Rtnl, priority: u32) -> io::Result<()> {
    for p in [priority.saturating_sub(1), priority] {
        loop {
            let r = Request::new(RTM_DELRULE, 0, &rule_header(0, 0)).attr_u32(FRA_PRIORITY, p);
            match rtnl.request(r) {
                Ok(()) => continue,
                Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, RTM_NEWROUTE};

    fn rtmsg_of(r: &Request) -> (Message<'_>, [u8; RTMSG_LEN]) {
        let m = Message::new_checked(r.as_bytes()).unwrap();
        let fixed = m.payload()[..RTMSG_LEN].try_into().unwrap();
        (m, fixed)
    }

    #[test]
    fn a_prefix_route_is_link_scoped_without_a_gateway() {
        let dst = Ipv4Addr::new(10, 64, 0, 0);
        let r = prefix_route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, 254, dst, 24, 9);
        let (m, fixed) = rtmsg_of(&r);
        assert_eq!(m.kind(), RTM_NEWROUTE);
        // family, dst_len, src_len, tos, table, protocol, scope, type
        assert_eq!(
            fixed[..8],
            [
                AF_INET,
                24,
                0,
                0,
                254,
                RTPROT_STATIC,
                RT_SCOPE_LINK,
                RTN_UNICAST
            ]
        );
        let attrs = m.attributes(RTMSG_LEN);
        assert_eq!(attrs.clone().find(RTA_DST), Some(&[10, 64, 0, 0][..]));
        assert_eq!(attrs.clone().find_u32(RTA_OIF), Some(9));
        assert_eq!(attrs.clone().find_u32(RTA_TABLE), Some(254));
        assert_eq!(attrs.clone().find(RTA_GATEWAY), None);
        assert_eq!(attrs.count(), 3);
    }

    #[test]
    fn a_default_route_is_found_in_its_own_table_only() {
        let gw = Some(Ipv4Addr::new(10, 0, 0, 1));
        for table in [220, 1000] {
            let r = default_route(table, 7, gw);
            let m = Message::new_checked(r.as_bytes()).unwrap();
            assert_eq!(default_in(&m, table), Some(7));
            assert_eq!(default_in(&m, RT_TABLE_MAIN), None);
        }
        let r = prefix_route(RTM_NEWROUTE, 0, 220, Ipv4Addr::new(10, 0, 0, 0), 8, 7);
        let m = Message::new_checked(r.as_bytes()).unwrap();
        assert_eq!(default_in(&m, 220), None);
    }

    #[test]
    fn a_table_beyond_the_header_is_in_the_attribute_only() {
        let r = prefix_route(RTM_DELROUTE, 0, 1000, Ipv4Addr::new(10, 0, 0, 1), 32, 2);
        let (m, fixed) = rtmsg_of(&r);
        assert_eq!((fixed[1], fixed[4]), (32, RT_TABLE_UNSPEC));
        assert_eq!(m.attributes(RTMSG_LEN).find_u32(RTA_TABLE), Some(1000));
    }
}
