//! The server's state machine driven directly: reports, admission, the
//! refusals (forged, unknown SPI, replayed, stale) that change nothing, and
//! Reactive Advice with retransmission, ack and expiry; every answer from
//! the server's address its client's datagram came to.

use std::net::{Ipv4Addr, SocketAddr};

use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::{IfaceReport, Message, Report, RequestHandoff, Session, Verdict};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader, code};
use mimm_proto::{DOC_ENTERPRISE, replay};
use mimm_server::core::{ClientKey, NetworkConfig, Now, Peer, Server, ServerConfig};

const KEY: &[u8] = b"client-one-key-0";
const SPI: u32 = 1000;
const T0: u64 = 1_800_000_000;

fn now(ms: u64) -> Now {
    Now {
        mono: ms,
        id: replay::identification(std::time::Duration::from_millis(T0 * 1000 + ms)),
    }
}

fn server() -> Server {
    Server::new(ServerConfig {
        clients: vec![
            ClientKey {
                name: "bus-1".into(),
                spi: SPI,
                algorithm: Algorithm::HmacSha256,
                key: KEY.to_vec(),
            },
            ClientKey {
                name: "bus-2".into(),
                spi: 1001,
                algorithm: Algorithm::HmacMd5,
                key: b"client-two-key-0".to_vec(),
            },
        ],
        networks: vec![
            NetworkConfig {
                id: "A".into(),
                capacity_kbps: Some(10_000),
            },
            NetworkConfig {
                id: "B".into(),
                capacity_kbps: Some(1_000),
            },
        ],
        ..ServerConfig::default()
    })
}

fn addr() -> SocketAddr {
    "192.0.2.50:40000".parse().unwrap()
}

fn request(ms: u64, spi: u32, key: &[u8], alg: Algorithm, messages: &[Message]) -> Vec<u8> {
    request_via([100, 64, 0, 7], ms, spi, key, alg, messages)
}

fn request_via(
    care_of: [u8; 4],
    ms: u64,
    spi: u32,
    key: &[u8],
    alg: Algorithm,
    messages: &[Message],
) -> Vec<u8> {
    let header = Header::Request(RequestHeader {
        flags: Flags(Flags::T),
        lifetime: 600,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: "192.0.2.10".parse().unwrap(),
        care_of: care_of.into(),
        identification: now(ms).id,
    });
    let mut buf = [0u8; 1500];
    let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
    for m in messages {
        b.mimm(m).unwrap();
    }
    b.sign(spi, alg, key).unwrap().to_vec()
}

