//! The emulator's event loop: every link's devices, the timerfd, the inet
//! services and the control socket in one single-threaded mio poll. It sleeps
//! until a device is readable, a request arrives, or the next packet is due.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mimm_io::control::{ControlServer, Limits, Request as Incoming};
use mimm_trace::Trace;
use mio::net::UnixListener;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::clock::{self, Nanos, Timer};
use crate::control::{LinkStatus, MAX_REQUEST, Reply, Request, Response, Status};
use crate::emu::change::apply_change;
use crate::emu::link::{Dir, End, Link, LinkType};
use crate::emu::player::{self, Player, ReplayStatus};
use crate::emu::ring::SLOT;
use crate::emu::services::Services;

const TIMER: Token = Token(0);
const WAKER: Token = Token(1);
const LISTENER: Token = Token(2);
const ECHO: Token = Token(3);
const DISCARD: Token = Token(4);
const CONN_BASE: usize = 100;
/// The testbed's control socket: a request may carry a whole trace, so it
/// may be large and take its time.
const LIMITS: Limits = Limits {
    slots: 64,
    max_request: MAX_REQUEST,
    idle: std::time::Duration::from_secs(10),
    write_timeout: std::time::Duration::from_secs(2),
};
const LINK_BASE: usize = 1000;

fn link_token(index: usize, end: End) -> Token {
    Token(LINK_BASE + 2 * index + usize::from(end == End::Far))
}

/// Stops a running engine from another thread.
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stopper {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// An engine running on its own thread.
pub struct Running {
    handle: std::thread::JoinHandle<io::Result<()>>,
    stopper: Stopper,
    /// Becomes readable (end of file) when the loop has ended.
    stopped: std::os::fd::OwnedFd,
}

impl Running {
    /// Readable once the loop ended (a `shutdown` request, or a failure), so
    /// a supervisor can sleep on it.
    pub fn stopped_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.stopped.as_fd()
    }

    /// Stops the loop and waits for it, returning its error if it failed.
    pub fn stop(self) -> io::Result<()> {
        self.stopper.stop();
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the emulator thread panicked")))
    }
}

pub struct Engine {
    id: String,
    poll: Poll,
    links: Vec<Link>,
    timer: Timer,
    control: ControlServer,
    services: Option<Services>,
    player: Option<Player>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    scratch: Box<[u8; SLOT]>,
    /// Receive buffer for the inet services' datagrams.
    datagram: Vec<u8>,
}

impl Engine {
    /// Takes ownership of the links' devices and binds the control socket.
    pub fn new(
        id: &str,
        links: Vec<Link>,
        services: Option<Services>,
        control: &Path,
    ) -> io::Result<Engine> {
        let poll = Poll::new()?;
        let registry = poll.registry();
        for (index, link) in links.iter().enumerate() {
            for end in [End::Near, End::Far] {
                let fd = link.device(end).as_raw_fd();
                registry.register(
                    &mut SourceFd(&fd),
                    link_token(index, end),
                    Interest::READABLE,
                )?;
            }
        }
        let timer = Timer::new()?;
        registry.register(&mut SourceFd(&timer.as_raw_fd()), TIMER, Interest::READABLE)?;
        let _ = std::fs::remove_file(control);
        let listener = UnixListener::bind(control)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", control.display())))?;
        let control = ControlServer::new(listener, registry, LISTENER, CONN_BASE, LIMITS)?;
        let mut services = services;
        if let Some(s) = services.as_mut() {
            registry.register(&mut s.echo, ECHO, Interest::READABLE)?;
            registry.register(&mut s.discard, DISCARD, Interest::READABLE)?;
        }
        let waker = Arc::new(Waker::new(registry, WAKER)?);
        Ok(Engine {
            id: id.to_string(),
            poll,
            links,
            timer,
            control,
            services,
            player: None,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            scratch: Box::new([0u8; SLOT]),
            datagram: vec![0u8; 65536],
        })
    }

    pub fn stopper(&self) -> Stopper {
        Stopper {
            flag: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Runs the loop on its own thread.
    pub fn spawn(self, name: &str) -> io::Result<Running> {
        let stopper = self.stopper();
        let (stopped, running) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let result = self.run();
                drop(running);
                result
            })?;
        Ok(Running {
            handle,
            stopper,
            stopped,
        })
    }

