//! UDP helpers shared by the loss meter and the inet services.

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
