//! Changing a link: its hardware address, MTU, admin state and ARP flag,
//! in one RTM_NEWLINK request each, acknowledged by the kernel.

use std::io;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};

use crate::Rtnl;

/// What to change; `None` leaves it as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkChange {
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: Option<bool>,
    pub noarp: Option<bool>,
}

impl LinkChange {
    fn message(&self, index: u32) -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = index;
        for (want, flag) in [(self.up, LinkFlags::Up), (self.noarp, LinkFlags::Noarp)] {
            if let Some(on) = want {
                m.header.change_mask |= flag;
                if on {
                    m.header.flags |= flag;
                }
            }
        }
        if let Some(mac) = self.mac {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = self.mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        m
    }

    /// Applies the change to link `index`.
    pub fn apply(&self, rtnl: &mut Rtnl, index: u32) -> io::Result<()> {
        if *self == LinkChange::default() {
            return Ok(());
        }
        rtnl.request(RouteNetlinkMessage::SetLink(self.message(index)), 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_asked_is_in_the_message() {
        let m = LinkChange {
            up: Some(false),
            noarp: Some(true),
            ..LinkChange::default()
        }
        .message(7);
        assert_eq!(m.header.index, 7);
        assert_eq!(m.header.change_mask, LinkFlags::Up | LinkFlags::Noarp);
        assert_eq!(m.header.flags, LinkFlags::Noarp);
        assert!(m.attributes.is_empty());
        let m = LinkChange {
            mac: Some([2, 0, 0, 0, 0, 1]),
            mtu: Some(1400),
            ..LinkChange::default()
        }
        .message(3);
        assert!(m.header.change_mask.is_empty());
        assert_eq!(m.attributes.len(), 2);
    }
}
