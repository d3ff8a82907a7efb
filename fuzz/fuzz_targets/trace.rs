//! Trace files (mimm-trace): any text loads or fails with one error, never
//! a panic; a trace that loads, written out, loads as the same trace (but
//! for a line break inside a comment, which the writer turns into a space
//! to keep the file loadable: a `\r` there reads back as one).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimm_trace::Trace;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let trace = match Trace::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let written = trace.to_csv();
    let again = Trace::parse(&written)
        .unwrap_or_else(|e| panic!("written out, it does not load: {e}\n{written}"));
    let mut want = trace.clone();
    for c in &mut want.comments {
        *c = c.replace(['\n', '\r'], " ");
    }
    assert_eq!(again, want, "written:\n{written}");
    for iface in trace.ifaces() {
        let _ = trace.state_at(iface, trace.duration_ms() / 2);
        assert!(trace.rows_of(iface).count() > 0);
    }
});
