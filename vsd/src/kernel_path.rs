//! The kernel path: frames between the TAP and its members forwarded by
//! the kernel itself, steered by the switch. Copying each frame through
//! userspace (TAP read, packet-socket send, and back) costs two copies and
//! a system call per frame: half of direct veth at best on this machine.
//! Here the kernel redirects them (`mimm_netlink::tc`: clsact, a u32
//! filter matching everything, mirred), GSO super-frames whole, on
//! whichever core sends or receives them, as bonding does:
//!
//! ```text
//! vsd0 egress  ── filter ──> action 2·id   (redirect out of the active member)
//! member ingress ── filter ──> action 2·id+1 (redirect into vsd0's receive path)
//! ```
//!
//! The switch stays the one decision core: after every change [`sync`]
//! moves the one egress filter to the active member's action (a replace
//! in place: no frame sees neither) and puts an ingress filter on exactly
//! the members the switch accepts from (active, prepared, leaving); a
//! member without one is dropped at its ingress by `crate::isolate`, as
//! before. Frames that still reach the TAP (no member active, one whose
//! kernel lacks tc) go the userspace way. Actions are made once per
//! member, so their counts survive the filters moving: they are the
//! member's counters. What is made is written down first
//! (`crate::host_state`) and taken away after a crash.
//!
//! [`sync`]: KernelPath::sync

use std::io;

use mimm_netlink::Rtnl;
use mimm_netlink::tc::{self, Hook};

use crate::control::Counters;
use crate::host_state::HostState;
use crate::switch::Switch;

/// The filters' priority on every hook: distinctive, so as not to meet a
/// filter of anyone else's on a member that has a clsact already.
pub const PRIORITY: u16 = 0x6d6d;
/// Members a VSD steers at once, at most (two actions each, in a slot
/// that a member given back frees for the next).
pub const MAX_MEMBERS: usize = 64;

/// The mirred actions of a VSD whose TAP has `tap_index`: a block of
/// 2·[`MAX_MEMBERS`] indices of its own (action indices are per network
/// namespace, like interface indices).
pub fn action_base(tap_index: u32) -> u32 {
    0x6d00_0000 | ((tap_index & 0xffff) << 8)
}

fn egress_action(base: u32, slot: u32) -> u32 {
    base + 2 * slot
}

fn ingress_action(base: u32, slot: u32) -> u32 {
    base + 2 * slot + 1
}

/// A member steered by the kernel path.
#[derive(Debug)]
struct Steered {
    ifindex: u32,
    /// Its actions' place in the VSD's block.
    slot: u32,
    /// Its ingress filter is in; `None`: not known (taken over from an
    /// earlier run, which may have had the userspace path).
    ingress: Option<bool>,
}

pub struct KernelPath {
    tap: u32,
    tap_name: String,
    base: u32,
    /// By the switch's member id.
    members: Vec<Option<Steered>>,
    /// The member the TAP's egress filter sends to.
    egress: Option<usize>,
    /// The block was an earlier run's, taken over: a slot's actions may
    /// be there already (a member it had and this run does not), and are
    /// ours to set anew.
    block_taken_over: bool,
}

impl KernelPath {
    /// Hooks the TAP `name` (link `index`); an error when the kernel lacks
    /// what it takes (clsact, u32, mirred: OpenWrt's kmod-sched-core).
    pub fn open(
        rtnl: &mut Rtnl,
        name: &str,
        index: u32,
        host: &mut HostState,
    ) -> io::Result<KernelPath> {
        let base = action_base(index);
        let block_taken_over = host.actions() == Some(base);
        let hooked = (|| {
            host.record_actions(base)?;
            // A TAP taken over keeps what the earlier run made.
            host.record_tc(name, host.tc_made(name).unwrap_or(false))?;
            if tc::add_clsact(rtnl, index)? {
                host.record_tc(name, true)?;
            }
            Ok(())
        })();
        if let Err(e) = hooked {
            // Nothing was made (or the qdisc was not ours): nothing to undo.
            host.forget_tc(name);
            host.forget_actions();
            return Err(e);
        }
        Ok(KernelPath {
            tap: index,
            tap_name: name.to_string(),
            base,
            members: Vec::new(),
            egress: None,
            block_taken_over,
        })
    }

