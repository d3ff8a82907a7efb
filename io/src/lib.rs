//! Small I/O primitives shared by the daemons and the testbed: monotonic time
//! and a timerfd for precise wakeups, TUN/TAP devices, draining UDP sockets,
//! signals read from a descriptor, and the control-socket server (requests and
//! event followers) every daemon uses.

pub mod client;
pub mod clock;
pub mod control;
pub mod event_loop;
pub mod followers;
pub mod fs;
pub mod line;
pub mod log;
pub mod signals;
pub mod tuntap;
pub mod udp;
