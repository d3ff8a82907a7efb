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

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleHeader, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::netlink::Rtnl;

/// The header's 8-bit table field cannot hold larger ids; the attribute can.
fn header_table(table: u32) -> u8 {
    if table < 256 {
        table as u8
    } else {
        RouteHeader::RT_TABLE_UNSPEC
    }
}

fn default_route(table: u32) -> RouteMessage {
    let mut route = RouteMessage::default();
    route.header.address_family = AddressFamily::Inet;
    route.header.destination_prefix_length = 0;
    route.header.table = header_table(table);
    route.header.protocol = RouteProtocol::Static;
    route.header.kind = RouteType::Unicast;
    route.attributes.push(RouteAttribute::Table(table));
    route
}

/// Points the default route of `table` at device `oif`, through `gateway`
/// when there is one (a point-to-point device needs none).
pub fn set_default(
    rtnl: &mut Rtnl,
    table: u32,
    oif: u32,
    gateway: Option<Ipv4Addr>,
) -> io::Result<()> {
    let mut route = default_route(table);
    route.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    route.attributes.push(RouteAttribute::Oif(oif));
    if let Some(gw) = gateway {
        route
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
    }
    rtnl.request(
        RouteNetlinkMessage::NewRoute(route),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// Removes the default route of `table` (no error if there is none).
pub fn clear_default(rtnl: &mut Rtnl, table: u32) -> io::Result<()> {
    let mut route = default_route(table);
    route.header.scope = RouteScope::NoWhere;
    match rtnl.request(RouteNetlinkMessage::DelRoute(route), 0) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other,
    }
}

/// Gateways of the IPv4 default routes the kernel has, by output device,
/// in any table: how route mode learns a next hop netifd configured.
pub fn default_gateways(rtnl: &mut Rtnl) -> io::Result<Vec<(u32, Ipv4Addr)>> {
    let mut request = RouteMessage::default();
    request.header.address_family = AddressFamily::Inet;
    let answers = rtnl.dump(RouteNetlinkMessage::GetRoute(request))?;
    let mut found = Vec::new();
    for answer in answers {
        let RouteNetlinkMessage::NewRoute(r) = answer else {
            continue;
        };
        if r.header.destination_prefix_length != 0 {
            continue;
        }
        let oif = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        });
        let gw = r.attributes.iter().find_map(|a| match a {
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => Some(*g),
            _ => None,
        });
        if let (Some(oif), Some(gw)) = (oif, gw) {
            found.push((oif, gw));
        }
    }
    Ok(found)
}

fn rule(priority: u32, table: u32, suppress_default: bool) -> RuleMessage {
    let mut rule = RuleMessage::default();
    rule.header = RuleHeader {
        family: AddressFamily::Inet,
        table: header_table(table),
        action: RuleAction::ToTable,
        ..Default::default()
    };
    rule.attributes.push(RuleAttribute::Priority(priority));
    rule.attributes.push(RuleAttribute::Table(table));
    if suppress_default {
        rule.attributes.push(RuleAttribute::SuppressPrefixLen(0));
    }
    rule
}

/// Installs the two rules (removing stale copies first).
pub fn install_rules(rtnl: &mut Rtnl, table: u32, priority: u32) -> io::Result<()> {
    remove_rules(rtnl, priority)?;
    let main = u32::from(RouteHeader::RT_TABLE_MAIN);
    rtnl.request(
        RouteNetlinkMessage::NewRule(rule(priority - 1, main, true)),
        NLM_F_CREATE,
    )?;
    rtnl.request(
        RouteNetlinkMessage::NewRule(rule(priority, table, false)),
        NLM_F_CREATE,
    )
}

/// Removes every rule at `priority - 1` and `priority`.
pub fn remove_rules(rtnl: &mut Rtnl, priority: u32) -> io::Result<()> {
    for p in [priority - 1, priority] {
        loop {
            let mut r = RuleMessage::default();
            r.header.family = AddressFamily::Inet;
            r.attributes.push(RuleAttribute::Priority(p));
            match rtnl.request(RouteNetlinkMessage::DelRule(r), 0) {
                Ok(()) => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
