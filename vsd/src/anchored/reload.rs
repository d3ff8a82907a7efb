//! SIGHUP in mode anchored: re-read this VSD's section and apply what can
//! change while traffic flows (members and their order, the switch's
//! timings, the keepalive interval). What the TUN, the sockets or the
//! bindings were made from (mode, MTU, socket, anchor, home agent, home,
//! SPI, key, algorithm, lifetime, mark, enterprise, cipher) is refused as
//! a whole, naming the option: the running configuration stays, nothing
//! is half-applied.

use std::path::PathBuf;

use super::engine::Engine;
use crate::config::{self, VsdConfig};
use crate::control::EventKind;
use crate::engine::members_control;

/// The options a reload cannot change, with their values in `cfg`.
fn fixed(cfg: &VsdConfig) -> Vec<(&'static str, String)> {
    let mode = if cfg.anchored.is_some() {
        "anchored"
    } else {
        "shadow"
    };
    let mut all = vec![
        ("mode", mode.to_string()),
        ("mtu", cfg.mtu.to_string()),
        ("socket", cfg.socket.display().to_string()),
    ];
    let Some(a) = &cfg.anchored else {
        return all;
    };
    all.extend([
        ("anchor", a.anchor.to_string()),
        ("home_agent", a.home_agent.to_string()),
        ("home", a.home.to_string()),
        ("spi", a.spi.to_string()),
        ("algorithm", format!("{:?}", a.algorithm)),
        ("lifetime_s", a.lifetime_s.to_string()),
        ("mark", a.mark.to_string()),
        ("enterprise", a.vendor.to_string()),
        ("cipher", a.cipher.name().to_string()),
    ]);
    all
}

impl Engine {
    /// From now on SIGHUP reloads from `file` instead of being ignored.
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
        // Compared, never printed.
        if new.anchored.as_ref().map(|a| &a.key) != Some(&self.a.key) {
            let why = "key changed";
            return Err(members_control::needs_restart(&file, &self.cfg.name, why));
        }
        let (added, gone) = members_control::follow_members(self, &new.members)?;
        self.switch.set_config(new.switch);
        if let Some(a) = &new.anchored {
            self.a.keepalive_ms = a.keepalive_ms;
        }
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
