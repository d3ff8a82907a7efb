//! Link state: which devices exist, whether they are up and have carrier.
//! A subscribed socket turns the kernel's RTM_NEWLINK/RTM_DELLINK into
//! events in the daemon's loop.

use std::collections::BTreeMap;
use std::io;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use crate::Rtnl;

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

pub fn parse_link(message: &LinkMessage) -> Option<Link> {
    let name = message.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })?;
    let flags = message.header.flags;
    let mut mac = None;
    let mut mtu = None;
    for a in &message.attributes {
        match a {
            LinkAttribute::Address(bytes) => mac = <[u8; 6]>::try_from(bytes.as_slice()).ok(),
            LinkAttribute::Mtu(m) => mtu = Some(*m),
            _ => {}
        }
    }
    Some(Link {
        index: message.header.index,
        name,
        up: flags.contains(LinkFlags::Up),
        carrier: flags.contains(LinkFlags::LowerUp),
        point_to_point: flags.contains(LinkFlags::Pointopoint) || mac.is_none(),
        mac,
        mtu,
        noarp: flags.contains(LinkFlags::Noarp),
    })
}

/// Every link the kernel has now.
pub fn dump(rtnl: &mut Rtnl) -> io::Result<Vec<Link>> {
    let answers = rtnl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    Ok(answers
        .iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => parse_link(l),
            _ => None,
        })
        .collect())
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
            let mut offset = 0;
            while offset + 16 <= len {
                let bytes = &self.buf[offset..len];
                let msg_len = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
                if msg_len < 16 || msg_len > bytes.len() {
                    break;
                }
                if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[..msg_len])
                {
                    match m.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                            if let Some(link) = parse_link(&l) {
                                events.push(LinkEvent::Changed(link));
                            }
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                            if let Some(link) = parse_link(&l) {
                                events.push(LinkEvent::Removed {
                                    index: link.index,
                                    name: link.name,
                                });
                            }
                        }
                        _ => {}
                    }
                }
                offset += (msg_len + 3) & !3;
            }
        }
        for e in &events {
            self.remember(e);
        }
        events
    }
}
