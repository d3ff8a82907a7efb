//! mimmd's own kernel state through netlink: route mode's table and rules,
//! connection tracking. Links and the rtnetlink socket are `mimm-netlink`'s,
//! re-exported here.

pub mod conntrack;
pub mod routes;

pub use mimm_netlink::{Rtnl, links};
