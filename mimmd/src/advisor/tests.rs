//! The advisor against the real server core, in memory: every datagram
//! either way goes through both parsers, signatures and replay guards.

use std::net::{Ipv4Addr, SocketAddr};

use mimm_proto::auth::Algorithm;
use mimm_proto::message;
use mimm_proto::mimm::{Message, Verdict};
use mimm_proto::registration::Header;
use mimm_server::core::{self as server, ClientKey, NetworkConfig, Server, ServerConfig};

use super::*;

const KEY: &[u8] = b"0123456789abcdef";
const SPI: u32 = 1000;
/// 2026-01-20 00:00:00.5 UTC as an Identification.
const T0: u64 = (3_977_884_800 << 32) | 0x8000_0000;

fn server_addr() -> SocketAddr {
    "198.51.100.1:434".parse().unwrap()
}

fn client_addr() -> SocketAddr {
    "10.1.0.2:40000".parse().unwrap()
}

fn settings() -> Settings {
    Settings {
        server: server_addr(),
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: KEY.to_vec(),
        vendor: mimm_proto::DOC_ENTERPRISE,
        window_s: 7,
        report_ms: 20_000,
        retransmit_ms: 500,
        answer_timeout_ms: 3_000,
        sessions: vec![Session {
            kind: 1,
            realtime: true,
            kbps: 64,
        }],
    }
}

fn server_with(capacity_b: Option<u32>) -> Server {
    Server::new(ServerConfig {
        clients: vec![ClientKey {
            name: "bus17".into(),
            spi: SPI,
            algorithm: Algorithm::HmacSha256,
            key: KEY.to_vec(),
        }],
        networks: vec![NetworkConfig {
            id: "B".into(),
            capacity_kbps: capacity_b,
        }],
        ..ServerConfig::default()
    })
}

fn link(name: &str, network: &str, primary: bool) -> LinkReport {
    LinkReport {
        name: name.into(),
        kind: 4,
        network: network.into(),
        metric_x100: -9000,
        rate_kbps: 20_000,
        attached: true,
        primary,
        address: Ipv4Addr::new(10, 1, 0, 2),
    }
}

/// Both clocks at `ms` after T0 (`skew_s`: the client's clock error).
fn at(ms: u64, skew_s: i64) -> (Now, server::Now) {
    let frac = (ms % 1000) * (1u64 << 32) / 1000;
    let id = T0 + ((ms / 1000) << 32) + frac;
    let client = Now {
        mono: ms,
        id: id.wrapping_add((skew_s as u64) << 32),
    };
    (client, server::Now { mono: ms, id })
}

/// Delivers everything queued both ways until both are quiet.
fn exchange(a: &mut Advisor, s: &mut Server, ms: u64, skew_s: i64) {
    let (c, n) = at(ms, skew_s);
    for _ in 0..10 {
        let mut moved = false;
        while let Some(d) = a.poll_transmit() {
            s.handle_datagram(n, client_addr(), &d);
            moved = true;
        }
        while let Some((to, d)) = s.poll_transmit() {
            assert_eq!(to, client_addr());
            a.handle_datagram(c, &d);
            moved = true;
        }
        if !moved {
            return;
        }
    }
    panic!("the two never went quiet");
}

fn events(a: &mut Advisor) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

#[test]
fn a_report_tells_the_server_the_network_and_a_change_is_reported_at_once() {
    let (mut a, mut s) = (Advisor::new(settings()), server_with(None));
    let links = [link("lte", "A", true), link("wifi", "B", false)];
    a.update(at(0, 0).0, &links);
    exchange(&mut a, &mut s, 0, 0);
    let c = s.client(SPI).unwrap();
    assert_eq!(c.network.as_deref(), Some("A"));
    assert_eq!(c.rt_kbps, 64);
    assert_eq!(a.poll_timeout(), None, "answered: nothing outstanding");
    // Nothing new, not due: silent.
    a.update(at(1000, 0).0, &links);
    assert!(a.poll_transmit().is_none());
    // The primary moved: reported now, not in 20 s.
    let moved = [link("lte", "A", false), link("wifi", "B", true)];
    a.update(at(2000, 0).0, &moved);
    exchange(&mut a, &mut s, 2000, 0);
    assert_eq!(s.client(SPI).unwrap().network.as_deref(), Some("B"));
    // The period: a report even without a change.
    a.update(at(22_000, 0).0, &moved);
    assert!(a.poll_transmit().is_some());
    assert_eq!(a.counters().reports, 3);
}

