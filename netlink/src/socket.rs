//! A request/answer netlink socket of any family (rtnetlink, generic
//! netlink, netfilter): blocking, with a timeout, so a request never hangs
//! the daemon; or, for a loop that must not wait ([`Netlink::start_dump`],
//! [`Netlink::read_dump`]), sent now and read when the socket is readable.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use netlink_sys::protocols::{NETLINK_GENERIC, NETLINK_NETFILTER, NETLINK_ROUTE};
use netlink_sys::{Socket, SocketAddr};

use crate::wire::{self, Message, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, Request};

pub struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// `MSG_DONTWAIT`, in the form `netlink_sys` takes.
const DONTWAIT: i32 = rustix::net::RecvFlags::DONTWAIT.bits() as i32;

/// The rtnetlink socket (links, addresses, routes, rules).
pub type Rtnl = Netlink;

fn errno(code: i32) -> io::Result<()> {
    match code {
        0 => Ok(()),
        c => Err(io::Error::from_raw_os_error(c.saturating_neg())),
    }
}

impl Netlink {
    /// An rtnetlink socket.
    pub fn new() -> io::Result<Netlink> {
        Netlink::open(NETLINK_ROUTE, Duration::from_secs(2))
    }

    /// A generic netlink socket (nl80211 and its family lookup).
    pub fn generic(timeout: Duration) -> io::Result<Netlink> {
        Netlink::open(NETLINK_GENERIC, timeout)
    }

    /// A netfilter socket (ctnetlink).
    pub fn netfilter(timeout: Duration) -> io::Result<Netlink> {
        Netlink::open(NETLINK_NETFILTER, timeout)
    }

    fn open(protocol: isize, timeout: Duration) -> io::Result<Netlink> {
        let mut socket = Socket::new(protocol)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(timeout),
        )?;
        Ok(Netlink {
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

    /// Reads answers to request `seq` until `each` says stop; with
    /// `MSG_DONTWAIT` in `flags`, `WouldBlock` when none are waiting.
    fn receive(
        &mut self,
        seq: u32,
        flags: i32,
        mut each: impl FnMut(Message) -> Option<io::Result<()>>,
    ) -> io::Result<()> {
        loop {
            let len = self.socket.recv(&mut &mut self.buf[..], flags)?;
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

    /// The socket, for a poll loop to watch.
    pub fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Sends a dump request without waiting; its answers are read by
    /// [`Netlink::read_dump`] with the sequence number returned.
    pub fn start_dump(&mut self, mut request: Request) -> io::Result<u32> {
        self.send(&mut request, NLM_F_REQUEST | NLM_F_DUMP)
    }

    /// Reads the answers of dump `seq` that have arrived, handing those of
    /// `kind` to `each`: `Ok(true)` once the dump ended, `Ok(false)` while
    /// more are to come.
    pub fn read_dump(
        &mut self,
        seq: u32,
        kind: u16,
        each: impl FnMut(&Message),
    ) -> io::Result<bool> {
        match self.receive(seq, DONTWAIT, answers_of(kind, each)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sends a request and waits for the kernel's acknowledgement.
    pub fn request(&mut self, request: Request) -> io::Result<()> {
        self.exchange(request, NLM_F_ACK, 0, |_| {})
    }

    /// Sends a request and hands each answer of kind `kind` to `each`
    /// until the acknowledgement (a generic netlink family lookup).
    pub fn query(
        &mut self,
        request: Request,
        kind: u16,
        each: impl FnMut(&Message),
    ) -> io::Result<()> {
        self.exchange(request, NLM_F_ACK, kind, each)
    }

    /// Sends a dump request and hands each answer of kind `kind` to `each`.
    pub fn dump(
        &mut self,
        request: Request,
        kind: u16,
        each: impl FnMut(&Message),
    ) -> io::Result<()> {
        self.exchange(request, NLM_F_DUMP, kind, each)
    }

    /// Sends `request` with `flags` and reads its answers: those of `kind`
    /// go to `each`; an error, an acknowledgement or the end of a dump ends
    /// it.
    fn exchange(
        &mut self,
        mut request: Request,
        flags: u16,
        kind: u16,
        each: impl FnMut(&Message),
    ) -> io::Result<()> {
        let seq = self.send(&mut request, NLM_F_REQUEST | flags)?;
        self.receive(seq, 0, answers_of(kind, each))
    }
}

/// What ends an exchange: an error, an acknowledgement or the end of a
/// dump; answers of `kind` before it go to `each`.
pub fn answers_of(
    kind: u16,
    mut each: impl FnMut(&Message),
) -> impl FnMut(Message) -> Option<io::Result<()>> {
    move |m| match (m.error_code(), m.kind()) {
        (Some(code), _) => Some(errno(code)),
        (None, NLMSG_DONE) => Some(Ok(())),
        (None, k) if k == kind => {
            each(&m);
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzz target `netlink`: an NLMSG_ERROR with code
    /// i32::MIN overflowed the negation (a panic wherever overflow is
    /// checked).
    #[test]
    fn any_error_code_is_an_error() {
        assert!(errno(0).is_ok());
        assert_eq!(errno(-19).unwrap_err().raw_os_error(), Some(19));
        assert!(errno(i32::MIN).is_err());
        assert!(errno(5).is_err());
    }
}
