//! The daemon: one mio loop around the Mobility Manager. The Interface
//! Monitor feeds it (netlink link events, probe answers, signal sources on a
//! sampling period), its actions run here (route changes, hook and command
//! jobs), and the control socket lets users look and steer. The loop sleeps
//! on a timerfd armed for the earliest thing due; idle means asleep.

mod advice;
mod anchor_paths;
mod backups;
mod control;
mod duplication;
mod exec;
mod recent;
mod state;
mod vsd_events;

use std::io;
use std::path::Path;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use mimm_io::clock::{self, Nanos, Timer};
use mimm_io::control::{ControlServer, Limits, bind_private};
use mimm_io::event_loop::LoopBase;
use mimm_io::followers::Followers;
use mimm_io::signals::Signals;
use mimm_mm::{IfaceId, Input, Millis, MobilityManager};

use crate::actions::Mover;
use crate::actions::jobs::Jobs;
use crate::config::{self, MimmConfig};
use crate::control::proto::{ChartPoint, Event, EventKind, MAX_REQUEST};
use crate::logging::LogLevel;
use crate::netlink::links::{LinkEvent, LinkWatcher};
use state::{IfaceRuntime, SLOTS};

const TIMER: Token = Token(0);
const SIGNALS: Token = Token(1);
const LINKS: Token = Token(2);
const LISTENER: Token = Token(3);
const SERVER: Token = Token(4);
const VSD_EVENTS: Token = Token(5);
const CONN_BASE: usize = 100;
/// Each interface's sources' descriptors: `SOURCE_BASE + (iface * SLOTS +
/// slot) * SOURCE_FDS + k`.
const SOURCE_BASE: usize = 1_000;
const SOURCE_FDS: usize = 4;
const JOB_BASE: usize = 10_000;
/// Events kept for `mimmctl events` without `--follow`.
const RECENT_EVENTS: usize = 200;
/// `mimmctl events --follow` clients at once (LuCI pages, scripts).
const MAX_FOLLOWERS: usize = 256;

fn source_token(iface: usize, slot: usize, k: usize) -> Token {
    Token(SOURCE_BASE + (iface * SLOTS + slot) * SOURCE_FDS + k.min(SOURCE_FDS - 1))
}

pub struct Daemon {
    cfg: MimmConfig,
    mm: MobilityManager,
    poll: Poll,
    timer: Timer,
    signals: Signals,
    links: LinkWatcher,
    ifaces: Vec<IfaceRuntime>,
    jobs: Jobs,
    mover: Mover,
    /// Anchored: the interface the VSD was told to duplicate over (`None`:
    /// not told yet, so a restarted mimmd corrects a VSD left duplicating).
    duplicating: Option<Option<usize>>,
    /// Vsd mode: the fallback order the VSD was told (`None`: not since it
    /// was last followed).
    backups_told: Option<Vec<usize>>,
    control: ControlServer,
    /// `events --follow` clients, tagged with whether they want samples.
    followers: Followers<Event, bool>,
    /// The last minutes of averaged metrics, for LuCI's chart.
    recent: recent::Recent,
    start: Nanos,
    next_sample: Nanos,
    /// `mimmctl prefer`'s choice (`Some(None)`: no preference), which
    /// outlives a reload; `None` until used, when the file's `preferred` holds.
    runtime_prefer: Option<Option<String>>,
    last_handoff: Option<Handoff>,
    /// The logger's level, which a reload may change.
    log: Option<LogLevel>,
    /// The MIMM server's client, with `config server` enabled.
    server: Option<advice::ServerLink>,
    /// Networks the server advised to avoid, until when (MM time; `None`:
    /// until mimmd restarts).
    avoided: Vec<(String, Option<Millis>)>,
    /// Vsd mode: the VSD's events, followed, and whether it answers.
    vsd_events: vsd_events::VsdEvents,
    stop: bool,
}

/// The most recent switch, for `mimmctl status`.
struct Handoff {
    at: Nanos,
    from: Option<String>,
    to: String,
    reason: String,
}