    /// Runs until stopped or asked to shut down.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        while !self.stop.load(Ordering::SeqCst) {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = clock::now();
            let mut requests = Vec::new();
            for event in events.iter() {
                let token = event.token();
                if self.control.owns(token) {
                    requests.extend(self.control.ready(token, self.poll.registry(), now));
                } else {
                    self.dispatch(token, now);
                }
            }
            let now = clock::now();
            self.control.expire(now, self.poll.registry());
            self.advance(now)?;
            // Requests after `advance`, so a status shows every trace row due by
            // the time it reports.
            let answered = !requests.is_empty();
            for request in requests {
                self.on_request(request, now);
            }
            if answered {
                self.advance(clock::now())?;
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, token: Token, now: Nanos) {
        match token {
            TIMER => {
                self.timer.expirations();
            }
            WAKER => {}
            ECHO | DISCARD => {
                if let Some(s) = self.services.as_mut() {
                    if token == ECHO {
                        s.on_echo(&mut self.datagram);
                    } else {
                        s.on_discard(&mut self.datagram);
                    }
                }
            }
            Token(t) if t >= LINK_BASE => {
                let index = (t - LINK_BASE) / 2;
                let end = if (t - LINK_BASE) % 2 == 0 {
                    End::Near
                } else {
                    End::Far
                };
                if let Some(link) = self.links.get_mut(index) {
                    link.on_readable(end, now, &mut self.scratch);
                }
            }
            _ => {}
        }
    }

    /// Plays due trace rows, moves packets, and arms the timer for what is next.
    fn advance(&mut self, now: Nanos) -> io::Result<()> {
        if let Some(player) = self.player.as_mut() {
            while let Some((index, row)) = player.pop_due(now) {
                if let Some(link) = self.links.get_mut(index) {
                    if let Err(e) = player::apply_row(link, now, &row) {
                        eprintln!("mimm-testbed: replay on {}: {e}", link.name);
                    }
                }
            }
        }
        let mut next = [
            self.player.as_ref().and_then(Player::wake_at),
            self.control.deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        for link in &mut self.links {
            link.expire(now);
            if let Some(due) = link.pump(now) {
                next = Some(next.map_or(due, |n: Nanos| n.min(due)));
            }
        }
        self.timer.arm_at(next)
    }

    fn on_request(&mut self, incoming: Incoming, now: Nanos) {
        let Incoming { mut client, line } = incoming;
        let response = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => match self.handle(request, now) {
                Ok(reply) => Response::Ok(reply),
                Err(e) => Response::Error(e),
            },
            Err(e) => Response::Error(format!("bad request: {e}")),
        };
        client.answer(&response);
    }

    fn link_mut(&mut self, name: &str) -> Result<&mut Link, String> {
        let names: Vec<String> = self.links.iter().map(|l| l.name.clone()).collect();
        self.links
            .iter_mut()
            .find(|l| l.name == name)
            .ok_or_else(|| format!("no link named {name:?} (links: {})", names.join(", ")))
    }

    fn handle(&mut self, request: Request, now: Nanos) -> Result<Reply, String> {
        match request {
            Request::Status => Ok(Reply::Status(Box::new(self.status(now)))),
            Request::Set { link, change, dir } => {
                let link = self.link_mut(&link)?;
                apply_change(link, &change, dir, now)?;
                Ok(Reply::Done)
            }
            Request::Replay {
                name,
                csv,
                map,
                speed,
                repeat,
            } => {
                let trace =
                    Trace::parse_named(&csv, Some(Path::new(&name))).map_err(|e| e.to_string())?;
                let status = self.replay(&name, &trace, &map, speed, repeat, now)?;
                Ok(Reply::Replaying(status))
            }
            Request::StopReplay => {
                self.player = None;
                Ok(Reply::Done)
            }
            Request::Shutdown => {
                self.stop.store(true, Ordering::SeqCst);
                Ok(Reply::Done)
            }
        }
    }

    /// Starts driving the links from a trace at `now`, replacing any replay.
    pub fn replay(
        &mut self,
        name: &str,
        trace: &Trace,
        map: &[(String, String)],
        speed: f64,
        repeat: bool,
        now: Nanos,
    ) -> Result<ReplayStatus, String> {
        if !(speed > 0.0 && speed <= 1000.0) {
            return Err(format!("speed {speed} must be in (0, 1000]"));
        }
        let names: Vec<&str> = self.links.iter().map(|l| l.name.as_str()).collect();
        let typed: Vec<(&str, LinkType)> = self
            .links
            .iter()
            .map(|l| (l.name.as_str(), l.link_type))
            .collect();
        let mapping = player::resolve_map(trace, &typed, map)?;
        let player = Player::new(name, trace, &mapping, &names, speed, repeat, now);
        let status = player.status(now);
        self.player = Some(player);
        Ok(status)
    }

    fn status(&self, now: Nanos) -> Status {
        Status {
            id: self.id.clone(),
            links: self
                .links
                .iter()
                .map(|l| LinkStatus {
                    name: l.name.clone(),
                    link_type: l.link_type,
                    state: l.state(now),
                    base: l.base,
                    signal_dbm: l.signal_dbm,
                    kind: l.kind.clone(),
                    uplink: l.lane_status(Dir::Uplink),
                    downlink: l.lane_status(Dir::Downlink),
                })
                .collect(),
            replay: self.player.as_ref().map(|p| p.status(now)),
            services: self
                .services
                .as_ref()
                .map(|s| s.counters)
                .unwrap_or_default(),
        }
    }
}
