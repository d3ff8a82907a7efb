//! A member in anchored mode is a path to the anchor: a UDP socket bound
//! to its device (any kind: PPP, raw-IP, Ethernet, Wi-Fi; the kernel routes
//! the tunnel's packets out of it and nothing else), its tunnel keys, and
//! what its keepalives measure.

use mimm_tunnel::cipher::Cipher;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use mimm_io::clock::Nanos;
use mimm_netlink::Rtnl;
use mimm_netlink::links::Link;
use serde::{Deserialize, Serialize};

use super::tunnel::{PathTunnel, TunnelCounters};
use crate::carrier::CarrierFile;

/// Keepalives unanswered in a row after which a path counts as broken
/// (a blackhole with carrier up).
pub const MISSED_TO_BREAK: u32 = 3;
/// Keepalives awaited at once.
const IN_FLIGHT: usize = 4;
/// Keepalives the loss figure is taken over.
pub const LOSS_WINDOW: u32 = 16;

/// What status shows of a path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathStatus {
    pub care_of: Option<Ipv4Addr>,
    pub bound: bool,
    /// Registration requests sent for the one outstanding.
    pub asking_tries: u32,
    /// The last refusal's code.
    pub refused: Option<u8>,
    pub binding_left_s: Option<u64>,
    /// Registrations made again because the anchor said it had no binding
    /// for the path (it was restarted, or a NAT moved the mapping).
    #[serde(default)]
    pub rebinds: u64,
    /// The last keepalive's round trip to the anchor, and a smoothed one.
    pub rtt_ms: Option<f64>,
    pub srtt_ms: Option<f64>,
    pub keepalives_sent: u64,
    pub keepalives_answered: u64,
    /// Unanswered in a row (the path is broken at [`MISSED_TO_BREAK`]).
    pub missed: u32,
    /// Of the last [`LOSS_WINDOW`] keepalives given up on or answered, the
    /// share given up on.
    pub loss_pct: f64,
    pub tunnel: TunnelCounters,
}

pub struct Path {
    pub name: String,
    pub ifindex: u32,
    pub socket: mio::net::UdpSocket,
    pub tunnel: PathTunnel,
    /// Up with a lower layer, as rtnetlink said (or the device, read while
    /// traffic flows, see [`crate::traffic`]).
    pub carrier: bool,
    pub carrier_file: Option<CarrierFile>,
    pub care_of: Option<Ipv4Addr>,
    next_seq: u16,
    /// Keepalives awaiting their answers, and when each left: more than
    /// one, since a switch sends one off the schedule.
    awaiting: [Option<(u16, Nanos)>; IN_FLIGHT],
    /// The last outcomes, newest in bit 0 (1: given up on), and how many.
    outcomes: u32,
    outcome_count: u32,
    pub stats: PathStatus,
}

/// The path's UDP socket: bound to the device, marked, coalescing, non-blocking.
fn open_socket(device: &str, mark: u32) -> io::Result<mio::net::UdpSocket> {
    // An address, not a string: a string would link the libc resolver
    // (getaddrinfo and its qsort, 20 KiB on mips) for nothing.
    let any = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let socket = std::net::UdpSocket::bind(any)?;
    mimm_io::udp::bind_to_device(socket.as_raw_fd(), device)?;
    if mark != 0 {
        mimm_io::udp::set_mark(socket.as_raw_fd(), mark)?;
    }
    mimm_io::udp::set_buffers(socket.as_raw_fd(), mimm_io::udp::DATA_BUFFER);
    // The anchor's segmented downlink read in one call; without it (a
    // kernel before 5.0) datagram by datagram.
    let _ = mimm_io::udp::msg::enable_gro(socket.as_raw_fd());
    socket.set_nonblocking(true)?;
    Ok(mio::net::UdpSocket::from_std(socket))
}

/// The first IPv4 address of link `index`: the path's care-of address.
pub fn address_of(rtnl: &mut Rtnl, index: u32) -> Option<Ipv4Addr> {
    let all = mimm_netlink::addresses::of_link(rtnl, index).ok()?;
    all.into_iter().find_map(|a| match a {
        std::net::IpAddr::V4(v4) => Some(v4),
        std::net::IpAddr::V6(_) => None,
    })
}

impl Path {
    pub fn open(link: &Link, mark: u32, cipher: Cipher) -> Result<Path, String> {
        let socket =
            open_socket(&link.name, mark).map_err(|e| format!("member {}: {e}", link.name))?;
        Ok(Path {
            name: link.name.clone(),
            ifindex: link.index,
            socket,
            tunnel: PathTunnel::new(cipher),
            carrier: link.up && link.carrier,
            carrier_file: CarrierFile::open(&link.name)
                .inspect_err(|e| {
                    tracing::warn!("member {}: {e}; carrier from rtnetlink only", link.name)
                })
                .ok(),
            care_of: None,
            next_seq: 0,
            awaiting: [None; IN_FLIGHT],
            outcomes: 0,
            outcome_count: 0,
            stats: PathStatus::default(),
        })
    }

