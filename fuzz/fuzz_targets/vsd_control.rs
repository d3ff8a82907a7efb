//! The VSD's control socket (mimm-vsd's `control`): a request line read as
//! the daemon reads it (`Request::from_line`, through serde_json's
//! `Value`), which must agree with serde's derived reader on every object
//! that one takes; a request read is sent again (as `vsd ctl` and mimmd
//! send it) as itself. The answers and events the clients read: read,
//! written, read back. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimm_fuzz::reads_back;
use mimm_vsd::control::{Event, MemberPath, Request, Response};

fuzz_target!(|data: &[u8]| {
    let read = Request::from_line(data);
    // serde's reader also takes an array of the fields in order, which the
    // daemon refuses (a request is an object): compared on objects only.
    let object = serde_json::from_slice::<serde_json::Value>(data).is_ok_and(|v| v.is_object());
    if object && let Ok(r) = serde_json::from_slice::<Request>(data) {
        assert_eq!(read.as_ref(), Ok(&r), "serde read {r:?}");
    }
    if let Ok(r) = read {
        let sent = serde_json::to_vec(&r).expect("a request serialises");
        assert_eq!(Request::from_line(&sent).as_ref(), Ok(&r));
        assert_eq!(serde_json::from_slice::<Request>(&sent).ok(), Some(r));
    }
    reads_back::<Response>(data);
    reads_back::<Event>(data);
    let _ = serde_json::from_slice::<MemberPath>(data);
});
