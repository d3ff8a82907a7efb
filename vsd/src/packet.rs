//! A member link as the VSD reaches it: an AF_PACKET socket bound to the
//! device, non-blocking, batched with recvmmsg/sendmmsg, and (when offloads
//! are on) carrying the same 10-byte virtio_net_hdr in front of each frame
//! as the TAP does, so frames cross between the two without conversion and
//! GSO super-frames are not cut up in userspace.
//!
//! Where the kernel refuses PACKET_VNET_HDR with ENOPROTOOPT (qemu-user
//! refuses every SOL_PACKET option), the header is made here instead: a
//! zeroed one in front of each received frame, and the header is taken off
//! each frame sent. Frames whose header asks for an offload (checksum or
//! segmentation) cannot be sent that way and are dropped; the engine turns
//! the TAP's offloads off when a member's socket emulates the header.

use mimm_io::udp::set_int;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

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
    /// The kernel refused PACKET_VNET_HDR: the header is added on receive
    /// and taken off on send here.
    emulated_vnet_hdr: bool,
}

/// virtio_net_hdr without num_buffers, as in mimm-io's TAP.
const VNET_HDR_LEN: usize = mimm_io::tuntap::VNET_HDR_LEN;

/// Whether the virtio header at the start of `frame` asks for no offload:
/// its flags and gso_type (single bytes, so in any byte order) are zero.
fn plain(frame: &[u8]) -> bool {
    frame.len() > VNET_HDR_LEN && frame[0] == 0 && frame[1] == 0
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

/// What a member's socket hands the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receive {
    /// Every frame it receives (the userspace path forwards them).
    All,
    /// About one frame in [`SAMPLE_EVERY`], either way, cut to its first
    /// byte: the kernel path forwards them, and the loop only learns that
    /// traffic flows (to read the carrier meanwhile, `crate::traffic`).
    Sampled,
}

/// One frame in this many reaches a [`Receive::Sampled`] socket.
pub const SAMPLE_EVERY: usize = 64;

/// The classic BPF socket filter of [`Receive::Sampled`]: keep one byte of
/// a frame when a random number is 0 modulo [`SAMPLE_EVERY`], else nothing.
fn sampler() -> [libc::sock_filter; 5] {
    const SKF_AD_RANDOM: u32 = 0xffff_f000 + 56; // SKF_AD_OFF + SKF_AD_RANDOM
    let op = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    [
        op(0x20, 0, 0, SKF_AD_RANDOM),           // ld  rand
        op(0x54, 0, 0, SAMPLE_EVERY as u32 - 1), // and #SAMPLE_EVERY-1
        op(0x15, 0, 1, 0),                       // jeq #0, keep, drop
        op(0x06, 0, 0, 1),                       // keep: ret #1
        op(0x06, 0, 0, 0),                       // drop: ret #0
    ]
}

fn attach_sampler(s: RawFd) -> io::Result<()> {
    let mut code = sampler();
    let prog = libc::sock_fprog {
        len: code.len() as u16,
        filter: code.as_mut_ptr(),
    };
    // SAFETY: the kernel copies the program, which outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            s,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    check(rc, "SO_ATTACH_FILTER")
}

impl PacketSocket {
    /// A socket on link `ifindex` receiving every protocol as `receive`
    /// says; `vnet_hdr` puts the virtio header in front of every frame
    /// both ways.
    pub fn open(ifindex: u32, vnet_hdr: bool, receive: Receive) -> io::Result<PacketSocket> {
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // Made for no protocol, so that nothing arrives before it is bound
        // to its device (and filtered, when sampled).
        // SAFETY: plain socket(2); the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        check(raw, "packet socket")?;
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        let mut emulated_vnet_hdr = false;
        let vnet = vnet_hdr.then(|| set_int(s, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1));
        if let Some(Err(e)) = vnet {
            if e.raw_os_error() != Some(libc::ENOPROTOOPT) {
                return Err(io::Error::new(e.kind(), format!("PACKET_VNET_HDR: {e}")));
            }
            tracing::warn!(
                "PACKET_VNET_HDR refused ({e}; qemu-user refuses all SOL_PACKET options): \
                 virtio headers made in userspace, no offloads on this member"
            );
            emulated_vnet_hdr = true;
        }
        // Our own transmissions must not come back as received frames.
        // Without this option (before Linux 4.20, under qemu-user) they do,
        // as PACKET_OUTGOING, which the data path does not take. Sampled,
        // the frames the member sends count as traffic too.
        let ignore_outgoing = match receive {
            Receive::All => set_int(s, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1),
            Receive::Sampled => {
                attach_sampler(s)?;
                Ok(())
            }
        };
        if let Err(e) = ignore_outgoing {
            if e.raw_os_error() != Some(libc::ENOPROTOOPT) {
                return Err(io::Error::new(
                    e.kind(),
                    format!("PACKET_IGNORE_OUTGOING: {e}"),
                ));
            }
            tracing::debug!("PACKET_IGNORE_OUTGOING refused ({e}); own frames dropped on receive");
        }
        mimm_io::udp::set_buffers(s, mimm_io::udp::DATA_BUFFER);
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
        Ok(PacketSocket {
            fd,
            emulated_vnet_hdr,
        })
    }

