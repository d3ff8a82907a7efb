//! Paths joining and leaving the anchored VSD: devices taken in (now or
//! when they appear), their addresses registered as they change, and
//! whether each can carry traffic, told to the switch.

use mimm_io::clock::{self, Nanos};
use mimm_netlink::links::{Link, LinkEvent};
use mio::{Interest, Token};

use super::engine::{Engine, PATH_BASE};
use super::paths::Path;
use crate::control::EventKind;

impl Engine {
    pub(super) fn add_path(&mut self, link: &Link, priority: i32) -> Result<(), String> {
        if self.path_id(&link.name).is_some() {
            return Err(format!(
                "member {} is already in {}",
                link.name, self.cfg.name
            ));
        }
        if link.name == self.cfg.name {
            return Err(format!("member {} is the VSD itself", link.name));
        }
        let mut path = Path::open(link, self.a.mark, self.a.cipher)?;
        let id = self.paths.len();
        self.poll
            .registry()
            .register(&mut path.socket, Token(PATH_BASE + id), Interest::READABLE)
            .map_err(|e| format!("member {}: poll: {e}", link.name))?;
        self.paths.push(Some(path));
        let now = self.ms(clock::now());
        let switch_id = self.switch.add(priority, false, now);
        debug_assert_eq!(switch_id, id);
        self.event(
            EventKind::Member,
            Some(id),
            format!("taken in, priority {priority}"),
        );
        self.refresh_address(id);
        Ok(())
    }

    pub(super) fn remove_path(&mut self, id: usize, detail: &str) {
        let Some(mut path) = self.paths.get_mut(id).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut path.socket);
        let now = self.now();
        self.switch.remove(id, now.mono);
        self.registrar.set_care_of(id, None, now);
        self.event_named(EventKind::Member, Some(path.name.clone()), detail.into());
        self.handle_outputs();
    }

    /// Reads path `id`'s address again: a new one is registered.
    pub(super) fn refresh_address(&mut self, id: usize) {
        let Some(index) = self
            .paths
            .get(id)
            .and_then(Option::as_ref)
            .map(|p| p.ifindex)
        else {
            return;
        };
        let care_of = super::paths::address_of(&mut self.rtnl, index);
        let Some(path) = self.paths[id].as_mut() else {
            return;
        };
        if path.care_of == care_of {
            return;
        }
        path.care_of = care_of;
        let detail = care_of.map_or("no IPv4 address".into(), |a| format!("care-of address {a}"));
        self.event(EventKind::Member, Some(id), detail);
        let now = self.now();
        self.registrar.set_care_of(id, care_of, now);
        self.handle_outputs();
    }

    /// Tells the switch whether path `id` can carry traffic now.
    pub(super) fn update_usable(&mut self, id: usize, why: &str) {
        let Some(usable) = self
            .paths
            .get(id)
            .and_then(Option::as_ref)
            .map(Path::usable)
        else {
            return;
        };
        if self.switch.carrier(id) == Some(usable) {
            return;
        }
        let now = self.ms(clock::now());
        self.switch.on_carrier(id, usable, now);
        let detail = if usable { "usable" } else { "unusable" };
        self.event(EventKind::Carrier, Some(id), format!("{detail}: {why}"));
        self.handle_outputs();
    }

    /// Reads the active path's carrier from its device (at most once per
    /// [`crate::traffic::CARRIER_CHECK`]): while traffic flows, a loss on a
    /// point-to-point modem is acted on within about a millisecond, where
    /// rtnetlink's announcement can come a second late, or, when the
    /// carrier is back within that second, never.
    pub(super) fn check_active_carrier(&mut self, now: Nanos) {
        if !self.traffic.carrier_due(now) {
            return;
        }
        let Some(id) = self.switch.tx() else { return };
        let Some(p) = self.paths.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        if p.carrier && p.carrier_file.as_ref().is_some_and(|f| !f.read()) {
            p.carrier = false;
            self.update_usable(id, "carrier lost (read from the device)");
        }
    }

    pub(super) fn on_links(&mut self) {
        for event in self.links.drain() {
            match event {
                LinkEvent::Changed(link) => {
                    if let Some(id) = self.path_id(&link.name) {
                        if let Some(p) = self.paths[id].as_mut() {
                            p.carrier = link.up && link.carrier;
                        }
                        self.refresh_address(id);
                        self.update_usable(
                            id,
                            if link.carrier {
                                "carrier up"
                            } else {
                                "carrier lost"
                            },
                        );
                    } else if let Some(w) = self.waiting.iter().position(|(n, _)| *n == link.name) {
                        let (name, priority) = self.waiting.remove(w);
                        if let Err(e) = self.add_path(&link, priority) {
                            tracing::error!("{e}");
                            self.event_named(EventKind::Error, Some(name), e);
                        }
                    }
                }
                LinkEvent::Removed { name, .. } => {
                    if let Some(id) = self.path_id(&name) {
                        let priority = self.switch.priority(id).unwrap_or(0);
                        self.remove_path(id, "device removed");
                        self.waiting.push((name, priority));
                    }
                }
            }
        }
    }
}
