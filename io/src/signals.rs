//! Ctrl-C, SIGTERM and SIGHUP as values: the signals are blocked and read from a
//! signalfd, so no handler runs at an awkward moment, every exit path goes
//! through the same teardown, and waiting for them costs no wakeups.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

pub struct Signals {
    fd: SignalFd,
}

/// Why [`Signals::wait`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    Signal(i32),
    /// The other descriptor became readable.
    Ready,
    Timeout,
}

impl Signals {
    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread and the threads it
    /// starts later (call it before starting any), and opens a signalfd.
    pub fn block() -> Result<Signals, String> {
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        set.thread_block()
            .map_err(|e| format!("block signals: {e}"))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;
        Ok(Signals { fd })
    }

    /// The signalfd, for a poll loop; call [`Signals::take`] when readable.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The next pending signal, if any.
    pub fn take(&self) -> Option<i32> {
        match self.fd.read_signal() {
            Ok(Some(info)) => Some(info.ssi_signo as i32),
            _ => None,
        }
    }

    /// Sleeps until a signal arrives, `also` becomes readable, or `timeout`.
    pub fn wait(&self, timeout: Option<Duration>, also: Option<BorrowedFd<'_>>) -> Wake {
        // libc's own timespec, as in crate::clock (rustix's does not match
        // the C library on big-endian MIPS).
        let timeout = timeout.map(|t| {
            // SAFETY: timespec is plain old data; all-zero is a valid value.
            let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
            ts.tv_sec = t.as_secs().min(i32::MAX as u64) as _;
            ts.tv_nsec = t.subsec_nanos() as _;
            ts
        });
        loop {
            let mut fds = vec![libc::pollfd {
                fd: self.fd.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            if let Some(fd) = also.as_ref() {
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let timeout_ptr = timeout
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: ppoll reads and writes `fds` (their true count) and
            // reads the timeout; both outlive the call.
            let n = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    timeout_ptr,
                    std::ptr::null(),
                )
            };
            match n {
                0 => return Wake::Timeout,
                n if n > 0 => {}
                _ if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => continue,
                _ => return Wake::Timeout,
            }
            let other_ready = fds.get(1).is_some_and(|f| f.revents != 0);
            if let Ok(Some(info)) = self.fd.read_signal() {
                return Wake::Signal(info.ssi_signo as i32);
            }
            if other_ready {
                return Wake::Ready;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timeout is honoured (it was not on big-endian MIPS through
    /// rustix's `Timespec`: the wait returned at once).
    #[test]
    fn wait_times_out_after_the_timeout() {
        let signals = Signals::block().unwrap();
        let start = std::time::Instant::now();
        assert_eq!(
            signals.wait(Some(Duration::from_millis(60)), None),
            Wake::Timeout
        );
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(60), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}
