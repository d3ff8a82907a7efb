//! Which source addresses the internet host sees: nftables counters in
//! `inet`, one for the home address and one for any other, over every
//! packet that reaches inet itself from outside (the stream, the
//! download, mimmd's reports; not inet's own loopback, where the SNMP
//! trap goes). With the anchor, the LAN's traffic must all come from the
//! home address whichever ISP carries it.

use std::net::Ipv4Addr;

use mimm_testbed::{Testbed, netns};

const TABLE: &str = "mimm_demo_seen";

/// Starts counting.
pub fn count(bed: &Testbed, home: Ipv4Addr) -> Result<(), String> {
    let rules = format!(
        "table ip {TABLE} {{\n chain input {{\n  type filter hook input priority 0;\n  \
         iifname != \"lo\" ip saddr {home} counter\n  \
         iifname != \"lo\" ip saddr != {home} counter\n }}\n}}\n"
    );
    netns::nft(&bed.ns("inet"), &rules).map_err(|e| e.to_string())
}

/// (from the home address, from any other) since [`count`].
pub fn read(bed: &Testbed) -> Result<(u64, u64), String> {
    let (counts, listing) =
        netns::nft_counters(&bed.ns("inet"), "ip", TABLE).map_err(|e| e.to_string())?;
    match counts[..] {
        [home, others] => Ok((home, others)),
        _ => Err(format!("inet's counters: {listing}")),
    }
}
