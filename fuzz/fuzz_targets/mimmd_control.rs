//! mimmd's control socket: a request line gathered from a non-blocking
//! stream (mimm-io's `read_line`, what every daemon's control server
//! uses), read as a request (mimmd's `control::proto`); and the answers
//! and events mimmctl and rpcd read back. None may panic; a request read
//! is sent again as itself; an answer or event read is written and reads
//! back.
//!
//! Input: a byte for the stream's pieces (low 7 bits: bytes per read - 1;
//! high bit: reads interrupted in between), a byte for the longest line
//! (16 * (n + 1) bytes), then what the peer sends.
#![no_main]

use std::io::{self, Read};

use libfuzzer_sys::fuzz_target;
use mimm_fuzz::reads_back;
use mimm_io::line::{Line, read_line};
use mimm_mimmd::control::proto::{Event, Request, Response};

/// A peer that sends `data` `step` bytes at a time, each piece after a
/// readiness (`WouldBlock` in between), then closes.
struct Peer<'a> {
    data: &'a [u8],
    step: usize,
    interrupt: bool,
    /// What the next read gives: a piece, or the wait for the next one.
    ready: bool,
    interrupted: bool,
}

impl Read for Peer<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt && !self.interrupted {
            self.interrupted = true;
            return Err(io::ErrorKind::Interrupted.into());
        }
        if !self.ready {
            self.ready = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.ready = false;
        self.interrupted = false;
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What one connection's stream comes to, as the control server reads it.
fn framed(stream: &[u8], step: usize, interrupt: bool, max: usize) -> Option<Vec<u8>> {
    let mut peer = Peer {
        data: stream,
        step,
        interrupt,
        ready: true,
        interrupted: false,
    };
    let mut buf = Vec::new();
    // Each readiness reads one piece at least: the stream ends in time.
    for _ in 0..2 * stream.len() + 4 {
        let got = read_line(&mut peer, &mut buf, max);
        assert!(buf.len() <= max + 1024, "{} bytes buffered", buf.len());
        match got {
            Line::Pending => continue,
            Line::Gone => {
                let first_line = stream.iter().position(|&b| b == b'\n');
                assert!(
                    first_line.is_none_or(|end| end > max),
                    "a line of {first_line:?} bytes (limit {max}) refused"
                );
                return None;
            }
            Line::Complete(line) => {
                assert!(!line.contains(&b'\n'));
                assert_eq!(stream.get(line.len()), Some(&b'\n'));
                assert_eq!(&stream[..line.len()], &line[..]);
                assert!(
                    line.len() <= max,
                    "a line of {} bytes (limit {max})",
                    line.len()
                );
                return Some(line);
            }
        }
    }
    panic!("read_line never finished");
}

/// A request as mimmd reads it; sent again (as mimmctl sends it), the same.
fn request(line: &[u8]) {
    let Ok(r) = serde_json::from_slice::<Request>(line) else {
        return;
    };
    let sent = serde_json::to_vec(&r).expect("a request serialises");
    assert_eq!(serde_json::from_slice::<Request>(&sent).ok(), Some(r));
}

fn all(line: &[u8]) {
    request(line);
    reads_back::<Response>(line);
    reads_back::<Event>(line);
}

fuzz_target!(|data: &[u8]| {
    let [pieces, limit, stream @ ..] = data else {
        return;
    };
    let step = usize::from(pieces & 0x7f) + 1;
    let max = 16 * (usize::from(*limit) + 1);
    if let Some(line) = framed(stream, step, pieces & 0x80 != 0, max) {
        all(&line);
    }
    all(stream);
});