fn report<'a>(rt_kbps: u32, primary: &'a str, links: &[(&'a str, u32)]) -> Vec<Message<'a>> {
    let mut all = vec![Message::Report(Report {
        sequence: 1,
        sessions: [Session {
            kind: 1,
            realtime: true,
            kbps: rt_kbps,
        }]
        .into_iter()
        .collect(),
    })];
    for (network, rate) in links {
        all.push(Message::IfaceReport(IfaceReport {
            name: network,
            kind: 4,
            network,
            metric_x100: -9000,
            rate_kbps: *rate,
            load_pct: 0,
            attached: true,
            primary: *network == primary,
        }));
    }
    all
}

/// The one reply the server queued, parsed with the client's key.
fn reply(s: &mut Server) -> (ReplyHeader, Vec<u8>) {
    let (to, d) = s.poll_transmit().expect("a reply");
    assert_eq!(to, addr());
    assert!(s.poll_transmit().is_none());
    let (Header::Reply(h), _) = Header::parse(&d).unwrap() else {
        panic!("not a reply")
    };
    (h, d.to_vec())
}

fn advice_of(bytes: &[u8]) -> (Verdict, String, Option<String>) {
    let keys = OneKey {
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: KEY,
    };
    let r = message::parse(bytes, DOC_ENTERPRISE, &keys).unwrap();
    match r.mimm[0].message().unwrap() {
        Message::HandoffAdvice(a) => (
            a.verdict,
            a.reason.to_string(),
            a.alternative.map(str::to_string),
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reports_are_accepted_and_admission_follows_the_capacity_model() {
    let mut s = server();
    let r = request(
        0,
        SPI,
        KEY,
        Algorithm::HmacSha256,
        &report(400, "A", &[("A", 5000), ("B", 2000), ("C", 3000)]),
    );
    s.handle_datagram(now(0), addr(), &r);
    let (h, _) = reply(&mut s);
    assert_eq!(h.code, code::ACCEPTED);
    assert_eq!(s.client(SPI).unwrap().network.as_deref(), Some("A"));
    assert_eq!(s.client(SPI).unwrap().rt_kbps, 400);

    // B has room for 900 kbit/s of real-time sessions: 400 fit.
    let ask = |target| {
        vec![Message::RequestHandoff(RequestHandoff {
            target_network: target,
            target_iface: "x",
            care_of: "100.64.0.8".parse().unwrap(),
        })]
    };
    s.handle_datagram(
        now(1000),
        addr(),
        &request(1000, SPI, KEY, Algorithm::HmacSha256, &ask("B")),
    );
    let (h, d) = reply(&mut s);
    assert_eq!(h.code, code::ACCEPTED);
    assert_eq!(advice_of(&d).0, Verdict::Allow);

    // The RTS feed fills B: denied, with the reason and C as alternative.
    s.set_rts("B", 700);
    s.handle_datagram(
        now(2000),
        addr(),
        &request(2000, SPI, KEY, Algorithm::HmacSha256, &ask("B")),
    );
    let (verdict, reason, alternative) = advice_of(&reply(&mut s).1);
    assert_eq!(verdict, Verdict::Deny);
    assert!(
        reason.contains("1100 kbit/s after the move > 900"),
        "{reason}"
    );
    assert_eq!(alternative.as_deref(), Some("C"));
    let c = s.counters();
    assert_eq!((c.handoff_requests, c.allowed, c.denied), (2, 1, 1));
}

#[test]
fn forged_unknown_replayed_and_stale_are_refused_counted_and_change_nothing() {
    let mut s = server();
    let good = request(
        0,
        SPI,
        KEY,
        Algorithm::HmacSha256,
        &report(100, "A", &[("A", 1000)]),
    );
    s.handle_datagram(now(0), addr(), &good);
    assert_eq!(reply(&mut s).0.code, code::ACCEPTED);
    let before = s.client(SPI).unwrap().clone();

    // Forged: a changed report under the old authenticator.
    let mut forged = request(
        100,
        SPI,
        KEY,
        Algorithm::HmacSha256,
        &report(900, "B", &[("B", 1000)]),
    );
    forged[30] ^= 0x40;
    s.handle_datagram(now(100), addr(), &forged);
    assert_eq!(reply(&mut s).0.code, code::FAILED_AUTHENTICATION);
    // Unknown SPI.
    let other = request(
        200,
        4242,
        KEY,
        Algorithm::HmacSha256,
        &report(900, "B", &[]),
    );
    s.handle_datagram(now(200), addr(), &other);
    assert_eq!(reply(&mut s).0.code, code::FAILED_AUTHENTICATION);
    // Replayed: the good message again.
    s.handle_datagram(now(300), addr(), &good);
    let (h, _) = reply(&mut s);
    assert_eq!(h.code, code::IDENTIFICATION_MISMATCH);
    // Stale: signed correctly, but its time is 60 s behind the server's.
    let stale = request(
        0,
        SPI,
        KEY,
        Algorithm::HmacSha256,
        &report(900, "B", &[("B", 1000)]),
    );
    s.handle_datagram(now(60_000), addr(), &stale);
    let (h, _) = reply(&mut s);
    assert_eq!(h.code, code::IDENTIFICATION_MISMATCH);
    // The reply carries the server's time for the client to resynchronise.
    assert_eq!(
        replay::seconds(h.identification),
        replay::seconds(now(60_000).id)
    );

    let after = s.client(SPI).unwrap();
    assert_eq!(
        (after.network.clone(), after.rt_kbps),
        (before.network, before.rt_kbps)
    );
    let c = s.counters();
    assert_eq!(
        (
            c.bad_authenticator,
            c.unknown_spi,
            c.replayed,
            c.stale,
            c.reports
        ),
        (1, 1, 1, 1, 1)
    );
}

/// What the server forgot (it was restarted; it let a care-of address's
/// guard go) never lets a replay in: a registration accepted before is
/// refused with code 133, a fresh one accepted.
#[test]
fn a_restarted_server_or_a_forgotten_guard_lets_no_replay_in() {
    let signed =
        |care_of: [u8; 4], ms: u64| request_via(care_of, ms, SPI, KEY, Algorithm::HmacSha256, &[]);
    let code_of = |s: &mut Server, ms: u64, bytes: &[u8]| {
        s.handle_datagram(now(ms), addr(), bytes);
        reply(s).0.code
    };
    let mut first = server();
    let good = signed([100, 64, 0, 7], 0);
    assert_eq!(code_of(&mut first, 0, &good), code::ACCEPTED);
    // Restarted 1 s later: within the 7 s window the old one would pass.
    let mut again = server().refuse_before(now(1000).id);
    assert_eq!(
        code_of(&mut again, 1500, &good),
        code::IDENTIFICATION_MISMATCH
    );
    assert_eq!(again.counters().replayed, 1);
    let fresh = signed([100, 64, 0, 7], 1600);
    assert_eq!(code_of(&mut again, 1600, &fresh), code::ACCEPTED);

    // Eight more care-of addresses: the first one's guard is let go, and
    // its accepted registration still does not pass again.
    for i in 1..=8u8 {
        let via = signed([100, 64, 1, i], 1600 + u64::from(i));
        assert_eq!(code_of(&mut again, 1700, &via), code::ACCEPTED);
    }
    assert_eq!(
        code_of(&mut again, 1800, &fresh),
        code::IDENTIFICATION_MISMATCH
    );
    let newer = signed([100, 64, 0, 7], 1900);
    assert_eq!(code_of(&mut again, 1900, &newer), code::ACCEPTED);
}

#[test]
fn an_alarm_pushes_reactive_advice_until_acked_and_expires() {
    let mut s = server();
    s.handle_datagram(
        now(0),
        addr(),
        &request(
            0,
            SPI,
            KEY,
            Algorithm::HmacSha256,
            &report(0, "A", &[("A", 1000), ("B", 1000)]),
        ),
    );
    reply(&mut s);
    assert_eq!(s.alarm(now(1000), "A", "linkDown cell 17", 30), 1);
    let (to, d) = s.poll_transmit().unwrap();
    assert_eq!(to, addr());
    let keys = OneKey {
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: KEY,
    };
    let r = message::parse(&d, DOC_ENTERPRISE, &keys).unwrap();
    let Message::ReactiveAdvice(a) = r.mimm[0].message().unwrap() else {
        panic!()
    };
    assert_eq!(
        (a.network, a.expiry_s, a.reason),
        ("A", 30, "linkDown cell 17")
    );
    let id = a.id;

    // No ack: retransmitted after 500 ms, then 1 s later (backoff).
    assert_eq!(s.poll_timeout(), Some(1500));
    s.handle_timeout(now(1500));
    assert!(s.poll_transmit().is_some());
    assert_eq!(s.poll_timeout(), Some(2500));
    s.handle_timeout(now(2000));
    assert!(s.poll_transmit().is_none());

    // Moving to A while the alarm lasts is refused.
    let ask = [Message::RequestHandoff(RequestHandoff {
        target_network: "A",
        target_iface: "x",
        care_of: "100.64.0.8".parse().unwrap(),
    })];
    s.handle_datagram(
        now(2100),
        addr(),
        &request(2100, SPI, KEY, Algorithm::HmacSha256, &ask),
    );
    assert_eq!(advice_of(&reply(&mut s).1).0, Verdict::Deny);

    // The ack (in a reply) stops the retransmissions.
    let ack = Header::Reply(ReplyHeader {
        code: 0,
        lifetime: 0,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: "192.0.2.10".parse().unwrap(),
        identification: now(1000).id,
    });
    let mut buf = [0u8; 256];
    let mut b = Builder::new(&mut buf, &ack, DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::Ack { id }).unwrap();
    let ack = b.sign(SPI, Algorithm::HmacSha256, KEY).unwrap().to_vec();
    s.handle_datagram(now(2200), addr(), &ack);
    assert_eq!(s.counters().acks, 1);
    assert_eq!(
        s.poll_timeout(),
        Some(31_000),
        "only the alarm's expiry is left"
    );

    // After the expiry, A is admissible again.
    s.handle_timeout(now(31_000));
    assert_eq!(s.poll_timeout(), None);
    s.handle_datagram(
        now(31_100),
        addr(),
        &request(31_100, SPI, KEY, Algorithm::HmacSha256, &ask),
    );
    assert_eq!(advice_of(&reply(&mut s).1).0, Verdict::Allow);
}

#[test]
fn reconfigure_keeps_known_clients_and_alarms_and_forgets_removed_or_rekeyed_ones() {
    let mut s = server();
    let bus2_key = b"client-two-key-0";
    for (spi, key, alg) in [
        (SPI, KEY, Algorithm::HmacSha256),
        (1001, &bus2_key[..], Algorithm::HmacMd5),
    ] {
        let r = request(
            0,
            spi,
            key,
            alg,
            &report(300, "A", &[("A", 1000), ("B", 1000)]),
        );
        s.handle_datagram(now(0), addr(), &r);
        s.poll_transmit().expect("a reply");
    }
    assert_eq!(s.alarm(now(100), "A", "down", 60), 2);
    while s.poll_transmit().is_some() {}
    // bus-2 gets a new key; bus-1 stays; B's capacity shrinks to 300.
    let cfg = ServerConfig {
        clients: vec![
            ClientKey {
                name: "bus-1".into(),
                spi: SPI,
                algorithm: Algorithm::HmacSha256,
                key: KEY.to_vec(),
            },
            ClientKey {
                name: "bus-2".into(),
                spi: 1001,
                algorithm: Algorithm::HmacMd5,
                key: b"client-two-key-1".to_vec(),
            },
        ],
        networks: vec![NetworkConfig {
            id: "B".into(),
            capacity_kbps: Some(300),
        }],
        ..ServerConfig::default()
    };
    assert_eq!(s.reconfigure(cfg), 1);
    assert!(
        s.client(SPI)
            .is_some_and(|c| c.network.as_deref() == Some("A"))
    );
    assert!(s.client(1001).is_none(), "rekeyed: forgotten");
    // bus-1's advice is still retransmitted (signed with its unchanged key);
    // bus-2's, signed with the old key, is not.
    s.handle_timeout(now(600));
    let resent: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(resent.len(), 1);
    // The alarm stays: a move to A is refused. B's new capacity applies to
    // bus-1's 300 kbit/s known from before (the old 1000 would admit it).
    for (ms, target, want) in [
        (701, "A", "network under an alarm"),
        (702, "B", "300 kbit/s after the move > 270 usable of 300"),
    ] {
        let ask = [Message::RequestHandoff(RequestHandoff {
            target_network: target,
            target_iface: "x",
            care_of: "100.64.0.8".parse().unwrap(),
        })];
        let r = request(ms, SPI, KEY, Algorithm::HmacSha256, &ask);
        s.handle_datagram(now(ms), addr(), &r);
        let (verdict, reason, _) = advice_of(&reply(&mut s).1);
        assert_eq!(verdict, Verdict::Deny, "{target}: {reason}");
        assert!(reason.contains(want), "{target}: {reason}");
    }
}

/// Acknowledges every datagram the server queued (Reactive Advice), as
/// the client at `addr()` would.
fn ack_all(s: &mut Server, ms: u64) -> usize {
    let keys = OneKey {
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: KEY,
    };
    let pushed: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    for (_, d) in &pushed {
        let r = message::parse(d, DOC_ENTERPRISE, &keys).unwrap();
        let Message::ReactiveAdvice(a) = r.mimm[0].message().unwrap() else {
            panic!("{r:?}")
        };
        let ack = Header::Reply(ReplyHeader {
            code: 0,
            lifetime: 0,
            home_address: "10.1.0.2".parse().unwrap(),
            home_agent: "192.0.2.10".parse().unwrap(),
            identification: r.header.identification(),
        });
        let mut buf = [0u8; 256];
        let mut b = Builder::new(&mut buf, &ack, DOC_ENTERPRISE).unwrap();
        b.mimm(&Message::Ack { id: a.id }).unwrap();
        let ack = b.sign(SPI, Algorithm::HmacSha256, KEY).unwrap().to_vec();
        s.handle_datagram(now(ms), addr(), &ack);
    }
    pushed.len()
}

#[test]
fn clients_still_on_an_alarmed_network_are_advised_again_periodically() {
    let mut s = server();
    let on = |s: &mut Server, ms: u64, network: &str| {
        let r = request(
            ms,
            SPI,
            KEY,
            Algorithm::HmacSha256,
            &report(0, network, &[("A", 1000), ("B", 1000)]),
        );
        s.handle_datagram(now(ms), addr(), &r);
        s.poll_transmit().expect("a reply");
    };
    on(&mut s, 0, "A");
    assert_eq!(s.alarm(now(1000), "A", "down", 300), 1);
    assert_eq!(ack_all(&mut s, 1100), 1);
    // Acknowledged, still on A a minute later: told again.
    assert_eq!(s.poll_timeout(), Some(61_000));
    s.handle_timeout(now(61_000));
    assert_eq!(ack_all(&mut s, 61_100), 1);
    // Once it reports being on B, it is left alone.
    on(&mut s, 62_000, "B");
    s.handle_timeout(now(121_000));
    assert_eq!(ack_all(&mut s, 121_100), 0);
    // After the alarm's expiry nothing repeats.
    s.handle_timeout(now(301_000));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn replies_and_advice_leave_from_the_address_the_client_sent_to() {
    let mut s = server();
    let far = Ipv4Addr::new(198, 51, 100, 1);
    let from = Peer {
        addr: addr(),
        local: Some(far),
    };
    let messages = report(0, "A", &[("A", 1000)]);
    let bytes = request(0, SPI, KEY, Algorithm::HmacSha256, &messages);
    s.handle_datagram_from(now(0), from, &bytes);
    let t = s.poll_transmit_from().expect("the reply");
    assert_eq!((t.to, t.local), (addr(), Some(far)));
    // Replayed: the refusal too.
    s.handle_datagram_from(now(10), from, &bytes);
    assert_eq!(s.poll_transmit_from().map(|t| t.local), Some(Some(far)));
    // Reactive Advice, and its retransmission, from the client's last one.
    assert_eq!(s.alarm(now(1000), "A", "down", 30), 1);
    assert_eq!(s.poll_transmit_from().map(|t| t.local), Some(Some(far)));
    s.handle_timeout(now(1500));
    assert_eq!(s.poll_transmit_from().map(|t| t.local), Some(Some(far)));
    // Told nothing (a socket bound to one address): nothing to say.
    let again = request(2000, SPI, KEY, Algorithm::HmacSha256, &messages);
    s.handle_datagram(now(2000), addr(), &again);
    assert_eq!(s.poll_transmit_from().map(|t| t.local), Some(None));
}
