//! UDP helpers shared by the daemons, the loss meter and the inet services:
//! draining a socket, binding one to a device, marking its packets; and for
//! the tunnels, control messages ([`msg`]) and segmented sends ([`batch`]).

pub mod batch;
pub mod msg;

/// Whether the tunnels use the kernel's offloads (UDP_SEGMENT, UDP_GRO, and
/// vnet-header TUNs with TCP segmentation): yes unless
/// `MIMM_UDP_OFFLOAD=off` is in the environment, which the anchored
/// throughput benchmark sets to measure what they buy.
pub fn offload() -> bool {
    std::env::var_os("MIMM_UDP_OFFLOAD").is_none_or(|v| v != "off")
}

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

/// The next datagram, skipping queued socket errors (an ICMP error from an
/// earlier send): the sockets are edge-triggered, so a drain must not stop
/// before the queue is empty. `None` once it is.
pub fn recv(socket: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    loop {
        match socket.recv_from(buf) {
            Ok(got) => return Some(got),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(_) => continue,
        }
    }
}

/// Sends and receives of socket `fd` only through `device` (SO_BINDTODEVICE):
/// route lookups then see only that device's routes.
pub fn bind_to_device(fd: std::os::fd::RawFd, device: &str) -> io::Result<()> {
    // SAFETY: the name is passed with its length; the fd is open.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            device.as_ptr().cast(),
            device.len() as libc::socklen_t,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("bind to {device}: {e}")));
    }
    Ok(())
}

/// Marks every packet socket `fd` sends with `mark` (SO_MARK), for policy
/// rules and nftables to tell them apart.
pub fn set_mark(fd: std::os::fd::RawFd, mark: u32) -> io::Result<()> {
    set_int(fd, libc::SOL_SOCKET, libc::SO_MARK, mark as libc::c_int)
        .map_err(|e| io::Error::new(e.kind(), format!("mark {mark:#x}: {e}")))
}

/// Socket buffers for a data path's socket (tunnel, packet): a burst of
/// 64 KiB segmented or GSO datagrams must not overflow while the loop
/// serves the other side. The default (net.core.rmem_default, 208 KiB
/// here) holds three; a drop there is a TCP loss inside the tunnel.
pub const DATA_BUFFER: libc::c_int = 4 << 20;

/// Asks for `bytes` of receive and send buffer on socket `fd` (the kernel
/// doubles and caps them): forced past the system's cap where the caller
/// has CAP_NET_ADMIN, else up to the cap.
pub fn set_buffers(fd: std::os::fd::RawFd, bytes: libc::c_int) {
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if set_int(fd, libc::SOL_SOCKET, force, bytes).is_err() {
            let _ = set_int(fd, libc::SOL_SOCKET, plain, bytes);
        }
    }
}

/// Sets socket option `name` of `level` (any socket: UDP, packet) to an
/// int `value`.
pub fn set_int(
    fd: std::os::fd::RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: the option value is one int that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
