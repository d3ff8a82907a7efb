//! The server's I/O: one UDP socket, a timer for retransmissions and
//! expiries, signals, in one mio loop around [`crate::core::Server`].

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mimm_io::clock::{self, Nanos, Timer};
use mimm_io::signals::Signals;
use mio::net::UdpSocket;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::config::Config;
use crate::core::{Now, Server};

const UDP: Token = Token(0);
const TIMER: Token = Token(1);
const SIGNALS: Token = Token(2);

pub struct Loop {
    poll: Poll,
    socket: UdpSocket,
    timer: Timer,
    signals: Signals,
    server: Server,
    start: Nanos,
}

fn wall_id() -> u64 {
    mimm_proto::replay::identification(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO),
    )
}

impl Loop {
    pub fn new(cfg: Config) -> Result<Loop, String> {
        let io = |what: &str, e: io::Error| format!("{what}: {e}");
        let signals = Signals::block()?;
        let poll = Poll::new().map_err(|e| io("poll", e))?;
        let mut socket =
            UdpSocket::bind(cfg.listen).map_err(|e| io(&format!("UDP {}", cfg.listen), e))?;
        let timer = Timer::new().map_err(|e| io("timerfd", e))?;
        let registry = poll.registry();
        registry
            .register(&mut socket, UDP, Interest::READABLE)
            .and_then(|()| {
                registry.register(&mut SourceFd(&timer.as_raw_fd()), TIMER, Interest::READABLE)
            })
            .and_then(|()| {
                registry.register(
                    &mut SourceFd(&signals.fd().as_raw_fd()),
                    SIGNALS,
                    Interest::READABLE,
                )
            })
            .map_err(|e| io("poll", e))?;
        Ok(Loop {
            poll,
            socket,
            timer,
            signals,
            server: Server::new(cfg.server),
            start: clock::now(),
        })
    }

    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.socket.local_addr()
    }

    fn now(&self) -> Now {
        Now {
            mono: clock::now().saturating_sub(self.start).0 / 1_000_000,
            id: wall_id(),
        }
    }

    /// Until SIGTERM or SIGINT.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; 2048];
        loop {
            self.flush();
            let at = self
                .server
                .poll_timeout()
                .map(|ms| self.start.saturating_add(Nanos::from_ms(ms)));
            self.timer.arm_at(at)?;
            match self.poll.poll(&mut events, None) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other?,
            }
            for event in &events {
                match event.token() {
                    UDP => loop {
                        match self.socket.recv_from(&mut buf) {
                            Ok((n, from)) => {
                                let now = self.now();
                                self.server.handle_datagram(now, from, &buf[..n]);
                                self.flush();
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                tracing::warn!("receive: {e}");
                                break;
                            }
                        }
                    },
                    TIMER => {
                        self.timer.expirations();
                        let now = self.now();
                        self.server.handle_timeout(now);
                    }
                    SIGNALS => {
                        if let Some(signal) = self.signals.take() {
                            tracing::info!("signal {signal}: stopping");
                            return Ok(());
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn flush(&mut self) {
        while let Some((to, datagram)) = self.server.poll_transmit() {
            if let Err(e) = self.socket.send_to(&datagram, to) {
                tracing::warn!("send to {to}: {e}");
            }
        }
    }
}
