//! The client side of a daemon's control socket: one request line, then one
//! answer line (or a stream of them). The daemons' typed clients (mimmctl,
//! the VSD's) put their JSON on top.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

fn connect(socket: &Path, daemon: &str) -> io::Result<UnixStream> {
    UnixStream::connect(socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: {e} (is {daemon} running?)", socket.display()),
        )
    })
}

fn send(stream: &mut UnixStream, request: &[u8]) -> io::Result<()> {
    stream.write_all(request)?;
    stream.write_all(b"\n")
}

/// Sends `request` (one line, without its newline) and returns the answer
/// line; waits at most `timeout`.
pub fn request(
    socket: &Path,
    daemon: &str,
    request: &[u8],
    timeout: Duration,
) -> io::Result<String> {
    let mut stream = connect(socket, daemon)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    send(&mut stream, request)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(io::Error::other(format!(
            "{daemon} closed the connection without answering"
        )));
    }
    Ok(answer)
}

/// Sends `request` and hands each answer line to `each` until it returns
/// false or the daemon closes the connection.
pub fn stream(
    socket: &Path,
    daemon: &str,
    request: &[u8],
    mut each: impl FnMut(&str) -> bool,
) -> io::Result<()> {
    let mut stream = connect(socket, daemon)?;
    send(&mut stream, request)?;
    for line in BufReader::new(stream).lines() {
        if !each(&line?) {
            break;
        }
    }
    Ok(())
}
