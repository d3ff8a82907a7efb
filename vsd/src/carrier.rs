//! A member's carrier as the device has it this instant.
//!
//! The kernel announces a carrier loss over rtnetlink through its link
//! watch, which batches non-urgent events to one round per second (only
//! bonding/team ports are urgent): the announcement can trail the loss by
//! up to a second. `/sys/class/net/DEV/carrier` reads the device's state
//! directly, so the loop also checks the active member there while traffic
//! flows: one pread on a descriptor kept open.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};

pub struct CarrierFile {
    fd: OwnedFd,
}

impl CarrierFile {
    pub fn open(device: &str) -> io::Result<CarrierFile> {
        let path = format!("/sys/class/net/{device}/carrier");
        let fd = rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io::Error::other(format!("{path}: {e}")))?;
        Ok(CarrierFile { fd })
    }

    /// True with carrier; false without, or when the device is down (the
    /// kernel then refuses the read).
    pub fn read(&self) -> bool {
        let mut buf = [0u8; 4];
        matches!(rustix::io::pread(&self.fd, &mut buf, 0), Ok(n) if n > 0 && buf[0] == b'1')
    }
}
