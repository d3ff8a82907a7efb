//! The anchored mode's data plane, sans-IO: what the VSD (the mobile node)
//! and the anchor (its home agent) do to each tunnel packet, given bytes
//! and keys, with no sockets: the packet format (RFC 3519 tunnel data,
//! sealed with ChaCha20-Poly1305, or clear with `cipher none`), per-binding
//! keys, sealing and opening in place, the receive side's anti-replay
//! window; and TCP super-packets from a vnet-header TUN cut into segments
//! (`segment`) and gathered back on the other side (`coalesce`).

pub mod cipher;
pub mod coalesce;
pub mod duplicate;
pub mod keepalive;
pub mod keys;
pub mod packet;
pub mod replay_window;
pub mod seal;
pub mod segment;
