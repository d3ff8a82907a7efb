//! mimmd's own kernel state through netlink: route mode's table and rules.
//! The codec, the socket, links and connection tracking are `mimm-netlink`'s,
//! re-exported here.

pub mod routes;

pub use mimm_netlink::{Rtnl, conntrack, links};
