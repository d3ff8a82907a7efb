//! The connections of a control socket in a mio loop: a fixed number of
//! slots, each registered under its own token, each delivering one request
//! line. Bounded on purpose: a client that floods the socket cannot make
//! the daemon allocate without limit.

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};

use crate::line::{Line, read_line};

/// Binds a control socket at `path` (its directory made, a stale socket
/// from a previous run removed), readable and writable by root only: the
/// daemons' sockets steer the router's traffic. Errors name the path.
pub fn bind_private(path: &std::path::Path) -> Result<UnixListener, String> {
    let fail = |what: &std::path::Path, e: std::io::Error| format!("{}: {e}", what.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| fail(path, e))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| fail(path, e))?;
    Ok(listener)
}

struct Conn {
    stream: UnixStream,
    buf: Vec<u8>,
}

pub struct Conns {
    slots: Vec<Option<Conn>>,
    /// The token of slot 0; slot n has `base + n`.
    base: usize,
    /// The longest request line accepted.
    max_line: usize,
}

impl Conns {
    pub fn new(base: usize, slots: usize, max_line: usize) -> Conns {
        Conns {
            slots: (0..slots).map(|_| None).collect(),
            base,
            max_line,
        }
    }

    /// The slot behind `token`, if it is one of these connections'.
    pub fn slot(&self, token: Token) -> Option<usize> {
        token
            .0
            .checked_sub(self.base)
            .filter(|&s| s < self.slots.len())
    }

    /// Takes every waiting client; with no free slot, dropping the stream
    /// refuses it.
    pub fn accept(&mut self, listener: &UnixListener, registry: &Registry) {
        while let Ok((mut stream, _)) = listener.accept() {
            let Some(slot) = self.slots.iter().position(Option::is_none) else {
                continue;
            };
            let token = Token(self.base + slot);
            if registry
                .register(&mut stream, token, Interest::READABLE)
                .is_ok()
            {
                self.slots[slot] = Some(Conn {
                    stream,
                    buf: Vec::new(),
                });
            }
        }
    }

    /// Reads slot `slot`. With a whole request line, the connection leaves
    /// the loop and is returned with the line to be answered; a closed or
    /// oversized one is dropped; otherwise it keeps waiting.
    pub fn read(&mut self, slot: usize, registry: &Registry) -> Option<(UnixStream, Vec<u8>)> {
        let conn = self.slots.get_mut(slot)?.as_mut()?;
        let line = match read_line(&mut conn.stream, &mut conn.buf, self.max_line) {
            Line::Pending => return None,
            Line::Complete(line) => Some(line),
            Line::Gone => None,
        };
        let mut conn = self.slots[slot].take()?;
        let _ = registry.deregister(&mut conn.stream);
        line.map(|line| (conn.stream, line))
    }
}

/// Writes one answer line (`line` without its newline) to a client:
/// blocking, bounded by `timeout`, so a short answer goes out whole and a
/// stuck client cannot stall the loop for long. The stream stays blocking
/// (an event subscriber is only ever written to). False when the client
/// is gone.
pub fn write_answer(stream: &mut UnixStream, line: &[u8], timeout: std::time::Duration) -> bool {
    use std::io::Write;
    let _ = rustix::io::ioctl_fionbio(&*stream, false);
    let _ = rustix::net::sockopt::set_socket_timeout(
        &*stream,
        rustix::net::sockopt::Timeout::Send,
        Some(timeout),
    );
    stream.write_all(line).is_ok() && stream.write_all(b"\n").is_ok()
}
