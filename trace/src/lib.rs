//! mimm trace format v1: per-interface radio and throughput samples over time.
//!
//! A trace is a CSV file with `#` comment lines and a required header
//!
//! ```text
//! t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up
//! ```
//!
//! Every row sets the state of one interface from `t_ms` until that interface's next
//! row. Empty fields mean "unknown" for that period. Time never goes back.
//!
//! The reader is all-or-nothing: a file either loads completely or yields one
//! [`TraceError`] that names the file, line, column and field. The writer emits the
//! canonical header, so `parse(write(t)) == t`.

mod error;
mod read;
mod row;
mod write;

pub use error::{ErrorKind, TraceError};
pub use row::{Column, Row, Trace};
