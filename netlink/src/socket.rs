//! A request/answer rtnetlink socket: blocking, with a timeout, so a request
//! never hangs the daemon.

use std::io;
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

pub struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    pub fn new() -> io::Result<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        let timeout = Some(Duration::from_secs(2));
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            timeout,
        )?;
        Ok(Rtnl {
            socket,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        Ok(self.seq)
    }

    /// Reads answers to request `seq` until `done` says stop; messages that
    /// do not decode are skipped.
    fn receive(
        &mut self,
        seq: u32,
        mut each: impl FnMut(NetlinkPayload<RouteNetlinkMessage>) -> Option<io::Result<()>>,
    ) -> io::Result<()> {
        loop {
            let len = self.socket.recv(&mut &mut self.buf[..], 0)?;
            let mut offset = 0;
            while offset < len {
                let bytes = &self.buf[offset..len];
                let Some(msg_len) = bytes
                    .get(..4)
                    .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                else {
                    break;
                };
                if msg_len < 16 || msg_len > bytes.len() {
                    break;
                }
                let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[..msg_len]);
                offset += (msg_len + 3) & !3;
                let Ok(message) = parsed else {
                    tracing::debug!("skipping a netlink message that does not decode");
                    continue;
                };
                if message.header.sequence_number != seq {
                    continue;
                }
                if let Some(done) = each(message.payload) {
                    return done;
                }
            }
        }
    }

    /// Sends a request and waits for the kernel's acknowledgement.
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        let seq = self.send(message, flags | NLM_F_REQUEST | NLM_F_ACK)?;
        self.receive(seq, |payload| match payload {
            NetlinkPayload::Error(e) => Some(match e.code {
                None => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            }),
            NetlinkPayload::Done(_) => Some(Ok(())),
            _ => None,
        })
    }

    /// Sends a dump request and collects the answers.
    pub fn dump(&mut self, message: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(message, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut all = Vec::new();
        self.receive(seq, |payload| match payload {
            NetlinkPayload::InnerMessage(m) => {
                all.push(m);
                None
            }
            NetlinkPayload::Done(_) => Some(Ok(())),
            NetlinkPayload::Error(e) => Some(match e.code {
                None => Ok(()),
                Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
            }),
            _ => None,
        })?;
        Ok(all)
    }
}
