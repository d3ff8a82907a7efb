//! Forgetting connection tracking after a route-mode handoff: NATed flows
//! keep the old interface's address in their conntrack entry, so without a
//! flush they keep leaving with an address the new ISP drops. One netlink
//! message (ctnetlink IPCTNL_MSG_CT_DELETE without a tuple) flushes the IPv4
//! table, so no conntrack tool is needed.

use std::io;

use netlink_sys::protocols::NETLINK_NETFILTER;
use netlink_sys::{Socket, SocketAddr};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;

/// The flush request: netlink header + nfgenmsg (AF_INET, version 0).
fn flush_message(seq: u32) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..4].copy_from_slice(&20u32.to_ne_bytes());
    m[4..6].copy_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE).to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m[16] = libc::AF_INET as u8;
    m
}

/// Flushes the IPv4 conntrack table.
pub fn flush() -> io::Result<()> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let timeout = Some(std::time::Duration::from_secs(2));
    rustix::net::sockopt::set_socket_timeout(
        &socket,
        rustix::net::sockopt::Timeout::Recv,
        timeout,
    )?;
    socket.send(&flush_message(1), 0)?;
    let mut buf = [0u8; 256];
    let len = socket.recv(&mut &mut buf[..], 0)?;
    if len >= 20 && u16::from_ne_bytes([buf[4], buf[5]]) == NLMSG_ERROR {
        let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        // ENOENT: nothing tracked; fine.
        if code != 0 && code != -libc::ENOENT {
            return Err(io::Error::from_raw_os_error(-code));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flush_message_is_a_ctnetlink_delete_for_ipv4() {
        let m = flush_message(7);
        assert_eq!(u32::from_ne_bytes([m[0], m[1], m[2], m[3]]), 20);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 0x0102);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 5);
        assert_eq!(u32::from_ne_bytes([m[8], m[9], m[10], m[11]]), 7);
        assert_eq!(&m[16..20], &[2, 0, 0, 0]);
    }
}
