//! A crowd on a daemon's control socket, the way a script or a stuck web
//! page would leave one: connections that never send a request, and
//! followers of `events --follow` that never read. Tests then check that a
//! request is still answered, and how fast.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The connections, held open until dropped.
pub struct Crowd {
    _idle: Vec<UnixStream>,
    _following: Vec<UnixStream>,
}

impl Crowd {
    /// `idle` connections that say nothing, and `following` ones that send
    /// `follow_request` (one line) and then never read.
    pub fn gather(
        socket: &Path,
        idle: usize,
        following: usize,
        follow_request: &[u8],
    ) -> io::Result<Crowd> {
        let connect = || UnixStream::connect(socket);
        let idle = (0..idle).map(|_| connect()).collect::<io::Result<_>>()?;
        let following = (0..following)
            .map(|_| {
                let mut s = connect()?;
                s.write_all(follow_request)?;
                s.write_all(b"\n")?;
                Ok(s)
            })
            .collect::<io::Result<_>>()?;
        Ok(Crowd {
            _idle: idle,
            _following: following,
        })
    }
}

/// Sends `request` `tries` times, 100 ms apart, and returns the slowest
/// answer's time; an error if one did not come within 2 s or was not
/// `{"ok":...}`.
pub fn slowest_answer(
    socket: &Path,
    daemon: &str,
    request: &[u8],
    tries: usize,
) -> io::Result<Duration> {
    let mut slowest = Duration::ZERO;
    for _ in 0..tries {
        let started = Instant::now();
        let answer = mimm_io::client::request(socket, daemon, request, Duration::from_secs(2))?;
        slowest = slowest.max(started.elapsed());
        if !answer.starts_with(r#"{"ok":"#) {
            return Err(io::Error::other(format!("{daemon} answered {answer}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(slowest)
}
