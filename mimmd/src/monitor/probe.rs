//! Active probes: echo requests bound to one device (SO_BINDTODEVICE), to
//! measure round-trip time and loss and to notice the silent failure (the
//! link is up, nothing passes). With the defaults (a probe every 150 ms, lost
//! after 300 ms, 3 losses in a row) a blackhole is seen within ~0.75 s.
//!
//! UDP probes go to an RFC 862 echo server; ICMP probes use a raw socket
//! (mimmd runs as root), both matched by an identifier and sequence number.
//!
//! A probe counts as lost after the configured timeout or three smoothed
//! round trips, whichever is longer (at most 2 s): a loaded LTE link with a
//! full buffer answers late, and late is not lost.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use mimm_io::clock::Nanos;
use mimm_vsd::wire::checksum;
use rustix::net::{AddressFamily, Protocol, SocketType};

use crate::config::ProbeTarget;
use crate::monitor::source::{Ask, Source, Update};

/// Probes remembered while unanswered (more than a timeout's worth).
const OUTSTANDING: usize = 16;
/// Results kept for the loss percentage.
const HISTORY: usize = 20;
const MAGIC: [u8; 4] = *b"MMDP";

/// What the probes say about the path now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathStats {
    pub reachable: bool,
    pub rtt_ms: Option<f64>,
    pub loss_pct: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct ProbeTiming {
    pub interval: Nanos,
    pub timeout: Nanos,
    pub fail: u32,
    pub ok: u32,
}

fn icmp_echo(id: u16, seq: u16, sent: Nanos) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = 8; // echo request
    m[4..6].copy_from_slice(&id.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    m[8..16].copy_from_slice(&sent.0.to_be_bytes());
    let sum = checksum(&m);
    m[2..4].copy_from_slice(&sum.to_be_bytes());
    m
}

/// (id, seq) of an ICMP echo reply as a raw socket receives it (IP header first).
fn parse_icmp_reply(packet: &[u8]) -> Option<(u16, u16)> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    let icmp = packet.get(ihl..ihl + 8)?;
    (icmp[0] == 0).then(|| {
        (
            u16::from_be_bytes([icmp[4], icmp[5]]),
            u16::from_be_bytes([icmp[6], icmp[7]]),
        )
    })
}

fn udp_probe(id: u16, seq: u16, sent: Nanos) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0..4].copy_from_slice(&MAGIC);
    m[4..6].copy_from_slice(&id.to_be_bytes());
    m[6..8].copy_from_slice(&seq.to_be_bytes());
    m[8..16].copy_from_slice(&sent.0.to_be_bytes());
    m
}

fn parse_udp_reply(packet: &[u8]) -> Option<(u16, u16)> {
    let m = packet.get(..16)?;
    (m[0..4] == MAGIC).then(|| {
        (
            u16::from_be_bytes([m[4], m[5]]),
            u16::from_be_bytes([m[6], m[7]]),
        )
    })
}

pub struct Prober {
    device: String,
    targets: Vec<ProbeTarget>,
    timing: ProbeTiming,
    id: u16,
    udp: Option<OwnedFd>,
    icmp: Option<OwnedFd>,
    seq: u16,
    next_target: usize,
    next_send: Nanos,
    outstanding: [Option<(u16, Nanos)>; OUTSTANDING],
    history: [bool; HISTORY],
    history_len: usize,
    history_at: usize,
    lost_in_row: u32,
    ok_in_row: u32,
    reachable: bool,
    rtt_ms: Option<f64>,
    /// Not probing (vsd mode probes only through the active member), with
    /// what was measured last and when probing stopped.
    paused: bool,
    frozen: Option<(PathStats, Nanos)>,
    /// Sockets were opened that the loop has not registered yet.
    unregistered: bool,
}

/// A path last seen lost is believed lost this long while not probed (as
/// long as the default hold-down); then it is given another chance.
const LOST_BELIEVED: Nanos = Nanos(30_000_000_000);

impl Prober {
    /// `id` tells this prober's answers from others' (e.g. the interface index).
    pub fn new(device: &str, targets: Vec<ProbeTarget>, timing: ProbeTiming, id: u16) -> Prober {
        Prober {
            device: device.to_string(),
            targets,
            timing,
            id,
            udp: None,
            icmp: None,
            seq: 0,
            next_target: 0,
            next_send: Nanos::ZERO,
            outstanding: [None; OUTSTANDING],
            history: [true; HISTORY],
            history_len: 0,
            history_at: 0,
            lost_in_row: 0,
            ok_in_row: 0,
            reachable: true,
            rtt_ms: None,
            paused: false,
            frozen: None,
            unregistered: false,
        }
    }

