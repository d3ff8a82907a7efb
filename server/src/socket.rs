//! The server's UDP socket, answering each datagram from the address it
//! was sent to. Bound to the wildcard address on a host with several, the
//! kernel would send a reply from whichever address routes to the client:
//! a router's NAT then drops it (its mapping expects the reply from the
//! address the router sent to) and the router's registrar does not believe
//! it. So on a wildcard socket IP_PKTINFO gives each datagram's local
//! address, and what answers it is sent from there (`sendmsg` with
//! `ipi_spec_dst`). Bound to one address, nothing changes: the kernel
//! sends from it. The control messages are `mimm_io::udp::msg`'s.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use mimm_io::udp::msg;
pub use mimm_io::udp::msg::Received;
use mio::net::UdpSocket;

pub struct ServerSocket {
    socket: UdpSocket,
    /// Bound to the wildcard address: datagrams carry their local address.
    pktinfo: bool,
}

impl ServerSocket {
    /// `socket`, bound to `listen`; on the wildcard address it is asked
    /// for each datagram's local address. Tunnel data may arrive coalesced
    /// (UDP_GRO: a client's segmented send read in one call).
    pub fn new(socket: UdpSocket, listen: SocketAddr) -> io::Result<ServerSocket> {
        let pktinfo = listen.is_ipv4() && listen.ip().is_unspecified();
        if pktinfo {
            msg::enable_pktinfo(socket.as_raw_fd())?;
        }
        // Without it (a kernel before 5.0) datagrams come one by one.
        let _ = msg::enable_gro(socket.as_raw_fd());
        Ok(ServerSocket { socket, pktinfo })
    }

    pub fn mio(&mut self) -> &mut UdpSocket {
        &mut self.socket
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        self.socket.as_raw_fd()
    }

    /// Whether answers can be sent from a chosen local address.
    pub fn pktinfo(&self) -> bool {
        self.pktinfo
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The next datagram (or several coalesced: see
    /// [`Received::datagrams`]) into `buf`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        msg::recv_msg(self.socket.as_raw_fd(), buf)
    }

    /// Sends `datagram` to `to`, from `local` when it is given (an answer
    /// to a datagram that came to that address).
    pub fn send_to(
        &self,
        datagram: &[u8],
        to: SocketAddr,
        local: Option<Ipv4Addr>,
    ) -> io::Result<usize> {
        match (to, local.filter(|_| self.pktinfo)) {
            (SocketAddr::V4(to), local) => {
                msg::send_msg(self.socket.as_raw_fd(), datagram, to, local, None)
            }
            (to, _) => self.socket.send_to(datagram, to),
        }
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
