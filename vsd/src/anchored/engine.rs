//! The anchored VSD's loop: one thread, one mio poll over the TUN, each
//! path's UDP socket, rtnetlink link events, a timerfd, a signalfd and the
//! control socket. The switch (the same core as the shadow-MAC mode) picks
//! the path uplink leaves on; a path is usable with carrier, a binding and
//! answered keepalives, so a lost carrier, a lapsed binding or a blackhole
//! each move traffic without mimmd.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use mimm_io::clock::{self, Nanos, Timer};
use mimm_io::control::{ControlServer, Limits, bind_private};
use mimm_io::event_loop::LoopBase;
use mimm_io::followers::Followers;
use mimm_io::signals::Signals;
use mimm_io::tuntap::{DevKind, TunTap};

use crate::host_state::{self, HostState};
use mimm_io::udp::batch::Batch;
use mimm_netlink::Rtnl;
use mimm_netlink::links::LinkWatcher;

use crate::traffic::TrafficMeter;
use mimm_netlink::settings::LinkChange;
use mimm_proto::replay::Now;
use mimm_tunnel::duplicate::ID_LEN;
use mimm_tunnel::packet::SEALED_OVERHEAD;

use super::config::AnchoredConfig;
use super::paths::Path;
use super::registrar::{Output as Registered, Registrar, RegistrarConfig};
use crate::config::VsdConfig;
use crate::control::{Event, EventKind, MAX_REQUEST};
use crate::switch::{Millis, Switch};

pub(super) const TUN: Token = Token(0);
const LINKS: Token = Token(1);
const SIGNALS: Token = Token(2);
const TIMER: Token = Token(3);
const LISTENER: Token = Token(4);
const CONN_BASE: usize = 100;
pub(super) const PATH_BASE: usize = 1_000;
/// Room for the largest packet and the tunnel's header and tag.
pub(super) const BUF_LEN: usize = 65_536;
const RECENT_EVENTS: usize = 100;
const MAX_FOLLOWERS: usize = 256;

pub struct Engine {
    pub(super) cfg: VsdConfig,
    pub(super) a: AnchoredConfig,
    pub(super) poll: Poll,
    pub(super) tun: TunTap,
    pub(super) tun_index: u32,
    /// The state file: the TUN is written down while it is persistent.
    host: HostState,
    pub(super) rtnl: Rtnl,
    pub(super) links: LinkWatcher,
    signals: Signals,
    timer: Timer,
    control: ControlServer,
    pub(super) followers: Followers<Event>,
    /// Paths by the switch's id.
    pub(super) paths: Vec<Option<Path>>,
    /// Configured members whose device does not exist yet, with priority.
    pub(super) waiting: Vec<(String, i32)>,
    pub(super) switch: Switch,
    pub(super) registrar: Registrar,
    /// The home address on the TUN now.
    pub(super) home: Option<Ipv4Addr>,
    pub(super) buf: Vec<u8>,
    /// What one read of a vnet-header TUN brings (up to 64 KiB of TCP).
    pub(super) tun_buf: Vec<u8>,
    /// Downlink segments of one flow, gathered for one TUN write.
    pub(super) coalescer: mimm_tunnel::coalesce::Coalescer,
    /// Uplink to the active path, sent segmented.
    pub(super) batch: Batch,
    pub(super) dup: super::duplicate::Duplication,
    /// Sources that had more to read when their budget ran out.
    pub(super) again: Vec<Token>,
    pub(super) next_keepalive: Nanos,
    /// Packets from the TUN with no usable path (or not IPv4).
    pub(super) no_path_drops: u64,
    /// How dense traffic is: while it flows, the active path's carrier is
    /// read from its device, which rtnetlink can announce a second late.
    pub(super) traffic: TrafficMeter,
    /// Packets read from the TUN in this wake-up, for `traffic`.
    pub(super) tun_packets: usize,
    pub(super) switches: u64,
    pub(super) start: Nanos,
    /// Where SIGHUP reloads from.
    pub(super) config_file: Option<std::path::PathBuf>,
    stop: bool,
}

/// The TUN, up with its MTU; with `reattach`, the persistent one a killed
/// run left, with the home address and routes it carries.
fn open_tun(cfg: &VsdConfig, rtnl: &mut Rtnl, reattach: bool) -> Result<(TunTap, u32), String> {
    let io = |what: &str, e: io::Error| format!("{what}: {e}");
    let tun = TunTap::open_tunnel_tun(&cfg.name, reattach).map_err(|e| io(&cfg.name, e))?;
    let link = mimm_netlink::links::dump(rtnl)
        .map_err(|e| io("netlink", e))?
        .into_iter()
        .find(|l| l.name == cfg.name)
        .ok_or_else(|| format!("{}: created but not found", cfg.name))?;
    LinkChange {
        mtu: Some(cfg.mtu),
        up: Some(true),
        ..LinkChange::default()
    }
    .apply(rtnl, link.index)
    .map_err(|e| io(&cfg.name, e))?;
    Ok((tun, link.index))
}

