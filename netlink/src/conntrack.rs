//! Forgetting connection tracking after a route-mode handoff: NATed flows
//! keep the old interface's address in their conntrack entry, so without a
//! flush they keep leaving with an address the new ISP drops. One ctnetlink
//! message (IPCTNL_MSG_CT_DELETE without a tuple) flushes the IPv4 table, so
//! no conntrack tool is needed.

use std::io;
use std::time::Duration;

use crate::socket::Netlink;
use crate::wire::{Request, nfgen_header};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
/// A netfilter message's type: subsystem in the high byte, message below.
const CT_DELETE: u16 = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
const AF_INET: u8 = 2;
/// The kernel's answer when nothing was tracked.
const ENOENT: i32 = 2;

/// The flush request: a delete without a tuple, for IPv4.
fn flush_request() -> Request {
    Request::new(CT_DELETE, 0, &nfgen_header(AF_INET))
}

/// Flushes the IPv4 conntrack table.
pub fn flush() -> io::Result<()> {
    let mut socket = Netlink::netfilter(Duration::from_secs(2))?;
    match socket.request(flush_request()) {
        Err(e) if e.raw_os_error() == Some(ENOENT) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{NFGEN_LEN, NLM_F_ACK, NLM_F_REQUEST, messages};

    #[test]
    fn the_flush_message_is_a_ctnetlink_delete_for_ipv4() {
        let mut r = flush_request();
        let bytes = r.finish(NLM_F_REQUEST | NLM_F_ACK, 7).to_vec();
        assert_eq!(bytes.len(), 16 + NFGEN_LEN);
        let m = messages(&bytes).next().unwrap();
        assert_eq!((m.kind(), m.seq()), (0x0102, 7));
        assert_eq!(m.payload(), &[2, 0, 0, 0]);
    }
}
