//! SNMP traps (mimm-server's `snmp`, on the snmp-parser crate): any
//! datagram on the trap port is a v1 or v2c trap or an error, never a
//! panic; a trap is matched against alarm rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimm_server::snmp::{self, AlarmRule};

fuzz_target!(|data: &[u8]| {
    let Ok(trap) = snmp::parse(data) else {
        return;
    };
    assert!(trap.version == 1 || trap.version == 2);
    let rule = |trap_oid: &str, match_var: Option<(String, String)>| AlarmRule {
        name: "fuzz".into(),
        trap_oid: trap_oid.into(),
        match_var,
        network: "26201".into(),
        reason: "fuzz".into(),
        expiry_s: 60,
    };
    let first = trap.vars.first().cloned();
    let rules = [
        rule(&trap.trap_oid, None),
        rule(&trap.trap_oid, first.clone()),
        rule("1.3.6.1.6.3.1.1.5.3", None),
    ];
    let fired = snmp::matching(&trap, &rules);
    assert!(fired.len() > usize::from(first.is_some()));
});