    /// Makes member `id` (device `name`, link `ifindex`) one the kernel
    /// steers: its clsact and its two actions (`adopted`: an earlier run's,
    /// still forwarding, taken over: its hooks stay, its actions are set
    /// anew in place). On an error nothing of it is left; the member then
    /// goes the userspace way.
    pub fn take(
        &mut self,
        rtnl: &mut Rtnl,
        host: &mut HostState,
        id: usize,
        (name, ifindex): (&str, u32),
        adopted: bool,
    ) -> io::Result<()> {
        // Member ids are never reused (a modem that re-enumerates comes back
        // under a new one); slots are.
        let used = |slot: u32| self.members.iter().flatten().any(|m| m.slot == slot);
        let Some(slot) = (0..MAX_MEMBERS as u32).find(|&s| !used(s)) else {
            return Err(io::Error::other(format!("more than {MAX_MEMBERS} members")));
        };
        let (egress, ingress) = (
            egress_action(self.base, slot),
            ingress_action(self.base, slot),
        );
        let result = (|| {
            // Written down as someone else's until it is known to be ours:
            // a crash in between leaves an empty qdisc, never takes theirs.
            // One taken over keeps what the earlier run made.
            host.record_tc(name, host.tc_made(name).unwrap_or(false))?;
            if tc::add_clsact(rtnl, ifindex)? {
                host.record_tc(name, true)?;
            }
            let replace = adopted || self.block_taken_over;
            tc::set_redirect_action(rtnl, egress, ifindex, Hook::Egress, replace)?;
            tc::set_redirect_action(rtnl, ingress, self.tap, Hook::Ingress, replace)
        })();
        if result.is_err() {
            self.untake(rtnl, host, slot, name, ifindex);
            return result;
        }
        if self.members.len() <= id {
            self.members.resize_with(id + 1, || None);
        }
        self.members[id] = Some(Steered {
            ifindex,
            slot,
            // Taken over, it may have one or not: the first sync sees.
            ingress: (!adopted).then_some(false),
        });
        Ok(())
    }

    /// Puts the filters where the switch says traffic goes: egress to the
    /// active member, ingress on each member it accepts from. Each change
    /// is one netlink request; none when nothing changed.
    pub fn sync(&mut self, rtnl: &mut Rtnl, switch: &Switch) {
        let active = switch
            .tx()
            .and_then(|id| Some((id, self.members.get(id)?.as_ref()?)));
        if active.map(|(id, _)| id) != self.egress {
            let result = match active {
                Some((_, m)) => {
                    let (ifindex, action) = (m.ifindex, egress_action(self.base, m.slot));
                    tc::redirect_all(
                        rtnl,
                        self.tap,
                        Hook::Egress,
                        PRIORITY,
                        action,
                        ifindex,
                        Hook::Egress,
                    )
                }
                None => tc::remove_filter(rtnl, self.tap, Hook::Egress, PRIORITY),
            };
            match result {
                Ok(()) => self.egress = active.map(|(id, _)| id),
                Err(e) => tracing::error!("{}: egress filter: {e}", self.tap_name),
            }
        }
        for (id, slot) in self.members.iter_mut().enumerate() {
            let Some(m) = slot else { continue };
            let want = switch.accepts(id);
            if Some(want) == m.ingress {
                continue;
            }
            let result = if want {
                let action = ingress_action(self.base, m.slot);
                tc::redirect_all(
                    rtnl,
                    m.ifindex,
                    Hook::Ingress,
                    PRIORITY,
                    action,
                    self.tap,
                    Hook::Ingress,
                )
            } else {
                match tc::remove_filter(rtnl, m.ifindex, Hook::Ingress, PRIORITY) {
                    // Not known to be there, and it was not.
                    Err(e) if m.ingress.is_none() && e.kind() == io::ErrorKind::NotFound => Ok(()),
                    result => result,
                }
            };
            match result {
                Ok(()) => m.ingress = Some(want),
                Err(e) => tracing::error!("member {id}: ingress filter: {e}"),
            }
        }
    }

