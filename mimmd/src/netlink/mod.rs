//! mimmd's kernel state through netlink. The codec, the socket, links,
//! routes (route mode's table and rules) and connection tracking are
//! `mimm-netlink`'s, re-exported here.

pub use mimm_netlink::{Rtnl, conntrack, links, routes};
