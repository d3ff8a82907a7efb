//! The kernel through netlink, shared by mimmd, the VSD and the anchor: one codec
//! ([`wire`]) and one request/answer socket for rtnetlink, generic netlink
//! and netfilter; the links and their state, a watcher that turns the
//! kernel's link announcements into events; addresses and routes (route
//! mode's table and rules, the anchor's TUN); nl80211's station info;
//! connection tracking's flush; traffic control's redirects (the VSD's
//! fast path). Messages are parsed
//! tolerantly: one that does not decode is skipped (and logged), never
//! fatal, so the daemons also run where the kernel sends attributes the
//! parser does not know.

pub mod addresses;
pub mod conntrack;
pub mod links;
pub mod neighbours;
pub mod nl80211;
pub mod routes;
pub mod settings;
mod socket;
pub mod tc;
pub mod wire;

pub use socket::{Netlink, Rtnl};

/// For the fuzz targets (`fuzz/`): what the socket does with each answer
/// it reads, without a socket.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::socket::answers_of;
    pub use crate::tc::parse_counts;
}
