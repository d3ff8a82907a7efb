//! Taking a member away from the host's own stack, and giving it back.
//!
//! A member carries no address of its own, yet frames for the VSD reach its
//! packet socket as "to this host" (its MAC is, or is followed by, the
//! VSD's). The host stack would take them too and deliver each packet twice,
//! answer ARP on the member, run IPv6 autoconfiguration on it. So the VSD:
//! brings the member up, sets NOARP, disables IPv6 on it, and drops
//! everything at its ingress with an nftables netdev chain (packet sockets
//! see frames before that hook, the stack after it). All of it is undone
//! when the member leaves or the VSD exits.

use std::io;
use std::process::{Command, Stdio};

use mimm_netlink::Rtnl;
use mimm_netlink::links::Link;
use mimm_netlink::settings::LinkChange;

/// What the member was like before the VSD took it (kept on disk too,
/// [`crate::host_state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    pub mac: Option<[u8; 6]>,
    pub up: bool,
    pub noarp: bool,
    /// `/proc/sys/net/ipv6/conf/DEV/disable_ipv6`, if the kernel has IPv6.
    pub disable_ipv6: Option<String>,
}

fn ipv6_knob(device: &str) -> String {
    format!("/proc/sys/net/ipv6/conf/{device}/disable_ipv6")
}

/// The nftables table of one VSD (its name is a kernel device name, so it
/// is a valid identifier).
pub fn table(vsd: &str) -> String {
    format!("mimm_vsd_{vsd}")
}

pub(crate) fn nft(script: &str) -> io::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

impl Saved {
    /// `link` as it is now, before the VSD takes it.
    pub fn of(link: &Link) -> Saved {
        Saved {
            mac: link.mac,
            up: link.up,
            noarp: link.noarp,
            disable_ipv6: std::fs::read_to_string(ipv6_knob(&link.name))
                .ok()
                .map(|s| s.trim().to_string()),
        }
    }
}

/// Isolates `link`, which was as `saved` says. An nftables failure is
/// reported in `Err` of the inner value but does not undo the rest (the
/// member still works; the host stack may then see duplicates).
pub fn take(
    rtnl: &mut Rtnl,
    vsd: &str,
    link: &Link,
    saved: &Saved,
) -> io::Result<Result<(), String>> {
    let knob = ipv6_knob(&link.name);
    LinkChange {
        up: Some(true),
        noarp: Some(true),
        ..LinkChange::default()
    }
    .apply(rtnl, link.index)
    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", link.name)))?;
    if saved.disable_ipv6.is_some() {
        std::fs::write(&knob, "1").map_err(|e| io::Error::new(e.kind(), format!("{knob}: {e}")))?;
    }
    let table = table(vsd);
    let chain = format!(
        "table netdev {table} {{\n  chain in_{dev} {{\n    type filter hook ingress device \"{dev}\" priority 0; policy drop;\n  }}\n}}\n",
        dev = link.name
    );
    Ok(nft(&chain).map_err(|e| format!("nftables: {e}")))
}

/// Gives `device` (link `index`) back as it was; best effort, each step
/// tried even if an earlier one failed.
pub fn give_back(
    rtnl: &mut Rtnl,
    vsd: &str,
    device: &str,
    index: u32,
    saved: &Saved,
) -> Vec<String> {
    let mut problems = Vec::new();
    let table = table(vsd);
    // The chain may be gone with its device already.
    let _ = nft(&format!("delete chain netdev {table} in_{device}\n"));
    if let Some(v) = &saved.disable_ipv6 {
        if let Err(e) = std::fs::write(ipv6_knob(device), v) {
            problems.push(format!("{device}: disable_ipv6: {e}"));
        }
    }
    let change = LinkChange {
        mac: saved.mac,
        up: Some(saved.up),
        noarp: Some(saved.noarp),
        mtu: None,
    };
    if let Err(e) = change.apply(rtnl, index) {
        problems.push(format!("{device}: {e}"));
    }
    problems
}

/// Removes the VSD's nftables table (on exit, after every member is back).
pub fn remove_table(vsd: &str) {
    let _ = nft(&format!("delete table netdev {}\n", table(vsd)));
}
