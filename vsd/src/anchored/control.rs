//! The anchored VSD's control socket: the same requests as the shadow-MAC
//! mode, so mimmd drives both alike. Every path is bound all along (S
//! flag), so `prepare` has nothing to wait for: the make-before-break is
//! already made, and `commit` moves uplink (and, with the primary
//! keepalive it sends, downlink) in one step.

use mimm_io::control::Request as Incoming;

use super::engine::Engine;
use crate::control::{AnchoredStatus, EventKind, MemberStatus, Reply, Request, Status};
use crate::engine::control::{member_state, read_request, response};
use crate::engine::members_control::{self, MemberEngine};

impl MemberEngine for Engine {
    fn vsd_name(&self) -> &str {
        &self.cfg.name
    }
    fn member_names(&self) -> Vec<String> {
        self.paths
            .iter()
            .flatten()
            .map(|p| p.name.clone())
            .collect()
    }
    fn member_id(&self, name: &str) -> Option<usize> {
        self.path_id(name)
    }
    fn switch_mut(&mut self) -> &mut crate::switch::Switch {
        &mut self.switch
    }
    fn rtnl_mut(&mut self) -> &mut mimm_netlink::Rtnl {
        &mut self.rtnl
    }
    fn take_in(&mut self, link: &mimm_netlink::links::Link, priority: i32) -> Result<(), String> {
        self.add_path(link, priority)
    }
    fn give_back(&mut self, id: usize) {
        self.remove_path(id, "given back");
    }
    fn record(&mut self, kind: EventKind, id: usize, detail: String) {
        self.event(kind, Some(id), detail);
    }
    fn prepared_detail(&self) -> &'static str {
        "bound already: ready"
    }
    /// Any device with IPv4 can carry a tunnel.
    fn refusal(&self, _: &mimm_netlink::links::Link) -> Option<String> {
        None
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
            Request::Status => Ok(Reply::Status(Box::new(self.status()))),
            Request::Duplicate { member } => {
                let to = member
                    .as_deref()
                    .map(|m| members_control::id_of(self, m))
                    .transpose()?;
                if to != self.dup.to {
                    self.dup.to = to;
                    let detail = match &member {
                        Some(m) => format!("duplicating over {m} too"),
                        None => "duplication off".into(),
                    };
                    self.event_named(EventKind::Switch, member, detail);
                }
                Ok(Reply::Done)
            }
            _ => Ok(Reply::Done),
        }
    }

    fn status(&self) -> Status {
        let ms = self.ms(mimm_io::clock::now());
        let members = self
            .paths
            .iter()
            .enumerate()
            .filter_map(|(id, p)| p.as_ref().map(|p| (id, p)))
            .map(|(id, p)| {
                let mut path = p.stats.clone();
                path.care_of = p.care_of;
                path.tunnel = p.tunnel.counters;
                if let Some(b) = self.registrar.binding(id, ms) {
                    path.bound = b.bound;
                    path.asking_tries = b.tries;
                    path.refused = b.refused;
                    path.binding_left_s = b.left_s;
                    path.rebinds = b.rebinds;
                }
                MemberStatus {
                    name: p.name.clone(),
                    ifindex: p.ifindex,
                    mac: String::new(),
                    carrier: p.carrier,
                    priority: self.switch.priority(id).unwrap_or(0),
                    state: member_state(&self.switch, id).into(),
                    counters: Default::default(),
                    path: Some(path),
                }
            })
            .collect();
        Status {
            name: self.cfg.name.clone(),
            mac: String::new(),
            mtu: self.cfg.mtu,
            mac_policy: "anchored".into(),
            offloads: false,
            kernel_path: false,
            active: self.switch.active().map(|i| self.name_of(Some(i))),
            prepared: self.switch.prepared().map(|i| self.name_of(Some(i))),
            switches: self.switches,
            uptime_s: (mimm_io::clock::now().saturating_sub(self.start).0 as f64 / 1e8).round()
                / 10.0,
            members,
            waiting: self.waiting.iter().map(|(n, _)| n.clone()).collect(),
            backups: (self.switch.backups().iter())
                .map(|&id| self.name_of(Some(id)))
                .collect(),
            anchored: Some(AnchoredStatus {
                anchor: self.a.anchor.to_string(),
                home: self.home,
                no_path_drops: self.no_path_drops,
                duplicating_to: self.dup.to.map(|i| self.name_of(Some(i))),
                sent_twice: self.dup.sent_twice,
                second_copies: self.dup.filter.dropped,
            }),
        }
    }
}
