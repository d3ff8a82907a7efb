//! The VSD's loop: one thread, one mio poll over the TAP, the members'
//! packet sockets, rtnetlink link events, a timerfd, a signalfd and the
//! control socket. It sleeps until one of them has something.

pub(crate) mod control;
mod datapath;
mod members;
pub(crate) mod members_control;
mod reload;

use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use mimm_io::clock::{self, Nanos, Timer};
use mimm_io::control::{ControlServer, Limits, bind_private};
use mimm_io::event_loop::LoopBase;
use mimm_io::followers::Followers;
use mimm_io::signals::Signals;
use mimm_io::tuntap::DevKind;
use mimm_io::tuntap::{TunTap, VNET_HDR_LEN};
use mimm_netlink::Rtnl;
use mimm_netlink::links::{Link, LinkEvent, LinkWatcher};
use mimm_netlink::settings::LinkChange;

use crate::announce;
use crate::config::{VsdConfig, format_mac};
use crate::control::{Event, EventKind, MAX_REQUEST};
use crate::host_state::{self, HostState};
use crate::isolate;
use crate::kernel_path::KernelPath;
use crate::macs::{self, MacPolicy};
use crate::packet::Batch;
use crate::switch::{Millis, Output, Switch};
use crate::traffic::TrafficMeter;
use crate::wire::Mac;
use members::Member;

const TAP: Token = Token(0);
const LINKS: Token = Token(1);
const SIGNALS: Token = Token(2);
const TIMER: Token = Token(3);
const LISTENER: Token = Token(4);
const CONN_BASE: usize = 100;
const MEMBER_BASE: usize = 1_000;
/// A slot holds the largest GSO frame (64 KiB) and its vnet header.
const SLOT_LEN: usize = 65_536 + 256;
const RECENT_EVENTS: usize = 100;
/// `vsd ctl events --follow` clients at once (mimmd, scripts).
const MAX_FOLLOWERS: usize = 256;

/// The links the kernel has now.
pub(crate) fn existing_links(links: &mut LinkWatcher) -> io::Result<Vec<Link>> {
    let all = links.snapshot()?;
    Ok(all
        .into_iter()
        .filter_map(|e| match e {
            LinkEvent::Changed(l) => Some(l),
            LinkEvent::Removed { .. } => None,
        })
        .collect())
}

/// What would make the VSD fail half way, found before anything changes:
/// a device already named like the VSD, a member it cannot bond.
/// `left`: the persistent device an earlier run left (the name is this
/// VSD's to take over or remove, whatever device has it).
fn refuse_before_changing(
    cfg: &VsdConfig,
    existing: &[Link],
    left: Option<&str>,
) -> Result<(), String> {
    if left != Some(&cfg.name) && existing.iter().any(|l| l.name == cfg.name) {
        return Err(format!(
            "{}: a device with this name exists already (another VSD running?)",
            cfg.name
        ));
    }
    for m in &cfg.members {
        if let Some(problem) = existing
            .iter()
            .find(|l| &l.name == m)
            .and_then(members::refusal)
        {
            return Err(problem);
        }
    }
    Ok(())
}

/// The VSD's TAP, up, with its shadow MAC and MTU.
struct Tap {
    dev: TunTap,
    index: u32,
    /// The kernel takes GSO frames from it (off once a member cannot).
    offloads: bool,
    /// The MAC members on one segment take.
    shadow: Mac,
    /// The TAP's own MAC now.
    mac: Mac,
}

