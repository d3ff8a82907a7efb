//! Runs on this machine: each has an id, namespaces `mtb-<id>-<role>` and a
//! directory `/run/mimm-testbed/<id>` with its state, control socket and logs.
//! Cleanup finds runs whose owner died and removes exactly what they made.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::description::Description;
use crate::netns;
use crate::plan::{PREFIX, Plan};

pub const RUN_ROOT: &str = "/run/mimm-testbed";

pub fn run_dir(id: &str) -> PathBuf {
    Path::new(RUN_ROOT).join(id)
}

pub fn control_socket(id: &str) -> PathBuf {
    run_dir(id).join("ctl.sock")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    pub id: String,
    /// The process that owns the run (the CLI supervisor or a test).
    pub owner_pid: u32,
    /// Its start time in clock ticks, so a reused pid is not taken for it.
    pub owner_start: u64,
    pub description: Description,
    /// Built with the core network ([`Plan::core`]).
    #[serde(default)]
    pub core: bool,
}

impl RunState {
    pub fn new(id: &str, description: &Description) -> RunState {
        let pid = std::process::id();
        RunState {
            id: id.to_string(),
            owner_pid: pid,
            owner_start: process_start(pid).unwrap_or(0),
            description: description.clone(),
            core: false,
        }
    }

    pub fn with_core(mut self, core: bool) -> RunState {
        self.core = core;
        self
    }

    pub fn plan(&self) -> Plan {
        Plan::new(&self.id, &self.description).with_core(self.core)
    }

    pub fn save(&self) -> io::Result<()> {
        let dir = run_dir(&self.id);
        std::fs::create_dir_all(&dir)?;
        // The control socket inside steers the links: root only.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let text = serde_json::to_string_pretty(self)?;
        let tmp = dir.join("state.json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(tmp, dir.join("state.json"))
    }

    pub fn load(id: &str) -> io::Result<RunState> {
        let path = run_dir(id).join("state.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
    }

    pub fn owner_alive(&self) -> bool {
        process_start(self.owner_pid).is_some_and(|start| start == self.owner_start)
    }
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks;
/// `None` for a process that is gone or a zombie (killed, not yet reaped).
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it follow ") ".
    let mut fields = stat[stat.rfind(')')? + 2..].split(' ');
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// True for a run id as this tool makes them: six lowercase hex digits.
pub fn valid_id(id: &str) -> bool {
    id.len() == 6 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh id that no namespace or run directory uses yet.
pub fn new_id() -> io::Result<String> {
    loop {
        let mut bytes = [0u8; 3];
        rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let taken = run_dir(&id).exists()
            || netns::list()
                .iter()
                .any(|ns| ns.starts_with(&format!("{PREFIX}{id}-")));
        if !taken {
            return Ok(id);
        }
    }
}

/// The run id of a namespace made by this tool, `None` for anything else.
pub fn id_of_namespace(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PREFIX)?;
    let (id, role) = rest.split_once('-')?;
    let role_ok = !role.is_empty()
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (valid_id(id) && role_ok).then_some(id)
}

/// A run found on this machine.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub state: Option<RunState>,
    pub namespaces: Vec<String>,
}

impl Found {
    pub fn alive(&self) -> bool {
        self.state.as_ref().is_some_and(RunState::owner_alive)
    }
}

/// Every run that left a namespace or a run directory behind.
pub fn list() -> Vec<Found> {
    let mut ids: Vec<String> = netns::list()
        .iter()
        .filter_map(|ns| id_of_namespace(ns).map(str::to_string))
        .collect();
    if let Ok(dir) = std::fs::read_dir(RUN_ROOT) {
        ids.extend(
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|id| valid_id(id)),
        );
    }
    ids.sort();
    ids.dedup();
    let all_ns = netns::list();
    ids.into_iter()
        .map(|id| Found {
            state: RunState::load(&id).ok(),
            namespaces: all_ns
                .iter()
                .filter(|ns| id_of_namespace(ns) == Some(id.as_str()))
                .cloned()
                .collect(),
            id,
        })
        .collect()
}

/// Picks the run a command is about: the given id, or the only live one.
pub fn resolve(id: Option<&str>) -> Result<RunState, String> {
    if let Some(id) = id {
        if !valid_id(id) {
            return Err(format!("{id:?} is not a run id (six hex digits)"));
        }
        let state = RunState::load(id).map_err(|e| format!("no testbed {id}: {e}"))?;
        if !state.owner_alive() {
            return Err(format!(
                "testbed {id} is not running any more (its owner died); \
                 `mimm-testbed cleanup` removes what it left"
            ));
        }
        return Ok(state);
    }
    let live: Vec<RunState> = list()
        .into_iter()
        .filter(Found::alive)
        .filter_map(|f| f.state)
        .collect();
    match live.len() {
        0 => Err("no testbed is up (start one with `mimm-testbed up`)".into()),
        1 => Ok(live.into_iter().next().expect("one")),
        _ => Err(format!(
            "several testbeds are up ({}); choose one with --id",
            live.iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Removes everything of run `id`: processes inside its namespaces (never this
/// process), the namespaces, and its run directory. Returns what it removed.
pub fn remove(id: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let me = std::process::id();
    let namespaces: Vec<String> = netns::list()
        .into_iter()
        .filter(|ns| id_of_namespace(ns) == Some(id))
        .collect();
    for ns in &namespaces {
        for pid in netns::pids(ns) {
            if pid != me {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                removed.push(format!("process {pid} in {ns}"));
            }
        }
    }
    for ns in &namespaces {
        match netns::delete(ns) {
            Ok(()) => removed.push(format!("namespace {ns}")),
            Err(e) => eprintln!("mimm-testbed: {e}"),
        }
    }
    let dir = run_dir(id);
    if dir.exists() && std::fs::remove_dir_all(&dir).is_ok() {
        removed.push(format!("directory {}", dir.display()));
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_namespaces_match() {
        assert_eq!(id_of_namespace("mtb-a1b2c3-router"), Some("a1b2c3"));
        assert_eq!(id_of_namespace("mtb-a1b2c3-isp12"), Some("a1b2c3"));
        assert_eq!(id_of_namespace("mtb-a1b2c3-"), None);
        assert_eq!(id_of_namespace("mtb-A1B2C3-router"), None);
        assert_eq!(id_of_namespace("mtb-a1b2c-router"), None);
        assert_eq!(id_of_namespace("mtb-a1b2c3-Router"), None);
        assert_eq!(id_of_namespace("xmtb-a1b2c3-router"), None);
        assert_eq!(id_of_namespace("blue"), None);
    }

    #[test]
    fn reads_own_start_time() {
        let me = std::process::id();
        assert!(process_start(me).is_some());
        let state = RunState::new("abcdef", &Description::default());
        assert!(state.owner_alive());
    }
}
