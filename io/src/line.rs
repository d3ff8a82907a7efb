//! One request line from a non-blocking stream (a control socket
//! connection): bytes gather in the connection's buffer until a newline,
//! the peer closes, or the line grows past its limit.

use std::io::{self, Read};

/// What a readable connection has.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Not a whole line yet; wait for the next readiness.
    Pending,
    /// The line, without its newline.
    Complete(Vec<u8>),
    /// Closed, failed, or over the limit: drop the connection.
    Gone,
}

/// Reads what `stream` has into `buf` and returns the first line in it.
pub fn read_line(stream: &mut impl Read, buf: &mut Vec<u8>, max: usize) -> Line {
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Line::Gone,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(end) = buf.iter().position(|&b| b == b'\n') {
                    // A line over the limit is refused even when it came
                    // whole in one read.
                    if end > max {
                        return Line::Gone;
                    }
                    return Line::Complete(buf[..end].to_vec());
                }
                if buf.len() > max {
                    return Line::Gone;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Line::Pending,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Line::Gone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn pieces_join_and_limits_and_closes_end_the_connection() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let mut buf = Vec::new();
        std::io::Write::write_all(&mut a, b"{\"cmd\":").unwrap();
        assert_eq!(read_line(&mut b, &mut buf, 64), Line::Pending);
        std::io::Write::write_all(&mut a, b"\"status\"}\nrest").unwrap();
        assert_eq!(
            read_line(&mut b, &mut buf, 64),
            Line::Complete(b"{\"cmd\":\"status\"}".to_vec())
        );
        let mut buf = Vec::new();
        std::io::Write::write_all(&mut a, &[b'x'; 100]).unwrap();
        assert_eq!(read_line(&mut b, &mut buf, 64), Line::Gone);
        drop(a);
        assert_eq!(read_line(&mut b, &mut Vec::new(), 64), Line::Gone);
    }

    /// Found by the fuzz target `mimmd_control`: a line longer than the
    /// limit was taken when it arrived in one read (up to 1 KiB more).
    #[test]
    fn a_line_over_the_limit_is_refused_even_in_one_read() {
        let mut line = vec![b'x'; 65];
        line.push(b'\n');
        assert_eq!(read_line(&mut &line[..], &mut Vec::new(), 64), Line::Gone);
        assert_eq!(
            read_line(&mut &line[1..], &mut Vec::new(), 64),
            Line::Complete(vec![b'x'; 64]),
            "exactly the limit"
        );
    }
}
