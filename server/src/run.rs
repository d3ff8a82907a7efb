//! The server's I/O: one UDP socket, a timer for retransmissions and
//! expiries, signals, in one mio loop around [`crate::core::Server`]; with
//! an anchor, its TUN, and the tunnel data on the UDP socket goes to it
//! ([`crate::anchor_shell`]).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mimm_io::clock::{self, Nanos, Timer};
use mimm_io::event_loop::LoopBase;
use mimm_io::signals::Signals;

use mio::net::{UdpSocket, UnixDatagram};
use mio::{Events, Interest, Poll, Registry, Token};

use crate::anchor_shell::{AnchorShell, BATCH, is_tunnel_data};
use crate::config::{Config, SnmpConfig};
use crate::core::{Now, Peer, Server, Transmit};
use crate::snmp;
use crate::socket::{Received, ServerSocket};

const UDP: Token = Token(0);
const TIMER: Token = Token(1);
const SIGNALS: Token = Token(2);
const TRAPS: Token = Token(3);
const RTS: Token = Token(4);
const TUN: Token = Token(5);

/// Room for any UDP datagram, and for a TUN packet with its tunnel header.
const BUF_LEN: usize = 64 * 1024;

/// Sources read in bounded batches that still had packets waiting: read
/// again before sleeping (mio tells of readiness once, not again).
#[derive(Default)]
struct Pending {
    udp: bool,
    tun: bool,
}

/// What a reload does with the anchor's shell, decided (and anything that
/// can fail done) before anything is let go.
enum ShellChange {
    /// The same TUN (its addresses and routes updated in place).
    Keep,
    /// No anchor any more.
    Drop,
    /// A new TUN, already up.
    Replace(Box<AnchorShell>),
}

pub struct Loop {
    /// The configuration file, read again on SIGHUP.
    file: PathBuf,
    poll: Poll,
    socket: ServerSocket,
    listen: SocketAddr,
    timer: Timer,
    signals: Signals,
    server: Server,
    /// The trap socket and what traps mean, with alarms configured.
    traps: Option<(UdpSocket, SnmpConfig)>,
    rts: Option<(UnixDatagram, PathBuf)>,
    /// The anchor's TUN, with `config anchor`.
    anchor: Option<AnchorShell>,
    start: Nanos,
}

fn io_error(what: &str, e: io::Error) -> String {
    format!("{what}: {e}")
}

/// A UDP socket bound to `listen`, registered under `token`.
fn bind_udp(
    registry: &Registry,
    listen: SocketAddr,
    token: Token,
    what: &str,
) -> Result<UdpSocket, String> {
    let mut socket =
        UdpSocket::bind(listen).map_err(|e| io_error(&format!("{what} on UDP {listen}"), e))?;
    registry
        .register(&mut socket, token, Interest::READABLE)
        .map_err(|e| io_error("poll", e))?;
    Ok(socket)
}

/// The registrations' socket on `listen`: on the wildcard address, each
/// answer goes out from the address its datagram came to.
fn bind_server(registry: &Registry, listen: SocketAddr) -> Result<ServerSocket, String> {
    let socket = bind_udp(registry, listen, UDP, "registrations")?;
    // The anchor's tunnel data arrives here too, uplink of every router.
    mimm_io::udp::set_buffers(
        std::os::fd::AsRawFd::as_raw_fd(&socket),
        mimm_io::udp::DATA_BUFFER,
    );
    ServerSocket::new(socket, listen).map_err(|e| io_error("IP_PKTINFO", e))
}

/// The RTS feed's socket at `path` (a stale one from a previous run is
/// replaced).
fn bind_rts(registry: &Registry, path: &Path) -> Result<UnixDatagram, String> {
    let _ = std::fs::remove_file(path);
    let mut socket = UnixDatagram::bind(path)
        .map_err(|e| io_error(&format!("RTS feed {}", path.display()), e))?;
    registry
        .register(&mut socket, RTS, Interest::READABLE)
        .map_err(|e| io_error("poll", e))?;
    Ok(socket)
}

