//! A member link as the VSD reaches it: an AF_PACKET socket bound to the
//! device, non-blocking, batched with recvmmsg/sendmmsg, and (when offloads
//! are on) carrying the same 10-byte virtio_net_hdr in front of each frame
//! as the TAP does, so frames cross between the two without conversion and
//! GSO super-frames are not cut up in userspace.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Socket buffers asked for (the kernel doubles and caps them): a burst of
/// 64 KiB GSO frames must not overflow while the loop serves the other side.
const SOCKET_BUFFER: libc::c_int = 4 << 20;

/// Where a received frame was headed (sll_pkttype).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// To this host's address.
    Host,
    Broadcast,
    Multicast,
    /// To another host (seen on a flooding segment).
    OtherHost,
    Other(u8),
}

impl PacketType {
    fn from_raw(t: u8) -> PacketType {
        match t {
            0 => PacketType::Host,
            1 => PacketType::Broadcast,
            2 => PacketType::Multicast,
            3 => PacketType::OtherHost,
            t => PacketType::Other(t),
        }
    }
}

pub struct PacketSocket {
    fd: OwnedFd,
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> libc::c_int {
    // SAFETY: the option value is one int that outlives the call.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    }
}

impl PacketSocket {
    /// A socket on link `ifindex` receiving every protocol; `vnet_hdr`
    /// puts the virtio header in front of every frame both ways.
    pub fn open(ifindex: u32, vnet_hdr: bool) -> io::Result<PacketSocket> {
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                protocol.into(),
            )
        };
        check(raw, "packet socket")?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        if vnet_hdr {
            check(
                set_int(s, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1),
                "PACKET_VNET_HDR",
            )?;
        }
        // Our own transmissions must not come back as received frames.
        check(
            set_int(s, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1),
            "PACKET_IGNORE_OUTGOING",
        )?;
        // Forcing needs CAP_NET_ADMIN (the VSD has it); fall back to the capped size.
        for (force, plain) in [
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        ] {
            if set_int(s, libc::SOL_SOCKET, force, SOCKET_BUFFER) < 0 {
                set_int(s, libc::SOL_SOCKET, plain, SOCKET_BUFFER);
            }
        }
        // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: bind reads `addr`, which outlives the call, with its true size.
        let rc = unsafe {
            libc::bind(
                s,
                (&addr as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check(rc, "bind packet socket")?;
        Ok(PacketSocket { fd })
    }

    /// Receives up to `batch.capacity()` frames; 0 when none waits.
    pub fn recv_batch(&self, batch: &mut Batch) -> io::Result<usize> {
        batch.prepare_recv();
        // SAFETY: every header points into `batch`'s buffers, which outlive
        // the call; the kernel writes at most each iovec's length.
        let n = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                batch.headers.as_mut_ptr(),
                batch.headers.len() as _,
                0,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        batch.filled = n as usize;
        Ok(batch.filled)
    }

    /// Sends the frames `frames` (each with its vnet header when the socket
    /// has one) in one call; returns how many the kernel took.
    pub fn send_batch(&self, batch: &mut Batch) -> io::Result<usize> {
        if batch.filled == 0 {
            return Ok(0);
        }
        batch.prepare_send();
        // SAFETY: as in recv_batch; the kernel only reads the buffers.
        let n = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                batch.headers.as_mut_ptr(),
                batch.filled as _,
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        Ok(n as usize)
    }

    /// Sends one frame; `Ok(false)` when the socket buffer is full.
    pub fn send(&self, frame: &[u8]) -> io::Result<bool> {
        match rustix::net::send(&self.fd, frame, rustix::net::SendFlags::empty()) {
            Ok(_) => Ok(true),
            Err(rustix::io::Errno::AGAIN) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Preallocated frames for one batched receive or send: `slots` buffers of
/// `slot_len` bytes, allocated once, reused for every batch.
pub struct Batch {
    data: Vec<u8>,
    slot_len: usize,
    lens: Vec<usize>,
    addrs: Vec<libc::sockaddr_ll>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    filled: usize,
}

// SAFETY: the raw pointers in `iovecs` and `headers` only ever point into
// this batch's own buffers and are rebuilt before each use.
unsafe impl Send for Batch {}

impl Batch {
    pub fn new(slots: usize, slot_len: usize) -> Batch {
        Batch {
            data: vec![0; slots * slot_len],
            slot_len,
            lens: vec![0; slots],
            // SAFETY: sockaddr_ll, iovec and mmsghdr are plain old data.
            addrs: vec![unsafe { std::mem::zeroed() }; slots],
            iovecs: vec![unsafe { std::mem::zeroed() }; slots],
            headers: vec![unsafe { std::mem::zeroed() }; slots],
            filled: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    pub fn len(&self) -> usize {
        self.filled
    }

    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }

    pub fn clear(&mut self) {
        self.filled = 0;
    }

    fn prepare_recv(&mut self) {
        let base = self.data.as_mut_ptr();
        for i in 0..self.capacity() {
            // SAFETY: slot i lies within `data` (capacity * slot_len bytes).
            self.iovecs[i] = libc::iovec {
                iov_base: unsafe { base.add(i * self.slot_len) }.cast(),
                iov_len: self.slot_len,
            };
            let h = &mut self.headers[i];
            h.msg_hdr.msg_iov = &mut self.iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_ll).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_len = 0;
        }
        self.filled = 0;
    }

    fn prepare_send(&mut self) {
        let base = self.data.as_mut_ptr();
        for i in 0..self.filled {
            // SAFETY: as in prepare_recv.
            self.iovecs[i] = libc::iovec {
                iov_base: unsafe { base.add(i * self.slot_len) }.cast(),
                iov_len: self.lens[i],
            };
            let h = &mut self.headers[i];
            h.msg_hdr.msg_iov = &mut self.iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = std::ptr::null_mut();
            h.msg_hdr.msg_namelen = 0;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
        }
    }

    /// Received frame `i` (vnet header included when the socket has one),
    /// where it was headed, and whether it was longer than a slot (and so
    /// cut short: such a frame must be dropped, not forwarded).
    pub fn received(&self, i: usize) -> Option<(&[u8], PacketType, bool)> {
        if i >= self.filled {
            return None;
        }
        let len = (self.headers[i].msg_len as usize).min(self.slot_len);
        let truncated = self.headers[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let start = i * self.slot_len;
        let kind = PacketType::from_raw(self.addrs[i].sll_pkttype);
        Some((&self.data[start..start + len], kind, truncated))
    }

    /// Appends a frame to send; `false` when the batch is full or the
    /// frame does not fit a slot.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        if self.filled == self.capacity() || frame.len() > self.slot_len {
            return false;
        }
        let start = self.filled * self.slot_len;
        self.data[start..start + frame.len()].copy_from_slice(frame);
        self.lens[self.filled] = frame.len();
        self.filled += 1;
        true
    }

    /// A slot to read a frame into directly (saves the copy of `push`);
    /// commit it with [`Batch::commit`].
    pub fn next_slot(&mut self) -> Option<&mut [u8]> {
        if self.filled == self.capacity() {
            return None;
        }
        let start = self.filled * self.slot_len;
        Some(&mut self.data[start..start + self.slot_len])
    }

    pub fn commit(&mut self, len: usize) {
        if self.filled < self.capacity() {
            self.lens[self.filled] = len.min(self.slot_len);
            self.filled += 1;
        }
    }

    /// Frame `i` queued for sending.
    pub fn queued(&self, i: usize) -> Option<&[u8]> {
        (i < self.filled).then(|| {
            let start = i * self.slot_len;
            &self.data[start..start + self.lens[i]]
        })
    }
}
