//! Talking to a running mimmd.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::control::proto::{Reply, Request, Response};

fn connect(socket: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(socket).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("{}: {e} (is mimmd running?)", socket.display()),
        )
    })
}

fn send(stream: &mut UnixStream, request: &Request) -> io::Result<()> {
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    stream.write_all(&line)
}

/// One request, one answer.
pub fn call(socket: &Path, request: &Request) -> io::Result<Reply> {
    let mut stream = connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    send(&mut stream, request)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(io::Error::other(
            "mimmd closed the connection without answering",
        ));
    }
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
    mut each: impl FnMut(&str) -> bool,
) -> io::Result<()> {
    let mut stream = connect(socket)?;
    send(&mut stream, &Request::Events { follow, samples })?;
    for line in BufReader::new(stream).lines() {
        if !each(&line?) {
            break;
        }
    }
    Ok(())
}
