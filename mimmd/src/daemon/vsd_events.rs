//! Vsd mode: following the VSD's events instead of asking it for its
//! active member every sample (a blocking request, up to 5 s when the VSD
//! hangs). A switch event is the cue to ask once which member is active (the
//! answer, not the event history, is the truth: mimmd's own commands are
//! switches too), so a failover the VSD makes by itself reaches mimmd the
//! moment it happens. When the VSD restarts the connection ends; the next
//! sample subscribes again and asks once.

use std::io::{self, Write};
use std::path::Path;

use mio::net::UnixStream;
use mio::{Interest, Registry, Token};

use mimm_io::line::{Line, read_line};
use mimm_vsd::control::{EventKind, Request};

/// An event line is short; anything longer is not the VSD speaking.
const MAX_LINE: usize = 64 * 1024;

#[derive(Default)]
pub struct VsdEvents {
    stream: Option<UnixStream>,
    buf: Vec<u8>,
    /// The VSD did not answer last time (logged once, until it does).
    pub silent: bool,
}

impl VsdEvents {
    /// Subscribes unless already following; `Ok(true)` when it just did,
    /// so the caller asks for the active member once.
    pub fn subscribe(
        &mut self,
        socket: &Path,
        registry: &Registry,
        token: Token,
    ) -> io::Result<bool> {
        if self.stream.is_some() {
            return Ok(false);
        }
        let mut stream = open(socket)?;
        registry.register(&mut stream, token, Interest::READABLE)?;
        self.stream = Some(stream);
        self.buf.clear();
        Ok(true)
    }

    /// Whether the VSD's events are being followed (it is up and answers).
    pub fn following(&self) -> bool {
        self.stream.is_some()
    }

    /// Reads what arrived; true if the VSD switched. A closed connection
    /// is dropped (the next sample subscribes again).
    pub fn read(&mut self, registry: &Registry) -> bool {
        let mut switched = false;
        while let Some(stream) = self.stream.as_mut() {
            // Whole lines already read first: one read may bring several.
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                switched |= is_switch(&line[..end]);
                continue;
            }
            match read_line(stream, &mut self.buf, MAX_LINE) {
                Line::Pending => break,
                // Left in the buffer, taken above.
                Line::Complete(_) => {}
                Line::Gone => {
                    tracing::info!("vsd events: the VSD closed the connection");
                    if let Some(mut stream) = self.stream.take() {
                        let _ = registry.deregister(&mut stream);
                    }
                }
            }
        }
        switched
    }
}

/// Connects and asks for the events to come (not the recent ones).
fn open(socket: &Path) -> io::Result<UnixStream> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    let mut request = serde_json::to_vec(&Request::Events {
        follow: true,
        recent: false,
    })?;
    request.push(b'\n');
    stream.write_all(&request)?;
    stream.set_nonblocking(true)?;
    Ok(UnixStream::from_std(stream))
}

/// Only the kind of a VSD event: mimmd asks for the rest (the active
/// member) itself, and a one-field view keeps the parser small.
#[derive(serde::Deserialize)]
struct KindOf {
    kind: EventKind,
}

fn is_switch(line: &[u8]) -> bool {
    serde_json::from_slice::<KindOf>(line).is_ok_and(|e| e.kind == EventKind::Switch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_switch_events_count() {
        let switch = br#"{"t_s":1.0,"kind":"switch","member":"wlan1","detail":"wlan0 -> wlan1: carrier lost"}"#;
        assert!(is_switch(switch));
        let carrier = br#"{"t_s":1.0,"kind":"carrier","member":"wlan0","detail":"lost"}"#;
        assert!(!is_switch(carrier));
        assert!(!is_switch(b"not json"));
    }
}
