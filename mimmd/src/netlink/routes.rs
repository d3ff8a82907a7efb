//! Route mode's kernel state: a default route through the primary in
//! mimmd's own table, and two rules that send traffic there:
//!
//! ```text
//! PRIO-1: from all lookup main suppress_prefixlength 0   (local and LAN routes still win)
//! PRIO:   from all lookup TABLE                          (everything else: the primary)
//! ```
//!
//! netifd (or the testbed) keeps managing the main table; mimmd never edits it.

use std::io;
use std::net::Ipv4Addr;

use mimm_netlink::wire::{
    FRA_PRIORITY, FRA_SUPPRESS_PREFIXLEN, FRA_TABLE, Message, NLM_F_CREATE, NLM_F_REPLACE,
    RTA_GATEWAY, RTA_OIF, RTA_TABLE, RTM_DELROUTE, RTM_DELRULE, RTM_GETROUTE, RTM_NEWROUTE,
    RTM_NEWRULE, RTMSG_LEN, Request,
};

use crate::netlink::Rtnl;

const AF_INET: u8 = libc::AF_INET as u8;
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

/// `struct rtmsg` of an IPv4 default route in `table`.
fn rtmsg(table: u32, scope: u8) -> [u8; RTMSG_LEN] {
    // family, dst_len, src_len, tos, table, protocol, scope, type; flags
    let mut b = [0u8; RTMSG_LEN];
    b[..8].copy_from_slice(&[
        AF_INET,
        0,
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
    let scope = if gateway.is_some() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    let mut r = Request::new(
        RTM_NEWROUTE,
        NLM_F_CREATE | NLM_F_REPLACE,
        &rtmsg(table, scope),
    )
    .attr_u32(RTA_TABLE, table)
    .attr_u32(RTA_OIF, oif);
    if let Some(gw) = gateway {
        r = r.attr(RTA_GATEWAY, &gw.octets());
    }
    rtnl.request(r)
}

/// Removes the default route of `table` (no error if there is none).
pub fn clear_default(rtnl: &mut Rtnl, table: u32) -> io::Result<()> {
    let r =
        Request::new(RTM_DELROUTE, 0, &rtmsg(table, RT_SCOPE_NOWHERE)).attr_u32(RTA_TABLE, table);
    match rtnl.request(r) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other,
    }
}

/// (output device, gateway) of an IPv4 default route.
fn default_gateway(m: &Message) -> Option<(u32, Ipv4Addr)> {
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
    rtnl.request(rule(priority - 1, RT_TABLE_MAIN, true))?;
    rtnl.request(rule(priority, table, false))
}

/// Removes every rule at `priority - 1` and `priority`.
pub fn remove_rules(rtnl: &mut Rtnl, priority: u32) -> io::Result<()> {
    for p in [priority - 1, priority] {
        loop {
            let r = Request::new(RTM_DELRULE, 0, &rule_header(0, 0)).attr_u32(FRA_PRIORITY, p);
            match rtnl.request(r) {
                Ok(()) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
