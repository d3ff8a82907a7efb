//! The Mobility Manager's hands: jobs (hooks and up/down commands, run as
//! children without blocking the loop) and the two ways traffic moves:
//! route mode (a default route and policy rules) and vsd mode (the VSD's
//! active member).

pub mod jobs;
pub mod route;
pub mod route_state;
pub mod vsd;

use std::io;

use crate::config::{Globals, IfaceDaemon, MimmConfig};
use crate::netlink::Rtnl;
use crate::netlink::links::Link;
use route::RouteMode;
use vsd::VsdMode;

pub enum Mover {
    Route(RouteMode),
    Vsd(VsdMode),
}

impl Mover {
    pub fn new(cfg: &MimmConfig) -> io::Result<Mover> {
        Ok(match &cfg.vsd {
            Some(v) => Mover::Vsd(VsdMode::new(v)),
            None => Mover::Route(RouteMode::new(&cfg.globals)?),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Mover::Route(_) => "route",
            Mover::Vsd(_) => "vsd",
        }
    }

    /// Moves traffic to `iface`, whose kernel link is `link`.
    pub fn switch(&mut self, iface: &IfaceDaemon, link: &Link) -> io::Result<()> {
        match self {
            Mover::Route(r) => r.switch(iface, link).map(|_| ()),
            Mover::Vsd(v) => v.switch(&iface.device),
        }
    }

    /// At start: what an earlier run left in the kernel. Route mode takes
    /// its own rules over (the device its table points at, by name); in vsd
    /// mode a route-mode run's are removed. The VSD keeps its own state.
    pub fn take_over_left(&mut self, globals: &Globals) -> Result<Option<String>, String> {
        match self {
            Mover::Route(r) => r.take_over_left(),
            Mover::Vsd(_) => {
                let mut rtnl = Rtnl::new().map_err(|e| format!("netlink: {e}"))?;
                let path = route_state::path_for(&globals.socket);
                if let Some(left) = route_state::remove_left(&mut rtnl, &path)? {
                    tracing::info!("removed {} left by a route-mode run", left.describe());
                }
                Ok(None)
            }
        }
    }

    /// On exit or reload: route mode removes its rules and route; the VSD
    /// is left as it is (it carries the traffic on its own).
    pub fn teardown(&mut self) {
        if let Mover::Route(r) = self {
            r.teardown();
        }
    }
}