impl Loop {
    pub fn new(cfg: Config, file: &Path) -> Result<Loop, String> {
        // Read before the port is bound: whatever arrives on it was sent
        // after this, so only what an earlier process may have accepted is
        // older (see `Server::refuse_before`).
        let started = mimm_proto::replay::wall_identification();
        let LoopBase {
            poll,
            timer,
            signals,
        } = LoopBase::new(TIMER, SIGNALS)?;
        let registry = poll.registry();
        let socket = bind_server(registry, cfg.listen)?;
        let traps = match cfg.snmp {
            Some(snmp) => Some((bind_udp(registry, snmp.listen, TRAPS, "SNMP traps")?, snmp)),
            None => None,
        };
        let rts = match cfg.rts_socket {
            Some(path) => Some((bind_rts(registry, &path)?, path)),
            None => None,
        };
        let anchor = match cfg.server.anchor.as_ref().zip(cfg.anchor_tun.as_ref()) {
            Some((a, tun)) => Some(AnchorShell::open(registry, TUN, a, tun)?),
            None => None,
        };
        Ok(Loop {
            anchor,
            file: file.to_path_buf(),
            traps,
            rts,
            poll,
            socket,
            listen: cfg.listen,
            timer,
            signals,
            server: Server::new(cfg.server).refuse_before(started),
            start: clock::now(),
        })
    }

    /// SIGHUP: the file again. Sockets whose address changed are opened
    /// before anything is let go, so a file that cannot be applied (a bad
    /// option, a port in use) leaves the running server as it was.
    fn reload(&mut self) -> Result<(), String> {
        let cfg = crate::config::load(&self.file)?;
        let registry = self.poll.registry();
        let socket = if cfg.listen != self.listen {
            Some(bind_server(registry, cfg.listen)?)
        } else {
            None
        };
        let old_traps = self.traps.as_ref().map(|(_, s)| s.listen);
        let traps = match &cfg.snmp {
            Some(snmp) if Some(snmp.listen) != old_traps => {
                Some(Some(bind_udp(registry, snmp.listen, TRAPS, "SNMP traps")?))
            }
            Some(_) => None,
            None => Some(None),
        };
        let old_rts = self.rts.as_ref().map(|(_, p)| p.clone());
        let rts = match &cfg.rts_socket {
            Some(path) if Some(path) != old_rts.as_ref() => Some(Some(bind_rts(registry, path)?)),
            Some(_) => None,
            None => Some(None),
        };
        // Last, as nothing after it may fail: it changes the kernel.
        let shell = self.prepare_anchor(&cfg)?;
        let registry = self.poll.registry();
        // Everything that can fail is done.
        if let Some(new) = socket {
            let mut old = std::mem::replace(&mut self.socket, new);
            let _ = registry.deregister(old.mio());
            self.listen = cfg.listen;
        }
        match (traps, cfg.snmp) {
            (Some(Some(socket)), Some(snmp)) => self.traps = Some((socket, snmp)),
            (Some(None), _) | (_, None) => self.traps = None,
            (None, Some(snmp)) => {
                if let Some((_, current)) = self.traps.as_mut() {
                    *current = snmp;
                }
            }
        }
        if let Some(new) = rts {
            if let Some((_, path)) = self.rts.take() {
                let _ = std::fs::remove_file(path);
            }
            self.rts = new.zip(cfg.rts_socket);
        }
        let old = match shell {
            ShellChange::Keep => None,
            ShellChange::Drop => self.anchor.take(),
            ShellChange::Replace(new) => self.anchor.replace(*new),
        };
        if let Some(old) = old {
            old.deregister(registry);
        }
        let clients = cfg.server.clients.len();
        let kept = self.server.reconfigure(cfg.server);
        tracing::info!(
            "configuration {} reloaded: {clients} clients configured, {kept} known kept",
            self.file.display()
        );
        Ok(())
    }

