//! Any bytes into every parser of the protocol: none may panic. Messages
//! that authenticate (the key is fixed, so the fuzzer can find them) have
//! their MIMM extensions parsed too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, OneKey};
use mimm_proto::{DOC_ENTERPRISE, ext, mimm};

fuzz_target!(|data: &[u8]| {
    let keys = OneKey {
        spi: 256,
        algorithm: Algorithm::HmacMd5,
        key: b"fuzz",
    };
    if let Ok(r) = message::parse(data, DOC_ENTERPRISE, &keys) {
        for item in &r.mimm {
            let _ = item.message();
        }
    }
    for item in ext::walk(data) {
        if item.is_err() {
            break;
        }
    }
    if let Some((&kind, rest)) = data.split_first() {
        let _ = mimm::Message::parse(u16::from(kind % 8), rest);
    }
});
