//! One control-socket server for every daemon in a mio loop: the listener
//! and a bounded set of connections waiting for their one request line.
//!
//! The limits are what keep a request answerable whatever other clients
//! do. A connection must deliver its request within [`Limits::idle`] of
//! the connect; when every slot is taken, the connection that has waited
//! longest makes room; a request already in the socket when it is accepted
//! is read at once, without taking a slot. Idle clients can therefore
//! neither grow the daemon's memory nor lock out `mimmctl status` (40 idle
//! connections once made every request fail for as long as they stayed).
//! Clients that follow events are handed to [`crate::followers`] and hold
//! no slot.

use std::path::Path;
use std::time::Duration;

use mio::net::{UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use serde::Serialize;

use crate::clock::Nanos;
use crate::line::{Line, read_line};

/// How long a client may take to send its request, and how many may wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections waiting for their request line at once.
    pub slots: usize,
    /// The longest request line accepted, in bytes.
    pub max_request: usize,
    /// A connection whose request has not arrived this long after its
    /// connect is closed.
    pub idle: Duration,
    /// How long writing an answer may block on a client that does not read.
    pub write_timeout: Duration,
}

impl Limits {
    /// The daemons' control sockets: 32 waiting, 4 KiB requests, 1 s to
    /// send one, 500 ms to take the answer.
    pub const DAEMON: Limits = Limits {
        slots: 32,
        max_request: 4096,
        idle: Duration::from_secs(1),
        write_timeout: Duration::from_millis(500),
    };
}

/// Binds a control socket at `path` (its directory made, a stale socket
/// from a previous run removed), readable and writable by root only: the
/// daemons' sockets steer the router's traffic. Errors name the path.
pub fn bind_private(path: &Path) -> Result<UnixListener, String> {
    let fail = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).map_err(|e| fail(path, e))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| fail(path, e))?;
    Ok(listener)
}

/// A connection whose request has arrived: answer it, or hand it to the
/// followers.
pub struct Client {
    stream: UnixStream,
    write_timeout: Duration,
}

impl Client {
    pub(crate) fn new(stream: UnixStream, write_timeout: Duration) -> Client {
        Client {
            stream,
            write_timeout,
        }
    }

    /// Writes one JSON line: blocking, bounded by the write timeout, so a
    /// short answer goes out whole and a stuck client cannot stall the loop
    /// for long. False when the client is gone.
    pub fn answer(&mut self, value: &impl Serialize) -> bool {
        serde_json::to_vec(value)
            .is_ok_and(|line| write_answer(&mut self.stream, &line, self.write_timeout))
    }

    pub fn into_stream(self) -> UnixStream {
        self.stream
    }
}

/// One request line and the client that sent it.
pub struct Request {
    pub client: Client,
    pub line: Vec<u8>,
}

struct Waiting {
    stream: UnixStream,
    buf: Vec<u8>,
    deadline: Nanos,
}

pub struct ControlServer {
    listener: UnixListener,
    listener_token: Token,
    /// The token of slot 0; slot n has `base + n`.
    base: usize,
    slots: Vec<Option<Waiting>>,
    limits: Limits,
}

impl ControlServer {
    /// Listens on `listener` under `listener_token`; waiting connections
    /// take the tokens `base..base + limits.slots`.
    pub fn new(
        mut listener: UnixListener,
        registry: &Registry,
        listener_token: Token,
        base: usize,
        limits: Limits,
    ) -> std::io::Result<ControlServer> {
        registry.register(&mut listener, listener_token, Interest::READABLE)?;
        Ok(ControlServer {
            listener,
            listener_token,
            base,
            slots: (0..limits.slots).map(|_| None).collect(),
            limits,
        })
    }

    /// True for the listener's token and the waiting connections'.
    pub fn owns(&self, token: Token) -> bool {
        token == self.listener_token || self.slot(token).is_some()
    }

