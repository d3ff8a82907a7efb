//! The kernel side through netlink: link state, routes and rules, connection
//! tracking. Messages are parsed tolerantly: one that does not decode is
//! skipped (and logged), never fatal, so mimmd also runs where the kernel
//! sends attributes the parser does not know (see ../shared/docs/cross.md).

pub mod conntrack;
pub mod links;
pub mod routes;
mod socket;

pub use socket::Rtnl;
