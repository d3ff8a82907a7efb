//! Route mode: traffic follows the primary because mimmd's table holds the
//! default route through it (see [`crate::netlink::routes`]).

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::route_state::{self, Installed};
use crate::config::{Globals, IfaceDaemon};
use crate::netlink::links::Link;
use crate::netlink::{Rtnl, conntrack, links, routes};

pub struct RouteMode {
    rtnl: Rtnl,
    rules: Installed,
    flush: bool,
    installed: bool,
    /// Where the rules are written down while installed.
    state: PathBuf,
}

impl RouteMode {
    pub fn new(globals: &Globals) -> io::Result<RouteMode> {
        Ok(RouteMode {
            rtnl: Rtnl::new()?,
            rules: Installed {
                priority: globals.rule_priority,
                table: globals.route_table,
            },
            flush: globals.conntrack_flush,
            installed: false,
            state: route_state::path_for(&globals.socket),
        })
    }

    /// At start: rules and a route an earlier run left (it was killed) are
    /// taken over when they are this configuration's; the device the table
    /// points at, by name. Anything else left is removed.
    pub fn take_over_left(&mut self) -> Result<Option<String>, String> {
        let Some(left) = Installed::load(&self.state)? else {
            return Ok(None);
        };
        if left != self.rules {
            route_state::remove_left(&mut self.rtnl, &self.state)?;
            tracing::info!("removed {} left by an earlier run", left.describe());
            return Ok(None);
        }
        self.installed = true;
        let netlink = |e: io::Error| format!("netlink: {e}");
        let Some(oif) = routes::default_device(&mut self.rtnl, left.table).map_err(netlink)? else {
            return Ok(None);
        };
        let all = links::dump(&mut self.rtnl).map_err(netlink)?;
        Ok(all.into_iter().find(|l| l.index == oif).map(|l| l.name))
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
            // Written down first: a crash from here on leaves a record.
            self.rules.record(&self.state)?;
            routes::install_rules(&mut self.rtnl, self.rules.table, self.rules.priority)?;
            self.installed = true;
        }
        let gateway = self.gateway(iface, link)?;
        routes::set_default(&mut self.rtnl, self.rules.table, link.index, gateway)?;
        if self.flush {
            // A NATed flow would keep the old interface's address otherwise.
            if let Err(e) = conntrack::flush() {
                tracing::warn!("conntrack flush: {e}");
            }
        }
        Ok(gateway)
    }

    /// Removes mimmd's rules and route, and their record (on exit).
    pub fn teardown(&mut self) {
        if let Err(e) = self.rules.remove(&mut self.rtnl, &self.state) {
            tracing::warn!("removing {}: {e}", self.rules.describe());
        }
        self.installed = false;
    }
}
