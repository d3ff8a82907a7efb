//! Vsd mode: traffic moves by telling the VSD which member to make active
//! (over its control socket). The VSD keeps the data path and its own
//! carrier watch, so traffic survives mimmd being slow, restarted or dead;
//! mimmd reads back which member is active and follows it.

use std::io;
use std::path::PathBuf;

use mimm_vsd::config::VsdConfig;
use mimm_vsd::control::{self, Request};

pub struct VsdMode {
    pub name: String,
    socket: PathBuf,
}

impl VsdMode {
    pub fn new(cfg: &VsdConfig) -> VsdMode {
        VsdMode {
            name: cfg.name.clone(),
            socket: cfg.socket.clone(),
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

    /// The member the VSD has active now.
    pub fn active(&self) -> io::Result<Option<String>> {
        control::active_member(&self.socket)
    }
}