impl Daemon {
    /// Builds the daemon from a configuration file: every problem is reported
    /// before anything is changed on the system.
    pub fn new(cfg: MimmConfig) -> Result<Daemon, String> {
        let io = |what: &str, e: io::Error| format!("{what}: {e}");
        // Blocked before any thread or child exists, read from a descriptor.
        let LoopBase {
            poll,
            timer,
            signals,
        } = LoopBase::new(TIMER, SIGNALS)?;
        let mut links = LinkWatcher::new().map_err(|e| io("netlink", e))?;
        let mover = Mover::new(&cfg).map_err(|e| io("netlink", e))?;
        let listener = bind_private(&cfg.globals.socket)?;
        let registry = poll.registry();
        registry
            .register(&mut SourceFd(&links.fd()), LINKS, Interest::READABLE)
            .map_err(|e| io("poll", e))?;
        let limits = Limits {
            max_request: MAX_REQUEST,
            ..Limits::DAEMON
        };
        let control = ControlServer::new(listener, registry, LISTENER, CONN_BASE, limits)
            .map_err(|e| io("poll", e))?;
        let server = advice::ServerLink::open(&cfg, registry, SERVER)?;
        let start = clock::now();
        let mm = MobilityManager::new(cfg.mm.clone()).map_err(|e| e.to_string())?;
        let ifaces = state::build(&cfg, 0)?;
        let jobs = Jobs::new(Nanos::from_ms(cfg.globals.hook_timeout_ms));
        let all = links.snapshot().map_err(|e| io("netlink", e))?;
        let mut daemon = Daemon {
            cfg,
            mm,
            poll,
            timer,
            signals,
            links,
            ifaces,
            jobs,
            mover,
            duplicating: None,
            backups_told: None,
            control,
            followers: Followers::new(RECENT_EVENTS, MAX_FOLLOWERS),
            recent: recent::Recent::default(),
            start,
            next_sample: start,
            runtime_prefer: None,
            last_handoff: None,
            log: None,
            server,
            avoided: Vec::new(),
            vsd_events: vsd_events::VsdEvents::default(),
            stop: false,
        };
        daemon.apply_preference(0);
        for event in all {
            daemon.on_link(event, false);
        }
        // Route mode: the rules and route a killed run left keep carrying
        // traffic; their primary is taken over, no switch.
        let globals = daemon.cfg.globals.clone();
        if let Some(device) = daemon.mover.take_over_left(&globals)? {
            let reason =
                "the primary of mimmd's table, left by an earlier run, taken over without a switch";
            daemon.take_over(&device, reason);
        }
        // A VSD already carrying traffic keeps its member: no switch.
        daemon.follow_vsd();
        daemon.follow_primary();
        daemon.watch_sources();
        Ok(daemon)
    }

    /// Milliseconds since start: the MM's clock.
    fn ms(&self, now: Nanos) -> Millis {
        now.millis_since(self.start)
    }

    pub fn run(mut self) -> io::Result<()> {
        tracing::info!(
            "mimmd running: {} interfaces, mode {}, control socket {}",
            self.ifaces.len(),
            self.mover.name(),
            self.cfg.globals.socket.display()
        );
        let mut events = Events::with_capacity(64);
        // The first samples and probes are due now; this also arms the timer,
        // without which the loop would sleep until someone else woke it.
        self.advance();
        while !self.stop {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            for token in tokens {
                self.dispatch(token);
            }
            self.advance();
        }
        self.mover.teardown();
        let _ = std::fs::remove_file(&self.cfg.globals.socket);
        tracing::info!("mimmd stopped");
        Ok(())
    }

    fn dispatch(&mut self, token: Token) {
        let now = clock::now();
        if self.control.owns(token) {
            for request in self.control.ready(token, self.poll.registry(), now) {
                self.on_request(request);
            }
            return;
        }
        match token {
            TIMER => {
                self.timer.expirations();
            }
            SIGNALS => {
                while let Some(signal) = self.signals.take() {
                    if signal == libc::SIGHUP {
                        if let Err(e) = self.reload() {
                            tracing::error!(
                                "reload refused, the old configuration keeps running: {e}"
                            );
                        }
                    } else {
                        tracing::info!("signal {signal}: stopping");
                        self.stop = true;
                    }
                }
            }
            LINKS => {
                for event in self.links.drain() {
                    self.on_link(event, true);
                }
            }
            SERVER => self.on_server(),
            VSD_EVENTS if self.vsd_events.read(self.poll.registry()) => self.sync_vsd(),
            Token(t) if (SOURCE_BASE..JOB_BASE).contains(&t) => {
                let n = (t - SOURCE_BASE) / SOURCE_FDS;
                self.on_source_ready(n / SLOTS, n % SLOTS, now);
            }
            Token(t) if t >= JOB_BASE => {
                let (done, next) = self.jobs.on_exit(t - JOB_BASE, now);
                if let Some(fd) = next {
                    let _ = self.poll.registry().register(
                        &mut SourceFd(&fd),
                        token,
                        Interest::READABLE,
                    );
                }
                if let Some(done) = done {
                    self.on_job_done(done);
                }
            }
            _ => {}
        }
    }