    /// The anchor's shell for the file's settings: the same TUN updated in
    /// place, or a new one up (the old one's routes restored if it fails).
    fn prepare_anchor(&mut self, cfg: &Config) -> Result<ShellChange, String> {
        let Some((a, tun)) = cfg.server.anchor.as_ref().zip(cfg.anchor_tun.as_ref()) else {
            return Ok(ShellChange::Drop);
        };
        match self.anchor.as_mut() {
            Some(shell) if shell.name() == tun.name => {
                shell.update(a, tun)?;
                Ok(ShellChange::Keep)
            }
            old => match AnchorShell::open(self.poll.registry(), TUN, a, tun) {
                Ok(new) => Ok(ShellChange::Replace(Box::new(new))),
                Err(e) => {
                    if let Some(old) = old {
                        old.restore();
                    }
                    Err(e)
                }
            },
        }
    }

    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.socket.local_addr()
    }

    fn now(&self) -> Now {
        Now::wall(clock::now().millis_since(self.start))
    }

    /// Until SIGTERM or SIGINT.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; BUF_LEN];
        let mut pending = Pending::default();
        let traps = self.traps.as_ref().and_then(|(s, _)| s.local_addr().ok());
        tracing::info!(
            "mimm-server listening on UDP {}{}",
            self.local_addr()?,
            traps.map_or(String::new(), |t| format!(", SNMP traps on UDP {t}"))
        );
        loop {
            self.flush();
            self.arm_timer()?;
            let wait = (pending.udp || pending.tun).then_some(Duration::ZERO);
            match self.poll.poll(&mut events, wait) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other?,
            }
            for event in &events {
                match event.token() {
                    UDP => pending.udp = true,
                    TUN => pending.tun = true,
                    TRAPS => self.on_traps(&mut buf),
                    RTS => self.on_rts(&mut buf),
                    TIMER => {
                        self.timer.expirations();
                        let now = self.now();
                        self.server.handle_timeout(now);
                    }
                    SIGNALS if self.on_signals() => return Ok(()),
                    _ => {}
                }
            }
            if pending.udp {
                pending.udp = !self.on_udp(&mut buf);
            }
            if pending.tun {
                pending.tun = !self.on_tun();
            }
            self.anchor_status();
        }
    }

    /// The timer at the server's next timeout or the anchor's status line,
    /// whichever is first.
    fn arm_timer(&mut self) -> io::Result<()> {
        let status = self.anchor.as_ref().and_then(AnchorShell::status_at);
        let at = match (self.server.poll_timeout(), status) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let at = at.map(|ms| self.start.saturating_add(Nanos::from_ms(ms)));
        self.timer.arm_at(at)
    }

    /// Signals waiting: a reload on SIGHUP; true to stop (SIGTERM, SIGINT).
    fn on_signals(&mut self) -> bool {
        while let Some(signal) = self.signals.take() {
            if signal == libc::SIGHUP {
                if let Err(e) = self.reload() {
                    tracing::error!("reload refused, the old configuration keeps running: {e}");
                }
                continue;
            }
            tracing::info!("signal {signal}: stopping");
            if let (Some(shell), Some(anchor)) = (&self.anchor, self.server.anchor_mut()) {
                shell.log(anchor);
            }
            if let Some((_, path)) = &self.rts {
                let _ = std::fs::remove_file(path);
            }
            return true;
        }
        false
    }

    /// Up to [`BATCH`] datagrams from the UDP port: tunnel data to the
    /// anchor, the rest (registrations) to the server core. True once none
    /// were left.
    fn on_udp(&mut self, buf: &mut [u8]) -> bool {
        let drained = self.read_udp(buf);
        if let Some(shell) = self.anchor.as_mut() {
            shell.flush_tun();
        }
        drained
    }

    fn read_udp(&mut self, buf: &mut [u8]) -> bool {
        for _ in 0..BATCH {
            match self.socket.recv(buf) {
                // Coalesced datagrams (UDP_GRO) are taken one by one.
                Ok(got) => {
                    for at in got.datagrams() {
                        let one = Received {
                            len: at.len(),
                            segment: None,
                            ..got
                        };
                        self.on_datagram(one, &mut buf[at]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!("receive: {e}");
                    return true;
                }
            }
        }
        false
    }

    fn on_datagram(&mut self, got: Received, buf: &mut [u8]) {
        let Some(datagram) = buf.get(..got.len) else {
            return;
        };
        if is_tunnel_data(datagram) {
            if let (Some(shell), Some(anchor)) = (self.anchor.as_mut(), self.server.anchor_mut()) {
                shell.on_tunnel_data(anchor, &self.socket, got, buf);
                return;
            }
        }
        let now = self.now();
        let from = Peer {
            addr: got.from,
            local: got.local,
        };
        self.server.handle_datagram_from(now, from, datagram);
        self.flush();
    }

    /// Up to [`BATCH`] packets from the anchor's TUN; true once none were left.
    fn on_tun(&mut self) -> bool {
        match (self.anchor.as_mut(), self.server.anchor_mut()) {
            (Some(shell), Some(anchor)) => shell.on_tun_readable(anchor, &self.socket),
            _ => true,
        }
    }

    /// The anchor's counters, logged a while after they moved.
    fn anchor_status(&mut self) {
        let now = self.now().mono;
        if let (Some(shell), Some(anchor)) = (self.anchor.as_mut(), self.server.anchor_mut()) {
            shell.status(now, anchor);
        }
    }

    /// Reads traps; each from an accepted community that a rule maps to a
    /// network raises the alarm there (Reactive Advice to its clients).
    fn on_traps(&mut self, buf: &mut [u8]) {
        loop {
            let Some((socket, snmp)) = &self.traps else {
                return;
            };
            let (n, from) = match socket.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("SNMP receive: {e}");
                    return;
                }
            };
            let trap = match snmp::parse(&buf[..n]) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!("SNMP from {from}: {e}");
                    continue;
                }
            };
            if !snmp.communities.contains(&trap.community) {
                tracing::warn!(
                    "SNMP v{} trap from {from}: community {:?} refused",
                    trap.version,
                    trap.community
                );
                continue;
            }
            let fired: Vec<_> = snmp::matching(&trap, &snmp.rules)
                .into_iter()
                .cloned()
                .collect();
            if fired.is_empty() {
                tracing::info!(
                    "SNMP v{} trap {} from {from}: no alarm maps it",
                    trap.version,
                    trap.trap_oid
                );
            }
            for rule in fired {
                let now = self.now();
                let told = self
                    .server
                    .alarm(now, &rule.network, &rule.reason, rule.expiry_s);
                tracing::info!(
                    "SNMP v{} trap {} from {from}: alarm {} on network {} ({}, {} s): {told} client(s) advised",
                    trap.version,
                    trap.trap_oid,
                    rule.name,
                    rule.network,
                    rule.reason,
                    rule.expiry_s
                );
                self.flush();
            }
        }
    }

    /// RTS feed datagrams: real-time load per network.
    fn on_rts(&mut self, buf: &mut [u8]) {
        loop {
            let Some((socket, _)) = &self.rts else {
                return;
            };
            let n = match socket.recv(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("RTS receive: {e}");
                    return;
                }
            };
            for update in crate::rts::parse(&String::from_utf8_lossy(&buf[..n])) {
                match update {
                    Ok(u) => {
                        tracing::info!(
                            "RTS: network {} carries {} kbit/s of real-time sessions ({})",
                            u.network,
                            u.kbps,
                            u.sessions
                                .map_or("count not given".into(), |s| format!("{s} sessions"))
                        );
                        self.server.set_rts(&u.network, u.kbps);
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
    }

    fn flush(&mut self) {
        while let Some(Transmit {
            to,
            local,
            datagram,
        }) = self.server.poll_transmit_from()
        {
            if let Err(e) = self.socket.send_to(&datagram, to, local) {
                tracing::warn!("send to {to}: {e}");
            }
        }
    }
}