    /// Stops probing (sockets closed, the last measurement kept for
    /// [`Prober::paused_stats`]) or starts again from scratch.
    pub fn set_paused(&mut self, paused: bool, now: Nanos) {
        if paused == self.paused {
            return;
        }
        self.frozen = (paused && self.history_len > 0).then(|| (self.stats(), now));
        self.paused = paused;
        self.close();
        self.outstanding = [None; OUTSTANDING];
        self.history_len = 0;
        self.history_at = 0;
        self.lost_in_row = 0;
        self.ok_in_row = 0;
        self.reachable = true;
        self.rtt_ms = None;
        self.next_send = Nanos::ZERO;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// While paused: the path as last measured, or, never measured (or lost
    /// longer ago than [`LOST_BELIEVED`]), assumed good until tried. In vsd
    /// mode this lets the Mobility Manager consider a backup member whose
    /// path cannot be probed while it is not active.
    pub fn paused_stats(&self, now: Nanos) -> PathStats {
        let assumed = PathStats {
            reachable: true,
            rtt_ms: None,
            loss_pct: 0.0,
        };
        match self.frozen {
            Some((stats, at)) if stats.reachable || now.saturating_sub(at) < LOST_BELIEVED => stats,
            _ => assumed,
        }
    }

    pub fn has_targets(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Opens the sockets if they are not open (the device may have appeared).
    /// Sockets opened here (or by a send that needed them) are reported once
    /// by [`Prober::take_new_sockets`], for the loop to register.
    pub fn ensure_sockets(&mut self) {
        if self.paused || self.targets.is_empty() || self.udp.is_some() || self.icmp.is_some() {
            return;
        }
        let open = |kind: SocketType, proto: Option<Protocol>| -> io::Result<OwnedFd> {
            let fd = rustix::net::socket_with(
                AddressFamily::INET,
                kind,
                rustix::net::SocketFlags::NONBLOCK | rustix::net::SocketFlags::CLOEXEC,
                proto,
            )?;
            mimm_io::udp::bind_to_device(fd.as_raw_fd(), &self.device)?;
            Ok(fd)
        };
        let wants_udp = self
            .targets
            .iter()
            .any(|t| matches!(t, ProbeTarget::Udp(_)));
        let wants_icmp = self
            .targets
            .iter()
            .any(|t| matches!(t, ProbeTarget::Icmp(_)));
        let result = (|| -> io::Result<()> {
            if wants_udp {
                self.udp = Some(open(SocketType::DGRAM, None)?);
            }
            if wants_icmp {
                self.icmp = Some(open(SocketType::RAW, Some(rustix::net::ipproto::ICMP))?);
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::debug!(device = %self.device, "probe sockets: {e}");
            self.close();
            return;
        }
        self.unregistered = true;
    }

    /// The sockets opened since the last call (empty if none were), for
    /// registration in the loop.
    pub fn take_new_sockets(&mut self) -> Vec<RawFd> {
        if !std::mem::take(&mut self.unregistered) {
            return Vec::new();
        }
        self.fds()
    }

    /// Drops the sockets (the device went away); the next `ensure_sockets`
    /// opens fresh ones.
    pub fn close(&mut self) {
        self.udp = None;
        self.icmp = None;
    }

    /// The open sockets, for registration in the loop.
    pub fn fds(&self) -> Vec<RawFd> {
        [&self.udp, &self.icmp]
            .into_iter()
            .flatten()
            .map(|fd| fd.as_raw_fd())
            .collect()
    }

    pub fn stats(&self) -> PathStats {
        let lost = self.history[..self.history_len]
            .iter()
            .filter(|ok| !**ok)
            .count();
        PathStats {
            reachable: self.reachable,
            rtt_ms: self.rtt_ms,
            loss_pct: if self.history_len == 0 {
                0.0
            } else {
                lost as f64 * 100.0 / self.history_len as f64
            },
        }
    }

    /// How long an answer may take before the probe counts as lost.
    fn timeout(&self) -> Nanos {
        let adaptive = self
            .rtt_ms
            .map_or(Nanos::ZERO, |r| Nanos::from_ms_f64(3.0 * r));
        self.timing.timeout.max(adaptive).min(Nanos::from_ms(2_000))
    }

    /// When the prober next needs the loop's attention.
    pub fn deadline(&self) -> Option<Nanos> {
        if self.paused || self.targets.is_empty() {
            return None;
        }
        let timeout = self.timeout();
        let expiry = self
            .outstanding
            .iter()
            .flatten()
            .map(|&(_, sent)| sent.saturating_add(timeout))
            .min();
        Some(expiry.map_or(self.next_send, |e| e.min(self.next_send)))
    }

    fn record(&mut self, ok: bool) -> Option<bool> {
        self.history[self.history_at] = ok;
        self.history_at = (self.history_at + 1) % HISTORY;
        self.history_len = (self.history_len + 1).min(HISTORY);
        if ok {
            self.ok_in_row += 1;
            self.lost_in_row = 0;
            if !self.reachable && self.ok_in_row >= self.timing.ok {
                self.reachable = true;
                return Some(true);
            }
        } else {
            self.lost_in_row += 1;
            self.ok_in_row = 0;
            if self.reachable && self.lost_in_row >= self.timing.fail {
                self.reachable = false;
                return Some(false);
            }
        }
        None
    }

    /// Expires unanswered probes and sends the next one when due. Returns the
    /// new reachability when it changed.
    pub fn tick(&mut self, now: Nanos) -> Option<bool> {
        if self.paused {
            return None;
        }
        let mut changed = None;
        let timeout = self.timeout();
        for i in 0..OUTSTANDING {
            if let Some((_, sent)) = self.outstanding[i] {
                if now >= sent.saturating_add(timeout) {
                    self.outstanding[i] = None;
                    changed = self.record(false).or(changed);
                }
            }
        }
        if self.targets.is_empty() || now < self.next_send {
            return changed;
        }
        // Late wakeups do not send a burst: the schedule restarts from now.
        self.next_send = if now.saturating_sub(self.next_send) > self.timing.interval {
            now.saturating_add(self.timing.interval)
        } else {
            self.next_send.saturating_add(self.timing.interval)
        };
        self.seq = self.seq.wrapping_add(1);
        let target = self.targets[self.next_target % self.targets.len()];
        self.next_target += 1;
        let sent = match self.send(target, now) {
            Ok(()) => true,
            Err(e) => {
                tracing::trace!(device = %self.device, "probe not sent: {e}");
                false
            }
        };
        if sent {
            self.outstanding[usize::from(self.seq) % OUTSTANDING] = Some((self.seq, now));
        } else {
            // No socket, no route, no carrier: as good as lost.
            changed = self.record(false).or(changed);
        }
        changed
    }

    fn send(&mut self, target: ProbeTarget, now: Nanos) -> io::Result<()> {
        self.ensure_sockets();
        match target {
            ProbeTarget::Udp(addr) => {
                let fd = self.udp.as_ref().ok_or(io::ErrorKind::NotConnected)?;
                let m = udp_probe(self.id, self.seq, now);
                rustix::net::sendto(
                    fd,
                    &m,
                    rustix::net::SendFlags::empty(),
                    &SocketAddr::V4(addr),
                )?;
            }
            ProbeTarget::Icmp(addr) => {
                let fd = self.icmp.as_ref().ok_or(io::ErrorKind::NotConnected)?;
                let m = icmp_echo(self.id, self.seq, now);
                let to = SocketAddr::V4(SocketAddrV4::new(addr, 0));
                rustix::net::sendto(fd, &m, rustix::net::SendFlags::empty(), &to)?;
            }
        }
        Ok(())
    }

    /// Reads every answer waiting on the sockets. Returns the new
    /// reachability when it changed.
    pub fn on_readable(&mut self, now: Nanos) -> Option<bool> {
        let mut changed = None;
        let mut buf = [0u8; 256];
        for udp in [true, false] {
            loop {
                let fd = if udp { &self.udp } else { &self.icmp };
                let Some(fd) = fd.as_ref().map(|f| f.as_fd()) else {
                    break;
                };
                let len = match rustix::net::recv(fd, &mut buf, rustix::net::RecvFlags::empty()) {
                    Ok((len, _)) => len,
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(rustix::io::Errno::INTR) => continue,
                    // A queued ICMP error; keep draining.
                    Err(_) => continue,
                };
                let parsed = if udp {
                    parse_udp_reply(&buf[..len])
                } else {
                    parse_icmp_reply(&buf[..len])
                };
                let Some((_, seq)) = parsed.filter(|(id, _)| *id == self.id) else {
                    continue;
                };
                let slot = usize::from(seq) % OUTSTANDING;
                if let Some((s, sent)) = self.outstanding[slot] {
                    if s == seq {
                        self.outstanding[slot] = None;
                        let rtt = now.saturating_sub(sent).as_ms_f64();
                        self.rtt_ms = Some(self.rtt_ms.map_or(rtt, |r| 0.8 * r + 0.2 * rtt));
                        changed = self.record(true).or(changed);
                    }
                }
            }
        }
        changed
    }
}

/// The probes as the loop sees every source: sockets to watch, answers
/// read when they arrive, losses counted at their deadline.
impl Source for Prober {
    fn kind(&self) -> &'static str {
        "probes"
    }

    fn detail(&self) -> String {
        let targets: Vec<String> = self
            .targets
            .iter()
            .map(|t| match t {
                ProbeTarget::Icmp(a) => format!("icmp {a}"),
                ProbeTarget::Udp(a) => format!("udp {a}"),
            })
            .collect();
        let paused = if self.paused { " (paused)" } else { "" };
        format!("{} via {}{paused}", targets.join(", "), self.device)
    }

    /// The probes keep their own schedule; their stats are read at each
    /// sample (see `IfaceRuntime::read_path`).
    fn sample(&mut self, _: &Ask) -> Option<Update> {
        None
    }

    fn take_new_fds(&mut self) -> Vec<RawFd> {
        self.ensure_sockets();
        self.take_new_sockets()
    }

    fn on_readable(&mut self, now: Nanos) -> Option<Update> {
        Prober::on_readable(self, now).map(|reachable| Update::Path { reachable })
    }

    fn deadline(&self) -> Option<Nanos> {
        Prober::deadline(self)
    }

    fn expire(&mut self, now: Nanos) -> Option<Update> {
        self.tick(now).map(|reachable| Update::Path { reachable })
    }

    fn waiting(&self) -> bool {
        self.outstanding.iter().any(Option::is_some)
    }
}

/// Only for tests and logs: the address a target probes.
pub fn target_address(t: &ProbeTarget) -> Ipv4Addr {
    match t {
        ProbeTarget::Icmp(a) => *a,
        ProbeTarget::Udp(a) => *a.ip(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_echo_checksums_and_replies_parse() {
        let m = icmp_echo(0x1234, 7, Nanos(99));
        assert_eq!(checksum(&m), 0, "a packet with its checksum sums to zero");
        // An IPv4 header (IHL 5) followed by the echo reply.
        let mut reply = vec![0x45u8; 20];
        let mut icmp = m;
        icmp[0] = 0;
        reply.extend_from_slice(&icmp);
        assert_eq!(parse_icmp_reply(&reply), Some((0x1234, 7)));
        reply[20] = 3; // destination unreachable
        assert_eq!(parse_icmp_reply(&reply), None);
        assert_eq!(parse_icmp_reply(&[0x4f]), None);
        assert_eq!(parse_udp_reply(&udp_probe(5, 6, Nanos(1))), Some((5, 6)));
        assert_eq!(parse_udp_reply(b"short"), None);
    }

    #[test]
    fn reachability_needs_fail_losses_and_ok_answers_in_a_row() {
        let timing = ProbeTiming {
            interval: Nanos::from_ms(200),
            timeout: Nanos::from_ms(400),
            fail: 3,
            ok: 2,
        };
        let mut p = Prober::new("nothing0", vec![], timing, 1);
        assert_eq!(p.record(false), None);
        assert_eq!(p.record(false), None);
        assert_eq!(p.record(true), None);
        assert_eq!(p.record(false), None);
        assert_eq!(p.record(false), None);
        assert_eq!(p.record(false), Some(false));
        assert_eq!(p.record(true), None);
        assert_eq!(p.record(true), Some(true));
        assert_eq!(p.stats().loss_pct, 62.5);
    }
}
