//! Traffic control: the kernel's own forwarding between two devices,
//! which the VSD steers instead of copying every frame through userspace
//! (its fast path). A `clsact` qdisc gives a device an ingress and an
//! egress hook; a `u32` filter that matches every frame hands it to a
//! `mirred` action, which redirects it out of another device (egress) or
//! into another device's receive path (ingress), GSO super-frames whole.
//!
//! The actions are made on their own, with indices the caller chooses,
//! and filters bind to them: moving a filter from one action to another
//! ([`redirect_all`] replaces the filter in place, atomically for the
//! frames in flight) keeps each action's counts, which are the VSD's
//! per-member counters ([`action_counts`]).

use std::io;

use rustix::io::Errno;

use crate::Rtnl;
use crate::routes::absent_is_fine;
use crate::wire::{
    AttrWriter, Attributes, Message, NLA_F_NESTED, NLM_F_CREATE, NLM_F_REPLACE, Request,
};

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const RTM_NEWACTION: u16 = 48;
const RTM_DELACTION: u16 = 49;
const RTM_GETACTION: u16 = 50;
const NLM_F_EXCL: u16 = 0x200;

/// `struct tcmsg`: family, padding, ifindex, handle, parent, info.
pub const TCMSG_LEN: usize = 20;
/// `struct tcamsg` (actions): family and padding.
const TCAMSG_LEN: usize = 4;

const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
/// In an RTM_*ACTION message: the list of actions.
const TCA_ACT_TAB: u16 = 1;
const TCA_ACT_KIND: u16 = 1;
const TCA_ACT_OPTIONS: u16 = 2;
const TCA_ACT_INDEX: u16 = 3;
const TCA_ACT_STATS: u16 = 4;
const TCA_STATS_BASIC: u16 = 1;
const TCA_MIRRED_PARMS: u16 = 2;
const TCA_U32_SEL: u16 = 5;
const TCA_U32_ACT: u16 = 7;
const TC_U32_TERMINAL: u8 = 1;
const TC_ACT_STOLEN: i32 = 4;

/// The clsact qdisc's handle and parent, and its two hooks.
const TC_H_CLSACT: u32 = 0xFFFF_FFF1;
const CLSACT_HANDLE: u32 = 0xFFFF_0000;
const TC_H_MIN_INGRESS: u32 = 0xFFF2;
const TC_H_MIN_EGRESS: u32 = 0xFFF3;
/// The first node of u32's root hash table (`800::800`): the handle the
/// one filter of a priority is made and replaced under.
const U32_FIRST_NODE: u32 = 0x8000_0800;
const ETH_P_ALL: u16 = 0x0003;

/// A device's two hooks, and where a redirected frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Frames the device receives, before the stack sees them; as a
    /// redirect target: into the device's receive path, as if it had
    /// received them.
    Ingress,
    /// Frames the device is about to send; as a redirect target: out of it.
    Egress,
}

fn tcmsg(ifindex: u32, handle: u32, parent: u32, info: u32) -> [u8; TCMSG_LEN] {
    let mut b = [0u8; TCMSG_LEN];
    b[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b[8..12].copy_from_slice(&handle.to_ne_bytes());
    b[12..16].copy_from_slice(&parent.to_ne_bytes());
    b[16..20].copy_from_slice(&info.to_ne_bytes());
    b
}

fn hook_parent(hook: Hook) -> u32 {
    let minor = match hook {
        Hook::Ingress => TC_H_MIN_INGRESS,
        Hook::Egress => TC_H_MIN_EGRESS,
    };
    (TC_H_CLSACT & 0xFFFF_0000) | minor
}

/// A filter's priority and protocol (every protocol), as `tcm_info`.
fn filter_info(priority: u16) -> u32 {
    (u32::from(priority) << 16) | u32::from(ETH_P_ALL.to_be())
}

/// Gives device `ifindex` a clsact qdisc; `Ok(false)` when it has one
/// already (someone else's: leave it when done).
pub fn add_clsact(rtnl: &mut Rtnl, ifindex: u32) -> io::Result<bool> {
    let request = Request::new(
        RTM_NEWQDISC,
        NLM_F_CREATE | NLM_F_EXCL,
        &tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0),
    )
    .attr(TCA_KIND, b"clsact\0");
    match rtnl.request(request) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(Errno::EXIST.raw_os_error()) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes device `ifindex`'s clsact qdisc and every filter on it; one
/// that is gone already (the device too) is no error.
pub fn remove_clsact(rtnl: &mut Rtnl, ifindex: u32) -> io::Result<()> {
    let request = Request::new(
        RTM_DELQDISC,
        0,
        &tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0),
    );
    gone_is_fine(rtnl.request(request))
}

