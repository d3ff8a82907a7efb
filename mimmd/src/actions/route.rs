//! Route mode: traffic follows the primary because mimmd's table holds the
//! default route through it (see [`crate::netlink::routes`]).

use std::io;
use std::net::Ipv4Addr;

use crate::config::{Globals, IfaceDaemon};
use crate::netlink::links::Link;
use crate::netlink::{Rtnl, conntrack, routes};

pub struct RouteMode {
    rtnl: Rtnl,
    table: u32,
    priority: u32,
    flush: bool,
    installed: bool,
}

impl RouteMode {
    pub fn new(globals: &Globals) -> io::Result<RouteMode> {
        Ok(RouteMode {
            rtnl: Rtnl::new()?,
            table: globals.route_table,
            priority: globals.rule_priority,
            flush: globals.conntrack_flush,
            installed: false,
        })
    }

    /// The next hop for `iface`: configured, else the gateway of a default
    /// route the kernel already has through the device, else none (the
    /// device is point-to-point).
    fn gateway(&mut self, iface: &IfaceDaemon, link: &Link) -> io::Result<Option<Ipv4Addr>> {
        if iface.gateway.is_some() || link.point_to_point {
            return Ok(iface.gateway);
        }
        let learned = routes::default_gateways(&mut self.rtnl)?
            .into_iter()
            .find(|(oif, _)| *oif == link.index)
            .map(|(_, gw)| gw);
        Ok(learned)
    }

    /// Moves traffic to `iface` (whose kernel link is `link`).
    pub fn switch(&mut self, iface: &IfaceDaemon, link: &Link) -> io::Result<Option<Ipv4Addr>> {
        if !self.installed {
            routes::install_rules(&mut self.rtnl, self.table, self.priority)?;
            self.installed = true;
        }
        let gateway = self.gateway(iface, link)?;
        routes::set_default(&mut self.rtnl, self.table, link.index, gateway)?;
        if self.flush {
            // A NATed flow would keep the old interface's address otherwise.
            if let Err(e) = conntrack::flush() {
                tracing::warn!("conntrack flush: {e}");
            }
        }
        Ok(gateway)
    }

    /// Removes mimmd's rules and route (on exit).
    pub fn teardown(&mut self) {
        if let Err(e) = routes::remove_rules(&mut self.rtnl, self.priority) {
            tracing::warn!("removing rules: {e}");
        }
        if let Err(e) = routes::clear_default(&mut self.rtnl, self.table) {
            tracing::warn!("removing the default route: {e}");
        }
        self.installed = false;
    }
}