#[test]
fn handoff_to_a_full_network_is_denied_with_the_reason_and_an_open_one_allowed() {
    let (mut a, mut s) = (Advisor::new(settings()), server_with(Some(1000)));
    let links = [
        link("lte", "A", true),
        link("wifi", "B", false),
        link("lte2", "C", false),
    ];
    a.update(at(0, 0).0, &links);
    exchange(&mut a, &mut s, 0, 0);
    s.set_rts("B", 950);
    a.request_handoff(at(100, 0).0, 1, &links);
    exchange(&mut a, &mut s, 100, 0);
    let got = events(&mut a);
    let [
        Event::Answer {
            iface: 1,
            verdict: Verdict::Deny,
            reason,
            alternative,
        },
    ] = got.as_slice()
    else {
        panic!("{got:?}");
    };
    assert!(reason.contains("real-time capacity"), "{reason}");
    assert_eq!(alternative.as_deref(), Some("C"));
    a.request_handoff(at(200, 0).0, 2, &links);
    exchange(&mut a, &mut s, 200, 0);
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::Answer {
            iface: 2,
            verdict: Verdict::Allow,
            ..
        }]
    ));
    assert_eq!(s.counters().denied, 1);
    assert_eq!(s.counters().allowed, 1);
}

#[test]
fn reactive_advice_is_obeyed_once_and_acknowledged_even_when_retransmitted() {
    let (mut a, mut s) = (Advisor::new(settings()), server_with(None));
    a.update(
        at(0, 0).0,
        &[link("lte", "A", true), link("wifi", "B", false)],
    );
    exchange(&mut a, &mut s, 0, 0);
    assert_eq!(s.alarm(at(1000, 0).1, "A", "cell 17 down", 300), 1);
    // The first push is lost on the way; the server sends it again.
    let (_, lost) = s.poll_transmit().unwrap();
    s.handle_timeout(at(1500, 0).1);
    let (_, again) = s.poll_transmit().unwrap();
    assert_eq!(lost, again, "a retransmission is the same datagram");
    a.handle_datagram(at(1500, 0).0, &again);
    let got = events(&mut a);
    assert_eq!(
        got,
        [Event::Avoid {
            network: "A".into(),
            reason: "cell 17 down".into(),
            // As first sent: a retransmission is the same datagram.
            expiry_s: 300,
            alternative: None,
        }]
    );
    // The Ack is lost too: the next retransmission is acknowledged again
    // but not acted on twice.
    assert!(a.poll_transmit().is_some());
    s.handle_timeout(at(2500, 0).1);
    let (_, third) = s.poll_transmit().unwrap();
    a.handle_datagram(at(2500, 0).0, &third);
    assert!(events(&mut a).is_empty());
    exchange(&mut a, &mut s, 2500, 0);
    assert_eq!(s.counters().acks, 1);
    assert_eq!(
        s.poll_timeout(),
        Some(1000 + 60_000),
        "no retransmission left, only the periodic repeat (advice_repeat_ms)"
    );
    assert_eq!((a.counters().advice, a.counters().acks), (1, 2));
}

#[test]
fn pushes_that_are_forged_or_late_change_nothing() {
    let (mut a, mut s) = (Advisor::new(settings()), server_with(None));
    a.update(at(0, 0).0, &[link("lte", "A", true)]);
    exchange(&mut a, &mut s, 0, 0);
    s.alarm(at(1000, 0).1, "A", "down", 60);
    let (_, push) = s.poll_transmit().unwrap();
    // Forged: one bit of the authenticator flipped.
    let mut forged = push.to_vec();
    *forged.last_mut().unwrap() ^= 1;
    a.handle_datagram(at(1000, 0).0, &forged);
    // Late: 30 s after it was sent (window 7 s).
    a.handle_datagram(at(31_000, 0).0, &push);
    assert!(events(&mut a).is_empty());
    assert!(a.poll_transmit().is_none(), "no Ack for any of them");
    assert_eq!(a.counters().dropped, 2);
    // The genuine one, in time.
    a.handle_datagram(at(1000, 0).0, &push);
    assert_eq!(events(&mut a).len(), 1);
}

#[test]
fn a_client_clock_far_off_is_resynchronised_by_the_servers_code_133() {
    let (mut a, mut s) = (Advisor::new(settings()), server_with(None));
    // The client's clock is 100 s behind the server's.
    a.update(at(0, -100).0, &[link("lte", "A", true)]);
    exchange(&mut a, &mut s, 0, -100);
    assert_eq!(s.counters().stale, 1);
    assert_eq!(events(&mut a), [Event::Resynchronised { offset_s: 100 }]);
    assert_eq!(s.client(SPI).unwrap().network.as_deref(), Some("A"));
    // Later requests are right the first time, and pushes are in window.
    a.request_handoff(at(1000, -100).0, 0, &[link("lte", "A", true)]);
    exchange(&mut a, &mut s, 1000, -100);
    assert_eq!(s.counters().stale, 1);
    assert!(matches!(events(&mut a).as_slice(), [Event::Answer { .. }]));
    s.alarm(at(2000, 0).1, "A", "down", 60);
    exchange(&mut a, &mut s, 2000, -100);
    assert!(matches!(events(&mut a).as_slice(), [Event::Avoid { .. }]));
}

