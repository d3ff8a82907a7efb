//! SIGHUP: re-read this VSD's section and apply what can change while
//! traffic flows (members, their order, announcement and overlap timings).
//! What would need a new TAP or new sockets (name, MAC, MAC policy, MTU,
//! socket, batch) is refused as a whole, naming the option: the running
//! configuration stays, nothing is half-applied.

use std::path::PathBuf;

use crate::config::{self, VsdConfig};
use crate::control::EventKind;
use crate::engine::{Engine, config_priority, members};

/// The options a reload cannot change, with their values in `cfg`.
fn fixed(cfg: &VsdConfig) -> [(&'static str, String); 5] {
    [
        ("mac", format!("{:?}", cfg.mac)),
        ("mac_policy", cfg.mac_policy.name().to_string()),
        ("mtu", cfg.mtu.to_string()),
        ("socket", cfg.socket.display().to_string()),
        ("batch", cfg.batch.to_string()),
    ]
}

impl Engine {
    /// From now on SIGHUP reloads from `file` instead of stopping.
    pub fn reload_from(&mut self, file: PathBuf) {
        self.config_file = Some(file);
    }

    pub(super) fn reload(&mut self) {
        match self.try_reload() {
            Ok(summary) => self.event(EventKind::Reload, None, summary),
            Err(e) => self.event(EventKind::Error, None, format!("reload refused: {e}")),
        }
    }

    fn try_reload(&mut self) -> Result<String, String> {
        let file = self.config_file.clone().ok_or("no configuration file")?;
        let new = config::load(&file, Some(&self.cfg.name))?;
        for ((option, old), (_, now)) in fixed(&self.cfg).iter().zip(fixed(&new).iter()) {
            if old != now {
                return Err(format!(
                    "{}: vsd {}: option {option} changed ({old} -> {now}); \
                     it takes a restart (/etc/init.d/vsd restart)",
                    file.display(),
                    self.cfg.name
                ));
            }
        }
        let links = mimm_netlink::links::dump(&mut self.rtnl).map_err(|e| e.to_string())?;
        let find = |name: &str| links.iter().find(|l| l.name == name);
        // Every refusal before the first change.
        for m in new.members.iter().filter(|m| self.member_id(m).is_none()) {
            if let Some(problem) = find(m).and_then(members::refusal) {
                return Err(problem);
            }
        }
        let gone: Vec<usize> = (0..self.members.len())
            .filter(|&id| {
                self.members[id]
                    .as_ref()
                    .is_some_and(|m| !new.members.contains(&m.name))
            })
            .collect();
        for &id in &gone {
            self.remove_member(id, false);
        }
        self.waiting.retain(|(name, _)| new.members.contains(name));
        let mut added = 0;
        for (i, name) in new.members.iter().enumerate() {
            let priority = config_priority(i);
            if let Some(id) = self.member_id(name) {
                self.switch.set_priority(id, priority)?;
                continue;
            }
            match find(name).cloned() {
                Some(link) => {
                    self.add_member(&link, priority)?;
                    added += 1;
                }
                None => self.wait_for(name, priority),
            }
        }
        self.switch.set_config(new.switch);
        self.cfg = new;
        self.handle_outputs();
        Ok(format!(
            "{} reloaded: {} member(s) added, {} given back, order {}",
            file.display(),
            added,
            gone.len(),
            self.cfg.members.join(" > ")
        ))
    }

    fn wait_for(&mut self, name: &str, priority: i32) {
        match self.waiting.iter_mut().find(|(n, _)| n == name) {
            Some(w) => w.1 = priority,
            None => {
                tracing::warn!("member {name}: no such device yet; taken when it appears");
                self.waiting.push((name.to_string(), priority));
            }
        }
    }
}
