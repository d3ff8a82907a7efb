//! Names and addresses of a testbed run, derived from its id and description.
//! Every command and test that needs a namespace or an address asks the plan,
//! so they all agree.
//!
//! ```text
//!  lan ──lan0── router ──wwan0 (ptp)── isp1 ──core── inet (198.51.100.1)
//!  192.168.1.100    │    ──wwan1 (ptp)── isp2 ──core──┤
//!                   └──  wlan0 (ether)── isp3 ──core──┘
//!        ether links with segment = upstream share one bridge:
//!                   router ──wlanN── upstream (br0 10.200.0.1) ──core── inet
//! ```
//! Link n (1-based): own ISP subnet 10.n.0.0/24 (router .2, gateway .1); on the
//! upstream segment 10.200.0.(10+n)/24 behind gateway 10.200.0.1. ISP k reaches
//! inet over 172.16.k.0/30 (upstream: 172.16.200.0/30). An anchored testbed
//! adds `core` behind inet over 172.16.250.0/30 (see [`crate::anchored`]).

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::description::{Description, Segment};
use crate::emu::link::LinkType;

/// Every namespace of every run starts with this; nothing else is ever touched.
pub const PREFIX: &str = "mtb-";

/// The internet host's service address (iperf3, UDP echo and discard).
pub const INET_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const ROUTER_LAN_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const LAN_ADDR: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 100);
pub const UPSTREAM_GW: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
/// The address a VSD on the router takes on the upstream segment (its
/// members carry none).
pub const VSD_ADDR: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 50);
/// The router's LAN device, and the client's device in `lan`.
pub const ROUTER_LAN_DEV: &str = "lan0";
pub const LAN_DEV: &str = "eth0";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkPlan {
    pub name: String,
    pub link_type: LinkType,
    pub segment: Segment,
    /// 1-based position among all links.
    pub number: u8,
    /// Namespace role of the far end: `ispK` or `upstream`.
    pub far_role: String,
    /// Device name of the far end inside that namespace.
    pub far_dev: String,
    /// The router's address on the link (`None` when the description says so).
    pub router_addr: Option<Ipv4Addr>,
    pub gateway: Ipv4Addr,
    /// The policy routing table that routes via this link only.
    pub table: u32,
}

impl LinkPlan {
    /// `ip` arguments that make this link the route: `via GW dev X` or `dev X`.
    pub fn route_via(&self) -> String {
        match self.link_type {
            LinkType::Ptp => format!("dev {}", self.name),
            LinkType::Ether => format!("via {} dev {}", self.gateway, self.name),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub lan: bool,
    pub links: Vec<LinkPlan>,
    /// The anchored testbed's core network: ISPs that NAT and a `core`
    /// namespace with the anchor's address (see [`crate::anchored`]).
    #[serde(default)]
    pub core: bool,
}

impl Plan {
    pub fn new(id: &str, desc: &Description) -> Plan {
        let mut isp = 0u8;
        let mut port = 0u8;
        let links = desc
            .links
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let number = i as u8 + 1;
                let (far_role, far_dev, router, gateway) = match spec.segment {
                    Segment::Isp => {
                        isp += 1;
                        (
                            format!("isp{isp}"),
                            "access".to_string(),
                            Ipv4Addr::new(10, number, 0, 2),
                            Ipv4Addr::new(10, number, 0, 1),
                        )
                    }
                    Segment::Upstream => {
                        port += 1;
                        (
                            "upstream".to_string(),
                            format!("port{port}"),
                            Ipv4Addr::new(10, 200, 0, 10 + number),
                            UPSTREAM_GW,
                        )
                    }
                };
                LinkPlan {
                    name: spec.name.clone(),
                    link_type: spec.link_type,
                    segment: spec.segment,
                    number,
                    far_role,
                    far_dev,
                    router_addr: spec.address.then_some(router),
                    gateway,
                    table: 100 + number as u32,
                }
            })
            .collect();
        Plan {
            id: id.to_string(),
            lan: desc.lan,
            links,
            core: false,
        }
    }

    /// The same plan with the core network (an anchored testbed).
    pub fn with_core(mut self, core: bool) -> Plan {
        self.core = core;
        self
    }

    /// The full namespace name of a role (`router`, `isp1`, `inet`, ...).
    pub fn ns(&self, role: &str) -> String {
        format!("{PREFIX}{}-{role}", self.id)
    }

    pub fn isp_roles(&self) -> Vec<String> {
        self.links
            .iter()
            .filter(|l| l.segment == Segment::Isp)
            .map(|l| l.far_role.clone())
            .collect()
    }

    pub fn has_upstream(&self) -> bool {
        self.links.iter().any(|l| l.segment == Segment::Upstream)
    }

    /// Every namespace role of this run, in creation order.
    pub fn roles(&self) -> Vec<String> {
        let mut roles = vec!["router".to_string()];
        roles.extend(self.isp_roles());
        roles.push("inet".into());
        if self.core {
            roles.push("core".into());
        }
        if self.has_upstream() {
            roles.push("upstream".into());
        }
        if self.lan {
            roles.push("lan".into());
        }
        roles
    }

    /// The ISP number k of role `ispK`.
    pub fn isp_number(role: &str) -> Option<u8> {
        role.strip_prefix("isp")?.parse().ok()
    }

    /// Link subnet behind ISP role `ispK`.
    pub fn isp_link(&self, role: &str) -> Option<&LinkPlan> {
        self.links.iter().find(|l| l.far_role == role)
    }

    pub fn link(&self, name: &str) -> Option<&LinkPlan> {
        self.links.iter().find(|l| l.name == name)
    }

    /// Where a probe reaches a namespace, and whether it is outside the router
    /// (reachable from anywhere) or inside (behind its NAT).
    pub fn probe_address(&self, role: &str) -> Option<(Ipv4Addr, bool)> {
        match role {
            "inet" => Some((INET_ADDR, true)),
            "core" if self.core => Some((crate::anchored::ANCHOR_ADDR, true)),
            "upstream" if self.has_upstream() => Some((Ipv4Addr::new(172, 16, 200, 1), true)),
            "lan" if self.lan => Some((LAN_ADDR, false)),
            "router" => Some((ROUTER_LAN_ADDR, false)),
            _ => {
                let k = Plan::isp_number(role)?;
                self.isp_link(role)?;
                Some((Ipv4Addr::new(172, 16, k, 1), true))
            }
        }
    }
}
