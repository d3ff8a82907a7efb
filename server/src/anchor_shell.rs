//! The anchor's I/O: its TUN and the tunnel data on the server's UDP port.
//! Uplink tunnel packets (RFC 3519 type 4) from port 434 are opened by the
//! anchor core; their inner packets go to the TUN, where the kernel routes
//! them on (the host must forward, `net.ipv4.ip_forward=1`, and route or
//! NAT the pool: README, "Anchored mode"), and keepalive answers go back
//! out of the port. Packets the kernel routes into the TUN (for home
//! addresses) are read in place behind room for the tunnel header, sealed
//! there and sent to the client's binding, gathered into segmented sends
//! (`mimm_io::udp::batch`) while they go to one binding. Each goes out from
//! the address its binding's registration (or, for an answer, its request)
//! was sent to. No allocation per packet. A tunnel packet from a source
//! without a binding is answered with a notice (rate-limited by the core),
//! so the client of a restarted anchor registers again at once.
//!
//! The TUN goes away with its descriptor on exit, and its address and
//! routes with it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use mimm_io::clock::{self, Millis, Nanos};
use mimm_io::tuntap::TunTap;
use mimm_io::udp::batch::{Batch, Destination};
use mimm_netlink::Rtnl;
use mimm_tunnel::coalesce::Coalescer;
use mimm_tunnel::packet::{SEALED_HEADER, TAG_LEN, TUNNEL_DATA};
use mimm_tunnel::segment::{Segments, VNET_HDR_LEN};
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::anchor::{Anchor, AnchorConfig, AnchorCounters, AnchorDrop, Downlink, Uplink};
use crate::config::AnchorTun;
use crate::socket::{Received, ServerSocket};

mod kernel;
use kernel::Setup;

/// Packets read from one source per wake-up, so the other (registrations
/// on the UDP port, downlink on the TUN) is not starved.
pub const BATCH: usize = 64;
/// How long after traffic the counters are logged (at most once per this).
const STATUS_EVERY_MS: Millis = 60_000;
/// Room for a packet of the largest TUN MTU (`config anchor`'s 9000) and
/// its tunnel bytes, behind a downlink batch.
const PACKET_ROOM: usize = 9000 + 64;

/// Whether a datagram on the server's port is tunnel data (not a registration).
pub fn is_tunnel_data(datagram: &[u8]) -> bool {
    datagram.first() == Some(&TUNNEL_DATA)
}

/// Packets the shell could not hand on (the core counts its own drops).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShellCounters {
    /// Inner packets the TUN did not take.
    pub tun_full: u64,
    /// Tunnel packets the UDP socket did not take.
    pub send_failed: u64,
    /// Reads from the TUN that could not be cut into packets.
    pub tun_malformed: u64,
}

pub struct AnchorShell {
    tun: TunTap,
    index: u32,
    setup: Setup,
    counters: ShellCounters,
    /// Downlink to one binding, sent segmented.
    batch: Batch,
    /// What one read of the (vnet-header) TUN brings: up to 64 KiB of TCP.
    read: Vec<u8>,
    /// Uplink segments of one flow, gathered for one TUN write.
    coalescer: Coalescer,
    /// The counters last logged, and when they are next due (only after
    /// they changed).
    logged: (AnchorCounters, ShellCounters),
    status_at: Option<Millis>,
}

fn index_of(rtnl: &mut Rtnl, name: &str) -> io::Result<u32> {
    let links = mimm_netlink::links::dump(rtnl)?;
    links
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.index)
        .ok_or_else(|| io::Error::other(format!("{name} not listed after creating it")))
}

/// No IPv6 on the TUN: the anchor carries IPv4 only, and the kernel's own
/// IPv6 chatter would only be dropped there.
fn without_ipv6(name: &str) {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    let _ = std::fs::write(path, "1");
}

impl AnchorShell {
    /// Creates the TUN, gives it its address and routes, and registers it
    /// under `token`.
    pub fn open(
        registry: &Registry,
        token: Token,
        cfg: &AnchorConfig,
        tun: &AnchorTun,
    ) -> Result<AnchorShell, String> {
        let what = |e: io::Error| format!("anchor TUN {}: {e}", tun.name);
        let device = TunTap::open_tunnel_tun(&tun.name, false).map_err(what)?;
        without_ipv6(&tun.name);
        let mut rtnl = Rtnl::new().map_err(what)?;
        let index = index_of(&mut rtnl, &tun.name).map_err(what)?;
        let setup = Setup::of(cfg, tun);
        setup.apply(&mut rtnl, index, None).map_err(what)?;
        registry
            .register(
                &mut SourceFd(&device.as_raw_fd()),
                token,
                Interest::READABLE,
            )
            .map_err(|e| format!("poll: {e}"))?;
        tracing::info!(
            "anchor: {} up, {}/32, routes {:?}, mtu {}",
            tun.name,
            setup.address,
            setup.routes,
            setup.mtu
        );
        Ok(AnchorShell {
            tun: device,
            index,
            setup,
            counters: ShellCounters::default(),
            batch: Batch::new(PACKET_ROOM, true),
            read: Vec::new(),
            coalescer: Coalescer::default(),
            logged: Default::default(),
            status_at: None,
        })
    }

