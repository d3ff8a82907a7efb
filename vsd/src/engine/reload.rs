//! SIGHUP: re-read this VSD's section and apply what can change while
//! traffic flows (members, their order, announcement and overlap timings).
//! What would need a new TAP or new sockets (name, MAC, MAC policy, MTU,
//! socket, batch, datapath) is refused as a whole, naming the option: the running
//! configuration stays, nothing is half-applied.

use std::path::PathBuf;

use crate::config::{self, VsdConfig};
use crate::control::EventKind;
use crate::engine::{Engine, members_control};

/// The options a reload cannot change, with their values in `cfg`.
fn fixed(cfg: &VsdConfig) -> [(&'static str, String); 7] {
    let mode = if cfg.anchored.is_some() {
        "anchored"
    } else {
        "shadow"
    };
    [
        ("mode", mode.to_string()),
        ("mac", format!("{:?}", cfg.mac)),
        ("mac_policy", cfg.mac_policy.name().to_string()),
        ("mtu", cfg.mtu.to_string()),
        ("socket", cfg.socket.display().to_string()),
        ("batch", cfg.batch.to_string()),
        ("datapath", datapath(cfg).to_string()),
    ]
}

/// The `datapath` option's value.
pub(crate) fn datapath(cfg: &VsdConfig) -> &'static str {
    if cfg.kernel_path {
        "kernel"
    } else {
        "userspace"
    }
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
        members_control::unchanged(&file, &self.cfg.name, &fixed(&self.cfg), &fixed(&new))?;
        let (added, gone) = members_control::follow_members(self, &new.members)?;
        self.switch.set_config(new.switch);
        self.cfg = new;
        self.handle_outputs();
        Ok(members_control::reloaded(
            &file,
            added,
            gone,
            &self.cfg.members,
        ))
    }
}