#[test]
fn an_unanswered_request_is_sent_again_with_a_fresh_identification_then_dropped() {
    let (mut a, mut s) = (Advisor::new(settings()), server_with(None));
    let links = [link("lte", "A", true), link("wifi", "B", false)];
    a.request_handoff(at(0, 0).0, 1, &links);
    let first = a.poll_transmit().unwrap();
    assert_eq!(a.poll_timeout(), Some(500));
    a.handle_timeout(at(500, 0).0);
    let second = a.poll_transmit().unwrap();
    assert_ne!(first, second);
    // The server got both (the first reply was lost): both fresh.
    s.handle_datagram(at(0, 0).1, client_addr(), &first);
    s.handle_datagram(at(500, 0).1, client_addr(), &second);
    assert_eq!(s.counters().replayed, 0);
    assert_eq!(s.counters().allowed, 2);
    // The late answer to the first still answers the request, once.
    let (_, reply1) = s.poll_transmit().unwrap();
    let (_, reply2) = s.poll_transmit().unwrap();
    a.handle_datagram(at(600, 0).0, &reply1);
    a.handle_datagram(at(600, 0).0, &reply2);
    assert_eq!(events(&mut a).len(), 1);
    // Never answered: backoff 500, 1000, then dropped at the 3 s timeout.
    a.request_handoff(at(10_000, 0).0, 1, &links);
    let mut sent = 0;
    for ms in (10_000..14_000).step_by(100) {
        a.handle_timeout(at(ms, 0).0);
        sent += std::iter::from_fn(|| a.poll_transmit()).count();
    }
    assert_eq!(sent, 3, "at +0, +0.5 and +1.5 s");
    assert_eq!(a.counters().unanswered, 1);
    assert_eq!(a.poll_timeout(), None);
}

#[test]
fn a_wrong_key_is_refused_by_the_server_and_said_so() {
    let (mut a, mut s) = (
        Advisor::new(Settings {
            key: b"fedcba9876543210".to_vec(),
            ..settings()
        }),
        server_with(None),
    );
    a.update(at(0, 0).0, &[link("lte", "A", true)]);
    exchange(&mut a, &mut s, 0, 0);
    assert_eq!(events(&mut a), [Event::Refused { code: 131 }]);
    assert!(s.client(SPI).is_none(), "the server kept nothing");
}

#[test]
fn advice_from_a_restarted_server_is_obeyed_though_it_numbers_from_1_again() {
    let mut a = Advisor::new(settings());
    let links = [link("lte", "A", true), link("wifi", "B", false)];
    for (k, ms) in [(0, 0u64), (1, 60_000)] {
        let mut s = server_with(None);
        // A report (the period is up for the second server's sake).
        a.update(at(ms, 0).0, &links);
        exchange(&mut a, &mut s, ms, 0);
        s.alarm(at(ms + 1000, 0).1, "A", "down", 30);
        exchange(&mut a, &mut s, ms + 1000, 0);
        assert_eq!(events(&mut a).len(), 1, "server run {k}");
        assert_eq!(s.counters().acks, 1);
    }
    assert_eq!(a.counters().advice, 2);
}

#[test]
fn a_request_names_the_target_network_and_its_address_as_care_of() {
    let mut a = Advisor::new(settings());
    let mut wifi = link("wifi", "B", false);
    wifi.address = Ipv4Addr::new(192, 168, 8, 20);
    a.request_handoff(at(0, 0).0, 1, &[link("lte", "A", true), wifi]);
    let d = a.poll_transmit().unwrap();
    let keys = message::OneKey {
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: KEY,
    };
    let r = message::parse(&d, mimm_proto::DOC_ENTERPRISE, &keys).unwrap();
    let Header::Request(h) = r.header else {
        panic!("{r:?}")
    };
    // The header's care-of is where traffic is now (the primary's).
    assert_eq!(h.care_of, Ipv4Addr::new(10, 1, 0, 2));
    let kinds: Vec<u16> = r.mimm.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            msg::REPORT,
            msg::IFACE_REPORT,
            msg::IFACE_REPORT,
            msg::REQUEST_HANDOFF
        ]
    );
    let Ok(Message::RequestHandoff(q)) = r.mimm[3].message() else {
        panic!("{r:?}")
    };
    assert_eq!(
        (q.target_network, q.target_iface, q.care_of),
        ("B", "wifi", Ipv4Addr::new(192, 168, 8, 20))
    );
}
