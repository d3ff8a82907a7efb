//! Registration messages and MIMM TLVs (mimm-proto): any bytes into every
//! parser, none may panic; what parses is emitted again and must read back
//! the same.
//!
//! The first byte picks what the rest is:
//! - 0: a whole registration as received (a forged one is refused), and
//!   the same bytes as an anchor's notice;
//! - 1, 2: header and extensions, signed here (HMAC-MD5 under SPI 256,
//!   HMAC-SHA-256 under SPI 257) so the fuzzer reaches everything past the
//!   authenticator check;
//! - 3: a MIMM message: vendor type (next byte, 0..=7), then its TLVs.
//!
//! A registration that authenticates is rebuilt with the crate's builder
//! and must parse to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimm_proto::auth::Algorithm;
use mimm_proto::ext::{self, Extension};
use mimm_proto::field::Writer;
use mimm_proto::message::{self, Builder, Keys, Registration};
use mimm_proto::registration::Header;
use mimm_proto::{DOC_ENTERPRISE, mimm};

const KEY: &[u8] = b"fuzz key 0123456";
const MD5_SPI: u32 = 256;
const SHA_SPI: u32 = 257;

struct FuzzKeys;

impl Keys for FuzzKeys {
    fn key(&self, spi: u32) -> Option<(Algorithm, &[u8])> {
        match spi {
            MD5_SPI => Some((Algorithm::HmacMd5, KEY)),
            SHA_SPI => Some((Algorithm::HmacSha256, KEY)),
            _ => None,
        }
    }
}

/// `data` with a Mobile-Home Authentication Extension appended that
/// authenticates it.
fn signed(data: &[u8], spi: u32, algorithm: Algorithm) -> Vec<u8> {
    let len = algorithm.authenticator_len();
    let mut out = data.to_vec();
    out.push(ext::MH_AUTH);
    out.push(4 + len as u8);
    out.extend_from_slice(&spi.to_be_bytes());
    let authenticator = algorithm.compute(KEY, &out);
    out.extend_from_slice(&authenticator[..len]);
    out
}

/// The message parses, emits, and reads back as itself.
fn message_round_trip(kind: u16, value: &[u8]) {
    let Ok(m) = mimm::Message::parse(kind, value) else {
        return;
    };
    assert_eq!(m.kind(), kind);
    let mut buf = vec![0u8; 2 * value.len() + 512];
    let mut w = Writer::new(&mut buf);
    m.emit(&mut w).expect("a parsed message emits");
    let again = mimm::Message::parse(kind, w.written()).expect("an emitted message parses");
    assert_eq!(again, m);
}

fn header_round_trip(data: &[u8]) {
    let Ok((h, len)) = Header::parse(data) else {
        return;
    };
    assert_eq!(len, h.header_len());
    let mut buf = [0u8; 64];
    let mut w = Writer::new(&mut buf);
    h.emit(&mut w).expect("a header fits 64 bytes");
    assert_eq!(w.written().len(), len);
    assert_eq!(Header::parse(w.written()).map(|(h, _)| h), Ok(h));
}

/// `r` rebuilt with the builder: its header, its MIMM messages (emitted
/// afresh where they parse, their bytes as they came where not), its UDP
/// tunnel extension, signed again; it must parse as `r` did.
fn registration_round_trip(r: &Registration) {
    let (algorithm, _) = FuzzKeys.key(r.spi).expect("it authenticated");
    let mut buf = vec![0u8; 16 * 1024];
    let Ok(mut b) = Builder::new(&mut buf, &r.header, DOC_ENTERPRISE) else {
        return;
    };
    for item in &r.mimm {
        let added = match item.message() {
            Ok(m) => b.mimm(&m).map(|_| ()),
            Err(_) => {
                // Unparsed: its value as it came, in a CVSE (any length).
                let mut raw = vec![0u8; item.value.len() + 16];
                let mut w = Writer::new(&mut raw);
                ext::emit_vendor(&mut w, true, DOC_ENTERPRISE, item.kind, |w| {
                    w.bytes(item.value)
                })
                .expect("room for the raw extension");
                let n = w.written().len();
                b.raw_extension(&raw[..n]).map(|_| ())
            }
        };
        // Longer than an NVSE may be (an emitted message can be longer
        // than the one read, with defaults written out): not a round trip.
        if added.is_err() {
            return;
        }
    }
    let tunnel = match r.udp_tunnel {
        Some(Extension::UdpTunnelRequest {
            flags,
            encapsulation,
        }) => b.udp_tunnel_request(flags, encapsulation).map(|_| ()),
        Some(Extension::UdpTunnelReply {
            code,
            flags,
            keepalive,
        }) => b.udp_tunnel_reply(code, flags, keepalive).map(|_| ()),
        Some(other) => panic!("not a UDP tunnel extension: {other:?}"),
        None => Ok(()),
    };
    if tunnel.is_err() {
        return;
    }
    let Ok(bytes) = b.sign(r.spi, algorithm, KEY) else {
        return;
    };
    let again = message::parse(bytes, DOC_ENTERPRISE, &FuzzKeys).expect("a rebuilt message parses");
    assert_eq!(again.header, r.header);
    assert_eq!(again.spi, r.spi);
    assert_eq!(again.udp_tunnel, r.udp_tunnel);
    assert_eq!(again.mimm.len(), r.mimm.len());
    for (a, b) in again.mimm.iter().zip(&r.mimm) {
        assert_eq!(a.kind, b.kind);
        match (a.message(), b.message()) {
            (Ok(x), Ok(y)) => assert_eq!(x, y),
            (Err(_), Err(_)) => assert_eq!(a.value, b.value),
            (x, y) => panic!("{x:?} read back from {y:?}"),
        }
    }
}

/// A notice (what else the anchor's port sends): what parses emits and
/// reads back the same.
fn notice_round_trip(bytes: &[u8]) {
    let Ok(n) = mimm_proto::notice::parse(bytes) else {
        return;
    };
    let mut buf = [0u8; mimm_proto::notice::LEN];
    let len = n.emit(&mut buf).expect("a notice fits its length");
    assert_eq!(mimm_proto::notice::parse(&buf[..len]), Ok(n));
}

/// Everything that takes a registration's bytes.
fn registration(bytes: &[u8]) {
    header_round_trip(bytes);
    if let Ok((_, len)) = Header::parse(bytes) {
        for item in ext::walk(&bytes[len..]) {
            if item.is_err() {
                break;
            }
        }
    }
    if let Ok(r) = message::parse(bytes, DOC_ENTERPRISE, &FuzzKeys) {
        for item in &r.mimm {
            message_round_trip(item.kind, item.value);
        }
        registration_round_trip(&r);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    for item in ext::walk(rest) {
        if item.is_err() {
            break;
        }
    }
    match mode % 4 {
        0 => {
            registration(rest);
            notice_round_trip(rest);
        }
        1 => registration(&signed(rest, MD5_SPI, Algorithm::HmacMd5)),
        2 => registration(&signed(rest, SHA_SPI, Algorithm::HmacSha256)),
        _ => {
            if let Some((&kind, value)) = rest.split_first() {
                message_round_trip(u16::from(kind % 8), value);
            }
        }
    }
});
