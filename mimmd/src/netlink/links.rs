//! Link state: which devices exist, whether they are up and have carrier.
//! A subscribed socket turns the kernel's RTM_NEWLINK/RTM_DELLINK into
//! events in the daemon's loop.

use std::io;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use crate::netlink::Rtnl;

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
    Some(Link {
        index: message.header.index,
        name,
        up: flags.contains(LinkFlags::Up),
        carrier: flags.contains(LinkFlags::LowerUp),
        point_to_point: flags.contains(LinkFlags::Pointopoint) || flags.contains(LinkFlags::Noarp),
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
/// loop and call [`LinkWatcher::drain`] when readable.
pub struct LinkWatcher {
    socket: Socket,
    buf: Vec<u8>,
}

impl LinkWatcher {
    pub fn new() -> io::Result<LinkWatcher> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, GROUP_LINK))?;
        socket.set_non_blocking(true)?;
        Ok(LinkWatcher {
            socket,
            buf: vec![0; 64 * 1024],
        })
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.socket.as_raw_fd()
    }

    /// Everything the kernel announced since the last call.
    pub fn drain(&mut self) -> Vec<LinkEvent> {
        let mut events = Vec::new();
        loop {
            let len = match self.socket.recv(&mut &mut self.buf[..], 0) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return events,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ENOBUFS: events were lost; the caller re-dumps on an empty
                    // answer plus this log line.
                    tracing::warn!("link events: {e}");
                    return events;
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
    }
}
