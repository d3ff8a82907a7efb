//! The neighbours (ARP and NDP entries) the kernel holds for a link, and
//! forgetting them: a VSD that takes over the TAP a killed run left finds
//! entries the kernel was resolving while nobody read the TAP, their first
//! solicitation lost; forgotten, the next packet asks again at once
//! instead of at the kernel's next retry, a second later.

use std::io;

use rustix::io::Errno;

use crate::Rtnl;
use crate::routes::absent_is_fine;
use crate::wire::{
    Message, NDA_DST, NDMSG_LEN, NUD_NOARP, NUD_PERMANENT, RTM_DELNEIGH, RTM_GETNEIGH,
    RTM_NEWNEIGH, Request,
};

/// One neighbour entry: the `ndmsg` to delete it by and its address.
struct Entry {
    ndmsg: [u8; NDMSG_LEN],
    dst: Vec<u8>,
}

/// The entry of an RTM_NEWNEIGH on link `index`, unless the kernel keeps
/// it for good (static or NOARP entries are configuration, not learnt).
fn parse_entry(m: &Message, index: u32) -> Option<Entry> {
    let ndmsg: [u8; NDMSG_LEN] = m.payload().get(..NDMSG_LEN)?.try_into().ok()?;
    let on = u32::from_ne_bytes(ndmsg[4..8].try_into().ok()?);
    let state = u16::from_ne_bytes(ndmsg[8..10].try_into().ok()?);
    if on != index || state & (NUD_PERMANENT | NUD_NOARP) != 0 {
        return None;
    }
    let dst = m.attributes(NDMSG_LEN).find(NDA_DST)?.to_vec();
    Some(Entry { ndmsg, dst })
}

/// Forgets every learnt or pending neighbour of link `index` (IPv4 and
/// IPv6); how many. One that went meanwhile is no error.
pub fn forget(rtnl: &mut Rtnl, index: u32) -> io::Result<usize> {
    let mut entries = Vec::new();
    rtnl.dump(
        Request::new(RTM_GETNEIGH, 0, &[0; NDMSG_LEN]),
        RTM_NEWNEIGH,
        |m| entries.extend(parse_entry(m, index)),
    )?;
    for e in &entries {
        let request = Request::new(RTM_DELNEIGH, 0, &e.ndmsg).attr(NDA_DST, &e.dst);
        absent_is_fine(rtnl.request(request), Errno::NOENT)?;
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newneigh(index: u32, state: u16) -> Vec<u8> {
        let mut ndmsg = [0u8; NDMSG_LEN];
        ndmsg[0] = 2;
        ndmsg[4..8].copy_from_slice(&index.to_ne_bytes());
        ndmsg[8..10].copy_from_slice(&state.to_ne_bytes());
        Request::new(RTM_NEWNEIGH, 0, &ndmsg)
            .attr(NDA_DST, &[10, 200, 0, 1])
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn learnt_and_pending_entries_of_the_link_are_forgotten_static_ones_kept() {
        let incomplete = newneigh(7, 0x01);
        let m = Message::new_checked(&incomplete).unwrap();
        let e = parse_entry(&m, 7).unwrap();
        assert_eq!(e.dst, [10, 200, 0, 1]);
        assert!(parse_entry(&m, 8).is_none(), "another link's");
        for kept in [NUD_PERMANENT, NUD_NOARP] {
            let bytes = newneigh(7, kept);
            assert!(parse_entry(&Message::new_checked(&bytes).unwrap(), 7).is_none());
        }
        let short = &incomplete[..20];
        assert!(Message::new_checked(short).is_none_or(|m| parse_entry(&m, 7).is_none()));
    }
}
