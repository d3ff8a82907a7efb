//! Changing a link: its hardware address, MTU, admin state and ARP flag,
//! in one RTM_SETLINK request, acknowledged by the kernel.

use std::io;

use crate::Rtnl;
use crate::wire::{IFF_NOARP, IFF_UP, IFLA_ADDRESS, IFLA_MTU, RTM_SETLINK, Request, ifinfo};

/// What to change; `None` leaves it as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkChange {
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub up: Option<bool>,
    pub noarp: Option<bool>,
}

impl LinkChange {
    fn message(&self, index: u32) -> Request {
        let (mut flags, mut change) = (0, 0);
        for (want, flag) in [(self.up, IFF_UP), (self.noarp, IFF_NOARP)] {
            if let Some(on) = want {
                change |= flag;
                if on {
                    flags |= flag;
                }
            }
        }
        let mut r = Request::new(RTM_SETLINK, 0, &ifinfo(0, index, flags, change));
        if let Some(mac) = self.mac {
            r = r.attr(IFLA_ADDRESS, &mac);
        }
        if let Some(mtu) = self.mtu {
            r = r.attr_u32(IFLA_MTU, mtu);
        }
        r
    }

    /// Applies the change to link `index`.
    pub fn apply(&self, rtnl: &mut Rtnl, index: u32) -> io::Result<()> {
        if *self == LinkChange::default() {
            return Ok(());
        }
        rtnl.request(self.message(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{IFINFO_LEN, Message};

    fn change_mask(m: &Message) -> u32 {
        u32::from_ne_bytes(m.payload()[12..16].try_into().unwrap())
    }

    #[test]
    fn only_what_is_asked_is_in_the_message() {
        let r = LinkChange {
            up: Some(false),
            noarp: Some(true),
            ..LinkChange::default()
        }
        .message(7);
        let m = Message::new_checked(r.as_bytes()).unwrap();
        let info = crate::wire::IfInfo::parse(&m).unwrap();
        assert_eq!((info.index, info.flags), (7, IFF_NOARP));
        assert_eq!(change_mask(&m), IFF_UP | IFF_NOARP);
        assert_eq!(m.attributes(IFINFO_LEN).count(), 0);
        let r = LinkChange {
            mac: Some([2, 0, 0, 0, 0, 1]),
            mtu: Some(1400),
            ..LinkChange::default()
        }
        .message(3);
        let m = Message::new_checked(r.as_bytes()).unwrap();
        assert_eq!(change_mask(&m), 0);
        assert_eq!(m.attributes(IFINFO_LEN).count(), 2);
    }
}
