//! Small I/O primitives shared by the daemons and the testbed: monotonic time
//! and a timerfd for precise wakeups, TUN/TAP devices, draining UDP sockets,
//! and signals read from a descriptor.

pub mod clock;
pub mod signals;
pub mod tuntap;
pub mod udp;
