//! TUN (layer 3, like ppp0 or a raw-IP wwan0) and TAP (Ethernet) devices, opened
//! non-blocking without packet-info headers.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use rustix::fs::{Mode, OFlags};

// From <linux/if_tun.h>; the same on every Linux architecture we build for.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETCARRIER: libc::c_ulong = 0x4004_54e2;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKind {
    Tun,
    Tap,
}

/// An open TUN/TAP device; the device disappears when this is dropped.
pub struct TunTap {
    fd: OwnedFd,
    name: String,
    kind: DevKind,
}

impl TunTap {
    /// Creates `name` in the calling thread's network namespace.
    pub fn open(name: &str, kind: DevKind) -> io::Result<TunTap> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("device name {name:?} must be 1 to 15 bytes"),
            ));
        }
        let fd = rustix::fs::open(
            "/dev/net/tun",
            OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io::Error::other(format!("/dev/net/tun: {e}")))?;
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = IFF_NO_PI
            | match kind {
                DevKind::Tun => IFF_TUN,
                DevKind::Tap => IFF_TAP,
            };
        // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("create {name}: {e}")));
        }
        Ok(TunTap {
            fd,
            name: name.to_string(),
            kind,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> DevKind {
        self.kind
    }

    /// Raises or drops the device's carrier (what the router sees as NO-CARRIER).
    pub fn set_carrier(&self, on: bool) -> io::Result<()> {
        let value: libc::c_int = on.into();
        // SAFETY: TUNSETCARRIER reads one int, which outlives the call.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), TUNSETCARRIER as _, &value) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("{}: carrier: {e}", self.name),
            ));
        }
        Ok(())
    }

    /// One packet (TUN) or frame (TAP) into `buf`; `WouldBlock` when none waits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(&self.fd, buf)?)
    }

    /// Hands one packet or frame to the kernel.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(&self.fd, buf)?)
    }
}

impl AsFd for TunTap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for TunTap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
