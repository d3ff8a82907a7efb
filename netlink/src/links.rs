//! Link state: which devices exist, whether they are up and have carrier.
//! A subscribed socket turns the kernel's RTM_NEWLINK/RTM_DELLINK into
//! events in the daemon's loop.

use std::collections::BTreeMap;
use std::io;

use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use crate::Rtnl;
use crate::wire::{
    self, IFF_LOWER_UP, IFF_NOARP, IFF_POINTOPOINT, IFF_UP, IFINFO_LEN, IFLA_ADDRESS, IFLA_IFNAME,
    IFLA_MTU, IfInfo, Message, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, Request, ifinfo,
};

/// RTMGRP_LINK: link changes.
const GROUP_LINK: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// The lower layer has carrier (IFF_LOWER_UP).
    pub carrier: bool,
    /// Point-to-point (no next hop needed to route through it).
    pub point_to_point: bool,
    /// The hardware address, for links that have a 6-byte one.
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    /// IFF_NOARP: the kernel neither asks nor answers ARP on it.
    pub noarp: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    Changed(Link),
    Removed { index: u32, name: String },
}

/// The link an RTM_NEWLINK/RTM_DELLINK describes (`None` without a name).
pub fn parse_link(m: &Message) -> Option<Link> {
    let info = IfInfo::parse(m)?;
    let name = m.attributes(IFINFO_LEN).find(IFLA_IFNAME)?;
    // The name is NUL-terminated on the wire.
    let name = name.split(|&b| b == 0).next().unwrap_or(name);
    let name = std::str::from_utf8(name).ok()?.to_string();
    let mac = m
        .attributes(IFINFO_LEN)
        .find(IFLA_ADDRESS)
        .and_then(|a| <[u8; 6]>::try_from(a).ok());
    let flags = info.flags;
    Some(Link {
        index: info.index,
        name,
        up: flags & IFF_UP != 0,
        carrier: flags & IFF_LOWER_UP != 0,
        point_to_point: flags & IFF_POINTOPOINT != 0 || mac.is_none(),
        mac,
        mtu: m.attributes(IFINFO_LEN).find_u32(IFLA_MTU),
        noarp: flags & IFF_NOARP != 0,
    })
}

/// Every link the kernel has now.
pub fn dump(rtnl: &mut Rtnl) -> io::Result<Vec<Link>> {
    let mut links = Vec::new();
    let request = Request::new(RTM_GETLINK, 0, &ifinfo(0, 0, 0, 0));
    rtnl.dump(request, RTM_NEWLINK, |m| links.extend(parse_link(m)))?;
    Ok(links)
}

/// A non-blocking socket subscribed to link changes; register its fd in the
/// loop and call [`LinkWatcher::drain`] when readable. When the kernel had
/// to drop announcements (the socket overran), the watcher asks for every
/// link again and reports the differences, so no carrier change is missed.
pub struct LinkWatcher {
    socket: Socket,
    rtnl: Rtnl,
    buf: Vec<u8>,
    /// The links last reported, by index (to find removals after an overrun).
    known: BTreeMap<u32, String>,
}

impl LinkWatcher {
    pub fn new() -> io::Result<LinkWatcher> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, GROUP_LINK))?;
        socket.set_non_blocking(true)?;
        Ok(LinkWatcher {
            socket,
            rtnl: Rtnl::new()?,
            buf: vec![0; 64 * 1024],
            known: BTreeMap::new(),
        })
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    /// Every link now, as `Changed` events (and remembered): the starting
    /// state, read after subscribing so nothing falls between the two.
    pub fn snapshot(&mut self) -> io::Result<Vec<LinkEvent>> {
        let links = dump(&mut self.rtnl)?;
        let mut events: Vec<LinkEvent> = Vec::new();
        let current: BTreeMap<u32, String> =
            links.iter().map(|l| (l.index, l.name.clone())).collect();
        for (index, name) in &self.known {
            if !current.contains_key(index) {
                events.push(LinkEvent::Removed {
                    index: *index,
                    name: name.clone(),
                });
            }
        }
        self.known = current;
        events.extend(links.into_iter().map(LinkEvent::Changed));
        Ok(events)
    }

    fn remember(&mut self, event: &LinkEvent) {
        match event {
            LinkEvent::Changed(l) => {
                self.known.insert(l.index, l.name.clone());
            }
            LinkEvent::Removed { index, .. } => {
                self.known.remove(index);
            }
        }
    }

    /// Everything the kernel announced since the last call.
    pub fn drain(&mut self) -> Vec<LinkEvent> {
        let mut events = Vec::new();
        loop {
            let len = match self.socket.recv(&mut &mut self.buf[..], 0) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ENOBUFS: announcements were lost; read the whole state.
                    tracing::warn!("link events lost ({e}); reading every link again");
                    match self.snapshot() {
                        Ok(all) => events.extend(all),
                        Err(e) => tracing::warn!("reading links: {e}"),
                    }
                    continue;
                }
            };
            for m in wire::messages(&self.buf[..len]) {
                match (m.kind(), parse_link(&m)) {
                    (RTM_NEWLINK, Some(link)) => events.push(LinkEvent::Changed(link)),
                    (RTM_DELLINK, Some(link)) => events.push(LinkEvent::Removed {
                        index: link.index,
                        name: link.name,
                    }),
                    _ => {}
                }
            }
        }
        for e in &events {
            self.remember(e);
        }
        events
    }
}
