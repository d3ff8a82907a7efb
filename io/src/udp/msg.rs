//! `recvmsg`/`sendmsg` with the control messages the tunnels use: the
//! local address a datagram came to (IP_PKTINFO, so an answer leaves from
//! it) and UDP segmentation offload both ways: UDP_SEGMENT sends many
//! equal-size datagrams in one call, UDP_GRO receives them in one (Linux
//! 4.18 and 5.0). No allocation: control messages live on the stack.

use std::io;
use std::mem::{self, size_of};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::RawFd;

/// What one `recvmsg` read: `len` bytes from `from`, sent to this host's
/// `local` (with IP_PKTINFO on), as datagrams of `segment` bytes each, the
/// last maybe shorter (with UDP_GRO on and several coalesced; `None`: one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub from: SocketAddr,
    pub local: Option<Ipv4Addr>,
    pub segment: Option<usize>,
}

impl Received {
    /// The datagrams in `buf[..self.len]`, one by one.
    pub fn datagrams(self) -> impl Iterator<Item = std::ops::Range<usize>> {
        let step = self.segment.filter(|&s| s > 0).unwrap_or(self.len.max(1));
        (0..self.len)
            .step_by(step)
            .map(move |at| at..(at + step).min(self.len))
    }
}

/// Room for an `in_pktinfo` and a UDP_GRO/UDP_SEGMENT control message,
/// aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 96]);

const PKTINFO_LEN: u32 = size_of::<libc::in_pktinfo>() as u32;
const SEGMENT_LEN: u32 = size_of::<u16>() as u32;
const GRO_LEN: u32 = size_of::<libc::c_int>() as u32;
// SAFETY: CMSG_SPACE is arithmetic on its argument.
const PKTINFO_SPACE: usize = unsafe { libc::CMSG_SPACE(PKTINFO_LEN) } as usize;
// SAFETY: as above.
const SEGMENT_SPACE: usize = unsafe { libc::CMSG_SPACE(SEGMENT_LEN) } as usize;
const _: () = assert!(PKTINFO_SPACE + SEGMENT_SPACE <= size_of::<Control>());
/// Linux's UDP_SEGMENT and UDP_GRO (include/uapi/linux/udp.h): libc does
/// not have both for every target libc.
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
    let mut s: libc::sockaddr_in = unsafe { mem::zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    s
}

fn in_addr(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from(a).to_be(),
    }
}

fn set_int(fd: RawFd, level: libc::c_int, option: libc::c_int, what: &str) -> io::Result<()> {
    super::set_int(fd, level, option, 1)
        .map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))
}

/// Each datagram read tells the local address it was sent to.
pub fn enable_pktinfo(fd: RawFd) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, "IP_PKTINFO")
}

/// Datagrams of one flow may be read coalesced (see [`Received::segment`]);
/// nothing with the offload off (see [`super::offload`]).
pub fn enable_gro(fd: RawFd) -> io::Result<()> {
    if !super::offload() {
        return Ok(());
    }
    set_int(fd, libc::IPPROTO_UDP, UDP_GRO, "UDP_GRO")
}

/// The local address and the segment size in `msg`'s control messages.
fn parse_control(msg: &libc::msghdr) -> (Option<Ipv4Addr>, Option<usize>) {
    let (mut local, mut segment) = (None, None);
    // SAFETY: msg's control buffer was filled by recvmsg, which bounds
    // every header by msg_controllen; CMSG_NXTHDR stops at its end, and
    // each payload is read only when the header says it is whole.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let len = c.cmsg_len as usize;
            let data = libc::CMSG_DATA(cmsg);
            match (c.cmsg_level, c.cmsg_type) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO)
                    if len >= libc::CMSG_LEN(PKTINFO_LEN) as usize =>
                {
                    let info: libc::in_pktinfo = std::ptr::read_unaligned(data.cast());
                    local = Some(Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr)));
                }
                (libc::IPPROTO_UDP, UDP_GRO) if len >= libc::CMSG_LEN(GRO_LEN) as usize => {
                    let size: libc::c_int = std::ptr::read_unaligned(data.cast());
                    segment = usize::try_from(size).ok().filter(|&s| s > 0);
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    (local, segment)
}

/// The next datagram (or coalesced datagrams) of socket `fd` into `buf`.
pub fn recv_msg(fd: RawFd, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: plain data; all zeroes is valid.
    let mut name: libc::sockaddr_in = unsafe { mem::zeroed() };
    let mut control = Control([0; 96]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as above (musl's msghdr has padding fields: zeroed, not
    // built field by field).
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<Control>() as _;
    // SAFETY: every pointer in msg is to a live buffer of the length
    // given, for the duration of the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let from = SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
        u16::from_be(name.sin_port),
    );
    let (local, segment) = parse_control(&msg);
    Ok(Received {
        len: n as usize,
        from: SocketAddr::V4(from),
        local,
        segment: segment.filter(|&s| s < n as usize),
    })
}

/// Sends `data` to `to` from socket `fd`: from `local` when given (the
/// socket must have IP_PKTINFO on), and as datagrams of `segment` bytes
/// each (the last maybe shorter) when given.
pub fn send_msg(
    fd: RawFd,
    data: &[u8],
    to: SocketAddrV4,
    local: Option<Ipv4Addr>,
    segment: Option<u16>,
) -> io::Result<usize> {
    let mut name = sockaddr(to);
    let mut control = Control([0; 96]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: plain data; all zeroes is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
    msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    let space = local.map_or(0, |_| PKTINFO_SPACE) + segment.map_or(0, |_| SEGMENT_SPACE);
    if space > 0 {
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
    }
    // SAFETY: the control buffer holds both messages' space (checked at
    // compile time) and msg_controllen covers exactly those written, so
    // each header CMSG_FIRSTHDR/NXTHDR gives is inside it; sendmsg only
    // reads the buffers msg points to, all live for the call.
    let n = unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        if let Some(local) = local {
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: in_addr(local),
                ipi_addr: in_addr(Ipv4Addr::UNSPECIFIED),
            };
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            (*cmsg).cmsg_len = libc::CMSG_LEN(PKTINFO_LEN) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        if let (Some(size), false) = (segment, cmsg.is_null()) {
            (*cmsg).cmsg_level = libc::IPPROTO_UDP;
            (*cmsg).cmsg_type = UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(SEGMENT_LEN) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), size);
        }
        libc::sendmsg(fd, &msg, 0)
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}