    /// Everything time-driven: samples, probes, job timeouts, the MM's
    /// timers, the actions it asked for, and the next wakeup.
    fn advance(&mut self) {
        let now = clock::now();
        if now >= self.next_sample {
            self.sample_all(now);
            let period = Nanos::from_ms(self.cfg.globals.sample_ms);
            self.next_sample = self.next_sample.saturating_add(period).max(now);
        }
        self.expire_sources(now);
        self.watch_sources();
        for done in self.jobs.expire(now) {
            self.on_job_done(done);
        }
        self.control.expire(now, self.poll.registry());
        let ms = self.ms(now);
        if self.mm.poll_timeout().is_some_and(|t| t <= ms) {
            self.mm.handle_timeout(ms);
        }
        self.execute_actions();
        self.follow_primary();
        self.follow_backups();
        // After the actions: a switch is reported in the same step.
        self.advise_tick();
        let mut next = [
            Some(self.next_sample),
            self.jobs.deadline(),
            self.control.deadline(),
        ]
        .into_iter()
        .flatten()
        .chain(
            self.ifaces
                .iter()
                .flat_map(|rt| (0..SLOTS).filter_map(|slot| rt.source(slot).deadline())),
        )
        .min();
        let advice = advice::deadline(self.server.as_ref());
        for t in self.mm.poll_timeout().into_iter().chain(advice) {
            let at = self.start.saturating_add(Nanos::from_ms(t));
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        if let Err(e) = self.timer.arm_at(next) {
            tracing::error!("timer: {e}");
        }
    }

    fn feed(&mut self, i: usize) {
        let now = self.ms(clock::now());
        let sample = self.ifaces[i].observed.sample();
        self.mm.handle(
            now,
            Input::Sample {
                iface: IfaceId(i as u8),
                sample,
            },
        );
    }

    fn sample_all(&mut self, now: Nanos) {
        self.follow_vsd();
        self.read_anchor_paths();
        let ms = self.ms(now);
        let report = self.followers.any(|&samples| samples);
        for i in 0..self.ifaces.len() {
            self.ifaces[i].sample(now, ms);
            self.feed(i);
            tracing::debug!(
                "{}: sample {:?}",
                self.ifaces[i].name,
                self.ifaces[i].observed.sample()
            );
            if report {
                // Periodic reports for the subscribers that asked (not logged).
                let event = Event {
                    t_s: self.since_start_s(now),
                    kind: EventKind::Sample,
                    iface: Some(self.ifaces[i].name.clone()),
                    detail: String::new(),
                    sample: Some(self.ifaces[i].observed.sample()),
                };
                self.followers.publish(&event, |&samples| samples);
            }
        }
        self.record_recent(now);
        self.follow_duplication();
    }

    /// This sample period's averages and primary, into the chart's ring.
    fn record_recent(&mut self, now: Nanos) {
        let point = ChartPoint {
            t_s: self.since_start_s(now),
            primary: self.mm.primary().map(|p| p.index()),
            average: (0..self.ifaces.len())
                .map(|i| self.mm.view(IfaceId(i as u8)).and_then(|v| v.average))
                .collect(),
        };
        let names: Vec<&str> = self.ifaces.iter().map(|rt| rt.name.as_str()).collect();
        self.recent.push(&names, point);
    }

    /// Vsd mode: probes go through the VSD, so only the active member's
    /// prober runs (the others keep their last measurement, see
    /// `Prober::paused_stats`).
    fn follow_primary(&mut self) {
        let Mover::Vsd(vsd) = &self.mover else {
            return;
        };
        // Anchored, the VSD's keepalives measure every path: no probes.
        let anchored = vsd.anchored;
        let primary = self.mm.primary().map(|p| p.index());
        let now = clock::now();
        for (i, rt) in self.ifaces.iter_mut().enumerate() {
            rt.prober.set_paused(anchored || Some(i) != primary, now);
        }
    }

    /// Vsd mode: follows the VSD's events (subscribing again after it
    /// restarted) and, on subscribing, takes over its active member.
    fn follow_vsd(&mut self) {
        let Mover::Vsd(vsd) = &self.mover else {
            return;
        };
        let socket = vsd.socket().to_path_buf();
        match self
            .vsd_events
            .subscribe(&socket, self.poll.registry(), VSD_EVENTS)
        {
            Ok(true) => {
                // A new VSD (or the first) knows no order yet.
                self.backups_told = None;
                self.sync_vsd();
            }
            Ok(false) => {}
            Err(e) => {
                if !self.vsd_events.silent {
                    tracing::warn!("vsd {}: {}: {e}", vsd.name, socket.display());
                    self.vsd_events.silent = true;
                }
            }
        }
    }

    /// Vsd mode: the VSD may have moved by itself (its active member lost
    /// carrier) or have been carrying traffic before mimmd started. Its
    /// active member becomes the primary without a switch.
    fn sync_vsd(&mut self) {
        let Mover::Vsd(vsd) = &self.mover else {
            return;
        };
        let active = match vsd.active() {
            Ok(a) => {
                if self.vsd_events.silent {
                    tracing::info!("vsd {} answers again", vsd.name);
                    self.vsd_events.silent = false;
                }
                a
            }
            Err(e) => {
                if !self.vsd_events.silent {
                    tracing::warn!("vsd {}: {e}", vsd.name);
                    self.vsd_events.silent = true;
                }
                return;
            }
        };
        if let Some(device) = active {
            self.take_over(
                &device,
                "the VSD's active member, taken over without a switch",
            );
        }
    }

    /// Makes the interface on `device` the primary without a switch: traffic
    /// already flows through it (the VSD's active member; the route a killed
    /// run left in mimmd's table).
    fn take_over(&mut self, device: &str, reason: &str) {
        let Some(i) = self.ifaces.iter().position(|rt| rt.device == device) else {
            return;
        };
        let primary = self.mm.primary().map(|p| p.index());
        if primary == Some(i) {
            return;
        }
        let from = primary.map_or("-".to_string(), |p| self.ifaces[p].name.clone());
        let now = self.ms(clock::now());
        self.mm.assume_primary(IfaceId(i as u8), now);
        let reason = reason.to_string();
        self.last_handoff = Some(Handoff {
            at: clock::now(),
            from: primary.map(|p| self.ifaces[p].name.clone()),
            to: self.ifaces[i].name.clone(),
            reason: reason.clone(),
        });
        let detail = format!("{from} -> {}: {reason}", self.ifaces[i].name);
        self.event(EventKind::Switch, Some(i), detail);
        self.follow_primary();
    }

    /// A source's descriptor is readable (an answer, a tool that exited).
    fn on_source_ready(&mut self, i: usize, slot: usize, now: Nanos) {
        let Some(rt) = self.ifaces.get_mut(i) else {
            return;
        };
        let update = rt.source_mut(slot).on_readable(now);
        if let Some(reachable) = rt.take(slot, update) {
            self.on_path(i, reachable);
        }
    }

    /// Overdue answers given up, due probes sent, lost ones counted.
    fn expire_sources(&mut self, now: Nanos) {
        for i in 0..self.ifaces.len() {
            for slot in 0..SLOTS {
                let rt = &mut self.ifaces[i];
                let update = rt.source_mut(slot).expire(now);
                if let Some(reachable) = rt.take(slot, update) {
                    self.on_path(i, reachable);
                }
            }
        }
    }

    /// Watches the descriptors sources opened (a tool run, a reopened
    /// port, probe sockets for a device that appeared).
    fn watch_sources(&mut self) {
        for (i, rt) in self.ifaces.iter_mut().enumerate() {
            for slot in 0..SLOTS {
                for (k, fd) in rt.source_mut(slot).take_new_fds().into_iter().enumerate() {
                    let token = source_token(i, slot, k);
                    let _ = self.poll.registry().register(
                        &mut SourceFd(&fd),
                        token,
                        Interest::READABLE,
                    );
                }
            }
        }
    }

    fn on_link(&mut self, event: LinkEvent, live: bool) {
        let (name, link) = match event {
            LinkEvent::Changed(l) => (l.name.clone(), Some(l)),
            LinkEvent::Removed { name, .. } => (name, None),
        };
        let Some(i) = self.ifaces.iter().position(|rt| rt.device == name) else {
            return;
        };
        let before = self.ifaces[i].observed.attached();
        if link.is_none() {
            self.ifaces[i].prober.close();
        }
        self.ifaces[i].observed.link = link;
        let after = self.ifaces[i].observed.attached();
        if live && before != after {
            let detail = if after { "carrier up" } else { "carrier lost" };
            self.event(EventKind::Link, Some(i), detail.into());
            // The MM acts on carrier in the same step, not at the next sample.
            self.feed(i);
        }
    }

    fn on_path(&mut self, i: usize, reachable: bool) {
        let detail = if reachable {
            "probes answered again"
        } else {
            "probes lost: path down"
        };
        self.event(EventKind::Path, Some(i), detail.into());
        self.feed(i);
    }

    /// Seconds since mimmd started, to the ms: the clock of events and of
    /// the chart's ring.
    fn since_start_s(&self, now: Nanos) -> f64 {
        let s = now.saturating_sub(self.start).0 as f64 / 1e9;
        (s * 1000.0).round() / 1000.0
    }

    fn event(&mut self, kind: EventKind, iface: Option<usize>, detail: String) {
        let t_s = self.since_start_s(clock::now());
        let name = iface
            .and_then(|i| self.ifaces.get(i))
            .map(|rt| rt.name.clone());
        tracing::info!(
            kind = kind.name(),
            iface = name.as_deref().unwrap_or("-"),
            "{detail}"
        );
        let event = Event {
            t_s,
            kind,
            iface: name,
            detail,
            sample: None,
        };
        self.followers.record(event);
    }

    /// Tells the MM the preferred interface: `mimmctl prefer`'s if it was
    /// used (and still names an interface), else the file's.
    fn apply_preference(&mut self, now: Millis) {
        let name = match &self.runtime_prefer {
            Some(choice) => choice.clone(),
            None => self
                .cfg
                .ifaces
                .iter()
                .find(|d| d.preferred)
                .map(|d| d.name.clone()),
        };
        let iface = name.and_then(|n| self.cfg.mm.iface_id(&n));
        self.mm.handle(now, Input::Prefer { iface });
    }

    /// Re-reads the configuration; a bad one leaves the running one alone.
    fn reload(&mut self) -> Result<(), String> {
        let cfg = config::load(&self.cfg.file)?;
        let now = self.ms(clock::now());
        let mut mm = MobilityManager::new(cfg.mm.clone()).map_err(|e| e.to_string())?;
        let mut ifaces = state::build(&cfg, now)?;
        // Keep what was observed and where traffic is.
        for rt in &mut ifaces {
            if let Some(old) = self.ifaces.iter().find(|o| o.device == rt.device) {
                rt.observed.link = old.observed.link.clone();
                rt.observed.netifd_up = old.observed.netifd_up;
            }
        }
        let primary = self
            .mm
            .primary()
            .map(|p| self.ifaces[p.index()].name.clone());
        if let Some(p) = primary.and_then(|name| cfg.mm.iface_id(&name)) {
            mm.assume_primary(p, now);
        }
        // The server's link stays (clock offset, replay state) unless its
        // settings changed.
        let keep_server = match &self.server {
            Some(link) => link.same_settings(&cfg),
            None => cfg.server.as_ref().is_none_or(|s| !s.enabled),
        };
        let server = if keep_server {
            None
        } else {
            Some(advice::ServerLink::open(
                &cfg,
                self.poll.registry(),
                SERVER,
            )?)
        };
        // Everything that can fail is done; only now is the old state let go.
        let mover = Mover::new(&cfg).map_err(|e| e.to_string())?;
        for rt in &mut self.ifaces {
            rt.prober.close();
        }
        self.mover.teardown();
        self.mover = mover;
        self.duplicating = None;
        if let Some(server) = server {
            if let Some(mut old) = std::mem::replace(&mut self.server, server) {
                old.deregister(self.poll.registry());
            }
        }
        self.cfg = cfg;
        self.mm = mm;
        self.ifaces = ifaces;
        self.jobs = Jobs::new(Nanos::from_ms(self.cfg.globals.hook_timeout_ms));
        self.apply_preference(now);
        self.apply_avoidance(now);
        if let Some(log) = &self.log {
            log.set(&self.cfg.globals.log_level);
        }
        if let Some(p) = self.mm.primary() {
            self.apply_route(p.index());
        }
        self.watch_sources();
        let file = self.cfg.file.display().to_string();
        self.event(
            EventKind::Reload,
            None,
            format!("configuration {file} loaded"),
        );
        Ok(())
    }
}

/// `mimmd run`: load, build, run until SIGTERM.
pub fn run(config_path: &Path, log: LogLevel) -> Result<(), String> {
    let cfg = config::load(config_path)?;
    log.set(&cfg.globals.log_level);
    let mut daemon = Daemon::new(cfg)?;
    daemon.log = Some(log);
    daemon.run().map_err(|e| e.to_string())
}
