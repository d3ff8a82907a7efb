//! The anchored VSD's control socket: the same requests as the shadow-MAC
//! mode, so mimmd drives both alike. Every path is bound all along (S
//! flag), so `prepare` has nothing to wait for: the make-before-break is
//! already made, and `commit` moves uplink (and, with the primary
//! keepalive it sends, downlink) in one step.

use mimm_io::control::Request as Incoming;

use super::engine::Engine;
use crate::control::{AnchoredStatus, EventKind, MemberStatus, Reply, Request, Status};
use crate::engine::control::{member_state, read_request, response};

impl Engine {
    pub(super) fn on_request(&mut self, incoming: Incoming) {
        let Some((mut client, request)) = read_request(incoming, &mut self.followers) else {
            return;
        };
        client.answer(&response(self.handle(request)));
        self.handle_outputs();
    }

    fn id_of(&self, name: &str) -> Result<usize, String> {
        self.path_id(name).ok_or_else(|| {
            let names: Vec<&str> = self
                .paths
                .iter()
                .flatten()
                .map(|p| p.name.as_str())
                .collect();
            format!(
                "no member {name:?} in {} (members: {})",
                self.cfg.name,
                names.join(", ")
            )
        })
    }

    fn handle(&mut self, request: Request) -> Result<Reply, String> {
        let now = self.ms(mimm_io::clock::now());
        match request {
            Request::Status => Ok(Reply::Status(Box::new(self.status()))),
            Request::Add { member, priority } => {
                let links = mimm_netlink::links::dump(&mut self.rtnl).map_err(|e| e.to_string())?;
                let link = links
                    .iter()
                    .find(|l| l.name == member)
                    .ok_or_else(|| format!("member {member}: no such device"))?;
                self.add_path(link, priority.unwrap_or(0))?;
                Ok(Reply::Done)
            }
            Request::Remove { member } => {
                let id = self.id_of(&member)?;
                self.remove_path(id, "given back");
                Ok(Reply::Done)
            }
            Request::Priority { member, priority } => {
                let id = self.id_of(&member)?;
                self.switch.set_priority(id, priority)?;
                Ok(Reply::Done)
            }
            Request::Prepare { member } => {
                let id = self.id_of(&member)?;
                self.switch
                    .prepare(id)
                    .map_err(|e| format!("member {member}: {e}"))?;
                self.event(EventKind::Prepare, Some(id), "bound already: ready".into());
                Ok(Reply::Done)
            }
            Request::Commit => {
                self.switch.commit(now)?;
                Ok(Reply::Done)
            }
            Request::SetActive { member } => {
                let id = self.id_of(&member)?;
                self.switch
                    .set_active(id, now)
                    .map_err(|e| format!("member {member}: {e}"))?;
                Ok(Reply::Done)
            }
            Request::Duplicate { member } => {
                let to = member.as_deref().map(|m| self.id_of(m)).transpose()?;
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
            Request::Events { .. } => Ok(Reply::Done),
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
            active: self.switch.active().map(|i| self.name_of(Some(i))),
            prepared: self.switch.prepared().map(|i| self.name_of(Some(i))),
            switches: self.switches,
            uptime_s: (mimm_io::clock::now().saturating_sub(self.start).0 as f64 / 1e8).round()
                / 10.0,
            members,
            waiting: self.waiting.iter().map(|(n, _)| n.clone()).collect(),
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
