//! The loss meter's I/O: two UDP sockets, each opened inside its namespace,
//! a handshake that opens the router's NAT, then the paced stream on a timerfd.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket as StdUdp};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::clock::{self, Nanos, Timer};
use crate::plan::Plan;
use crate::probe::stats::{RttStats, StreamStats};
use crate::probe::wire::{HEADER_LEN, Kind, Packet, Repr};
use crate::probe::{Options, ProbeReport};
use crate::{netns, udp};

const INSIDE: Token = Token(0);
const OUTSIDE: Token = Token(1);
const TIMER: Token = Token(2);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// IPv4 + UDP headers, to count IP-layer bytes.
const IP_UDP: usize = 28;

/// A probe running in the background; `finish` waits for its report.
pub struct ProbeHandle {
    thread: JoinHandle<io::Result<ProbeReport>>,
    stop: Arc<AtomicBool>,
    started: Nanos,
}

impl ProbeHandle {
    /// Seconds since the stream's first packet, on the meter's clock: the
    /// time to give an event the report is then read around.
    pub fn elapsed_s(&self) -> f64 {
        clock::now().saturating_sub(self.started).as_ms_f64() / 1e3
    }

    /// Waits for the stream (and its drain) to end.
    pub fn finish(self) -> io::Result<ProbeReport> {
        self.thread
            .join()
            .map_err(|_| io::Error::other("the probe thread panicked"))?
    }

    /// Stops sending now, then drains and reports.
    pub fn stop(self) -> io::Result<ProbeReport> {
        self.stop.store(true, Ordering::SeqCst);
        self.finish()
    }
}

/// Runs a probe to the end and returns its report.
pub fn run(plan: &Plan, options: Options) -> io::Result<ProbeReport> {
    start(plan, options)?.finish()
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A UDP socket inside a role's namespace. The outside end binds its address:
/// replies from another source address would not match the router's NAT entry.
fn bind_in(plan: &Plan, role: &str, addr: Ipv4Addr) -> io::Result<UdpSocket> {
    let _in = netns::enter(&plan.ns(role))?;
    let socket = StdUdp::bind(SocketAddr::from((addr, 0)))?;
    socket.set_nonblocking(true)?;
    // A burst after an outage must not overflow the default buffer.
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&socket, 4 << 20);
    Ok(UdpSocket::from_std(socket))
}

