//! The control requests both modes' engines answer alike: members added,
//! removed, given priorities, prepared, committed, made active. Each
//! engine says how it takes a device in and gives one back; the switch
//! core is the same.

use mimm_netlink::Rtnl;
use mimm_netlink::links::Link;

use crate::control::{EventKind, Reply, Request};
use crate::switch::{Millis, Switch};

/// What the requests need of an engine.
pub(crate) trait MemberEngine {
    fn vsd_name(&self) -> &str;
    fn member_names(&self) -> Vec<String>;
    fn member_id(&self, name: &str) -> Option<usize>;
    fn switch_mut(&mut self) -> &mut Switch;
    fn rtnl_mut(&mut self) -> &mut Rtnl;
    fn take_in(&mut self, link: &Link, priority: i32) -> Result<(), String>;
    fn give_back(&mut self, id: usize);
    fn record(&mut self, kind: EventKind, id: usize, detail: String);
    /// What `prepare` means in this mode, for the event.
    fn prepared_detail(&self) -> &'static str;
    /// Why this mode cannot take `link` in (checked before a reload
    /// changes anything); `None`: it can.
    fn refusal(&self, link: &Link) -> Option<String>;
    /// Configured members whose device does not exist yet, with priority.
    fn waiting_mut(&mut self) -> &mut Vec<(String, i32)>;
}

/// Why a reload of vsd `vsd` from `file` is refused: `change` (an option
/// only a restart applies).
pub(crate) fn needs_restart(file: &std::path::Path, vsd: &str, change: &str) -> String {
    format!(
        "{}: vsd {vsd}: option {change}; it takes a restart (/etc/init.d/vsd restart)",
        file.display()
    )
}

/// A reload's check of the options only a restart applies, `(option,
/// value)` before and after in the same order: the first that changed.
pub(crate) fn unchanged(
    file: &std::path::Path,
    vsd: &str,
    before: &[(&str, String)],
    after: &[(&str, String)],
) -> Result<(), String> {
    match before.iter().zip(after).find(|(b, a)| b.1 != a.1) {
        Some(((option, old), (_, now))) => Err(needs_restart(
            file,
            vsd,
            &format!("{option} changed ({old} -> {now})"),
        )),
        None => Ok(()),
    }
}

/// What a reload that applied says.
pub(crate) fn reloaded(
    file: &std::path::Path,
    added: usize,
    gone: usize,
    order: &[String],
) -> String {
    format!(
        "{} reloaded: {added} member(s) added, {gone} given back, order {}",
        file.display(),
        order.join(" > ")
    )
}

/// The priority of the `i`-th configured member: the first is preferred.
pub(crate) fn config_priority(i: usize) -> i32 {
    1000 - 10 * i as i32
}

/// A reload's member list, applied: members not in `members` given back,
/// new ones taken in (or awaited until their device appears), everyone's
/// priority from its place. Every refusal comes before the first change.
/// How many were taken in and given back.
pub(crate) fn follow_members(
    e: &mut impl MemberEngine,
    members: &[String],
) -> Result<(usize, usize), String> {
    let links = mimm_netlink::links::dump(e.rtnl_mut()).map_err(|e| e.to_string())?;
    let find = |name: &str| links.iter().find(|l| l.name == name);
    for m in members.iter().filter(|m| e.member_id(m).is_none()) {
        if let Some(problem) = find(m).and_then(|l| e.refusal(l)) {
            return Err(problem);
        }
    }
    let gone: Vec<usize> = (e.member_names().iter())
        .filter(|name| !members.contains(name))
        .filter_map(|name| e.member_id(name))
        .collect();
    for &id in &gone {
        e.give_back(id);
    }
    e.waiting_mut().retain(|(name, _)| members.contains(name));
    let mut added = 0;
    for (i, name) in members.iter().enumerate() {
        let priority = config_priority(i);
        if let Some(id) = e.member_id(name) {
            e.switch_mut().set_priority(id, priority)?;
            continue;
        }
        match find(name) {
            Some(link) => {
                e.take_in(link, priority)?;
                added += 1;
            }
            None => wait_for(e, name, priority),
        }
    }
    Ok((added, gone.len()))
}

fn wait_for(e: &mut impl MemberEngine, name: &str, priority: i32) {
    match e.waiting_mut().iter_mut().find(|(n, _)| n == name) {
        Some(w) => w.1 = priority,
        None => {
            tracing::warn!("member {name}: no such device yet; taken when it appears");
            e.waiting_mut().push((name.to_string(), priority));
        }
    }
}

/// The id of member `name`, or an error listing the members.
pub(crate) fn id_of(e: &impl MemberEngine, name: &str) -> Result<usize, String> {
    e.member_id(name).ok_or_else(|| {
        let names = e.member_names().join(", ");
        format!("no member {name:?} in {} (members: {names})", e.vsd_name())
    })
}

/// Answers a member request; `None` for the others (status, duplicate,
/// events: each engine's own).
pub(crate) fn handle(
    e: &mut impl MemberEngine,
    request: &Request,
    now: Millis,
) -> Option<Result<Reply, String>> {
    let done = |r: Result<(), String>| Some(r.map(|()| Reply::Done));
    match request {
        Request::Add { member, priority } => done((|| {
            let links = mimm_netlink::links::dump(e.rtnl_mut()).map_err(|e| e.to_string())?;
            let link = links
                .iter()
                .find(|l| &l.name == member)
                .ok_or_else(|| format!("member {member}: no such device"))?;
            e.take_in(link, priority.unwrap_or(0))
        })()),
        Request::Remove { member } => done(id_of(e, member).map(|id| e.give_back(id))),
        Request::Priority { member, priority } => {
            done(id_of(e, member).and_then(|id| e.switch_mut().set_priority(id, *priority)))
        }
        Request::Prepare { member } => done(id_of(e, member).and_then(|id| {
            e.switch_mut()
                .prepare(id)
                .map_err(|err| format!("member {member}: {err}"))?;
            let detail = e.prepared_detail().to_string();
            e.record(EventKind::Prepare, id, detail);
            Ok(())
        })),
        Request::Commit => done(e.switch_mut().commit(now).map(|_| ())),
        Request::SetActive { member } => done(id_of(e, member).and_then(|id| {
            e.switch_mut()
                .set_active(id, now)
                .map_err(|err| format!("member {member}: {err}"))
        })),
        Request::Backups { members } => done((|| {
            let mut ids = Vec::new();
            for m in members {
                // A configured member whose device is not there yet has no
                // place to take; any other name is a mistake.
                match e.member_id(m) {
                    Some(id) => ids.push(id),
                    None if e.waiting_mut().iter().any(|(w, _)| w == m) => {}
                    None => ids.push(id_of(e, m)?),
                }
            }
            e.switch_mut().set_backups(ids)
        })()),
        Request::Status | Request::Duplicate { .. } | Request::Events { .. } => None,
    }
}
