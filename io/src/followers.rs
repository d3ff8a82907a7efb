//! The clients following a daemon's events (`events --follow`), and the
//! recent events every `events` request is sent first.
//!
//! Followers hold no request slot of the [`crate::control`] server, so any
//! number of them leaves requests answerable; they are bounded on their
//! own. They are written without blocking: a follower that stops reading
//! is dropped once its socket buffer is full, instead of stalling the loop
//! (and every other client) for a write timeout per event.

use std::collections::VecDeque;
use std::io::Write;

use mio::net::UnixStream;
use serde::Serialize;

use crate::control::Client;

pub struct Followers<E, T = ()> {
    followers: Vec<(UnixStream, T)>,
    recent: VecDeque<E>,
    /// How many recent events are kept.
    keep: usize,
    /// How many followers at once.
    max: usize,
}

impl<E: Serialize, T> Followers<E, T> {
    pub fn new(keep: usize, max: usize) -> Followers<E, T> {
        Followers {
            followers: Vec::new(),
            recent: VecDeque::with_capacity(keep),
            keep,
            max,
        }
    }

    /// Sends the recent events to `client`, oldest first; false when it is
    /// gone.
    pub fn replay(&self, client: &mut Client) -> bool {
        self.recent.iter().all(|event| client.answer(event))
    }

    /// Keeps `client` for the events to come, tagged with what it asked for
    /// (mimmd: whether it wants samples too). With `max` followers already,
    /// the client is handed back to be refused.
    pub fn follow(&mut self, client: Client, tag: T) -> Result<(), Client> {
        if self.followers.len() >= self.max {
            return Err(client);
        }
        let stream = client.into_stream();
        // replay() left it blocking; from now on it is written without.
        if rustix::io::ioctl_fionbio(&stream, true).is_ok() {
            self.followers.push((stream, tag));
        }
        Ok(())
    }

    /// Sends `event` to every follower and keeps it among the recent ones.
    pub fn record(&mut self, event: E) {
        self.publish(&event, |_| true);
        if self.recent.len() == self.keep {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    /// Sends `event` to the followers `wants` picks, without keeping it
    /// (mimmd's per-sample reports).
    pub fn publish(&mut self, event: &E, wants: impl Fn(&T) -> bool) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        self.followers
            .retain_mut(|(stream, tag)| !wants(tag) || write_whole(stream, &line));
    }

    pub fn any(&self, pick: impl Fn(&T) -> bool) -> bool {
        self.followers.iter().any(|(_, tag)| pick(tag))
    }

    pub fn len(&self) -> usize {
        self.followers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.followers.is_empty()
    }

    pub fn recent(&self) -> impl Iterator<Item = &E> {
        self.recent.iter()
    }
}

/// Writes all of `line` to a non-blocking stream; false if the peer is
/// gone or its buffer is full (a line cut short cannot be finished later
/// without a buffer per follower: the follower is dropped).
fn write_whole(stream: &mut UnixStream, line: &[u8]) -> bool {
    let mut rest = line;
    while !rest.is_empty() {
        match stream.write(rest) {
            Ok(0) => return false,
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    use super::*;

    fn client() -> (Client, std::os::unix::net::UnixStream) {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let stream = UnixStream::from_std(ours);
        (Client::new(stream, Duration::from_millis(100)), theirs)
    }

    #[test]
    fn a_follower_that_stops_reading_is_dropped_without_stalling_the_others() {
        let mut f: Followers<String, bool> = Followers::new(3, 2);
        for i in 0..5 {
            f.record(format!("old {i}"));
        }
        let (mut reader, reader_end) = client();
        assert!(f.replay(&mut reader));
        assert!(f.follow(reader, true).is_ok());
        let (stuck, _stuck_end) = client();
        assert!(f.follow(stuck, false).is_ok());
        let (third, _) = client();
        assert!(f.follow(third, false).is_err(), "two followers at most");
        let mut lines = BufReader::new(reader_end).lines();
        let first: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
        assert_eq!(first, ["\"old 2\"", "\"old 3\"", "\"old 4\""]);
        // A sample only for the follower that wants them.
        f.publish(&"sample".to_string(), |&samples| samples);
        assert_eq!(lines.next().unwrap().unwrap(), "\"sample\"");
        // The stuck one never reads: once its buffer is full it is dropped,
        // at once rather than after a write timeout per event.
        let started = Instant::now();
        let big = "x".repeat(4096);
        let mut sent = 0;
        while f.len() == 2 && sent < 10_000 {
            f.publish(&big, |&samples| !samples);
            sent += 1;
        }
        assert_eq!(f.len(), 1, "the stuck follower is gone after {sent} events");
        assert!(started.elapsed() < Duration::from_secs(1));
        f.record("after".to_string());
        assert_eq!(lines.next().unwrap().unwrap(), "\"after\"");
        assert_eq!(f.recent().count(), 3);
    }
}
