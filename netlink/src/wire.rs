//! Netlink messages on the wire, in the smoltcp style: checked views over
//! received bytes that never panic (every read is bounds-checked, a message
//! or attribute that does not fit is the end of the walk) and a builder for
//! requests. One codec for every family mimm speaks: rtnetlink (links,
//! addresses, routes, rules), generic netlink (nl80211) and ctnetlink, each
//! a fixed part after the header and attributes walked by [`Attributes`].
//! Only what mimm reads and writes is here; anything else is skipped, which
//! also keeps the daemons working where an emulator or a newer kernel sends
//! attributes nobody here knows.
//!
//! Netlink is in host byte order, hence `from_ne_bytes` throughout.

/// `struct nlmsghdr`: length, type, flags, sequence, port.
pub const HEADER_LEN: usize = 16;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_SETLINK: u16 = 19;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWNEIGH: u16 = 28;
pub const RTM_DELNEIGH: u16 = 29;
pub const RTM_GETNEIGH: u16 = 30;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_CREATE: u16 = 0x400;

/// `struct ifinfomsg` (16 bytes) and its attributes.
pub const IFINFO_LEN: usize = 16;
pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_MTU: u16 = 4;
pub const IFF_UP: u32 = 0x1;
pub const IFF_POINTOPOINT: u32 = 0x10;
pub const IFF_NOARP: u32 = 0x80;
pub const IFF_LOWER_UP: u32 = 0x1_0000;

/// `struct ifaddrmsg` (8 bytes) and its attributes.
pub const IFADDR_LEN: usize = 8;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;

/// `struct ndmsg` (12 bytes: family, pads, index, state, flags, type) and
/// its destination attribute.
pub const NDMSG_LEN: usize = 12;
pub const NDA_DST: u16 = 1;
pub const NUD_NOARP: u16 = 0x40;
pub const NUD_PERMANENT: u16 = 0x80;

/// `struct rtmsg` and `struct fib_rule_hdr` (12 bytes each) and theirs.
pub const RTMSG_LEN: usize = 12;
pub const RTA_DST: u16 = 1;
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_TABLE: u16 = 15;
pub const FRA_PRIORITY: u16 = 6;
pub const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
pub const FRA_TABLE: u16 = 15;

/// `struct genlmsghdr` (command, version, reserved): generic netlink's
/// fixed part.
pub const GENL_HDR_LEN: usize = 4;
/// `struct nfgenmsg` (family, version, resource id): ctnetlink's.
pub const NFGEN_LEN: usize = 4;

/// A generic netlink message's fixed part.
pub fn genl_header(command: u8, version: u8) -> [u8; GENL_HDR_LEN] {
    [command, version, 0, 0]
}

/// A netfilter message's fixed part for address `family` (version 0).
pub fn nfgen_header(family: u8) -> [u8; NFGEN_LEN] {
    [family, 0, 0, 0]
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One netlink message: its header checked against the bytes it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    bytes: &'a [u8],
}

impl<'a> Message<'a> {
    /// The message at the start of `bytes`, if its header is whole and its
    /// length fits.
    pub fn new_checked(bytes: &'a [u8]) -> Option<Message<'a>> {
        let len = u32_at(bytes, 0)? as usize;
        (HEADER_LEN..=bytes.len()).contains(&len).then(|| Message {
            bytes: &bytes[..len],
        })
    }

    pub fn kind(&self) -> u16 {
        u16_at(self.bytes, 4).unwrap_or(0)
    }

    pub fn seq(&self) -> u32 {
        u32_at(self.bytes, 8).unwrap_or(0)
    }

    /// What follows the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[HEADER_LEN..]
    }

    /// For NLMSG_ERROR: 0 (an acknowledgement) or a negative errno.
    pub fn error_code(&self) -> Option<i32> {
        (self.kind() == NLMSG_ERROR).then(|| u32_at(self.payload(), 0).map(|c| c as i32))?
    }

    /// The attributes after a fixed part of `fixed` bytes (ifinfomsg, ...).
    pub fn attributes(&self, fixed: usize) -> Attributes<'a> {
        Attributes {
            bytes: self.payload().get(align4(fixed)..).unwrap_or(&[]),
        }
    }
}

/// The messages in one datagram, in order; stops at the first that does
/// not fit.
pub fn messages(bytes: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let m = Message::new_checked(rest)?;
        rest = rest.get(align4(m.bytes.len())..).unwrap_or(&[]);
        Some(m)
    })
}

/// Route attributes (`struct rtattr` + payload), each bounds-checked.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    /// (type without the nested/byte-order bits, payload)
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let len = u16_at(self.bytes, 0)? as usize;
        let kind = u16_at(self.bytes, 2)? & 0x3fff;
        if len < 4 || len > self.bytes.len() {
            self.bytes = &[];
            return None;
        }
        let payload = &self.bytes[4..len];
        self.bytes = self.bytes.get(align4(len)..).unwrap_or(&[]);
        Some((kind, payload))
    }
}

impl<'a> Attributes<'a> {
    /// The attributes packed in `bytes`: a message's after its fixed part,
    /// or a nested attribute's payload.
    pub fn new(bytes: &'a [u8]) -> Attributes<'a> {
        Attributes { bytes }
    }

    pub fn find(self, kind: u16) -> Option<&'a [u8]> {
        self.filter(|(k, _)| *k == kind).map(|(_, p)| p).next()
    }

