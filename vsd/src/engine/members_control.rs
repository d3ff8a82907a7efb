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
        Request::Status | Request::Duplicate { .. } | Request::Events { .. } => None,
    }
}
