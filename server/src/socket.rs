//! The server's UDP socket, answering each datagram from the address it
//! was sent to. Bound to the wildcard address on a host with several, the
//! kernel would send a reply from whichever address routes to the client:
//! a router's NAT then drops it (its mapping expects the reply from the
//! address the router sent to) and the router's registrar does not believe
//! it. So on a wildcard socket IP_PKTINFO gives each datagram's local
//! address, and what answers it is sent from there (`sendmsg` with
//! `ipi_spec_dst`). Bound to one address, nothing changes: the kernel
//! sends from it. No allocation per datagram: control messages are on the
//! stack.

use std::io;
use std::mem::{self, size_of};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use mio::net::UdpSocket;

/// A datagram read: its length, where it came from and, on a wildcard
/// socket, which of this host's addresses it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub from: SocketAddr,
    pub local: Option<Ipv4Addr>,
}

/// Room for one `in_pktinfo` control message (24 bytes on 32-bit, 28 on
/// 64-bit targets), aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 64]);

const PKTINFO_LEN: u32 = size_of::<libc::in_pktinfo>() as u32;
// SAFETY: CMSG_SPACE is arithmetic on its argument.
const PKTINFO_SPACE: usize = unsafe { libc::CMSG_SPACE(PKTINFO_LEN) } as usize;
const _: () = assert!(PKTINFO_SPACE <= size_of::<Control>());

pub struct ServerSocket {
    socket: UdpSocket,
    /// Bound to the wildcard address: datagrams carry their local address.
    pktinfo: bool,
}

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

/// The local address IP_PKTINFO gave in `msg`'s control messages.
fn spec_dst(msg: &libc::msghdr) -> Option<Ipv4Addr> {
    // SAFETY: msg's control buffer was filled by recvmsg, which bounds
    // every header by msg_controllen; CMSG_NXTHDR stops at its end.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let whole = c.cmsg_len as usize >= libc::CMSG_LEN(PKTINFO_LEN) as usize;
            if c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_PKTINFO && whole {
                let info: libc::in_pktinfo = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Some(Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr)));
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

impl ServerSocket {
    /// `socket`, bound to `listen`; on the wildcard address it is asked
    /// for each datagram's local address.
    pub fn new(socket: UdpSocket, listen: SocketAddr) -> io::Result<ServerSocket> {
        let pktinfo = listen.is_ipv4() && listen.ip().is_unspecified();
        if pktinfo {
            let on: libc::c_int = 1;
            // SAFETY: a valid descriptor and an int option of its size.
            let r = unsafe {
                libc::setsockopt(
                    socket.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    (&on as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(ServerSocket { socket, pktinfo })
    }

    pub fn mio(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The next datagram into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        if !self.pktinfo {
            let (len, from) = self.socket.recv_from(buf)?;
            return Ok(Received {
                len,
                from,
                local: None,
            });
        }
        // SAFETY: plain data; all zeroes is valid.
        let mut name: libc::sockaddr_in = unsafe { mem::zeroed() };
        let mut control = Control([0; 64]);
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
        let n = unsafe { libc::recvmsg(self.socket.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let from = SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(name.sin_addr.s_addr)),
            u16::from_be(name.sin_port),
        );
        Ok(Received {
            len: n as usize,
            from: SocketAddr::V4(from),
            local: spec_dst(&msg),
        })
    }

    /// Sends `datagram` to `to`, from `local` when it is given (an answer
    /// to a datagram that came to that address).
    pub fn send_to(
        &self,
        datagram: &[u8],
        to: SocketAddr,
        local: Option<Ipv4Addr>,
    ) -> io::Result<usize> {
        let (Some(local), SocketAddr::V4(to), true) = (local, to, self.pktinfo) else {
            return self.socket.send_to(datagram, to);
        };
        let mut name = sockaddr(to);
        let mut control = Control([0; 64]);
        let mut iov = libc::iovec {
            iov_base: datagram.as_ptr() as *mut libc::c_void,
            iov_len: datagram.len(),
        };
        // SAFETY: plain data; all zeroes is valid.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = PKTINFO_SPACE as _;
        let info = libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: in_addr(local),
            ipi_addr: in_addr(Ipv4Addr::UNSPECIFIED),
        };
        // SAFETY: the control buffer holds PKTINFO_SPACE bytes (checked at
        // compile time), so its first header and data fit; sendmsg only
        // reads the buffers msg points to, all live for the call.
        let n = unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::IPPROTO_IP;
            (*cmsg).cmsg_type = libc::IP_PKTINFO;
            (*cmsg).cmsg_len = libc::CMSG_LEN(PKTINFO_LEN) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
            libc::sendmsg(self.socket.as_raw_fd(), &msg, 0)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wildcard socket on loopback: 127.0.0.2 is this host's too (all of
    /// 127/8 is), but the kernel would answer 127.0.0.1 from 127.0.0.1.
    fn wildcard() -> (ServerSocket, u16) {
        let listen: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let socket = UdpSocket::bind(listen).unwrap();
        let port = socket.local_addr().unwrap().port();
        (ServerSocket::new(socket, listen).unwrap(), port)
    }

    fn received(server: &ServerSocket, buf: &mut [u8]) -> Received {
        for _ in 0..200 {
            match server.recv(buf) {
                Ok(got) => return got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("nothing received");
    }

    #[test]
    fn an_answer_leaves_from_the_address_its_datagram_came_to() {
        let (server, port) = wildcard();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .unwrap();
        let mut buf = [0u8; 64];
        for local in [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 1)] {
            client.send_to(b"ping", (local, port)).unwrap();
            let got = received(&server, &mut buf);
            assert_eq!(got.len, 4);
            assert_eq!(got.from, client.local_addr().unwrap());
            assert_eq!(got.local, Some(local));
            server.send_to(b"pong", got.from, got.local).unwrap();
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"pong"[..], (local, port).into()));
        }
    }

    #[test]
    fn a_socket_bound_to_one_address_is_left_as_it_is() {
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let socket = UdpSocket::bind(listen).unwrap();
        let port = socket.local_addr().unwrap().port();
        let server = ServerSocket::new(socket, listen).unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 64];
        let got = received(&server, &mut buf);
        assert_eq!(got.local, None);
        let elsewhere = Some(Ipv4Addr::new(127, 0, 0, 2));
        server.send_to(b"pong", got.from, elsewhere).unwrap();
        let (_, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(from, (Ipv4Addr::LOCALHOST, port).into(), "its own address");
    }
}
