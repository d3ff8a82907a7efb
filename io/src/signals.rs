//! Ctrl-C, SIGTERM and SIGHUP as values: the signals are blocked and read from a
//! signalfd, so no handler runs at an awkward moment, every exit path goes
//! through the same teardown, and waiting for them costs no wakeups.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::event::{PollFd, PollFlags};

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
        let timeout = timeout.map(|t| rustix::time::Timespec {
            tv_sec: t.as_secs() as _,
            tv_nsec: t.subsec_nanos() as _,
        });
        loop {
            let mut fds = vec![PollFd::new(&self.fd, PollFlags::IN)];
            if let Some(fd) = also.as_ref() {
                fds.push(PollFd::from_borrowed_fd(fd.as_fd(), PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Ok(0) => return Wake::Timeout,
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return Wake::Timeout,
            }
            let other_ready = fds.get(1).is_some_and(|f| !f.revents().is_empty());
            if let Ok(Some(info)) = self.fd.read_signal() {
                return Wake::Signal(info.ssi_signo as i32);
            }
            if other_ready {
                return Wake::Ready;
            }
        }
    }
}
