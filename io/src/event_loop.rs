//! What every daemon's loop starts with: SIGINT, SIGTERM and SIGHUP blocked
//! and read from a signalfd, a `mio` Poll, and a timerfd for the next thing
//! due, the last two registered under the caller's tokens.

use std::os::fd::AsRawFd;

use mio::unix::SourceFd;
use mio::{Interest, Poll, Token};

use crate::clock::Timer;
use crate::signals::Signals;

pub struct LoopBase {
    pub poll: Poll,
    pub timer: Timer,
    pub signals: Signals,
}

impl LoopBase {
    /// Call it before any thread or child exists: the signals are blocked
    /// in this thread and every one it starts later.
    pub fn new(timer_token: Token, signals_token: Token) -> Result<LoopBase, String> {
        let signals = Signals::block()?;
        let poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
        let timer = Timer::new().map_err(|e| format!("timerfd: {e}"))?;
        let registry = poll.registry();
        registry
            .register(
                &mut SourceFd(&timer.as_raw_fd()),
                timer_token,
                Interest::READABLE,
            )
            .and_then(|()| {
                registry.register(
                    &mut SourceFd(&signals.fd().as_raw_fd()),
                    signals_token,
                    Interest::READABLE,
                )
            })
            .map_err(|e| format!("poll: {e}"))?;
        Ok(LoopBase {
            poll,
            timer,
            signals,
        })
    }
}
