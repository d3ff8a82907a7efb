//! Monotonic time in nanoseconds and a timerfd that wakes a mio loop precisely.
//!
//! epoll's own timeout has millisecond granularity, too coarse for the emulator's
//! ±1 ms delay budget, so every loop here sleeps on a timerfd armed at an absolute
//! CLOCK_MONOTONIC deadline instead.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::time::{
    ClockId, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec,
};
use serde::{Deserialize, Serialize};

/// A CLOCK_MONOTONIC instant (or a span) in nanoseconds.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Nanos(pub u64);

impl Nanos {
    pub const ZERO: Nanos = Nanos(0);
    pub const MAX: Nanos = Nanos(u64::MAX);

    pub fn from_ms(ms: u64) -> Nanos {
        Nanos(ms.saturating_mul(1_000_000))
    }

    pub fn from_ms_f64(ms: f64) -> Nanos {
        Nanos((ms.max(0.0) * 1e6) as u64)
    }

    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    pub fn saturating_add(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(other.0))
    }
}

impl From<Duration> for Nanos {
    fn from(d: Duration) -> Nanos {
        Nanos(d.as_nanos().min(u64::MAX as u128) as u64)
    }
}

/// The current CLOCK_MONOTONIC time, the same clock `std::time::Instant` uses.
pub fn now() -> Nanos {
    let ts = rustix::time::clock_gettime(ClockId::Monotonic);
    Nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn timespec(n: Nanos) -> Timespec {
    Timespec {
        tv_sec: (n.0 / 1_000_000_000) as _,
        tv_nsec: (n.0 % 1_000_000_000) as _,
    }
}

/// A non-blocking CLOCK_MONOTONIC timerfd, registered in a mio poll by raw fd.
pub struct Timer {
    fd: OwnedFd,
    armed_at: Option<Nanos>,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        let fd = rustix::time::timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        Ok(Timer { fd, armed_at: None })
    }

    /// Arms the timer for an absolute deadline, or disarms it with `None`.
    /// Re-arming for the same deadline is skipped: it is the common case.
    pub fn arm_at(&mut self, deadline: Option<Nanos>) -> io::Result<()> {
        if deadline == self.armed_at {
            return Ok(());
        }
        // A zero it_value disarms, so a deadline at time 0 becomes 1 ns.
        let value = deadline.map_or(Nanos::ZERO, |d| Nanos(d.0.max(1)));
        let spec = Itimerspec {
            it_interval: timespec(Nanos::ZERO),
            it_value: timespec(value),
        };
        rustix::time::timerfd_settime(&self.fd, TimerfdTimerFlags::ABSTIME, &spec)?;
        self.armed_at = deadline;
        Ok(())
    }

    /// Fires every `interval`, first at `first` (absolute).
    pub fn periodic(&mut self, first: Nanos, interval: Nanos) -> io::Result<()> {
        let spec = Itimerspec {
            it_interval: timespec(interval),
            it_value: timespec(Nanos(first.0.max(1))),
        };
        rustix::time::timerfd_settime(&self.fd, TimerfdTimerFlags::ABSTIME, &spec)?;
        self.armed_at = None;
        Ok(())
    }

    /// Consumes the expirations counted so far (0 if none).
    pub fn expirations(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        match rustix::io::read(&self.fd, &mut buf) {
            Ok(8) => {
                // A one-shot timer that fired is no longer armed.
                self.armed_at = None;
                u64::from_ne_bytes(buf)
            }
            _ => 0,
        }
    }
}

impl AsFd for Timer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
