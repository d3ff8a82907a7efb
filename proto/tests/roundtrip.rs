//! parse(emit(x)) == x for every MIMM message and for whole signed
//! registrations; arbitrary bytes never panic any parser.

use std::net::Ipv4Addr;

use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::{
    HandoffAdvice, IfaceReport, Message, ReactiveAdvice, Report, RequestHandoff, Session, Verdict,
};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader};
use mimm_proto::{DOC_ENTERPRISE, ext, field::Writer, mimm};
use proptest::prelude::*;

/// The owned material a message borrows from.
#[derive(Debug, Clone)]
struct Texts {
    a: String,
    b: String,
    c: String,
}

fn texts() -> impl Strategy<Value = Texts> {
    ("\\PC{0,20}", "\\PC{0,20}", "[a-z0-9 ]{0,40}").prop_map(|(a, b, c)| Texts { a, b, c })
}

/// (selector, numbers, sessions) → one message of each shape.
type Numbers = (u32, i32, u32, u8, u8, bool, bool, Option<bool>);

fn numbers() -> impl Strategy<Value = Numbers> {
    (
        any::<u32>(),
        any::<i32>(),
        any::<u32>(),
        any::<u8>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(any::<bool>()),
    )
}

fn build<'a>(which: u8, t: &'a Texts, n: Numbers, sessions: &[(u8, bool, u32)]) -> Message<'a> {
    let (u, i, u2, b, verdict, f1, f2, opt) = n;
    let alt = opt.map(|_| t.c.as_str());
    match which % 6 {
        0 => Message::Report(Report {
            sequence: u,
            sessions: sessions
                .iter()
                .map(|&(kind, realtime, kbps)| Session {
                    kind,
                    realtime,
                    kbps,
                })
                .collect(),
        }),
        1 => Message::IfaceReport(IfaceReport {
            name: &t.a,
            kind: b,
            network: &t.b,
            metric_x100: i,
            rate_kbps: u2,
            load_pct: b.wrapping_mul(3),
            attached: f1,
            primary: f2,
        }),
        2 => Message::RequestHandoff(RequestHandoff {
            target_network: &t.a,
            target_iface: &t.b,
            care_of: Ipv4Addr::from(u),
        }),
        3 => Message::HandoffAdvice(HandoffAdvice {
            verdict: match verdict {
                0 => Verdict::Allow,
                1 => Verdict::Deny,
                _ => Verdict::RetryAfter(u2),
            },
            reason: &t.c,
            alternative: alt,
            binding_done: f1,
        }),
        4 => Message::ReactiveAdvice(ReactiveAdvice {
            id: u,
            network: &t.a,
            reason: &t.c,
            expiry_s: i.max(-1),
            alternative: alt,
        }),
        _ => Message::Ack { id: u },
    }
}

fn header(request: bool, n: (u8, u16, u32, u32, u32, u64)) -> Header {
    let (flags, lifetime, home, agent, coa, id) = n;
    if request {
        Header::Request(RequestHeader {
            flags: Flags(flags),
            lifetime,
            home_address: home.into(),
            home_agent: agent.into(),
            care_of: coa.into(),
            identification: id,
        })
    } else {
        Header::Reply(ReplyHeader {
            code: flags,
            lifetime,
            home_address: home.into(),
            home_agent: agent.into(),
            identification: id,
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_message_survives_emit_and_parse(
        which in 0u8..6,
        t in texts(),
        n in numbers(),
        sessions in proptest::collection::vec((any::<u8>(), any::<bool>(), any::<u32>()), 0..16),
    ) {
        let m = build(which, &t, n, &sessions);
        let mut buf = [0u8; 1024];
        let mut w = Writer::new(&mut buf);
        m.emit(&mut w).unwrap();
        let bytes = w.written().to_vec();
        prop_assert_eq!(Message::parse(m.kind(), &bytes).unwrap(), m);
    }

    #[test]
    fn signed_registrations_survive_build_and_parse(
        request in any::<bool>(),
        h in (any::<u8>(), any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>()),
        picks in proptest::collection::vec((0u8..6, numbers()), 0..4),
        t in texts(),
        tunnel in proptest::option::of((any::<u8>(), any::<u8>())),
        sha in any::<bool>(),
        spi in 256u32..,
        key in proptest::collection::vec(any::<u8>(), 16..40),
    ) {
        let header = header(request, h);
        let algorithm = if sha { Algorithm::HmacSha256 } else { Algorithm::HmacMd5 };
        let messages: Vec<Message> = picks.iter().map(|&(w, n)| build(w, &t, n, &[])).collect();
        let mut buf = [0u8; 2048];
        let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
        for m in &messages {
            b.mimm(m).unwrap();
        }
        if let Some((flags, encapsulation)) = tunnel {
            b.udp_tunnel_request(flags, encapsulation).unwrap();
        }
        let bytes = b.sign(spi, algorithm, &key).unwrap().to_vec();
        let keys = OneKey { spi, algorithm, key: &key };
        let r = message::parse(&bytes, DOC_ENTERPRISE, &keys).unwrap();
        prop_assert_eq!(r.header, header);
        prop_assert_eq!(r.spi, spi);
        let parsed: Vec<Message> = r.mimm.iter().map(|i| i.message().unwrap()).collect();
        prop_assert_eq!(parsed, messages);
        prop_assert_eq!(
            r.udp_tunnel,
            tunnel.map(|(flags, encapsulation)| ext::Extension::UdpTunnelRequest { flags, encapsulation })
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let keys = OneKey { spi: 256, algorithm: Algorithm::HmacMd5, key: b"k" };
        let _ = message::parse(&bytes, DOC_ENTERPRISE, &keys);
        for item in ext::walk(&bytes) {
            if item.is_err() { break; }
        }
        for kind in 0..8 {
            let _ = mimm::Message::parse(kind, &bytes);
        }
    }

    /// Valid messages with one byte changed: rejected or parsed, never a panic,
    /// and never accepted as authentic when the change is in covered bytes.
    #[test]
    fn mutated_messages_never_panic_or_pass_as_authentic(
        which in 0u8..6, t in texts(), n in numbers(), at in any::<prop::sample::Index>(), x in 1u8..,
    ) {
        let header = header(true, (0, 60, 1, 2, 3, 4));
        let m = build(which, &t, n, &[]);
        let mut buf = [0u8; 1024];
        let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
        b.mimm(&m).unwrap();
        let mut bytes = b.sign(300, Algorithm::HmacSha256, b"secret").unwrap().to_vec();
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        let keys = OneKey { spi: 300, algorithm: Algorithm::HmacSha256, key: b"secret" };
        prop_assert!(message::parse(&bytes, DOC_ENTERPRISE, &keys).is_err());
    }
}
