//! The rules a receiver applies: authentication, SPI, critical and
//! skippable extensions, vendor extensions of others, and what may follow
//! the authenticator.

use mimm_proto::auth::Algorithm;
use mimm_proto::error::Error;
use mimm_proto::ext;
use mimm_proto::field::Writer;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::Message;
use mimm_proto::registration::{Flags, Header, RequestHeader};
use mimm_proto::{DOC_ENTERPRISE, mimm};

const KEY: &[u8] = b"0123456789abcdef";
const KEYS: OneKey = OneKey {
    spi: 1000,
    algorithm: Algorithm::HmacSha256,
    key: KEY,
};

fn header() -> Header {
    Header::Request(RequestHeader {
        flags: Flags(Flags::T),
        lifetime: 1800,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: "192.0.2.10".parse().unwrap(),
        care_of: "100.64.0.7".parse().unwrap(),
        identification: 0xe9a1_b2c3_0000_0001,
    })
}

/// A request with `raw` extensions, then a MIMM Ack, signed with `key` as `spi`.
fn signed_with(raw: &[u8], spi: u32, key: &[u8]) -> Vec<u8> {
    let mut out = [0u8; 512];
    let mut b = Builder::new(&mut out, &header(), DOC_ENTERPRISE).unwrap();
    b.raw_extension(raw).unwrap();
    b.mimm(&Message::Ack { id: 7 }).unwrap();
    b.sign(spi, Algorithm::HmacSha256, key).unwrap().to_vec()
}

#[test]
fn a_good_message_passes() {
    let bytes = signed_with(&[], 1000, KEY);
    let r = message::parse(&bytes, DOC_ENTERPRISE, &KEYS).unwrap();
    assert_eq!(r.mimm.len(), 1);
    assert_eq!(r.mimm[0].message().unwrap(), Message::Ack { id: 7 });
}

#[test]
fn forged_authenticator_and_wrong_spi_are_refused() {
    let mut bytes = signed_with(&[], 1000, KEY);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert_eq!(
        message::parse(&bytes, DOC_ENTERPRISE, &KEYS),
        Err(Error::BadAuthenticator)
    );
    let other_key = signed_with(&[], 1000, b"not the key at all");
    assert_eq!(
        message::parse(&other_key, DOC_ENTERPRISE, &KEYS),
        Err(Error::BadAuthenticator)
    );
    let other_spi = signed_with(&[], 1001, KEY);
    assert_eq!(
        message::parse(&other_spi, DOC_ENTERPRISE, &KEYS),
        Err(Error::UnknownSpi(1001))
    );
    // An MD5-length authenticator where the SPI says SHA-256.
    let mut out = [0u8; 512];
    let b = Builder::new(&mut out, &header(), DOC_ENTERPRISE).unwrap();
    let md5 = b.sign(1000, Algorithm::HmacMd5, KEY).unwrap().to_vec();
    assert_eq!(
        message::parse(&md5, DOC_ENTERPRISE, &KEYS),
        Err(Error::BadAuthenticator)
    );
}

#[test]
fn unsigned_messages_are_refused() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    header().emit(&mut w).unwrap();
    assert_eq!(
        message::parse(w.written(), DOC_ENTERPRISE, &KEYS),
        Err(Error::NoAuthentication)
    );
}

#[test]
fn unknown_critical_extensions_refuse_unknown_skippable_ones_pass() {
    // Type 100 (critical range) and type 200 (skippable).
    let critical = signed_with(&[100, 2, 0, 0], 1000, KEY);
    assert_eq!(
        message::parse(&critical, DOC_ENTERPRISE, &KEYS),
        Err(Error::UnknownCritical(100))
    );
    let skippable = signed_with(&[200, 2, 0, 0], 1000, KEY);
    assert!(message::parse(&skippable, DOC_ENTERPRISE, &KEYS).is_ok());
}

#[test]
fn other_vendors_cvse_refused_nvse_skipped_and_unknown_mimm_cvse_refused() {
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    ext::emit_vendor(&mut w, true, 9, 1, |w| w.u8(0)).unwrap();
    let cvse = signed_with(w.written(), 1000, KEY);
    assert_eq!(
        message::parse(&cvse, DOC_ENTERPRISE, &KEYS),
        Err(Error::UnknownCriticalVendor { vendor: 9, kind: 1 })
    );
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    ext::emit_vendor(&mut w, false, 9, 1, |w| w.u8(0)).unwrap();
    let nvse = signed_with(w.written(), 1000, KEY);
    let r = message::parse(&nvse, DOC_ENTERPRISE, &KEYS).unwrap();
    assert_eq!(r.mimm.len(), 1, "only the Ack is ours");
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    ext::emit_vendor(&mut w, true, DOC_ENTERPRISE, 99, |w| w.u8(0)).unwrap();
    let ours_unknown = signed_with(w.written(), 1000, KEY);
    assert_eq!(
        message::parse(&ours_unknown, DOC_ENTERPRISE, &KEYS),
        Err(Error::UnknownCriticalVendor {
            vendor: DOC_ENTERPRISE,
            kind: 99
        })
    );
    assert!(!mimm::is_known(99));
}

#[test]
fn nothing_may_follow_the_authenticator() {
    let mut bytes = signed_with(&[], 1000, KEY);
    bytes.extend_from_slice(&[200, 0]);
    assert_eq!(
        message::parse(&bytes, DOC_ENTERPRISE, &KEYS),
        Err(Error::AfterAuthentication(200))
    );
}

#[test]
fn an_nvse_longer_than_255_is_refused_when_emitting() {
    let long = "x".repeat(250);
    let m = Message::RequestHandoff(mimm::RequestHandoff {
        target_network: &long,
        target_iface: "wan",
        care_of: "10.0.0.1".parse().unwrap(),
    });
    let mut out = [0u8; 1024];
    let mut b = Builder::new(&mut out, &header(), DOC_ENTERPRISE).unwrap();
    assert_eq!(
        b.mimm(&m).err(),
        Some(Error::BadValue("NVSE length (at most 255)"))
    );
}

#[test]
fn a_reply_echoes_the_request_and_grants_its_lifetime_only_when_accepted() {
    let Header::Request(h) = header() else {
        unreachable!()
    };
    let ok = h.reply(mimm_proto::registration::code::ACCEPTED);
    assert_eq!(
        (
            ok.lifetime,
            ok.home_address,
            ok.home_agent,
            ok.identification
        ),
        (1800, h.home_address, h.home_agent, h.identification)
    );
    let denied = h.reply(mimm_proto::registration::code::DENIED);
    assert_eq!((denied.code, denied.lifetime), (128, 0));
    assert_eq!(denied.identification, h.identification);
}