    /// The attributes nested in attribute `kind`.
    pub fn nested(self, kind: u16) -> Option<Attributes<'a>> {
        self.find(kind).map(Attributes::new)
    }

    pub fn find_u8(self, kind: u16) -> Option<u8> {
        self.find(kind).and_then(|p| p.first().copied())
    }

    pub fn find_u16(self, kind: u16) -> Option<u16> {
        self.find(kind).and_then(|p| u16_at(p, 0))
    }

    pub fn find_u32(self, kind: u16) -> Option<u32> {
        self.find(kind).and_then(|p| u32_at(p, 0))
    }
}

/// Appends one attribute (header, payload, padding) to `bytes`.
fn push_attr(bytes: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    bytes.extend_from_slice(&(len as u16).to_ne_bytes());
    bytes.extend_from_slice(&kind.to_ne_bytes());
    bytes.extend_from_slice(payload);
    bytes.resize(align4(bytes.len()), 0);
}

/// Attributes being put together on their own, to nest in another
/// (`Request::attr(kind | NLA_F_NESTED, &inner.into_bytes())`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrWriter {
    bytes: Vec<u8>,
}

impl AttrWriter {
    pub fn attr(mut self, kind: u16, payload: &[u8]) -> AttrWriter {
        push_attr(&mut self.bytes, kind, payload);
        self
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The flag of an attribute holding attributes.
pub const NLA_F_NESTED: u16 = 0x8000;

/// `struct ifinfomsg` fields of an RTM_*LINK message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfInfo {
    pub index: u32,
    pub flags: u32,
}

impl IfInfo {
    pub fn parse(m: &Message) -> Option<IfInfo> {
        let p = m.payload();
        (p.len() >= IFINFO_LEN).then_some(())?;
        Some(IfInfo {
            index: u32_at(p, 4)?,
            flags: u32_at(p, 8)?,
        })
    }
}

/// A request being put together: header, fixed part, attributes. Control
/// path only (a few per handoff), so it owns a small vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// A message of `kind` with `fixed` (ifinfomsg, rtmsg, ...) after the header.
    pub fn new(kind: u16, flags: u16, fixed: &[u8]) -> Request {
        let mut bytes = vec![0; HEADER_LEN];
        bytes[4..6].copy_from_slice(&kind.to_ne_bytes());
        bytes[6..8].copy_from_slice(&flags.to_ne_bytes());
        bytes.extend_from_slice(fixed);
        bytes.resize(align4(bytes.len()), 0);
        let mut r = Request { bytes };
        r.set_len();
        r
    }

    fn set_len(&mut self) {
        let len = self.bytes.len() as u32;
        self.bytes[0..4].copy_from_slice(&len.to_ne_bytes());
    }

    pub fn attr(mut self, kind: u16, payload: &[u8]) -> Request {
        push_attr(&mut self.bytes, kind, payload);
        self.set_len();
        self
    }

    pub fn attr_u32(self, kind: u16, value: u32) -> Request {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// Adds flags (REQUEST, ACK, DUMP) and the sequence number, and hands
    /// out the bytes to send.
    pub fn finish(&mut self, flags: u16, seq: u32) -> &[u8] {
        let f = u16_at(&self.bytes, 6).unwrap_or(0) | flags;
        self.bytes[6..8].copy_from_slice(&f.to_ne_bytes());
        self.bytes[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.bytes
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// `struct ifinfomsg` for a request on link `index`: `flags` set within
/// `change`.
pub fn ifinfo(family: u8, index: u32, flags: u32, change: u32) -> [u8; IFINFO_LEN] {
    let mut b = [0u8; IFINFO_LEN];
    b[0] = family;
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_back_through_the_views() {
        let mut r = Request::new(RTM_SETLINK, 0, &ifinfo(0, 7, IFF_UP, IFF_UP | IFF_NOARP))
            .attr(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1])
            .attr_u32(IFLA_MTU, 1400);
        let bytes = r.finish(NLM_F_REQUEST | NLM_F_ACK, 42).to_vec();
        assert_eq!(bytes.len(), 16 + 16 + 12 + 8);
        let all: Vec<Message> = messages(&bytes).collect();
        assert_eq!(all.len(), 1);
        let m = all[0];
        assert_eq!((m.kind(), m.seq()), (RTM_SETLINK, 42));
        assert_eq!(
            IfInfo::parse(&m),
            Some(IfInfo {
                index: 7,
                flags: IFF_UP
            })
        );
        assert_eq!(
            m.attributes(IFINFO_LEN).find(IFLA_ADDRESS),
            Some(&[2, 0, 0, 0, 0, 1][..])
        );
        assert_eq!(m.attributes(IFINFO_LEN).find_u32(IFLA_MTU), Some(1400));
        assert_eq!(m.attributes(IFINFO_LEN).count(), 2);
    }

    #[test]
    fn lengths_that_lie_end_the_walk() {
        let mut r = Request::new(RTM_NEWLINK, 0, &ifinfo(0, 1, 0, 0)).attr_u32(IFLA_MTU, 1);
        let mut bytes = r.finish(0, 1).to_vec();
        // An attribute claiming more than there is.
        let at = HEADER_LEN + IFINFO_LEN;
        bytes[at..at + 2].copy_from_slice(&200u16.to_ne_bytes());
        let m = Message::new_checked(&bytes).unwrap();
        assert_eq!(m.attributes(IFINFO_LEN).count(), 0);
        // A message claiming more than the datagram.
        bytes[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(Message::new_checked(&bytes).is_none());
        assert_eq!(messages(&bytes).count(), 0);
        // Shorter than a header.
        bytes[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(messages(&bytes).count(), 0);
    }
}