fn open_tap(cfg: &VsdConfig, rtnl: &mut Rtnl, reattach: bool) -> Result<Tap, String> {
    let io = |what: &str, e: io::Error| format!("{what}: {e}");
    let (tap, offloads) =
        TunTap::open_vnet_tap(&cfg.name, reattach).map_err(|e| io(&cfg.name, e))?;
    if !offloads {
        tracing::warn!(
            "{}: the kernel refused TAP offloads; running without",
            cfg.name
        );
    }
    let tap_link = mimm_netlink::links::dump(rtnl)
        .map_err(|e| io("netlink", e))?
        .into_iter()
        .find(|l| l.name == cfg.name)
        .ok_or_else(|| format!("{}: created but not found", cfg.name))?;
    let shadow = cfg
        .mac
        .unwrap_or_else(|| macs::derive_shadow(&machine_seed(&cfg.name)));
    LinkChange {
        // Only when it differs (a TAP taken over has it): a MAC set anew
        // flushes the device's neighbours, and traffic would wait on ARP.
        mac: (tap_link.mac != Some(shadow)).then_some(shadow),
        // Only when it differs from the new TAP's (1500). Besides saving
        // a no-op, this lets the big-endian build start under qemu-user
        // 7.2, which hands IFLA_MTU of a SETLINK to the kernel unswapped.
        mtu: (tap_link.mtu != Some(cfg.mtu)).then_some(cfg.mtu),
        up: Some(true),
        noarp: None,
    }
    .apply(rtnl, tap_link.index)
    .map_err(|e| io(&cfg.name, e))?;
    Ok(Tap {
        dev: tap,
        index: tap_link.index,
        offloads,
        shadow,
        mac: shadow,
    })
}

pub struct Engine {
    cfg: VsdConfig,
    /// Where SIGHUP re-reads the configuration from (`None`: it stops).
    config_file: Option<PathBuf>,
    poll: Poll,
    tap: Tap,
    rtnl: Rtnl,
    links: LinkWatcher,
    signals: Signals,
    timer: Timer,
    control: ControlServer,
    followers: Followers<Event>,
    /// Members by the switch's id (`None`: removed).
    members: Vec<Option<Member>>,
    /// Configured members whose device does not exist yet, with priority.
    waiting: Vec<(String, i32)>,
    switch: Switch,
    tx_batch: Batch,
    rx_batch: Batch,
    /// Frames from the TAP with no member to carry them.
    no_member_drops: u64,
    switches: u64,
    /// Whether frames move densely enough to poll the carrier between them.
    traffic: TrafficMeter,
    /// The members as they were, on disk, for after a crash.
    host: HostState,
    /// The kernel forwards for the members it can (`datapath 'kernel'`).
    kernel: Option<KernelPath>,
    start: Nanos,
    stop: bool,
}

fn machine_seed(name: &str) -> Vec<u8> {
    let id = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/random/boot_id"))
        .unwrap_or_default();
    format!("mimm-vsd {name} {}", id.trim()).into_bytes()
}

