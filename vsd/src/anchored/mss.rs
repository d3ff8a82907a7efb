//! TCP MSS clamping on the anchored VSD: the LAN's hosts think their path
//! has a 1500-byte MTU, the tunnel leaves 1420 (see the config's `mtu`).
//! Path MTU discovery would find it, but many paths drop the ICMP it needs,
//! so every forwarded SYN through the VSD has its MSS lowered to what the
//! route's MTU allows, as OpenWrt's firewall does for a WAN zone with
//! `mtu_fix`. The table is created whole, replacing one a killed VSD left.

use crate::isolate::nft;

fn table(vsd: &str) -> String {
    format!("mimm_vsd_{vsd}_mss")
}

/// Installs the clamp for SYNs leaving or entering `vsd`.
pub fn install(vsd: &str) -> Result<(), String> {
    let t = table(vsd);
    let rule = |dir: &str| {
        format!("  {dir}name \"{vsd}\" tcp flags syn / syn,rst tcp option maxseg size set rt mtu\n")
    };
    let script = format!(
        "table inet {t} {{}}\ndelete table inet {t}\n\
         table inet {t} {{\n chain forward {{\n  type filter hook forward priority mangle; policy accept;\n{}{} }}\n}}\n",
        rule("oif"),
        rule("iif")
    );
    nft(&script).map_err(|e| format!("{vsd}: TCP MSS clamp (nftables): {e}"))
}

/// Removes the clamp; whether there was one (a killed VSD leaves it, and
/// `vsd cleanup` removes it).
pub fn remove(vsd: &str) -> bool {
    nft(&format!("delete table inet {}\n", table(vsd))).is_ok()
}
