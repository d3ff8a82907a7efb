//! Vsd mode: traffic moves by telling the VSD which member to make active
//! (over its control socket). The VSD keeps the data path and its own
//! carrier watch, so traffic survives mimmd being slow, restarted or dead;
//! mimmd reads back which member is active and follows it.

use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use mimm_vsd::config::VsdConfig;
use mimm_vsd::control::{self, MemberPath, Request};

pub struct VsdMode {
    pub name: String,
    socket: PathBuf,
    /// The VSD tunnels its members to an anchor: their paths' keepalives
    /// are the path metric (see `Daemon::read_anchor_paths`).
    pub anchored: bool,
}

impl VsdMode {
    pub fn new(cfg: &VsdConfig) -> VsdMode {
        VsdMode {
            name: cfg.name.clone(),
            socket: cfg.socket.clone(),
            anchored: cfg.anchored.is_some(),
        }
    }

    /// Makes `device` the active member (the VSD overlaps and announces).
    pub fn switch(&self, device: &str) -> io::Result<()> {
        let member = device.to_string();
        control::command(&self.socket, &Request::SetActive { member })
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Anchored: the home address and each member's path to the anchor.
    pub fn anchored_paths(&self) -> io::Result<Option<(Option<Ipv4Addr>, Vec<MemberPath>)>> {
        control::anchored_paths(&self.socket)
    }

    /// Where the VSD moves by itself on a carrier loss, best first.
    pub fn backups(&self, devices: Vec<String>) -> io::Result<()> {
        control::command(&self.socket, &Request::Backups { members: devices })
    }

    /// Anchored: duplicate over `device` too (`None`: stop).
    pub fn duplicate(&self, device: Option<String>) -> io::Result<()> {
        control::command(&self.socket, &Request::Duplicate { member: device })
    }

    /// The member the VSD has active now.
    pub fn active(&self) -> io::Result<Option<String>> {
        control::active_member(&self.socket)
    }
}