impl Engine {
    /// Creates the TAP and takes the configured members; every problem with
    /// the configuration is reported before the first member is touched.
    pub fn new(cfg: VsdConfig) -> Result<Engine, String> {
        let io = |what: &str, e: io::Error| format!("{what}: {e}");
        let LoopBase {
            poll,
            timer,
            signals,
        } = LoopBase::new(TIMER, SIGNALS)?;
        let mut links = LinkWatcher::new().map_err(|e| io("netlink", e))?;
        let mut rtnl = Rtnl::new().map_err(|e| io("netlink", e))?;
        let existing = existing_links(&mut links).map_err(|e| io("netlink", e))?;
        let mut host = HostState::load(host_state::path_for(&cfg.name, &cfg.socket))?;
        let reattach = host.left_device() == Some((&cfg.name, DevKind::Tap));
        refuse_before_changing(&cfg, &existing, host.left_device().map(|(n, _)| n))?;
        let listener = bind_private(&cfg.socket)?;
        // No other run holds the socket now: whatever a killed one left
        // taken is given back before its state can pass for the original;
        // but with the kernel path on the TAP it left, the members it
        // steered are taken over as they are: nothing is steered anew, and
        // traffic flows again as soon as this run holds the TAP.
        let keep: Vec<String> = if reattach && cfg.kernel_path {
            (cfg.members.iter())
                .filter(|m| existing.iter().any(|l| &l.name == *m))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let mut restored = host.give_back_members_but(&mut rtnl, &cfg.name, &keep)?;
        let adopted: Vec<String> = keep
            .into_iter()
            .filter(|m| host.saved(m).is_some())
            .collect();
        if !reattach {
            // An anchored run's TUN of this name, or a TAP of another.
            restored.extend(host.remove_left_device()?);
        }
        let existing = if restored.is_empty() {
            existing
        } else {
            tracing::warn!(
                "{}: gave back {} as an earlier run left them",
                cfg.name,
                restored.join(", ")
            );
            existing_links(&mut links).map_err(|e| io("netlink", e))?
        };
        let tap = open_tap(&cfg, &mut rtnl, reattach)?;
        let kernel = cfg
            .kernel_path
            .then(|| KernelPath::open(&mut rtnl, &cfg.name, tap.index, &mut host))
            .and_then(|k| {
                k.inspect_err(|e| {
                    tracing::warn!(
                        "{}: the kernel cannot forward ({e}; OpenWrt: kmod-sched-core): \
                         every frame goes through the VSD",
                        cfg.name
                    )
                })
                .ok()
            });
        let registry = poll.registry();
        registry
            .register(&mut SourceFd(&tap.dev.as_raw_fd()), TAP, Interest::READABLE)
            .and_then(|()| registry.register(&mut SourceFd(&links.fd()), LINKS, Interest::READABLE))
            .map_err(|e| io("poll", e))?;
        // Answers are written from the data path's loop: block less.
        let limits = Limits {
            max_request: MAX_REQUEST,
            write_timeout: std::time::Duration::from_millis(200),
            ..Limits::DAEMON
        };
        let control = ControlServer::new(listener, registry, LISTENER, CONN_BASE, limits)
            .map_err(|e| io("poll", e))?;
        let batch = cfg.batch;
        let mut engine = Engine {
            switch: Switch::new(cfg.switch),
            cfg,
            config_file: None,
            poll,
            tap,
            rtnl,
            links,
            signals,
            timer,
            control,
            followers: Followers::new(RECENT_EVENTS, MAX_FOLLOWERS),
            members: Vec::new(),
            waiting: Vec::new(),
            tx_batch: Batch::new(batch, SLOT_LEN),
            rx_batch: Batch::new(batch, SLOT_LEN),
            no_member_drops: 0,
            switches: 0,
            traffic: TrafficMeter::default(),
            host,
            kernel,
            start: clock::now(),
            stop: false,
        };
        if let Err(e) = engine
            .take_configured(&existing)
            .and_then(|()| engine.persist_tap())
        {
            engine.shutdown();
            return Err(e);
        }
        engine.hold_tap();
        if !adopted.is_empty() {
            tracing::warn!(
                "{}: took over {} as an earlier run left them",
                engine.cfg.name,
                adopted.join(", ")
            );
        } else if reattach {
            // What the kernel learnt or was resolving on the TAP while no
            // VSD read it: asked again now, not at its next retry (1 s).
            let index = engine.tap.index;
            if let Err(e) = mimm_netlink::neighbours::forget(&mut engine.rtnl, index) {
                tracing::warn!("{}: neighbours: {e}", engine.cfg.name);
            }
        }
        Ok(engine)
    }

    /// Makes the TAP outlive a crash (written down first), so that the
    /// next run takes it over with the addresses and routes it carries
    /// and traffic resumes as soon as that run is up.
    fn persist_tap(&mut self) -> Result<(), String> {
        let name = &self.cfg.name;
        self.host
            .record_device(name, DevKind::Tap)
            .map_err(|e| format!("{name}: state file: {e}"))?;
        self.tap.dev.set_persist(true).map_err(|e| e.to_string())
    }

    /// Has a holder keep the TAP's carrier up for as long as it lives, so
    /// that the kernel path forwards on while no VSD runs: the one an
    /// earlier run started, when it still holds, or a new one. Without
    /// one (a single-queue TAP an older run left, no fork), a crash costs
    /// the time until the next run opens the TAP.
    fn hold_tap(&mut self) {
        let name = self.cfg.name.clone();
        if !self.tap.dev.is_multi_queue() {
            tracing::warn!("{name}: a single-queue TAP (left by an older run): not held");
            return;
        }
        if let Some(pid) = self.host.holder() {
            if crate::holder::is_holding(pid, &name) {
                return;
            }
        }
        match crate::holder::spawn(&name) {
            Ok(pid) => {
                if let Err(e) = self.host.record_holder(pid) {
                    tracing::warn!("{name}: state file: {e}");
                    crate::holder::stop(pid, &name);
                }
            }
            Err(e) => tracing::warn!("{e}; a crash will drop traffic until the next start"),
        }
    }

    /// Takes the configured members that exist; waits for the others.
    fn take_configured(&mut self, existing: &[Link]) -> Result<(), String> {
        let configured: Vec<String> = self.cfg.members.clone();
        for (i, name) in configured.iter().enumerate() {
            let priority = crate::engine::members_control::config_priority(i);
            match existing.iter().find(|l| &l.name == name) {
                Some(link) => self.add_member(link, priority)?,
                None => {
                    tracing::warn!("member {name}: no such device yet; taken when it appears");
                    self.waiting.push((name.clone(), priority));
                }
            }
        }
        Ok(())
    }

    fn ms(&self, now: Nanos) -> Millis {
        now.millis_since(self.start)
    }

    fn member_id(&self, name: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.as_ref().is_some_and(|m| m.name == name))
    }