    fn slot(&self, token: Token) -> Option<usize> {
        token
            .0
            .checked_sub(self.base)
            .filter(|&s| s < self.slots.len())
    }

    /// What a readiness of `token` brought: the requests that are now
    /// whole. `now` starts the idle clock of new connections.
    pub fn ready(&mut self, token: Token, registry: &Registry, now: Nanos) -> Vec<Request> {
        if token == self.listener_token {
            return self.accept(registry, now);
        }
        self.slot(token)
            .and_then(|slot| self.read(slot, registry))
            .into_iter()
            .collect()
    }

    /// Takes every waiting client. A request already sent is read at once;
    /// otherwise the client waits in a slot, the longest-waiting one making
    /// room when none is free.
    fn accept(&mut self, registry: &Registry, now: Nanos) -> Vec<Request> {
        let mut requests = Vec::new();
        while let Ok((mut stream, _)) = self.listener.accept() {
            let mut buf = Vec::new();
            match read_line(&mut stream, &mut buf, self.limits.max_request) {
                Line::Complete(line) => requests.push(self.request(stream, line)),
                Line::Gone => {}
                Line::Pending => {
                    let slot = self.free_slot(registry);
                    let token = Token(self.base + slot);
                    if registry
                        .register(&mut stream, token, Interest::READABLE)
                        .is_ok()
                    {
                        let deadline = now.saturating_add(self.limits.idle.into());
                        self.slots[slot] = Some(Waiting {
                            stream,
                            buf,
                            deadline,
                        });
                    }
                }
            }
        }
        requests
    }

    /// A free slot, closing the longest-waiting connection if there is none.
    fn free_slot(&mut self, registry: &Registry) -> usize {
        if let Some(free) = self.slots.iter().position(Option::is_none) {
            return free;
        }
        let oldest = (0..self.slots.len())
            .min_by_key(|&s| self.slots[s].as_ref().map(|w| w.deadline))
            .unwrap_or(0);
        self.close(oldest, registry);
        oldest
    }

    fn close(&mut self, slot: usize, registry: &Registry) -> Option<Waiting> {
        let mut waiting = self.slots.get_mut(slot)?.take()?;
        let _ = registry.deregister(&mut waiting.stream);
        Some(waiting)
    }

    fn request(&self, stream: UnixStream, line: Vec<u8>) -> Request {
        Request {
            client: Client::new(stream, self.limits.write_timeout),
            line,
        }
    }

    /// Reads slot `slot`: a whole line leaves the loop as a request, a
    /// closed or oversized connection is dropped, otherwise it waits on.
    fn read(&mut self, slot: usize, registry: &Registry) -> Option<Request> {
        let waiting = self.slots.get_mut(slot)?.as_mut()?;
        let line = match read_line(
            &mut waiting.stream,
            &mut waiting.buf,
            self.limits.max_request,
        ) {
            Line::Pending => return None,
            Line::Complete(line) => Some(line),
            Line::Gone => None,
        };
        let waiting = self.close(slot, registry)?;
        line.map(|line| self.request(waiting.stream, line))
    }

    /// When the first waiting connection runs out of time.
    pub fn deadline(&self) -> Option<Nanos> {
        self.slots.iter().flatten().map(|w| w.deadline).min()
    }

    /// Closes the connections that did not send their request in time.
    pub fn expire(&mut self, now: Nanos, registry: &Registry) {
        for slot in 0..self.slots.len() {
            if self.slots[slot].as_ref().is_some_and(|w| w.deadline <= now) {
                self.close(slot, registry);
            }
        }
    }

