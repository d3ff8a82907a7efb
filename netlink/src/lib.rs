//! The kernel's link layer through rtnetlink, shared by mimmd and the VSD:
//! a request/answer socket, the links and their state, a watcher that turns
//! the kernel's link announcements into events. Messages are parsed
//! tolerantly: one that does not decode is skipped (and logged), never
//! fatal, so the daemons also run where the kernel sends attributes the
//! parser does not know.

pub mod addresses;
pub mod links;
pub mod settings;
mod socket;
pub mod wire;

pub use socket::Rtnl;