impl Engine {
    pub fn new(cfg: VsdConfig) -> Result<Engine, String> {
        let a = cfg
            .anchored
            .clone()
            .ok_or_else(|| format!("vsd {}: not in mode anchored", cfg.name))?;
        let io = |what: &str, e: io::Error| format!("{what}: {e}");
        let LoopBase {
            poll,
            timer,
            signals,
        } = LoopBase::new(TIMER, SIGNALS)?;
        let mut links = LinkWatcher::new().map_err(|e| io("netlink", e))?;
        let mut rtnl = Rtnl::new().map_err(|e| io("netlink", e))?;
        let existing = super::existing_links(&mut links).map_err(|e| io("netlink", e))?;
        // A killed run left its persistent TUN (taken over) or, in
        // shadow-MAC mode, its members and TAP (given back): neither is
        // another VSD.
        let mut host = HostState::load(host_state::path_for(&cfg.name, &cfg.socket))?;
        let reattach = host.left_device() == Some((&cfg.name, DevKind::Tun));
        let left = host.left_device().map(|(n, _)| n);
        if left != Some(&cfg.name) && existing.iter().any(|l| l.name == cfg.name) {
            return Err(format!(
                "{}: a device with this name exists already (another VSD running?)",
                cfg.name
            ));
        }
        let listener = bind_private(&cfg.socket)?;
        let mut restored = host.give_back_members(&mut rtnl, &cfg.name)?;
        if !reattach {
            restored.extend(host.remove_left_device()?);
        }
        if !restored.is_empty() {
            tracing::warn!(
                "{}: gave back {} as an earlier run left them",
                cfg.name,
                restored.join(", ")
            );
        }
        let (tun, tun_index) = open_tun(&cfg, &mut rtnl, reattach)?;
        // Written down first; persistent, it outlives a crash with the home
        // address and the routes on it, and the next run takes it over.
        host.record_device(&cfg.name, DevKind::Tun)
            .and_then(|()| tun.set_persist(true))
            .map_err(|e| format!("{}: {e}", cfg.name))?;
        if reattach {
            tracing::info!("{}: took over the TUN an earlier run left", cfg.name);
        }
        if let Err(e) = super::mss::install(&cfg.name) {
            // Traffic still flows; large TCP segments rely on PMTU discovery.
            tracing::warn!("{e}");
        }
        let registry = poll.registry();
        registry
            .register(&mut SourceFd(&tun.as_raw_fd()), TUN, Interest::READABLE)
            .and_then(|()| registry.register(&mut SourceFd(&links.fd()), LINKS, Interest::READABLE))
            .map_err(|e| io("poll", e))?;
        let limits = Limits {
            max_request: MAX_REQUEST,
            write_timeout: std::time::Duration::from_millis(200),
            ..Limits::DAEMON
        };
        let control = ControlServer::new(listener, registry, LISTENER, CONN_BASE, limits)
            .map_err(|e| io("poll", e))?;
        let registrar = Registrar::new(RegistrarConfig {
            home_agent: a.home_agent,
            home: a.home,
            spi: a.spi,
            algorithm: a.algorithm,
            key: a.key.clone(),
            vendor: a.vendor,
            lifetime_s: a.lifetime_s,
            retransmit_ms: 500,
            cipher: a.cipher,
        });
        let mut engine = Engine {
            batch: Batch::new(cfg.mtu as usize + SEALED_OVERHEAD + ID_LEN, true),
            switch: Switch::new(cfg.switch),
            cfg,
            a,
            poll,
            tun,
            tun_index,
            host,
            rtnl,
            links,
            signals,
            timer,
            control,
            followers: Followers::new(RECENT_EVENTS, MAX_FOLLOWERS),
            paths: Vec::new(),
            waiting: Vec::new(),
            registrar,
            home: None,
            buf: vec![0u8; BUF_LEN],
            tun_buf: Vec::new(),
            coalescer: Default::default(),
            again: Vec::new(),
            dup: Default::default(),
            next_keepalive: clock::now(),
            no_path_drops: 0,
            traffic: TrafficMeter::default(),
            tun_packets: 0,
            switches: 0,
            start: clock::now(),
            config_file: None,
            stop: false,
        };
        for (i, name) in engine.cfg.members.clone().iter().enumerate() {
            let priority = crate::engine::members_control::config_priority(i);
            match existing.iter().find(|l| &l.name == name) {
                Some(link) => {
                    if let Err(e) = engine.add_path(link, priority) {
                        engine.shutdown();
                        return Err(e);
                    }
                }
                None => {
                    tracing::warn!("member {name}: no such device yet; taken when it appears");
                    engine.waiting.push((name.clone(), priority));
                }
            }
        }
        Ok(engine)
    }

