//! Small I/O primitives shared by the daemons and the testbed: monotonic time
//! and a timerfd for precise wakeups, TUN/TAP devices, draining UDP sockets,
//! signals read from a descriptor, and request lines from control sockets.

pub mod client;
pub mod clock;
pub mod conns;
pub mod event_loop;
pub mod line;
pub mod log;
pub mod signals;
pub mod tuntap;
pub mod udp;