    /// Connections waiting for their request.
    pub fn waiting(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

/// Writes one answer line (`line` without its newline) to a client:
/// blocking, bounded by `timeout`. The stream stays blocking. False when
/// the client is gone.
pub fn write_answer(stream: &mut UnixStream, line: &[u8], timeout: Duration) -> bool {
    use std::io::Write;
    let _ = rustix::io::ioctl_fionbio(&*stream, false);
    let _ = rustix::net::sockopt::set_socket_timeout(
        &*stream,
        rustix::net::sockopt::Timeout::Send,
        Some(timeout),
    );
    stream.write_all(line).is_ok() && stream.write_all(b"\n").is_ok()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream as StdStream;
    use std::time::Instant;

    use mio::{Events, Poll};

    use super::*;
    use crate::clock;

    const LISTENER: Token = Token(1);
    const LIMITS: Limits = Limits {
        slots: 4,
        max_request: 64,
        idle: Duration::from_millis(200),
        write_timeout: Duration::from_millis(100),
    };

    struct Served {
        poll: Poll,
        server: ControlServer,
        path: std::path::PathBuf,
    }

    impl Served {
        fn new(name: &str) -> Served {
            let path = std::env::temp_dir().join(format!("mimm-io-{name}-{}", std::process::id()));
            let poll = Poll::new().unwrap();
            let listener = bind_private(&path).unwrap();
            let server =
                ControlServer::new(listener, poll.registry(), LISTENER, 10, LIMITS).unwrap();
            Served { poll, server, path }
        }

        /// Runs the loop for `span`, answering every request with its
        /// own line, expiring idle connections as the daemons do.
        fn serve(&mut self, span: Duration) -> usize {
            let mut events = Events::with_capacity(64);
            let until = Instant::now() + span;
            let mut answered = 0;
            while Instant::now() < until {
                let _ = self.poll.poll(&mut events, Some(Duration::from_millis(5)));
                let now = clock::now();
                for token in events.iter().map(|e| e.token()).collect::<Vec<_>>() {
                    assert!(self.server.owns(token));
                    for mut r in self.server.ready(token, self.poll.registry(), now) {
                        let line = String::from_utf8(r.line).unwrap();
                        assert!(r.client.answer(&line));
                        answered += 1;
                    }
                }
                self.server.expire(clock::now(), self.poll.registry());
            }
            answered
        }

        fn connect(&self) -> StdStream {
            let s = StdStream::connect(&self.path).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s
        }
    }

    impl Drop for Served {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn answer_of(mut s: StdStream) -> String {
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    }

    #[test]
    fn idle_connections_neither_lock_out_a_request_nor_stay() {
        let mut served = Served::new("idle");
        // Ten idle clients for four slots: the longest-waiting make room.
        let idle: Vec<StdStream> = (0..10).map(|_| served.connect()).collect();
        served.serve(Duration::from_millis(20));
        assert_eq!(served.server.waiting(), 4);
        let mut asking = served.connect();
        asking.write_all(b"\"status\"\n").unwrap();
        let started = Instant::now();
        assert_eq!(served.serve(Duration::from_millis(30)), 1);
        assert_eq!(answer_of(asking), "\"\\\"status\\\"\"\n");
        assert!(started.elapsed() < Duration::from_millis(50));
        // A request sent in pieces within the idle time is served...
        let mut slow = served.connect();
        slow.write_all(b"\"sl").unwrap();
        served.serve(Duration::from_millis(50));
        slow.write_all(b"ow\"\n").unwrap();
        assert_eq!(served.serve(Duration::from_millis(20)), 1);
        assert_eq!(answer_of(slow), "\"\\\"slow\\\"\"\n");
        // ...and every connection still silent at its deadline is closed.
        assert!(served.server.deadline().is_some());
        served.serve(LIMITS.idle + Duration::from_millis(50));
        assert_eq!(served.server.waiting(), 0);
        assert_eq!(served.server.deadline(), None);
        for s in idle {
            assert_eq!(answer_of(s), "", "closed without an answer");
        }
    }

    #[test]
    fn oversized_requests_are_dropped() {
        let mut served = Served::new("big");
        let mut big = served.connect();
        big.write_all(&[b'x'; 200]).unwrap();
        assert_eq!(served.serve(Duration::from_millis(30)), 0);
        assert_eq!(served.server.waiting(), 0);
        assert_eq!(answer_of(big), "");
    }
}
