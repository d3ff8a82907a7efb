//! mimm's client/server protocol, sans-IO: Mobile IPv4 Registration
//! Requests and Replies (RFC 5944) carrying MIMM messages in vendor
//! extensions (RFC 3115), authenticated with the Mobile-Home Authentication
//! Extension, with timestamp replay protection; the UDP tunnel extensions
//! of RFC 3519 for the anchored mode. Messages ride UDP port 434 like any
//! registration, so the server can sit with a Mobile IP home agent.
//!
//! Wire formats in the smoltcp style: parsing works on borrowed bytes,
//! never panics and never allocates; emitting writes into a caller's
//! buffer. Who sends what:
//!
//! - client → server: Registration Request with Report + Interface reports,
//!   or with Request Handoff; the server answers a Registration Reply with
//!   Handoff Advice (or just code 0 for a report);
//! - server → client (pushed): Registration Request with Reactive Advice;
//!   the client answers a Registration Reply with Ack;
//! - anchor → client: a notice that it has no binding for a tunnel packet's
//!   source (after a restart), which the client answers by registering.

pub mod auth;
pub mod error;
pub mod ext;
pub mod field;
pub mod message;
pub mod mimm;
pub mod notice;
pub mod registration;
pub mod replay;
pub mod tlv;

pub use error::{Error, Result};

/// IANA enterprise number reserved for documentation (RFC 5612); tests and
/// examples use it, deployments configure their own.
pub const DOC_ENTERPRISE: u32 = 32473;
