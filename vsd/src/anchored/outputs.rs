//! What the registrar and the switch decide, carried out: registrations
//! sent, tunnel keys changed, the home address put on the TUN, switches
//! announced to the anchor with a primary keepalive; and the keepalives due.

use std::net::Ipv4Addr;

use mimm_io::clock::{self, Nanos};

use super::engine::Engine;
use super::registrar::Output as Registered;
use crate::control::EventKind;
use crate::switch::Output;

impl Engine {
    /// Carries out what the registrar and the switch decided.
    pub(super) fn handle_outputs(&mut self) {
        while let Some(out) = self.registrar.poll_output() {
            self.on_registered(out);
        }
        while let Some(output) = self.switch.poll_output() {
            match output {
                Output::Switched { from, to, cause } => {
                    self.switches += 1;
                    // Downlink follows at once, before any packet shows the way.
                    self.send_keepalive(to, clock::now());
                    let detail = format!(
                        "{} -> {}: {}",
                        self.name_of(from),
                        self.name_of(Some(to)),
                        cause.name()
                    );
                    self.event(EventKind::Switch, Some(to), detail);
                }
                Output::Announce { .. } => {}
                Output::AllDown => {
                    self.event(EventKind::AllDown, None, "no path to the anchor".into());
                }
            }
        }
    }

    fn on_registered(&mut self, out: Registered) {
        let key = self.a.key.clone();
        match out {
            Registered::Send { path, bytes } => {
                let Some(p) = self.paths.get(path).and_then(Option::as_ref) else {
                    return;
                };
                if let Err(e) = p.send(&bytes, self.a.anchor.into()) {
                    tracing::warn!("member {}: registration: {e}", p.name);
                }
            }
            Registered::Renewing {
                path,
                identification,
                care_of,
            } => {
                let home = self.registrar.home().unwrap_or(self.a.home);
                if let Some(p) = self.paths.get_mut(path).and_then(Option::as_mut) {
                    p.tunnel.renewing(&key, identification, home, care_of);
                }
            }
            Registered::Bound {
                path,
                home,
                care_of,
                identification,
                again,
            } => {
                self.set_home(home);
                let Some(p) = self.paths.get_mut(path).and_then(Option::as_mut) else {
                    return;
                };
                let fresh = !p.tunnel.is_bound();
                p.tunnel.bound(&key, identification, home, care_of);
                let said = match (fresh, again) {
                    (true, _) => Some("bound"),
                    (false, true) => Some("bound again (the anchor had no binding)"),
                    (false, false) => None,
                };
                if let Some(said) = said {
                    self.event(
                        EventKind::Member,
                        Some(path),
                        format!("{said}: home {home} via {care_of}"),
                    );
                    // The anchor learns at once which path is primary (a
                    // restarted one sends downlink over the newest binding
                    // until told), and the path its round trip.
                    self.send_keepalive(path, clock::now());
                }
                self.update_usable(path, "bound");
            }
            Registered::Unbound { path, why } => {
                if let Some(p) = self.paths.get_mut(path).and_then(Option::as_mut) {
                    p.tunnel.unbound();
                }
                self.event(EventKind::Member, Some(path), format!("unbound: {why}"));
                self.update_usable(path, "no binding");
            }
        }
    }

    /// Puts the home address the anchor gave on the TUN.
    fn set_home(&mut self, home: Ipv4Addr) {
        if self.home == Some(home) {
            return;
        }
        if let Some(old) = self.home {
            let _ = mimm_netlink::addresses::remove(&mut self.rtnl, self.tun_index, old, 32);
        }
        match mimm_netlink::addresses::add(&mut self.rtnl, self.tun_index, home, 32) {
            Ok(()) => {
                self.home = Some(home);
                self.event_named(EventKind::Member, None, format!("home address {home}"));
            }
            Err(e) => tracing::error!("{}: home address {home}: {e}", self.cfg.name),
        }
    }

    /// A keepalive on every bound path when one is due.
    pub(super) fn keepalives(&mut self, now: Nanos) {
        if now < self.next_keepalive {
            return;
        }
        self.next_keepalive = now.saturating_add(Nanos::from_ms(self.a.keepalive_ms));
        for id in 0..self.paths.len() {
            self.send_keepalive(id, now);
            self.update_usable(id, "keepalives unanswered");
        }
    }
}
