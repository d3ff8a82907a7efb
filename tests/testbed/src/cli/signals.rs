//! Ctrl-C and friends as values: the signals are blocked and collected with
//! sigtimedwait, so no handler runs at an awkward moment and every exit path
//! goes through the same teardown.

use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

pub struct Signals {
    set: SigSet,
}

impl Signals {
    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread and the threads it
    /// starts later (call it before starting any).
    pub fn block() -> Signals {
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        // Blocking these signals cannot fail for a valid set.
        let _ = set.thread_block();
        Signals { set }
    }

    /// Waits up to `timeout` for one of the signals.
    pub fn wait(&self, timeout: Duration) -> Option<i32> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as _,
            tv_nsec: timeout.subsec_nanos() as _,
        };
        // SAFETY: the set and timespec are valid for the call; no siginfo is read.
        let rc = unsafe { libc::sigtimedwait(self.set.as_ref(), std::ptr::null_mut(), &ts) };
        (rc > 0).then_some(rc)
    }
}
