//! TUN (layer 3, like ppp0 or a raw-IP wwan0) and TAP (Ethernet) devices, opened
//! non-blocking without packet-info headers.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use rustix::fs::{Mode, OFlags};

// From <linux/if_tun.h>. The ioctl numbers come from libc, which encodes
// them per architecture (MIPS puts the direction bits elsewhere than x86).
const TUNSETCARRIER: libc::Ioctl = libc::_IOW::<libc::c_int>(b'T' as u32, 226);

/// virtio_net_hdr without num_buffers: what PACKET_VNET_HDR uses too.
pub const VNET_HDR_LEN: usize = 10;

/// The offloads a vnet-header TAP accepts from the kernel: checksums and
/// TCP segmentation, so GSO super-frames cross without being cut up.
const OFFLOADS: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;
/// What a vnet-header TUN of the anchored mode takes: checksums and TCP
/// over IPv4 (what `mimm_tunnel::segment` cuts up; the tunnels carry IPv4).
pub const TUN_OFFLOADS: libc::c_uint = libc::TUN_F_CSUM | libc::TUN_F_TSO4;

/// What TUNSETIFF says (EINVAL, kept as the error's kind) when a device
/// is single-queue and the open multi-queue, or the other way round.
fn queues_differ(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::InvalidInput
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKind {
    Tun,
    Tap,
}

impl DevKind {
    /// The TUNSETIFF flag that asks for this kind.
    fn flag(self) -> libc::c_int {
        match self {
            DevKind::Tun => libc::IFF_TUN,
            DevKind::Tap => libc::IFF_TAP,
        }
    }
}

/// An ioctl's `rc` on device `name`: its errno (the kind kept, callers
/// match on it) named with what was asked.
fn ioctl_result(rc: libc::c_int, name: &str, what: &str) -> io::Result<()> {
    if rc >= 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    Err(io::Error::new(e.kind(), format!("{name}: {what}: {e}")))
}

/// An open TUN/TAP device; the device disappears when this is dropped
/// (unless made persistent).
pub struct TunTap {
    fd: OwnedFd,
    name: String,
    kind: DevKind,
    /// Every packet read and written has a virtio_net_hdr in front.
    vnet: bool,
    /// Opened as one queue of several (`IFF_MULTI_QUEUE`).
    multi_queue: bool,
}

impl TunTap {
    /// Creates `name` in the calling thread's network namespace.
    pub fn open(name: &str, kind: DevKind) -> io::Result<TunTap> {
        Self::create(name, kind, kind.flag())
    }

    /// Creates TAP `name` whose frames carry a 10-byte virtio_net_hdr in
    /// front (checksum and GSO metadata) and that accepts checksum and TSO
    /// offloads. Returns the device and whether the offloads took (a kernel
    /// may refuse them; the header is there either way). With `reattach`
    /// a persistent TAP of that name left by an earlier run is taken over
    /// (its addresses and routes kept); without, any device of that name
    /// is refused (`AlreadyExists`).
    ///
    /// The TAP is multi-queue, so that a holder ([`TunTap::hold_queue`])
    /// can keep a disabled queue of it open: its carrier then stays up
    /// while no VSD runs. A single-queue TAP an older run left is taken
    /// over as it is ([`TunTap::is_multi_queue`] says which).
    pub fn open_vnet_tap(name: &str, reattach: bool) -> io::Result<(TunTap, bool)> {
        let exclusive = if reattach { 0 } else { libc::IFF_TUN_EXCL };
        let opened = Self::open_vnet_with(
            name,
            DevKind::Tap,
            OFFLOADS,
            exclusive | libc::IFF_MULTI_QUEUE,
        );
        let (tap, offloads) = match opened {
            Err(e) if reattach && queues_differ(&e) => {
                Self::open_vnet_with(name, DevKind::Tap, OFFLOADS, 0)?
            }
            other => other?,
        };
        // A queue attached beside a held one takes the device's flags as
        // they are, not its own: a device without vnet headers would
        // shift every frame by ten bytes.
        if tap.device_flags()? & libc::IFF_VNET_HDR == 0 {
            return Err(io::Error::other(format!(
                "{name}: the device has no vnet headers (left by another program?)"
            )));
        }
        Ok((tap, offloads))
    }

    /// The device's flags (`IFF_*`) as the kernel has them.
    fn device_flags(&self) -> io::Result<libc::c_int> {
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        // SAFETY: TUNGETIFF writes one ifreq, which outlives the call.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TUNGETIFF as _, &mut req) };
        ioctl_result(rc, &self.name, "flags")?;
        // SAFETY: TUNGETIFF filled in the flags member.
        Ok(libc::c_int::from(unsafe { req.ifr_ifru.ifru_flags }))
    }

    /// Holds a queue of the multi-queue vnet TAP `name` (made by
    /// [`TunTap::open_vnet_tap`]) and disables it: it takes no frames, and
    /// while it is open the TAP keeps its carrier even with no other
    /// queue open. The caller has seen that `name` exists: like any
    /// TUNSETIFF, this would make a new one otherwise.
    pub fn hold_queue(name: &str) -> io::Result<TunTap> {
        let flags = libc::IFF_TAP | libc::IFF_VNET_HDR | libc::IFF_MULTI_QUEUE;
        let queue = Self::create(name, DevKind::Tap, flags)?;
        // SAFETY: ifreq is plain old data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        req.ifr_ifru.ifru_flags = libc::IFF_DETACH_QUEUE as libc::c_short;
        // SAFETY: TUNSETQUEUE reads one ifreq, which outlives the call.
        let rc = unsafe { libc::ioctl(queue.fd.as_raw_fd(), libc::TUNSETQUEUE as _, &req) };
        ioctl_result(rc, name, "disable the held queue")?;
        Ok(queue)
    }

    /// Opens the existing device `name` (left persistent by an earlier
    /// run), single- or multi-queue, to make it not persistent.
    pub fn attach(name: &str, kind: DevKind) -> io::Result<TunTap> {
        match Self::open(name, kind) {
            Err(e) if queues_differ(&e) => {
                Self::create(name, kind, kind.flag() | libc::IFF_MULTI_QUEUE)
            }
            other => other,
        }
    }

    /// Whether this is one queue of a multi-queue device.
    pub fn is_multi_queue(&self) -> bool {
        self.multi_queue
    }

    /// Creates `name` with a virtio_net_hdr in front of every packet or
    /// frame, asking for `offloads` (`TUN_F_*`); whether they took.
    pub fn open_vnet(
        name: &str,
        kind: DevKind,
        offloads: libc::c_uint,
    ) -> io::Result<(TunTap, bool)> {
        Self::open_vnet_with(name, kind, offloads, 0)
    }

    fn open_vnet_with(
        name: &str,
        kind: DevKind,
        offloads: libc::c_uint,
        extra_flags: libc::c_int,
    ) -> io::Result<(TunTap, bool)> {
        let tap = Self::create(name, kind, kind.flag() | libc::IFF_VNET_HDR | extra_flags)?;
        let size = VNET_HDR_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int, which outlives the call.
        let rc = unsafe { libc::ioctl(tap.fd.as_raw_fd(), libc::TUNSETVNETHDRSZ as _, &size) };
        ioctl_result(rc, name, "vnet header size")?;
        // SAFETY: TUNSETOFFLOAD takes the flags by value.
        let offloads = unsafe {
            libc::ioctl(
                tap.fd.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                offloads as libc::c_ulong,
            )
        } == 0;
        Ok((tap, offloads))
    }

    /// Turns a vnet-header TAP's checksum and TSO offloads on or off (off:
    /// the kernel hands over only whole, checksummed frames).
    pub fn set_offloads(&self, on: bool) -> io::Result<()> {
        let flags: libc::c_uint = if on { OFFLOADS } else { 0 };
        // SAFETY: TUNSETOFFLOAD takes the flags by value.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                flags as libc::c_ulong,
            )
        };
        ioctl_result(rc, &self.name, "offloads")
    }

    fn create(name: &str, kind: DevKind, flags: libc::c_int) -> io::Result<TunTap> {
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
        req.ifr_ifru.ifru_flags = (flags | libc::IFF_NO_PI) as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which outlives the call.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if flags & libc::IFF_TUN_EXCL != 0 && e.raw_os_error() == Some(libc::EBUSY) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("create {name}: a device with this name exists already"),
                ));
            }
            return Err(io::Error::new(e.kind(), format!("create {name}: {e}")));
        }
        Ok(TunTap {
            fd,
            name: name.to_string(),
            kind,
            vnet: flags & libc::IFF_VNET_HDR != 0,
            multi_queue: flags & libc::IFF_MULTI_QUEUE != 0,
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
        ioctl_result(rc, &self.name, "carrier")
    }

    /// Persistent (`on`): the device outlives this process, with its
    /// addresses and routes, carrier down until it is opened again; not
    /// persistent: it disappears when the last descriptor closes.
    pub fn set_persist(&self, on: bool) -> io::Result<()> {
        // SAFETY: TUNSETPERSIST takes the flag by value.
        let rc = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::TUNSETPERSIST as _,
                libc::c_ulong::from(on),
            )
        };
        ioctl_result(rc, &self.name, "persist")
    }

    /// One packet (TUN) or frame (TAP) into `buf`; `WouldBlock` when none waits.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(&self.fd, buf)?)
    }

    /// Hands one packet or frame to the kernel.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(&self.fd, buf)?)
    }

    /// [`TunTap::send`] behind a vnet header, in one write.
    pub fn send_behind(&self, header: &[u8], buf: &[u8]) -> io::Result<usize> {
        let parts = [io::IoSlice::new(header), io::IoSlice::new(buf)];
        Ok(rustix::io::writev(&self.fd, &parts)?)
    }

    /// A tunnel's TUN: with a vnet header and checksum and TCP/IPv4
    /// segmentation offload, so one read can bring 64 KiB of a TCP flow
    /// (cut up by `mimm_tunnel::segment`); a plain one where the kernel
    /// refuses (or with the UDP offload off, see [`crate::udp::offload`]).
    /// With `reattach` a persistent TUN of that name left by an earlier run
    /// is taken over (its addresses and routes kept); without, any device
    /// of that name is refused (`AlreadyExists`).
    pub fn open_tunnel_tun(name: &str, reattach: bool) -> io::Result<TunTap> {
        let exclusive = if reattach { 0 } else { libc::IFF_TUN_EXCL };
        if crate::udp::offload() {
            let (tun, offloads) =
                Self::open_vnet_with(name, DevKind::Tun, TUN_OFFLOADS, exclusive)?;
            if offloads {
                return Ok(tun);
            }
            drop(tun);
        }
        Self::create(name, DevKind::Tun, libc::IFF_TUN | exclusive)
    }

    /// Whether reads and writes carry a vnet header.
    pub fn has_vnet_header(&self) -> bool {
        self.vnet
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