/// Opens both ends, opens the path through the router, and starts the stream.
/// When this returns the stream is flowing.
pub fn start(plan: &Plan, options: Options) -> io::Result<ProbeHandle> {
    if options.rate_pps == 0 || options.rate_pps > 200_000 {
        return Err(invalid(format!(
            "rate {} must be 1..=200000 packets/s",
            options.rate_pps
        )));
    }
    if !(HEADER_LEN..=65_000).contains(&options.size) {
        return Err(invalid(format!(
            "size {} must be {HEADER_LEN}..=65000 bytes",
            options.size
        )));
    }
    if options.duration.is_zero() || options.duration > Duration::from_secs(24 * 3600) {
        return Err(invalid(
            "duration must be more than 0 and at most a day".into(),
        ));
    }
    let address = |role: &str| {
        plan.probe_address(role)
            .ok_or_else(|| invalid(format!("no namespace {role:?} in testbed {}", plan.id)))
    };
    let (from_addr, from_outside) = address(&options.from)?;
    let (to_addr, to_outside) = address(&options.to)?;
    if from_outside == to_outside {
        return Err(invalid(format!(
            "the probe crosses the router: one end inside (lan, router), the other \
             outside (inet, ispN, upstream); got {} and {}",
            options.from, options.to
        )));
    }
    let (inside_role, outside_role, outside_addr) = if from_outside {
        (&options.to, &options.from, from_addr)
    } else {
        (&options.from, &options.to, to_addr)
    };
    let mut inside = bind_in(plan, inside_role, Ipv4Addr::UNSPECIFIED)?;
    let mut outside = bind_in(plan, outside_role, outside_addr)?;
    let outside_port = outside.local_addr()?.port();
    let outside_dest = SocketAddr::V4(SocketAddrV4::new(outside_addr, outside_port));

    let poll = Poll::new()?;
    poll.registry()
        .register(&mut inside, INSIDE, Interest::READABLE)?;
    poll.registry()
        .register(&mut outside, OUTSIDE, Interest::READABLE)?;
    let mut stream_id = [0u8; 4];
    rustix::rand::getrandom(&mut stream_id, rustix::rand::GetRandomFlags::empty())?;
    let stream_id = u32::from_ne_bytes(stream_id);

    let mut session = Session {
        poll,
        inside,
        outside,
        stream_id,
        buf: vec![0u8; 65_536],
        options,
        from_outside,
    };
    let inside_seen = session.handshake(outside_dest)?;
    let dest = if from_outside {
        inside_seen
    } else {
        outside_dest
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let started = clock::now();
    let thread = std::thread::Builder::new()
        .name("probe".into())
        .spawn(move || session.stream(dest, started, &stop_flag))?;
    Ok(ProbeHandle {
        thread,
        stop,
        started,
    })
}

struct Session {
    poll: Poll,
    inside: UdpSocket,
    outside: UdpSocket,
    stream_id: u32,
    buf: Vec<u8>,
    options: Options,
    from_outside: bool,
}

fn emit(buf: &mut [u8], repr: &Repr) {
    repr.emit(&mut Packet::new_unchecked(buf));
}

impl Session {
    fn parse(&self, len: usize) -> Option<Repr> {
        let repr = Repr::parse(&Packet::new_unchecked(&self.buf[..len])).ok()?;
        (repr.stream == self.stream_id).then_some(repr)
    }

    /// Inside says hello until outside has heard it and inside has heard the
    /// answer: the NAT mapping exists and both directions work. Returns the
    /// inside socket's address as outside sees it.
    fn handshake(&mut self, outside_dest: SocketAddr) -> io::Result<SocketAddr> {
        let mut events = Events::with_capacity(16);
        let deadline = clock::now().saturating_add(HANDSHAKE_TIMEOUT.into());
        let mut seen: Option<SocketAddr> = None;
        let mut hello = [0u8; HEADER_LEN];
        let repr = |kind| Repr {
            kind,
            stream: self.stream_id,
            seq: 0,
            sent_ns: 0,
            echoed_ns: 0,
        };
        emit(&mut hello, &repr(Kind::Hello));
        let mut ack = [0u8; HEADER_LEN];
        emit(&mut ack, &repr(Kind::HelloAck));
        let mut next_hello = clock::now();
        while clock::now() < deadline {
            // Errors such as "network unreachable" are retried: the path may
            // still be coming up.
            if clock::now() >= next_hello {
                let _ = self.inside.send_to(&hello, outside_dest);
                next_hello = clock::now().saturating_add(Nanos::from_ms(20));
            }
            self.poll
                .poll(&mut events, Some(Duration::from_millis(5)))?;
            while let Some((len, from)) = udp::recv(&self.outside, &mut self.buf) {
                if self.parse(len).is_some_and(|r| r.kind == Kind::Hello) {
                    seen = Some(from);
                    let _ = self.outside.send_to(&ack, from);
                }
            }
            while let Some((len, _)) = udp::recv(&self.inside, &mut self.buf) {
                if let (Some(r), Some(addr)) = (self.parse(len), seen) {
                    if r.kind == Kind::HelloAck {
                        return Ok(addr);
                    }
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "probe: no path between {} and {} through the router within {} s",
                self.options.from,
                self.options.to,
                HANDSHAKE_TIMEOUT.as_secs()
            ),
        ))
    }

    /// Sends packet `seq` at `start + seq * interval` (late ones at once).
    fn stream(
        mut self,
        dest: SocketAddr,
        start: Nanos,
        stop: &AtomicBool,
    ) -> io::Result<ProbeReport> {
        let o = self.options.clone();
        let total = (o.rate_pps as u128 * o.duration.as_nanos() / 1_000_000_000).max(1) as u64;
        let interval = Nanos((1_000_000_000 / o.rate_pps as u64).max(1));
        let mut timer = Timer::new()?;
        self.poll.registry().register(
            &mut SourceFd(&timer.as_raw_fd()),
            TIMER,
            Interest::READABLE,
        )?;
        timer.periodic(start, interval)?;
        let seconds = o.duration.as_secs() + o.drain.as_secs() + 2;
        let mut stats = StreamStats::new(start, interval, total, o.size + IP_UDP, seconds);
        let mut rtt = o.echo.then(|| RttStats::new(total));
        let mut packet = vec![0u8; o.size];
        let mut seq = 0u64;
        let mut drain_until: Option<Nanos> = None;
        let mut events = Events::with_capacity(64);
        loop {
            let timeout =
                drain_until.map(|d| Duration::from_nanos(d.saturating_sub(clock::now()).0));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    TIMER => {
                        let due = timer.expirations();
                        for _ in 0..due {
                            if seq >= total || drain_until.is_some() {
                                break;
                            }
                            let now = clock::now();
                            let repr = Repr {
                                kind: Kind::Data,
                                stream: self.stream_id,
                                seq,
                                sent_ns: now.0,
                                echoed_ns: 0,
                            };
                            emit(&mut packet, &repr);
                            let sender = if self.from_outside {
                                &self.outside
                            } else {
                                &self.inside
                            };
                            // A send error (no route during an outage) is a lost packet.
                            let _ = sender.send_to(&packet, dest);
                            stats.on_sent(now);
                            seq += 1;
                        }
                    }
                    token => self.receive(token, &mut stats, rtt.as_mut()),
                }
            }
            let now = clock::now();
            if drain_until.is_none() && (seq >= total || stop.load(Ordering::SeqCst)) {
                timer.arm_at(None)?;
                drain_until = Some(now.saturating_add(o.drain.into()));
            }
            if drain_until.is_some_and(|d| now >= d) {
                break;
            }
        }
        let stream = stats.report();
        Ok(ProbeReport {
            from: o.from.clone(),
            to: o.to.clone(),
            rate_pps: o.rate_pps,
            size: o.size,
            duration_s: (seq as f64 / o.rate_pps as f64 * 1000.0).round() / 1000.0,
            rtt: rtt.as_mut().map(|r| r.report(stream.sent)),
            stream,
        })
    }

    fn receive(&mut self, token: Token, stats: &mut StreamStats, mut rtt: Option<&mut RttStats>) {
        let receiver_token = if self.from_outside { INSIDE } else { OUTSIDE };
        loop {
            let socket = if token == INSIDE {
                &self.inside
            } else {
                &self.outside
            };
            let Some((len, from)) = udp::recv(socket, &mut self.buf) else {
                return;
            };
            let now = clock::now();
            let Some(repr) = self.parse(len) else {
                continue;
            };
            match repr.kind {
                Kind::Data if token == receiver_token => {
                    stats.on_arrival(repr.seq, Nanos(repr.sent_ns), now);
                    if rtt.is_some() {
                        let echo = Repr {
                            kind: Kind::Echo,
                            echoed_ns: now.0,
                            ..repr
                        };
                        emit(&mut self.buf[..len], &echo);
                        let _ = socket.send_to(&self.buf[..len], from);
                    }
                }
                Kind::Echo if token != receiver_token => {
                    if let Some(rtt) = rtt.as_deref_mut() {
                        rtt.on_echo(repr.seq, Nanos(repr.sent_ns), now);
                    }
                }
                _ => {}
            }
        }
    }
}
