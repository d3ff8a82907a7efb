//! A request/answer rtnetlink socket: blocking, with a timeout, so a request
//! never hangs the daemon.

use std::io;
use std::time::Duration;

use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use crate::wire::{self, Message, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, Request};

pub struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

fn errno(code: i32) -> io::Result<()> {
    match code {
        0 => Ok(()),
        c => Err(io::Error::from_raw_os_error(-c)),
    }
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

    fn send(&mut self, request: &mut Request, flags: u16) -> io::Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        self.socket.send(request.finish(flags, self.seq), 0)?;
        Ok(self.seq)
    }

    /// Reads answers to request `seq` until `each` says stop.
    fn receive(
        &mut self,
        seq: u32,
        mut each: impl FnMut(Message) -> Option<io::Result<()>>,
    ) -> io::Result<()> {
        loop {
            let len = self.socket.recv(&mut &mut self.buf[..], 0)?;
            for m in wire::messages(&self.buf[..len]) {
                if m.seq() != seq {
                    continue;
                }
                if let Some(done) = each(m) {
                    return done;
                }
            }
        }
    }

    /// Sends a request and waits for the kernel's acknowledgement.
    pub fn request(&mut self, mut request: Request) -> io::Result<()> {
        let seq = self.send(&mut request, NLM_F_REQUEST | NLM_F_ACK)?;
        self.receive(seq, |m| match (m.error_code(), m.kind()) {
            (Some(code), _) => Some(errno(code)),
            (None, NLMSG_DONE) => Some(Ok(())),
            _ => None,
        })
    }

    /// Sends a dump request and hands each answer of kind `kind` to `each`.
    pub fn dump(
        &mut self,
        mut request: Request,
        kind: u16,
        mut each: impl FnMut(&Message),
    ) -> io::Result<()> {
        let seq = self.send(&mut request, NLM_F_REQUEST | NLM_F_DUMP)?;
        self.receive(seq, |m| match (m.error_code(), m.kind()) {
            (Some(code), _) => Some(errno(code)),
            (None, NLMSG_DONE) => Some(Ok(())),
            (None, k) if k == kind => {
                each(&m);
                None
            }
            _ => None,
        })
    }
}