    /// Takes `link` in: isolates it, opens its socket, joins the switch.
    fn add_member(&mut self, link: &Link, priority: i32) -> Result<(), String> {
        if self.member_id(&link.name).is_some() {
            return Err(format!(
                "member {} is already in {}",
                link.name, self.cfg.name
            ));
        }
        let id = self.members.len();
        let kernel = self.kernel.as_mut().map(|k| (k, id));
        let member = members::take(&mut self.rtnl, &self.cfg.name, link, &mut self.host, kernel)?;
        if self.tap.offloads && member.socket.vnet_hdr_emulated() {
            // Its socket cannot send offloaded frames (see crate::packet):
            // from now on the TAP hands over whole, checksummed ones.
            match self.tap.dev.set_offloads(false) {
                Ok(()) => {
                    self.tap.offloads = false;
                    tracing::warn!("{}: offloads off for member {}", self.cfg.name, link.name);
                }
                Err(e) => tracing::warn!("{e}; frames asking for offloads are dropped"),
            }
        }
        self.poll
            .registry()
            .register(
                &mut SourceFd(&member.socket.as_raw_fd()),
                Token(MEMBER_BASE + id),
                Interest::READABLE,
            )
            .map_err(|e| format!("member {}: poll: {e}", link.name))?;
        let carrier = members::has_carrier(link);
        self.members.push(Some(member));
        let now = self.ms(clock::now());
        let switch_id = self.switch.add(priority, carrier, now);
        debug_assert_eq!(switch_id, id);
        self.event(
            EventKind::Member,
            Some(id),
            format!("taken in, priority {priority}"),
        );
        self.apply_macs();
        self.handle_outputs();
        Ok(())
    }

