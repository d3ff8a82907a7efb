//! The control socket: one JSON request line per connection, one JSON answer
//! line (an `events` request keeps the connection and streams events).
//! `mimmctl` is its client; anything else may speak it too.
//!
//! ```text
//! {"cmd":"status"}                      -> {"ok":{"status":{...}}}
//! {"cmd":"prefer","iface":"wan"}        -> {"ok":"done"}   (iface null: no preference)
//! {"cmd":"handoff","iface":"wan"}       -> {"ok":"done"}
//! {"cmd":"reload"}                      -> {"ok":"done"} or {"error":"FILE:LINE:COL: ..."}
//! {"cmd":"netifd","action":"ifdown","iface":"wan","device":"eth0.2"}  -> {"ok":"done"}
//! {"cmd":"events","follow":true}        -> recent events, then each new one, a line each
//! {"cmd":"events","follow":true,"samples":true}  -> also every interface's sample, each period
//! ```

pub mod client;
pub mod proto;
pub mod rpc;
