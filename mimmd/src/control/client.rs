//! Talking to a running mimmd.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::control::proto::{Reply, Request, Response};

/// One request, one answer, waiting at most `timeout` for it.
pub fn call(socket: &Path, request: &Request, timeout: Duration) -> io::Result<Reply> {
    let line = serde_json::to_vec(request)?;
    let answer = mimm_io::client::request(socket, "mimmd", &line, timeout)?;
    match serde_json::from_str(&answer)? {
        Response::Ok(reply) => Ok(reply),
        Response::Error(e) => Err(io::Error::other(e)),
    }
}

/// Streams event lines (JSON) to `each` until it returns false or mimmd goes away.
pub fn events(
    socket: &Path,
    follow: bool,
    samples: bool,
    each: impl FnMut(&str) -> bool,
) -> io::Result<()> {
    let line = serde_json::to_vec(&Request::Events { follow, samples })?;
    mimm_io::client::stream(socket, "mimmd", &line, each)
}