    fn remove_member(&mut self, id: usize, device_gone: bool) {
        let Some(member) = self.members.get_mut(id).and_then(Option::take) else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&member.socket.as_raw_fd()));
        let now = self.ms(clock::now());
        self.switch.remove(id, now);
        // Traffic moved off it (kernel path included) before it goes.
        self.handle_outputs();
        if let Some(kernel) = self.kernel.as_mut().filter(|_| member.kernel_path) {
            kernel.give_back(&mut self.rtnl, &mut self.host, id, &member.name);
        }
        if !device_gone {
            members::give_back(&mut self.rtnl, &self.cfg.name, &member, &mut self.host);
        }
        let detail = if device_gone {
            "device removed"
        } else {
            "given back"
        };
        self.event_named(EventKind::Member, Some(member.name.clone()), detail.into());
        self.handle_outputs();
    }

    /// Puts every address where the MAC policy wants it.
    fn apply_macs(&mut self) {
        let policy = self.cfg.mac_policy;
        let active = self.switch.active();
        let active_original = active
            .and_then(|a| self.members.get(a).and_then(Option::as_ref))
            .map(|m| m.original);
        let want_vsd = macs::vsd_mac(policy, self.tap.shadow, active_original);
        if want_vsd != self.tap.mac {
            let change = LinkChange {
                mac: Some(want_vsd),
                ..LinkChange::default()
            };
            match change.apply(&mut self.rtnl, self.tap.index) {
                Ok(()) => self.tap.mac = want_vsd,
                Err(e) => tracing::error!("{}: set mac: {e}", self.cfg.name),
            }
        }
        for (id, slot) in self.members.iter_mut().enumerate() {
            let Some(m) = slot else { continue };
            let want = macs::member_mac(policy, self.tap.shadow, m.original, active == Some(id));
            if want != m.mac {
                let change = LinkChange {
                    mac: Some(want),
                    ..LinkChange::default()
                };
                match change.apply(&mut self.rtnl, m.ifindex) {
                    Ok(()) => m.mac = want,
                    Err(e) => tracing::error!(
                        "member {}: cannot set mac {} ({e}); with mac_policy {} it must be settable, \
                         else use by_active",
                        m.name,
                        format_mac(&want),
                        MacPolicy::name(policy)
                    ),
                }
            }
        }
    }

    /// Carries out what the switch decided.
    fn handle_outputs(&mut self) {
        while let Some(output) = self.switch.poll_output() {
            match output {
                Output::Switched { from, to, cause } => {
                    self.switches += 1;
                    self.apply_macs();
                    let name = |id: Option<usize>| {
                        id.and_then(|i| self.members.get(i).and_then(Option::as_ref))
                            .map_or("-".to_string(), |m| m.name.clone())
                    };
                    let detail = format!("{} -> {}: {}", name(from), name(Some(to)), cause.name());
                    self.event(EventKind::Switch, Some(to), detail);
                }
                Output::Announce { member, round } => self.announce(member, round),
                Output::AllDown => {
                    self.event(EventKind::AllDown, None, "no member has carrier".into());
                }
            }
        }
        if let Some(kernel) = &mut self.kernel {
            kernel.sync(&mut self.rtnl, &self.switch);
        }
    }

    /// One round of announcements of the VSD's addresses on `member`.
    fn announce(&mut self, id: usize, round: u32) {
        let addresses = match mimm_netlink::addresses::of_link(&mut self.rtnl, self.tap.index) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{}: addresses: {e}", self.cfg.name);
                return;
            }
        };
        let (arp, na) = (round < self.cfg.num_grat_arp, round < self.cfg.num_unsol_na);
        let mac = self.tap.mac;
        let Some(member) = self.members.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        // Zeroed virtio header in front: no offload asked for these frames.
        let mut frame = [0u8; VNET_HDR_LEN + announce::NA_FRAME_LEN];
        for ip in addresses {
            let len = match ip {
                IpAddr::V4(v4) if arp => {
                    announce::arp_announcement(&mut frame[VNET_HDR_LEN..], mac, v4)
                }
                IpAddr::V6(v6) if na => {
                    announce::neighbor_advertisement(&mut frame[VNET_HDR_LEN..], mac, v6)
                }
                _ => None,
            };
            if let Some(len) = len {
                if let Err(e) = members::send_one(member, &frame[..VNET_HDR_LEN + len]) {
                    tracing::warn!("{}: announce: {e}", member.name);
                }
            }
        }
    }

    /// Member `id`'s carrier is `carrier` (`how`: where that was seen, if
    /// not from rtnetlink).
    fn set_carrier(&mut self, id: usize, carrier: bool, how: &str) {
        if self.switch.carrier(id).is_none_or(|known| known == carrier) {
            return;
        }
        let now = self.ms(clock::now());
        self.switch.on_carrier(id, carrier, now);
        let detail = if carrier {
            "carrier up"
        } else {
            "carrier lost"
        };
        self.event(EventKind::Carrier, Some(id), format!("{detail}{how}"));
        self.handle_outputs();
    }

    /// Reads the active member's carrier from the device (at most once per
    /// [`crate::traffic::CARRIER_CHECK`]): while traffic flows, a loss is acted on within
    /// about a millisecond instead of when rtnetlink gets round to it.
    fn check_active_carrier(&mut self, now: Nanos) {
        if !self.traffic.carrier_due(now) {
            return;
        }
        let Some(id) = self.switch.tx() else { return };
        let lost = self
            .members
            .get(id)
            .and_then(Option::as_ref)
            .and_then(|m| m.carrier_file.as_ref())
            .is_some_and(|f| !f.read());
        if lost {
            self.set_carrier(id, false, " (read from the device)");
        }
    }

    fn on_links(&mut self) {
        for event in self.links.drain() {
            match event {
                LinkEvent::Changed(link) => {
                    if let Some(id) = self.member_id(&link.name) {
                        self.set_carrier(id, members::has_carrier(&link), "");
                    } else if let Some(w) = self.waiting.iter().position(|(n, _)| *n == link.name) {
                        let (name, priority) = self.waiting.remove(w);
                        if let Err(e) = self.add_member(&link, priority) {
                            tracing::error!("{e}");
                            self.event_named(EventKind::Error, Some(name), e);
                        }
                    }
                }
                LinkEvent::Removed { name, .. } => {
                    if let Some(id) = self.member_id(&name) {
                        let priority = self.switch.priority(id).unwrap_or(0);
                        self.remove_member(id, true);
                        // It may come back (a USB modem re-enumerating).
                        self.waiting.push((name, priority));
                    }
                }
            }
        }
    }

    pub fn run(mut self) -> io::Result<()> {
        tracing::info!(
            "{} running: mac {}, {} member(s), policy {}, datapath {}, offloads {}, control socket {}",
            self.cfg.name,
            format_mac(&self.tap.mac),
            self.members.iter().flatten().count(),
            self.cfg.mac_policy.name(),
            if self.kernel.is_some() {
                "kernel"
            } else {
                "userspace"
            },
            if self.tap.offloads { "on" } else { "off" },
            self.cfg.socket.display()
        );
        let mut events = Events::with_capacity(64);
        self.arm_timer();
        while !self.stop {
            match self.poll.poll(&mut events, None) {
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
            let now = self.ms(clock::now());
            if self.switch.poll_timeout().is_some_and(|t| t <= now) {
                self.switch.handle_timeout(now);
            }
            self.handle_outputs();
            self.arm_timer();
        }
        self.shutdown();
        tracing::info!("{} stopped; members given back", self.cfg.name);
        Ok(())
    }

    fn arm_timer(&mut self) {
        let mut at = self
            .switch
            .poll_timeout()
            .map(|t| self.start.saturating_add(Nanos::from_ms(t)));
        if let Some(check) = self.traffic.carrier_wake(clock::now()) {
            at = Some(at.map_or(check, |a| a.min(check)));
        }
        if let Some(idle) = self.control.deadline() {
            at = Some(at.map_or(idle, |a| a.min(idle)));
        }
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
            TAP => self.tap_readable(),
            Token(t) if t >= MEMBER_BASE => self.member_readable(t - MEMBER_BASE),
            LINKS => self.on_links(),
            TIMER => {
                self.timer.expirations();
                self.check_active_carrier(clock::now());
            }
            SIGNALS => {
                while let Some(signal) = self.signals.take() {
                    if signal == libc::SIGHUP && self.config_file.is_some() {
                        self.reload();
                    } else {
                        tracing::info!("signal {signal}: stopping");
                        self.stop = true;
                    }
                }
            }
            _ => {}
        }
    }

    /// Gives every member back and removes what the VSD installed.
    fn shutdown(&mut self) {
        for id in 0..self.members.len() {
            if let Some(member) = self.members[id].take() {
                if let Some(kernel) = self.kernel.as_mut().filter(|_| member.kernel_path) {
                    kernel.give_back(&mut self.rtnl, &mut self.host, id, &member.name);
                }
                members::give_back(&mut self.rtnl, &self.cfg.name, &member, &mut self.host);
            }
        }
        if let Some(kernel) = &mut self.kernel {
            kernel.close(&mut self.rtnl, &mut self.host);
        }
        isolate::remove_table(&self.cfg.name);
        // Gone with this process, as a TAP nobody runs should be (its
        // holder first: the TAP goes once no queue is open).
        self.host.stop_holder();
        match self.tap.dev.set_persist(false) {
            Ok(()) => self.host.forget_device(),
            Err(e) => tracing::warn!("{e}"),
        }
        let _ = std::fs::remove_file(&self.cfg.socket);
    }

    fn event(&mut self, kind: EventKind, member: Option<usize>, detail: String) {
        let name = member
            .and_then(|i| self.members.get(i).and_then(Option::as_ref))
            .map(|m| m.name.clone());
        self.event_named(kind, name, detail);
    }

    fn event_named(&mut self, kind: EventKind, member: Option<String>, detail: String) {
        record_event(&mut self.followers, self.start, kind, member, detail);
    }
}

/// Logs an event and hands it to the followers, stamped with seconds
/// since `start` (both modes' engines).
pub(crate) fn record_event(
    followers: &mut Followers<Event>,
    start: Nanos,
    kind: EventKind,
    member: Option<String>,
    detail: String,
) {
    let t_s = clock::now().saturating_sub(start).0 as f64 / 1e9;
    tracing::info!(
        kind = kind.name(),
        member = member.as_deref().unwrap_or("-"),
        "{detail}"
    );
    followers.record(Event {
        t_s: (t_s * 1000.0).round() / 1000.0,
        kind,
        member,
        detail,
    });
}