    pub(super) fn ms(&self, now: Nanos) -> Millis {
        now.millis_since(self.start)
    }

    pub(super) fn now(&self) -> Now {
        Now::wall(self.ms(clock::now()))
    }

    pub(super) fn path_id(&self, name: &str) -> Option<usize> {
        self.paths
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.name == name))
    }

    pub(super) fn name_of(&self, id: Option<usize>) -> String {
        id.and_then(|i| self.paths.get(i).and_then(Option::as_ref))
            .map_or("-".to_string(), |p| p.name.clone())
    }

    pub fn run(mut self) -> io::Result<()> {
        tracing::info!(
            "{} running anchored: anchor {}, {} member(s), mtu {}, control socket {}",
            self.cfg.name,
            self.a.anchor,
            self.paths.iter().flatten().count(),
            self.cfg.mtu,
            self.cfg.socket.display()
        );
        let mut events = Events::with_capacity(64);
        self.arm_timer();
        while !self.stop {
            let again = std::mem::take(&mut self.again);
            for token in again {
                self.dispatch(token);
            }
            // Sources with more to read: look, but do not sleep.
            let wait = (!self.again.is_empty()).then_some(std::time::Duration::ZERO);
            match self.poll.poll(&mut events, wait) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.shutdown();
                    return Err(e);
                }
            }
            for event in events.iter() {
                self.dispatch(event.token());
            }
            self.control.expire(clock::now(), self.poll.registry());
            self.on_time();
            self.arm_timer();
        }
        self.shutdown();
        tracing::info!("{} stopped; bindings deregistered", self.cfg.name);
        Ok(())
    }

    fn on_time(&mut self) {
        let now = self.now();
        if self.switch.poll_timeout().is_some_and(|t| t <= now.mono) {
            self.switch.handle_timeout(now.mono);
        }
        if self.registrar.poll_timeout().is_some_and(|t| t <= now.mono) {
            self.registrar.handle_timeout(now);
        }
        self.keepalives(clock::now());
        self.handle_outputs();
    }

    fn arm_timer(&mut self) {
        let at_ms = |t: Millis| self.start.saturating_add(Nanos::from_ms(t));
        let candidates = [
            self.switch.poll_timeout().map(at_ms),
            self.registrar.poll_timeout().map(at_ms),
            Some(self.next_keepalive),
            self.control.deadline(),
            self.traffic.carrier_wake(clock::now()),
        ];
        let at = candidates.into_iter().flatten().min();
        if let Err(e) = self.timer.arm_at(at) {
            tracing::error!("timer: {e}");
        }
    }

    fn dispatch(&mut self, token: Token) {
        if self.control.owns(token) {
            let requests = self
                .control
                .ready(token, self.poll.registry(), clock::now());
            for request in requests {
                self.on_request(request);
            }
            return;
        }
        match token {
            TUN => self.tun_readable(),
            Token(t) if t >= PATH_BASE => self.path_readable(t - PATH_BASE),
            LINKS => self.on_links(),
            TIMER => {
                self.timer.expirations();
                self.check_active_carrier(clock::now());
            }
            SIGNALS => {
                while let Some(signal) = self.signals.take() {
                    if signal == libc::SIGHUP && self.config_file.is_some() {
                        self.reload();
                        continue;
                    }
                    tracing::info!("signal {signal}: stopping");
                    self.stop = true;
                }
            }
            _ => {}
        }
    }

    /// Deregisters every binding; the TUN, no longer persistent, goes with
    /// the fd, its address and routes too.
    fn shutdown(&mut self) {
        let now = self.now();
        self.registrar.deregister_all(now);
        while let Some(out) = self.registrar.poll_output() {
            if let Registered::Send { path, bytes } = out {
                if let Some(p) = self.paths.get(path).and_then(Option::as_ref) {
                    let _ = p.send(&bytes, self.a.anchor.into());
                }
            }
        }
        super::mss::remove(&self.cfg.name);
        // Gone with this process, as a TUN nobody runs should be.
        match self.tun.set_persist(false) {
            Ok(()) => self.host.forget_device(),
            Err(e) => tracing::warn!("{e}"),
        }
        let _ = std::fs::remove_file(&self.cfg.socket);
    }

    pub(super) fn event(&mut self, kind: EventKind, path: Option<usize>, detail: String) {
        let name = path
            .and_then(|i| self.paths.get(i).and_then(Option::as_ref))
            .map(|p| p.name.clone());
        self.event_named(kind, name, detail);
    }

    pub(super) fn event_named(&mut self, kind: EventKind, member: Option<String>, detail: String) {
        crate::engine::record_event(&mut self.followers, self.start, kind, member, detail);
    }
}