    /// Whether the path can carry traffic: carrier, a binding, and answers.
    pub fn usable(&self) -> bool {
        self.carrier && self.tunnel.is_bound() && self.stats.missed < MISSED_TO_BREAK
    }

    /// The next keepalive's number, sent at `now`. Those still unanswered
    /// that left `give_up` ago or earlier are missed; younger ones (a
    /// switch's, off the schedule) are still awaited.
    pub fn keepalive_sent(&mut self, now: Nanos, give_up: Nanos) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        for i in 0..IN_FLIGHT {
            let overdue =
                self.awaiting[i].is_some_and(|(_, sent)| now.saturating_sub(sent) >= give_up);
            if overdue {
                self.awaiting[i] = None;
                self.stats.missed += 1;
                self.outcome(true);
            }
        }
        // With every slot taken (sent faster than `give_up`), the oldest goes.
        let free = self.awaiting.iter().position(Option::is_none);
        let oldest = (0..IN_FLIGHT).min_by_key(|&i| self.awaiting[i].map_or(Nanos(0), |(_, t)| t));
        if let Some(i) = free.or(oldest) {
            self.awaiting[i] = Some((seq, now));
        }
        self.stats.keepalives_sent += 1;
        seq
    }

    /// The anchor answered keepalive `seq` at `now`.
    pub fn keepalive_answered(&mut self, seq: u16, now: Nanos) {
        let Some(slot) = self
            .awaiting
            .iter_mut()
            .find(|s| s.is_some_and(|(q, _)| q == seq))
        else {
            return;
        };
        let Some((_, sent)) = slot.take() else { return };
        let rtt = now.saturating_sub(sent).0 as f64 / 1e6;
        self.stats.rtt_ms = Some(rtt);
        self.stats.srtt_ms = Some(self.stats.srtt_ms.map_or(rtt, |s| s * 0.875 + rtt * 0.125));
        self.stats.keepalives_answered += 1;
        self.stats.missed = 0;
        self.outcome(false);
    }

    fn outcome(&mut self, lost: bool) {
        let mask = (1u32 << LOSS_WINDOW) - 1;
        self.outcomes = ((self.outcomes << 1) | u32::from(lost)) & mask;
        self.outcome_count = (self.outcome_count + 1).min(LOSS_WINDOW);
        let lost = self.outcomes.count_ones();
        self.stats.loss_pct = 100.0 * f64::from(lost) / f64::from(self.outcome_count);
    }

    pub fn send(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(bytes, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> Path {
        let socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        Path {
            name: "wwan0".into(),
            ifindex: 1,
            socket,
            tunnel: PathTunnel::default(),
            carrier: true,
            carrier_file: None,
            care_of: None,
            next_seq: 0,
            awaiting: [None; IN_FLIGHT],
            outcomes: 0,
            outcome_count: 0,
            stats: PathStatus::default(),
        }
    }

    #[test]
    fn keepalives_give_rtt_loss_over_a_window_and_break_after_three_missed() {
        let mut p = path();
        let ms = |m: u64| Nanos::from_ms(m);
        let every = ms(100);
        let seq = p.keepalive_sent(ms(0), every);
        p.keepalive_answered(seq.wrapping_add(1), ms(5));
        assert_eq!(p.stats.keepalives_answered, 0, "not the one awaited");
        p.keepalive_answered(seq, ms(12));
        assert_eq!(p.stats.rtt_ms, Some(12.0));
        for i in 1..=3 {
            p.keepalive_sent(ms(100 * i), every);
        }
        // Two given up on so far (the third still awaited).
        assert_eq!(p.stats.missed, 2);
        p.keepalive_sent(ms(400), every);
        assert_eq!(p.stats.missed, MISSED_TO_BREAK);
        assert!(
            (p.stats.loss_pct - 75.0).abs() < 1e-9,
            "{}",
            p.stats.loss_pct
        );
        for i in 5..40 {
            let seq = p.keepalive_sent(ms(100 * i), every);
            p.keepalive_answered(seq, ms(100 * i + 3));
        }
        assert_eq!(
            (p.stats.missed, p.stats.loss_pct),
            (0, 0.0),
            "the window moved on"
        );
        assert_eq!(p.stats.srtt_ms.map(f64::round), Some(3.0));
    }
}
