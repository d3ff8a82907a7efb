//! The anchored mode's data plane, sans-IO: what the VSD (the mobile node)
//! and the anchor (its home agent) do to each tunnel packet, fed bytes and
//! sequence numbers, with no sockets. Built up by the anchored-mode issue;
//! so far the receive side's anti-replay window.

pub mod replay_window;