/// What a deletion may meet when its object went already: no such
/// device, qdisc, filter or action.
fn gone_is_fine(result: io::Result<()>) -> io::Result<()> {
    // EINVAL: the kernel's answer for a hook without that qdisc.
    [Errno::NOENT, Errno::NODEV, Errno::INVAL]
        .into_iter()
        .fold(result, absent_is_fine)
}

/// `struct tc_mirred`: a redirect of every frame to `to` (its `hook`).
fn mirred_parms(index: u32, to: u32, hook: Hook) -> [u8; 28] {
    let eaction: i32 = match hook {
        Hook::Egress => 1,  // TCA_EGRESS_REDIR
        Hook::Ingress => 3, // TCA_INGRESS_REDIR
    };
    let mut b = [0u8; 28];
    b[0..4].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&TC_ACT_STOLEN.to_ne_bytes());
    b[20..24].copy_from_slice(&eaction.to_ne_bytes());
    b[24..28].copy_from_slice(&to.to_ne_bytes());
    b
}

/// A one-entry action list, as RTM_*ACTION messages and a filter's
/// actions carry it: a mirred action with what `more` adds after its kind.
fn one_mirred(more: impl FnOnce(AttrWriter) -> AttrWriter) -> Vec<u8> {
    let action = more(AttrWriter::default().attr(TCA_ACT_KIND, b"mirred\0")).into_bytes();
    AttrWriter::default()
        .attr(1 | NLA_F_NESTED, &action)
        .into_bytes()
}

/// A mirred action's options: its parameters.
fn with_parms(w: AttrWriter, parms: &[u8; 28]) -> AttrWriter {
    let options = AttrWriter::default()
        .attr(TCA_MIRRED_PARMS, parms)
        .into_bytes();
    w.attr(TCA_ACT_OPTIONS | NLA_F_NESTED, &options)
}

/// The one-entry action list of a mirred action `index` redirecting to
/// `to`: made with it, or bound to it when it exists.
fn mirred_list(index: u32, to: u32, hook: Hook) -> Vec<u8> {
    one_mirred(|w| with_parms(w, &mirred_parms(index, to, hook)))
}

/// An RTM_*ACTION request of `kind` for the actions in `list`.
fn action_request(kind: u16, flags: u16, list: &[u8]) -> Request {
    Request::new(kind, flags, &[0; TCAMSG_LEN]).attr(TCA_ACT_TAB | NLA_F_NESTED, list)
}

/// Makes mirred action `index`, redirecting every frame to device `to`
/// (`hook`), on its own so that it outlives the filters bound to it. An
/// index in use already is an error (`EEXIST`: not this caller's), unless
/// `replace`: then that action redirects so from now on, its counts and
/// the filters bound to it kept.
pub fn set_redirect_action(
    rtnl: &mut Rtnl,
    index: u32,
    to: u32,
    hook: Hook,
    replace: bool,
) -> io::Result<()> {
    let list = mirred_list(index, to, hook);
    let flags = NLM_F_CREATE | if replace { NLM_F_REPLACE } else { NLM_F_EXCL };
    rtnl.request(action_request(RTM_NEWACTION, flags, &list))
}

