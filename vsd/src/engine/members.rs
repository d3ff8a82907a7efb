//! Taking a device in as a member and giving it back: refusing what cannot
//! be one, isolating it from the host stack, opening its packet socket,
//! and keeping what it was like to restore it.

use std::io;

use mimm_netlink::Rtnl;
use mimm_netlink::links::Link;

use crate::carrier::CarrierFile;
use crate::control::Counters;
use crate::host_state::HostState;
use crate::isolate::{self, Saved};
use crate::kernel_path::KernelPath;
use crate::packet::{PacketSocket, Receive};
use crate::wire::Mac;

pub struct Member {
    pub name: String,
    pub ifindex: u32,
    pub socket: PacketSocket,
    /// Its carrier, read directly (see [`crate::carrier`]).
    pub carrier_file: Option<CarrierFile>,
    pub saved: Saved,
    /// The kernel forwards its frames (its socket samples them).
    pub kernel_path: bool,
    /// Its own address, before the VSD touched it.
    pub original: Mac,
    /// The address it carries now.
    pub mac: Mac,
    // Its carrier and priority are the switch's (`Switch::carrier`,
    // `Switch::priority`): kept once, not synced by hand.
    pub counters: Counters,
}

/// Carrier as the VSD counts it: up and with a lower layer.
pub fn has_carrier(link: &Link) -> bool {
    link.up && link.carrier
}

/// Why `link` cannot be a member, if it cannot: a point-to-point device has
/// no link-layer address to bond on.
pub fn refusal(link: &Link) -> Option<String> {
    link.mac.is_none().then(|| {
        format!(
            "member {} is point-to-point (no link-layer address, like ppp0 or a raw-IP wwan0): \
             the VSD bonds Ethernet-like links; point-to-point links are for the anchored mode \
             (not built yet); use mimmd's route mode for them",
            link.name
        )
    })
}

/// Takes `link` in as member `id` of VSD `vsd`, written down in `host`
/// first; the kernel forwards its frames when `kernel` can steer it. A
/// member an earlier run left taken (`host` still has it) is taken over as
/// it is, with what it was like before that run.
pub fn take(
    rtnl: &mut Rtnl,
    vsd: &str,
    link: &Link,
    host: &mut HostState,
    kernel: Option<(&mut KernelPath, usize)>,
) -> Result<Member, String> {
    if let Some(problem) = refusal(link) {
        return Err(problem);
    }
    if link.name == vsd {
        return Err(format!("member {} is the VSD itself", link.name));
    }
    let left = host.saved(&link.name);
    let adopted = left.is_some();
    let saved = left.unwrap_or_else(|| Saved::of(link));
    let original = saved.mac.or(link.mac).unwrap_or_default();
    host.record(&link.name, &saved)
        .map_err(|e| format!("member {}: keeping what it was like: {e}", link.name))?;
    let filter = match isolate::take(rtnl, vsd, link, &saved) {
        Ok(filter) => filter,
        Err(e) => {
            give_back_taken(rtnl, vsd, &link.name, link.index, &saved, host);
            return Err(format!("member {}: {e}", link.name));
        }
    };
    if let Err(e) = filter {
        tracing::warn!(
            "member {}: {e}; the host stack also sees its frames (install nftables with netdev support)",
            link.name
        );
    }
    let kernel = kernel.and_then(|(path, id)| {
        match path.take(rtnl, host, id, (&link.name, link.index), adopted) {
            Ok(()) => Some((path, id)),
            Err(e) => {
                tracing::warn!(
                    "member {}: the kernel cannot forward for it ({e}; OpenWrt: kmod-sched-core); \
                     its frames go through the VSD",
                    link.name
                );
                None
            }
        }
    });
    let receive = match kernel {
        Some(_) => Receive::Sampled,
        None => Receive::All,
    };
    let socket = match PacketSocket::open(link.index, true, receive) {
        Ok(s) => s,
        Err(e) => {
            if let Some((path, id)) = kernel {
                path.give_back(rtnl, host, id, &link.name);
            }
            give_back_taken(rtnl, vsd, &link.name, link.index, &saved, host);
            return Err(format!("member {}: {e}", link.name));
        }
    };
    let carrier_file = CarrierFile::open(&link.name)
        .inspect_err(|e| tracing::warn!("member {}: {e}; carrier from rtnetlink only", link.name))
        .ok();
    Ok(Member {
        name: link.name.clone(),
        ifindex: link.index,
        socket,
        carrier_file,
        saved,
        kernel_path: kernel.is_some(),
        original,
        // What it carries now: its own, or (taken over) what the earlier
        // run gave it, which is not set again.
        mac: link.mac.unwrap_or(original),
        counters: Counters::default(),
    })
}

/// Gives the member back as it was (its device may be gone already).
pub fn give_back(rtnl: &mut Rtnl, vsd: &str, member: &Member, host: &mut HostState) {
    give_back_taken(rtnl, vsd, &member.name, member.ifindex, &member.saved, host);
}

fn give_back_taken(
    rtnl: &mut Rtnl,
    vsd: &str,
    device: &str,
    index: u32,
    saved: &Saved,
    host: &mut HostState,
) {
    for problem in isolate::give_back(rtnl, vsd, device, index, saved) {
        tracing::warn!("giving back {problem}");
    }
    host.forget(device);
}

/// Sends `frame` (vnet header included) on the member, counting it.
pub fn send_one(member: &mut Member, frame: &[u8]) -> io::Result<()> {
    match member.socket.send(frame) {
        Ok(true) => {
            member.counters.tx_packets += 1;
            member.counters.tx_bytes +=
                frame.len().saturating_sub(mimm_io::tuntap::VNET_HDR_LEN) as u64;
        }
        Ok(false) => member.counters.tx_dropped += 1,
        Err(e) => {
            member.counters.tx_dropped += 1;
            return Err(e);
        }
    }
    Ok(())
}