    pub fn name(&self) -> &str {
        self.tun.name()
    }

    /// A reload with the same TUN: its address, routes and MTU changed in
    /// place, the new ones added before the old ones go.
    pub fn update(&mut self, cfg: &AnchorConfig, tun: &AnchorTun) -> Result<(), String> {
        let new = Setup::of(cfg, tun);
        if new == self.setup {
            return Ok(());
        }
        let what = |e: io::Error| format!("anchor TUN {}: {e}", tun.name);
        let mut rtnl = Rtnl::new().map_err(what)?;
        new.apply(&mut rtnl, self.index, Some(&self.setup))
            .map_err(what)?;
        self.setup.remove_rest(&mut rtnl, self.index, &new);
        self.setup = new;
        Ok(())
    }

    /// Before this shell is let go for one on another TUN that failed to
    /// come up: routes the new one replaced come back here.
    pub fn restore(&self) {
        if let Ok(mut rtnl) = Rtnl::new() {
            let _ = self.setup.apply(&mut rtnl, self.index, Some(&self.setup));
        }
    }

    pub fn deregister(&self, registry: &Registry) {
        let _ = registry.deregister(&mut SourceFd(&self.tun.as_raw_fd()));
    }

    /// A tunnel data datagram `got` in `buf`: its inner packet to the TUN,
    /// or a keepalive's answer back (from the address it came to).
    pub fn on_tunnel_data(
        &mut self,
        anchor: &mut Anchor,
        socket: &ServerSocket,
        got: Received,
        buf: &mut [u8],
    ) {
        let SocketAddr::V4(source) = got.from else {
            return;
        };
        let Some(packet) = buf.get_mut(..got.len) else {
            return;
        };
        match anchor.uplink(source, packet) {
            Ok(Uplink::Forward(inner)) if self.tun.has_vnet_header() => {
                // Segments of one flow go to the kernel together.
                let (tun, full) = (&self.tun, &mut self.counters.tun_full);
                self.coalescer.push(inner, |header, packet| {
                    if tun.send_behind(header, packet).is_err() {
                        *full += 1;
                    }
                });
            }
            Ok(Uplink::Forward(inner)) => {
                if self.tun.send(inner).is_err() {
                    self.counters.tun_full += 1;
                }
            }
            Ok(Uplink::Answer { to, len }) => self.send(socket, &buf[..len], to, got.local),
            Err(AnchorDrop::UnknownSource) => {
                self.tell_unknown(anchor, socket, source, got.local, &buf[..got.len]);
            }
            Err(drop) => tracing::debug!("anchor: tunnel packet from {source} dropped: {drop:?}"),
        }
    }

    /// A tunnel packet from a source without a binding (this anchor was
    /// restarted, or a NAT moved the client): the notice that has its client
    /// register again, when the core's limits let one go.
    fn tell_unknown(
        &mut self,
        anchor: &mut Anchor,
        socket: &ServerSocket,
        source: SocketAddrV4,
        local: Option<Ipv4Addr>,
        packet: &[u8],
    ) {
        let mut notice = [0u8; mimm_proto::notice::LEN];
        let now = clock::now().millis_since(Nanos(0));
        if let Some(len) = anchor.notice(now, source, packet, &mut notice) {
            tracing::debug!("anchor: no binding for {source}: told it");
            self.send(socket, &notice[..len], source, local);
        }
    }

    /// Writes the uplink segments gathered for the TUN: after each read
    /// of the UDP port, so nothing waits for more.
    pub fn flush_tun(&mut self) {
        let (tun, full) = (&self.tun, &mut self.counters.tun_full);
        self.coalescer.flush(|header, packet| {
            if tun.send_behind(header, packet).is_err() {
                *full += 1;
            }
        });
    }

    fn send(
        &mut self,
        socket: &ServerSocket,
        datagram: &[u8],
        to: SocketAddrV4,
        local: Option<Ipv4Addr>,
    ) {
        if socket.send_to(datagram, SocketAddr::V4(to), local).is_err() {
            self.counters.send_failed += 1;
        }
    }

