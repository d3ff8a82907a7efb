//! Keepalives at an offered rate: each client in turn seals one
//! (`mimm_tunnel::keepalive`, its binding's uplink key) and sends it; the
//! anchor answers each on the tunnel it came in on, and only an answer that
//! opens with the client's downlink key and is its keepalive's counts. The
//! anchor's CPU is read from /proc before and after.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mimm_tunnel::keepalive::ECHO_LEN;
use mimm_tunnel::packet::SEALED_OVERHEAD;

use crate::anchor::Anchor;
use crate::fleet::Fleet;

/// Time for the last answers after the last send.
const DRAIN: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy)]
pub struct Level {
    pub offered_per_s: f64,
    pub sent: u64,
    pub answered: u64,
    pub seconds: f64,
    pub anchor_cpu_s: f64,
    /// Datagrams the kernel dropped for full receive buffers meanwhile
    /// (the anchor's socket or the clients').
    pub rcvbuf_drops: u64,
}

/// The namespace's UDP RcvbufErrors (the calling thread's namespace).
pub fn rcvbuf_errors() -> u64 {
    let snmp = std::fs::read_to_string("/proc/thread-self/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Keepalives at `per_client_hz` from every client for `seconds`.
pub fn run(
    fleet: &mut Fleet,
    anchor: &Anchor,
    to: SocketAddr,
    per_client_hz: f64,
    seconds: f64,
) -> Level {
    let n = fleet.clients.len();
    let offered = per_client_hz * n as f64;
    let cpu_before = anchor.cpu_seconds();
    let drops_before = rcvbuf_errors();
    let start = Instant::now();
    let (mut sent, mut answered) = (0u64, 0u64);
    let mut out = [0u8; ECHO_LEN + SEALED_OVERHEAD];
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        let done = elapsed >= seconds;
        let due = (elapsed.min(seconds) * offered) as u64;
        // At most a batch per turn, so answers are read in between.
        for _ in 0..64.min(due.saturating_sub(sent)) {
            let client = &mut fleet.clients[sent as usize % n];
            if let Some(len) = client.keepalive(&mut out) {
                client.send(&out[..len], to);
            }
            sent += 1;
        }
        if done && start.elapsed().as_secs_f64() > seconds + DRAIN.as_secs_f64() {
            break;
        }
        let behind = due > sent;
        let wait = if behind {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(1.0 / offered).min(Duration::from_millis(1))
        };
        fleet.receive(wait, |client, bytes| {
            answered += u64::from(client.is_answer(bytes));
        });
    }
    Level {
        offered_per_s: offered,
        sent,
        answered,
        seconds,
        anchor_cpu_s: anchor.cpu_seconds() - cpu_before,
        rcvbuf_drops: rcvbuf_errors() - drops_before,
    }
}