    /// Whether the virtio header is made in userspace (the kernel refused
    /// PACKET_VNET_HDR): frames asking for offloads cannot be sent.
    pub fn vnet_hdr_emulated(&self) -> bool {
        self.emulated_vnet_hdr
    }

    fn header_room(&self) -> usize {
        if self.emulated_vnet_hdr {
            VNET_HDR_LEN
        } else {
            0
        }
    }

    /// Receives up to `batch.capacity()` frames; 0 when none waits.
    pub fn recv_batch(&self, batch: &mut Batch) -> io::Result<usize> {
        let room = self.header_room();
        batch.prepare_recv(room);
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
        if room > 0 {
            batch.add_headers(room);
        }
        Ok(batch.filled)
    }

    /// Sends the frames `frames` (each with its vnet header when the socket
    /// has one) in one call; returns how many the kernel took.
    pub fn send_batch(&self, batch: &mut Batch) -> io::Result<usize> {
        if self.emulated_vnet_hdr {
            // What cannot go without offloads goes nowhere (counted as
            // dropped by the caller: fewer sent than queued).
            batch.keep_plain();
        }
        if batch.filled == 0 {
            return Ok(0);
        }
        batch.prepare_send(self.header_room());
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
        let frame = if self.emulated_vnet_hdr {
            if !plain(frame) {
                return Ok(false);
            }
            &frame[VNET_HDR_LEN..]
        } else {
            frame
        };
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

    /// Points slot i's iovec `room` bytes into the slot (room for a header
    /// made in userspace).
    fn prepare_recv(&mut self, room: usize) {
        let base = self.data.as_mut_ptr();
        for i in 0..self.capacity() {
            // SAFETY: slot i lies within `data` (capacity * slot_len bytes),
            // and room < slot_len.
            self.iovecs[i] = libc::iovec {
                iov_base: unsafe { base.add(i * self.slot_len + room) }.cast(),
                iov_len: self.slot_len - room,
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

    /// A zeroed virtio header (no offload) in the `room` bytes in front of
    /// each received frame, counted in its length.
    fn add_headers(&mut self, room: usize) {
        for i in 0..self.filled {
            let start = i * self.slot_len;
            self.data[start..start + room].fill(0);
            self.headers[i].msg_len += room as libc::c_uint;
        }
    }

    /// Keeps only the queued frames whose header asks for no offload, in
    /// order.
    fn keep_plain(&mut self) {
        let mut kept = 0;
        for i in 0..self.filled {
            let (start, len) = (i * self.slot_len, self.lens[i]);
            if !plain(&self.data[start..start + len]) {
                continue;
            }
            if kept != i {
                self.data
                    .copy_within(start..start + len, kept * self.slot_len);
                self.lens[kept] = len;
            }
            kept += 1;
        }
        self.filled = kept;
    }

    /// Points each queued frame's iovec past its first `skip` bytes (the
    /// header made in userspace, which the socket does not take).
    fn prepare_send(&mut self, skip: usize) {
        let base = self.data.as_mut_ptr();
        for i in 0..self.filled {
            let skip = skip.min(self.lens[i]);
            // SAFETY: as in prepare_recv.
            self.iovecs[i] = libc::iovec {
                iov_base: unsafe { base.add(i * self.slot_len + skip) }.cast(),
                iov_len: self.lens[i] - skip,
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