    /// Reads up to [`BATCH`] packets from the TUN, each sealed in place in
    /// the downlink batch and sent to its client; true once the TUN had no
    /// more.
    pub fn on_tun_readable(&mut self, anchor: &mut Anchor, socket: &ServerSocket) -> bool {
        let drained = self.read_tun(anchor, socket);
        self.batch.flush();
        drained
    }

    fn read_tun(&mut self, anchor: &mut Anchor, socket: &ServerSocket) -> bool {
        if self.tun.has_vnet_header() {
            return self.read_vnet_tun(anchor, socket);
        }
        for _ in 0..BATCH {
            let slot = self.batch.slot();
            let room = slot.len().saturating_sub(TAG_LEN);
            let Some(inner) = slot.get_mut(SEALED_HEADER..room) else {
                return true;
            };
            let n = match self.tun.recv(inner) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!("anchor: reading {}: {e}", self.tun.name());
                    return true;
                }
            };
            self.downlink(anchor, socket, n);
        }
        false
    }

    /// [`AnchorShell::read_tun`] from a vnet-header TUN: each read cut into
    /// whole packets (a TCP super-packet into its segments) in the batch.
    fn read_vnet_tun(&mut self, anchor: &mut Anchor, socket: &ServerSocket) -> bool {
        let mut read = std::mem::take(&mut self.read);
        read.resize(65_536 + VNET_HDR_LEN, 0);
        let mut drained = false;
        for _ in 0..BATCH {
            let n = match self.tun.recv(&mut read) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        tracing::warn!("anchor: reading {}: {e}", self.tun.name());
                    }
                    drained = true;
                    break;
                }
            };
            let Ok(mut packets) = Segments::new(&read[..n]) else {
                self.counters.tun_malformed += 1;
                continue;
            };
            loop {
                let slot = self.batch.slot();
                let room = slot.len().saturating_sub(TAG_LEN);
                let Some(len) = packets.next_into(&mut slot[SEALED_HEADER..room]) else {
                    break;
                };
                self.downlink(anchor, socket, len);
            }
        }
        self.read = read;
        drained
    }

    /// The packet at the batch slot's `[SEALED_HEADER..][..n]`, sealed
    /// there for its client and gathered (its duplicate, if any, sent).
    fn downlink(&mut self, anchor: &mut Anchor, socket: &ServerSocket, n: usize) {
        match anchor.downlink(self.batch.slot(), n) {
            Ok(Downlink { to, local, len }) => {
                let fd = socket.fd();
                let local = local.filter(|_| socket.pktinfo());
                self.batch.push(len, Destination { fd, to, local });
            }
            Err(drop) => tracing::debug!("anchor: downlink packet dropped: {drop:?}"),
        }
        // Selective duplication: the copy for the client's second path.
        if let Some((Downlink { to, local, .. }, copy)) = anchor.take_copy() {
            self.send(socket, copy, to, local);
        }
    }

    /// When the counters are next to be logged.
    pub fn status_at(&self) -> Option<Millis> {
        self.status_at
    }

    /// After traffic at `now`: schedules a status line if the counters
    /// moved; logs it when due.
    pub fn status(&mut self, now: Millis, anchor: &Anchor) {
        let current = (anchor.counters(), self.counters);
        match self.status_at {
            Some(at) if now >= at => {
                self.log(anchor);
                self.logged = current;
                self.status_at = None;
            }
            None if current != self.logged => {
                self.status_at = Some(now.saturating_add(STATUS_EVERY_MS));
            }
            _ => {}
        }
    }

    /// The counters, at info (also on exit).
    pub fn log(&self, anchor: &Anchor) {
        let c = anchor.counters();
        let s = self.counters;
        tracing::info!(
            "anchor: {} tunnels; registrations {}, deregistrations {}, refused {}, expired {}; \
             uplink {}, downlink {}, keepalives {}, previous keys {}; dropped: unknown source {}, \
             spoofed {}, unopened {}, no binding {}, TUN full {}, TUN uncut {}, send failed {}; \
             downlink datagrams {} in {} sends; no-binding notices {} ({} held back)",
            anchor.tunnels(),
            c.registrations,
            c.deregistrations,
            c.refused,
            c.expired,
            c.uplink,
            c.downlink,
            c.keepalives,
            c.previous_keys,
            c.unknown_source,
            c.spoofed,
            c.unopened,
            c.no_binding,
            s.tun_full,
            s.tun_malformed,
            s.send_failed + self.batch.counters.failed,
            self.batch.counters.datagrams,
            self.batch.counters.sends,
            c.notices,
            c.notices_held
        );
    }
}