/// How long [`remove_action`] waits for the filters just removed to let
/// go of the action: the kernel unbinds a deleted filter's actions after
/// an RCU grace period, and refuses (`EPERM`) to remove one still bound.
const UNBIND_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Removes mirred action `index` once no filter binds to it, waiting up
/// to [`UNBIND_WAIT`] for filters removed just before; one that is gone
/// already is no error.
pub fn remove_action(rtnl: &mut Rtnl, index: u32) -> io::Result<()> {
    let start = std::time::Instant::now();
    loop {
        match remove_action_once(rtnl, index) {
            Err(e)
                if e.raw_os_error() == Some(Errno::PERM.raw_os_error())
                    && start.elapsed() < UNBIND_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

fn remove_action_once(rtnl: &mut Rtnl, index: u32) -> io::Result<()> {
    let mut parms = [0u8; 28];
    parms[0..4].copy_from_slice(&index.to_ne_bytes());
    let list = one_mirred(|w| with_parms(w.attr(TCA_ACT_INDEX, &index.to_ne_bytes()), &parms));
    gone_is_fine(rtnl.request(action_request(RTM_DELACTION, 0, &list)))
}

/// `struct tc_u32_sel` with one key that every frame matches.
fn match_all() -> [u8; 32] {
    let mut b = [0u8; 32];
    b[0] = TC_U32_TERMINAL;
    b[2] = 1; // nkeys; the key (mask 0, value 0) follows the 16-byte header
    b
}

/// Sends every frame at device `ifindex`'s `hook` through mirred action
/// `action` (made by [`set_redirect_action`]), with one u32 filter at
/// `priority`: made, or replaced in place (no frame sees neither).
pub fn redirect_all(
    rtnl: &mut Rtnl,
    ifindex: u32,
    hook: Hook,
    priority: u16,
    action: u32,
    to: u32,
    to_hook: Hook,
) -> io::Result<()> {
    let options = AttrWriter::default()
        .attr(TCA_U32_SEL, &match_all())
        .attr(
            TCA_U32_ACT | NLA_F_NESTED,
            &mirred_list(action, to, to_hook),
        )
        .into_bytes();
    let request = Request::new(
        RTM_NEWTFILTER,
        NLM_F_CREATE | NLM_F_REPLACE,
        &tcmsg(
            ifindex,
            U32_FIRST_NODE,
            hook_parent(hook),
            filter_info(priority),
        ),
    )
    .attr(TCA_KIND, b"u32\0")
    .attr(TCA_OPTIONS | NLA_F_NESTED, &options);
    rtnl.request(request)
}

/// Removes the filter at `priority` from device `ifindex`'s `hook`; one
/// that is gone already is no error.
pub fn remove_filter(rtnl: &mut Rtnl, ifindex: u32, hook: Hook, priority: u16) -> io::Result<()> {
    let request = Request::new(
        RTM_DELTFILTER,
        0,
        &tcmsg(ifindex, 0, hook_parent(hook), filter_info(priority)),
    );
    gone_is_fine(rtnl.request(request))
}

/// Packets and bytes through each mirred action, by index.
pub fn action_counts(rtnl: &mut Rtnl) -> io::Result<Vec<(u32, u64, u64)>> {
    let request = action_request(RTM_GETACTION, 0, &one_mirred(|w| w));
    let mut counts = Vec::new();
    // The kernel answers a dump of actions with messages of the request's type.
    rtnl.dump(request, RTM_GETACTION, |m| counts.extend(parse_counts(m)))?;
    Ok(counts)
}

/// The (index, packets, bytes) of every action in one answer.
pub fn parse_counts(m: &Message) -> Vec<(u32, u64, u64)> {
    let Some(tab) = m.attributes(TCAMSG_LEN).find(TCA_ACT_TAB) else {
        return Vec::new();
    };
    Attributes::new(tab)
        .filter_map(|(_, action)| {
            let attrs = Attributes::new(action);
            let parms = (attrs.clone().nested(TCA_ACT_OPTIONS)?).find(TCA_MIRRED_PARMS)?;
            let index = u32::from_ne_bytes(parms.get(0..4)?.try_into().ok()?);
            let basic = attrs.nested(TCA_ACT_STATS)?.find(TCA_STATS_BASIC)?;
            let bytes = u64::from_ne_bytes(basic.get(0..8)?.try_into().ok()?);
            let packets = u32::from_ne_bytes(basic.get(8..12)?.try_into().ok()?);
            Some((index, u64::from(packets), bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{NLM_F_REQUEST, messages};

    /// An answer as the kernel words it: the action list, each action its
    /// kind, its counts and its parameters.
    fn answer(actions: &[(u32, u64, u32)]) -> Vec<u8> {
        let mut list = AttrWriter::default();
        for (n, &(index, bytes, packets)) in actions.iter().enumerate() {
            let mut basic = bytes.to_ne_bytes().to_vec();
            basic.extend_from_slice(&packets.to_ne_bytes());
            let stats = AttrWriter::default()
                .attr(TCA_STATS_BASIC, &basic)
                .into_bytes();
            let options = AttrWriter::default()
                .attr(TCA_MIRRED_PARMS, &mirred_parms(index, 4, Hook::Egress))
                .into_bytes();
            let action = AttrWriter::default()
                .attr(TCA_ACT_KIND, b"mirred\0")
                .attr(TCA_ACT_STATS | NLA_F_NESTED, &stats)
                .attr(TCA_ACT_OPTIONS | NLA_F_NESTED, &options)
                .into_bytes();
            list = list.attr((n as u16 + 1) | NLA_F_NESTED, &action);
        }
        let mut r = Request::new(RTM_GETACTION, 0, &[0; TCAMSG_LEN])
            .attr(3, &(actions.len() as u32).to_ne_bytes()) // TCA_ROOT_COUNT
            .attr(TCA_ACT_TAB | NLA_F_NESTED, &list.into_bytes());
        r.finish(NLM_F_REQUEST, 1).to_vec()
    }

    #[test]
    fn counts_read_back_per_action_and_short_ones_are_skipped() {
        let bytes = answer(&[(0x6d00_0700, 1_500_000, 1000), (0x6d00_0701, 64, 1)]);
        let m = messages(&bytes).next().unwrap();
        assert_eq!(
            parse_counts(&m),
            [(0x6d00_0700, 1000, 1_500_000), (0x6d00_0701, 1, 64)]
        );
        // Cut anywhere: no panic, only whole actions.
        for cut in 0..bytes.len() {
            if let Some(m) = Message::new_checked(&bytes[..cut]) {
                assert!(parse_counts(&m).len() <= 2);
            }
        }
    }

    #[test]
    fn a_filter_redirecting_everything_is_worded_as_tc_words_it() {
        let r = Request::new(
            RTM_NEWTFILTER,
            NLM_F_CREATE | NLM_F_REPLACE,
            &tcmsg(
                7,
                U32_FIRST_NODE,
                hook_parent(Hook::Egress),
                filter_info(0x6d6d),
            ),
        );
        let b = r.as_bytes();
        // tcm_parent ffff:fff3 (clsact egress), tcm_info prio 0x6d6d, protocol all.
        assert_eq!(&b[16 + 12..16 + 16], &0xFFFF_FFF3u32.to_ne_bytes());
        let all = u32::from(0x0003u16.to_be()); // htons(ETH_P_ALL), either byte order
        assert_eq!(&b[16 + 16..16 + 20], &(0x6d6d_0000u32 | all).to_ne_bytes());
        assert_eq!(
            mirred_parms(1, 9, Hook::Ingress)[20..24],
            3i32.to_ne_bytes()
        );
        assert_eq!(match_all()[2], 1, "one key, matching everything");
    }
}
