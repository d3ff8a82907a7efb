//! Serving the control socket: status, members, priorities, prepare /
//! commit / set-active, event subscriptions.

use mimm_io::control::{Client, Request as Incoming};
use mimm_io::followers::Followers;

use super::members_control::{self, MemberEngine};
use crate::config::format_mac;
use crate::control::{Counters, Event, EventKind, MemberStatus, Reply, Request, Response, Status};
use crate::engine::Engine;
use crate::switch::Switch;

/// Reads one request: a bad one is answered with its error, an event
/// subscription is handed to `followers`; any other is the caller's to
/// answer. Both modes' engines serve their sockets with it.
pub(crate) fn read_request(
    incoming: Incoming,
    followers: &mut Followers<Event>,
) -> Option<(Client, Request)> {
    let Incoming { mut client, line } = incoming;
    let request = match Request::from_line(&line) {
        Ok(r) => r,
        Err(e) => {
            client.answer(&Response::Error(format!("bad request: {e}")));
            return None;
        }
    };
    if let Request::Events { follow, recent } = request {
        if (!recent || followers.replay(&mut client)) && follow {
            if let Err(mut refused) = followers.follow(client, ()) {
                let full = format!("{} clients follow already", followers.len());
                refused.answer(&Response::Error(full));
            }
        }
        return None;
    }
    Some((client, request))
}

/// The answer to a handled request.
pub(crate) fn response(result: Result<Reply, String>) -> Response {
    match result {
        Ok(reply) => Response::Ok(reply),
        Err(e) => Response::Error(e),
    }
}

/// A member's state as status shows it: active, prepared, leaving,
/// backup or down.
pub(crate) fn member_state(switch: &Switch, id: usize) -> &'static str {
    if switch.active() == Some(id) {
        "active"
    } else if switch.prepared() == Some(id) {
        "prepared"
    } else if switch.accepts(id) {
        "leaving"
    } else if switch.carrier(id) == Some(true) {
        "backup"
    } else {
        "down"
    }
}

impl MemberEngine for Engine {
    fn vsd_name(&self) -> &str {
        &self.cfg.name
    }
    fn member_names(&self) -> Vec<String> {
        self.members
            .iter()
            .flatten()
            .map(|m| m.name.clone())
            .collect()
    }
    fn member_id(&self, name: &str) -> Option<usize> {
        Engine::member_id(self, name)
    }
    fn switch_mut(&mut self) -> &mut Switch {
        &mut self.switch
    }
    fn rtnl_mut(&mut self) -> &mut mimm_netlink::Rtnl {
        &mut self.rtnl
    }
    fn take_in(&mut self, link: &mimm_netlink::links::Link, priority: i32) -> Result<(), String> {
        self.add_member(link, priority)
    }
    fn give_back(&mut self, id: usize) {
        self.remove_member(id, false);
    }
    fn record(&mut self, kind: EventKind, id: usize, detail: String) {
        self.event(kind, Some(id), detail);
    }
    fn prepared_detail(&self) -> &'static str {
        "accepting its frames too"
    }
    fn refusal(&self, link: &mimm_netlink::links::Link) -> Option<String> {
        super::members::refusal(link)
    }
    fn waiting_mut(&mut self) -> &mut Vec<(String, i32)> {
        &mut self.waiting
    }
}

impl Engine {
    pub(super) fn on_request(&mut self, incoming: Incoming) {
        let Some((mut client, request)) = read_request(incoming, &mut self.followers) else {
            return;
        };
        client.answer(&response(self.handle(request)));
        self.handle_outputs();
    }

    fn handle(&mut self, request: Request) -> Result<Reply, String> {
        let now = self.ms(mimm_io::clock::now());
        if let Some(answer) = members_control::handle(self, &request, now) {
            return answer;
        }
        match request {
            Request::Status => {
                let kernel = (self.kernel.as_ref()).map(|k| k.counts(&mut self.rtnl));
                Ok(Reply::Status(Box::new(
                    self.status(kernel.unwrap_or_default()),
                )))
            }
            Request::Duplicate { .. } => Err(format!(
                "{}: duplication needs option mode 'anchored' (members on one segment share one path)",
                self.cfg.name
            )),
            _ => Ok(Reply::Done),
        }
    }

    /// `kernel`: what the kernel forwarded for each member it steers.
    fn status(&self, kernel: Vec<(usize, Counters)>) -> Status {
        let name = |id: Option<usize>| {
            id.and_then(|i| self.members.get(i).and_then(Option::as_ref))
                .map(|m| m.name.clone())
        };
        let members = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(id, m)| m.as_ref().map(|m| (id, m)))
            .map(|(id, m)| {
                let state = member_state(&self.switch, id);
                MemberStatus {
                    name: m.name.clone(),
                    ifindex: m.ifindex,
                    mac: format_mac(&m.mac),
                    carrier: self.switch.carrier(id).unwrap_or(false),
                    priority: self.switch.priority(id).unwrap_or(0),
                    state: state.into(),
                    counters: kernel
                        .iter()
                        .find(|(k, _)| *k == id)
                        .map_or(m.counters, |(_, c)| m.counters.plus(c)),
                    path: None,
                }
            })
            .collect();
        Status {
            name: self.cfg.name.clone(),
            mac: format_mac(&self.tap.mac),
            mtu: self.cfg.mtu,
            mac_policy: self.cfg.mac_policy.name().into(),
            offloads: self.tap.offloads,
            kernel_path: self.kernel.is_some(),
            active: name(self.switch.active()),
            prepared: name(self.switch.prepared()),
            switches: self.switches,
            uptime_s: (mimm_io::clock::now().saturating_sub(self.start).0 as f64 / 1e8).round()
                / 10.0,
            members,
            waiting: self.waiting.iter().map(|(n, _)| n.clone()).collect(),
            backups: (self.switch.backups().iter())
                .filter_map(|&id| name(Some(id)))
                .collect(),
            anchored: None,
        }
    }
}
