//! Monotonic time in nanoseconds and a timerfd that wakes a mio loop precisely.
//!
//! epoll's own timeout has millisecond granularity, too coarse for the emulator's
//! ±1 ms delay budget, so every loop here sleeps on a timerfd armed at an absolute
//! CLOCK_MONOTONIC deadline instead.
//!
//! The clock and the timer go through the libc crate's own `timespec`, not
//! rustix's: on 32-bit big-endian MIPS with musl, rustix's `Timespec` (64-bit
//! seconds) does not match the C library functions it calls (32-bit
//! `time_t`), and every reading came out garbled. libc's types and symbols
//! always agree with each other (32-bit seconds are 68 years of uptime).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::time::{TimerfdClockId, TimerfdFlags};
use serde::{Deserialize, Serialize};

/// Milliseconds on a sans-IO core's clock (the Mobility Manager, the VSD's
/// switch, the server, mimmd's advisor): counted from its daemon's start,
/// see [`Nanos::millis_since`]. One type, re-exported by each core.
pub type Millis = u64;

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

    /// Whole milliseconds from `start` to this instant (0 before it): a
    /// core's clock when `start` is its daemon's.
    pub fn millis_since(self, start: Nanos) -> Millis {
        self.saturating_sub(start).0 / 1_000_000
    }
}

impl From<Duration> for Nanos {
    fn from(d: Duration) -> Nanos {
        Nanos(d.as_nanos().min(u64::MAX as u128) as u64)
    }
}

/// The current CLOCK_MONOTONIC time, the same clock `std::time::Instant` uses.
pub fn now() -> Nanos {
    // SAFETY: timespec is plain old data; all-zero is a valid value.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: clock_gettime writes one timespec, which outlives the call;
    // CLOCK_MONOTONIC always exists, so it cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Nanos(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

fn timespec(n: Nanos) -> libc::timespec {
    // SAFETY: as in `now`.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    ts.tv_sec = (n.0 / 1_000_000_000) as _;
    ts.tv_nsec = (n.0 % 1_000_000_000) as _;
    ts
}

/// timerfd_settime(2) with an absolute CLOCK_MONOTONIC `value`.
fn settime(fd: &OwnedFd, interval: Nanos, value: Nanos) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: timespec(interval),
        it_value: timespec(value),
    };
    // SAFETY: timerfd_settime reads `spec`, which outlives the call; the
    // old value is not asked for.
    let rc = unsafe {
        libc::timerfd_settime(
            fd.as_raw_fd(),
            libc::TFD_TIMER_ABSTIME,
            &spec,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
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
        settime(&self.fd, Nanos::ZERO, value)?;
        self.armed_at = deadline;
        Ok(())
    }

    /// Fires every `interval`, first at `first` (absolute).
    pub fn periodic(&mut self, first: Nanos, interval: Nanos) -> io::Result<()> {
        settime(&self.fd, interval, Nanos(first.0.max(1)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `now` reads the clock `Instant` reads, in nanoseconds (it did not on
    /// big-endian MIPS through rustix; see the module's documentation).
    #[test]
    fn now_follows_the_monotonic_clock() {
        let (a, since) = (now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let (elapsed, b) = (since.elapsed(), now());
        let d = b.saturating_sub(a);
        assert!(d >= Nanos::from_ms(30), "{a:?} -> {b:?}");
        assert!(
            d <= Nanos::from(elapsed).saturating_add(Nanos::from_ms(50)),
            "{a:?} -> {b:?}, std says {elapsed:?}"
        );
    }

    #[test]
    fn a_timer_fires_at_its_deadline_and_not_before() {
        let mut timer = Timer::new().unwrap();
        let start = now();
        timer
            .arm_at(Some(start.saturating_add(Nanos::from_ms(40))))
            .unwrap();
        loop {
            let fired = timer.expirations();
            let t = now().saturating_sub(start);
            if fired > 0 {
                assert_eq!(fired, 1);
                assert!(t >= Nanos::from_ms(40), "fired after {t:?}");
                break;
            }
            assert!(t < Nanos::from_ms(5_000), "not fired after {t:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}
