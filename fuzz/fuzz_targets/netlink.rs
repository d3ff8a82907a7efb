//! Netlink datagrams as the kernel sends them (mimm-netlink): the message
//! and attribute walk, the parsers of links, addresses, default routes and
//! nl80211 station info, traffic control's action counts, and what the socket makes of each answer (data,
//! an error or acknowledgement, the end of a dump). None may panic or loop;
//! a message rebuilt with the crate's request builder from what the views
//! read reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimm_netlink::wire::{
    self, Attributes, GENL_HDR_LEN, IFADDR_LEN, IFINFO_LEN, Message, NFGEN_LEN, RTMSG_LEN, Request,
};
use mimm_netlink::{addresses, fuzzing, links, nl80211, routes};

/// Every attribute, nested ones walked too (a few levels deep).
fn walk(attrs: Attributes, depth: u32) -> usize {
    let mut n = 0;
    for (_, payload) in attrs {
        n += 1;
        if depth < 4 {
            n += walk(Attributes::new(payload), depth + 1);
        }
    }
    n
}

/// The fixed part of message kind `kind`, as the daemons read it.
fn fixed_len(kind: u16) -> usize {
    match kind {
        wire::RTM_NEWLINK..=wire::RTM_SETLINK => IFINFO_LEN,
        wire::RTM_NEWADDR..=wire::RTM_GETADDR => IFADDR_LEN,
        wire::RTM_NEWROUTE..=wire::RTM_GETROUTE | wire::RTM_NEWRULE | wire::RTM_DELRULE => {
            RTMSG_LEN
        }
        // Generic netlink's and netfilter's fixed parts are alike.
        _ => GENL_HDR_LEN.max(NFGEN_LEN),
    }
}

fn one(m: &Message) {
    let _ = (m.kind(), m.seq(), m.error_code());
    for fixed in [0, GENL_HDR_LEN, IFADDR_LEN, RTMSG_LEN, IFINFO_LEN] {
        walk(m.attributes(fixed), 0);
    }
    let _ = wire::IfInfo::parse(m);
    let link = links::parse_link(m);
    let address = addresses::parse_address(m);
    let gateway = routes::default_gateway(m);
    let station = nl80211::parse_station(m.attributes(GENL_HDR_LEN));
    // The kernel path's action counts: never more actions than attributes.
    assert!(fuzzing::parse_counts(m).len() <= walk(m.attributes(4), 0));

    // Rebuilt from its kind, sequence number, fixed part and attributes.
    let fixed = fixed_len(m.kind());
    let Some(head) = m.payload().get(..fixed) else {
        return;
    };
    let attrs: Vec<(u16, &[u8])> = m.attributes(fixed).collect();
    let mut r = Request::new(m.kind(), 0, head);
    for &(kind, payload) in &attrs {
        r = r.attr(kind, payload);
    }
    let bytes = r.finish(0, m.seq()).to_vec();
    let again = wire::messages(&bytes).collect::<Vec<_>>();
    assert_eq!(again.len(), 1, "one message rebuilt");
    let b = &again[0];
    assert_eq!((b.kind(), b.seq()), (m.kind(), m.seq()));
    assert_eq!(&b.payload()[..fixed], head);
    assert_eq!(b.attributes(fixed).collect::<Vec<_>>(), attrs);
    // What the parser of its kind reads of it (the others read another
    // fixed part, which the rebuilt message need not keep).
    match fixed {
        IFINFO_LEN => assert_eq!(links::parse_link(b), link),
        IFADDR_LEN => assert_eq!(addresses::parse_address(b), address),
        RTMSG_LEN => assert_eq!(routes::default_gateway(b), gateway),
        _ => assert_eq!(nl80211::parse_station(b.attributes(GENL_HDR_LEN)), station),
    }
}

fuzz_target!(|data: &[u8]| {
    walk(Attributes::new(data), 0);
    let messages: Vec<Message> = wire::messages(data).collect();
    // Each message starts past the last: the walk ends.
    assert!(messages.len() <= data.len() / wire::HEADER_LEN);
    for m in &messages {
        one(m);
    }
    // The socket's reading of an exchange's answers: those of the first
    // message's sequence number and kind, until an error, an
    // acknowledgement or the end of a dump.
    let Some(first) = messages.first() else {
        return;
    };
    let (seq, kind) = (first.seq(), first.kind());
    let mut data_messages = 0;
    let mut each = fuzzing::answers_of(kind, |m| {
        assert_eq!(m.kind(), kind);
        data_messages += 1;
    });
    let mut ended = None;
    for m in messages.iter().filter(|m| m.seq() == seq) {
        if let Some(done) = each(*m) {
            ended = Some(done.map_err(|e| e.raw_os_error()));
            break;
        }
    }
    drop(each);
    if let Some(Err(code)) = ended {
        assert!(code.is_some());
    }
    assert!(data_messages <= messages.len());
});
