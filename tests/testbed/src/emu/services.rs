//! The inet host's small UDP services, served from the emulator's loop:
//! echo (port 7, RFC 862) for probes and discard (port 9, RFC 863) as a sink.

use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdp};

use mio::net::UdpSocket;
use serde::{Deserialize, Serialize};

use crate::plan::INET_ADDR;
use crate::udp;

pub const ECHO_PORT: u16 = 7;
pub const DISCARD_PORT: u16 = 9;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct ServiceCounters {
    pub echoed: u64,
    pub discarded: u64,
    pub discarded_bytes: u64,
}

pub struct Services {
    pub echo: UdpSocket,
    pub discard: UdpSocket,
    pub counters: ServiceCounters,
}

impl Services {
    /// Binds both services on the inet service address, in the calling
    /// thread's namespace. (Bound to the address, not the wildcard, so replies
    /// leave from it and match the router's NAT entry.)
    pub fn bind() -> io::Result<Services> {
        let bind = |port: u16| -> io::Result<UdpSocket> {
            let socket = StdUdp::bind(SocketAddr::from((INET_ADDR, port)))?;
            socket.set_nonblocking(true)?;
            Ok(UdpSocket::from_std(socket))
        };
        Ok(Services {
            echo: bind(ECHO_PORT)?,
            discard: bind(DISCARD_PORT)?,
            counters: ServiceCounters::default(),
        })
    }

    pub fn on_echo(&mut self, buf: &mut [u8]) {
        while let Some((len, from)) = udp::recv(&self.echo, buf) {
            if self.echo.send_to(&buf[..len], from).is_ok() {
                self.counters.echoed += 1;
            }
        }
    }

    pub fn on_discard(&mut self, buf: &mut [u8]) {
        while let Some((len, _)) = udp::recv(&self.discard, buf) {
            self.counters.discarded += 1;
            self.counters.discarded_bytes += len as u64;
        }
    }
}