    /// Stops steering member `id` (device `name`): its filters, its
    /// clsact if the VSD made it, its actions; best effort.
    pub fn give_back(&mut self, rtnl: &mut Rtnl, host: &mut HostState, id: usize, name: &str) {
        let Some(m) = self.members.get_mut(id).and_then(Option::take) else {
            return;
        };
        if self.egress == Some(id) {
            match tc::remove_filter(rtnl, self.tap, Hook::Egress, PRIORITY) {
                Ok(()) => self.egress = None,
                Err(e) => tracing::warn!("{}: egress filter: {e}", self.tap_name),
            }
        }
        self.untake(rtnl, host, m.slot, name, m.ifindex);
    }

    fn untake(&self, rtnl: &mut Rtnl, host: &mut HostState, slot: u32, name: &str, ifindex: u32) {
        let ours = host.tc_made(name);
        let removed = match ours {
            Some(true) => tc::remove_clsact(rtnl, ifindex),
            _ => tc::remove_filter(rtnl, ifindex, Hook::Ingress, PRIORITY),
        };
        for result in [
            removed,
            tc::remove_action(rtnl, egress_action(self.base, slot)),
            tc::remove_action(rtnl, ingress_action(self.base, slot)),
        ] {
            if let Err(e) = result {
                tracing::warn!("member {name}: taking the kernel path away: {e}");
            }
        }
        host.forget_tc(name);
    }

    /// Every steered member's counts (packets and bytes each way), by id.
    pub fn counts(&self, rtnl: &mut Rtnl) -> Vec<(usize, Counters)> {
        let all = match tc::action_counts(rtnl) {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!("{}: action counts: {e}", self.tap_name);
                return Vec::new();
            }
        };
        let of = |index: u32| {
            all.iter()
                .find(|a| a.0 == index)
                .map_or((0, 0), |a| (a.1, a.2))
        };
        (self.members.iter().enumerate())
            .filter_map(|(id, m)| Some((id, m.as_ref()?.slot)))
            .map(|(id, slot)| {
                let (tx_packets, tx_bytes) = of(egress_action(self.base, slot));
                let (rx_packets, rx_bytes) = of(ingress_action(self.base, slot));
                let c = Counters {
                    rx_packets,
                    rx_bytes,
                    tx_packets,
                    tx_bytes,
                    ..Counters::default()
                };
                (id, c)
            })
            .collect()
    }

    /// Takes the TAP's hook away (members given back before).
    pub fn close(&mut self, rtnl: &mut Rtnl, host: &mut HostState) {
        let result = match host.tc_made(&self.tap_name) {
            Some(true) => tc::remove_clsact(rtnl, self.tap),
            _ => tc::remove_filter(rtnl, self.tap, Hook::Egress, PRIORITY),
        };
        if let Err(e) = result {
            tracing::warn!("{}: taking the kernel path away: {e}", self.tap_name);
        }
        if self.block_taken_over {
            // Actions of members an earlier run had and this one gave
            // back (their slots are not known) go with the rest.
            remove_left(rtnl, &[], Some(self.base));
        }
        self.egress = None;
        host.forget_tc(&self.tap_name);
        host.forget_actions();
    }
}

/// What a killed VSD left of its kernel path, taken away (before its
/// members are given back): the hooks of the devices named in `tc`
/// (`true`: the qdisc is the VSD's), then every action of its block.
pub fn remove_left(rtnl: &mut Rtnl, tc: &[(String, bool)], base: Option<u32>) {
    let links = mimm_netlink::links::dump(rtnl).unwrap_or_default();
    for (device, made) in tc {
        let Some(link) = links.iter().find(|l| &l.name == device) else {
            continue;
        };
        let result = if *made {
            tc::remove_clsact(rtnl, link.index)
        } else {
            tc::remove_filter(rtnl, link.index, Hook::Ingress, PRIORITY)
                .and_then(|()| tc::remove_filter(rtnl, link.index, Hook::Egress, PRIORITY))
        };
        if let Err(e) = result {
            tracing::warn!("{device}: taking the kernel path away: {e}");
        }
    }
    let Some(base) = base else { return };
    let block = base..base + 2 * MAX_MEMBERS as u32;
    match tc::action_counts(rtnl) {
        Ok(all) => {
            for (index, _, _) in all.into_iter().filter(|a| block.contains(&a.0)) {
                if let Err(e) = tc::remove_action(rtnl, index) {
                    tracing::warn!("action {index:#x}: {e}");
                }
            }
        }
        Err(e) => tracing::warn!("actions: {e}"),
    }
}
