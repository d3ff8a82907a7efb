//! What the VSD found on the host before it changed it, kept in a file
//! beside its control socket (`/var/run/vsd-NAME.state`), so that a VSD
//! killed without a chance to tidy up (kill -9, the OOM killer, a power
//! cut with /var/run on flash) leaves nothing it cannot undo: the next
//! start, or `vsd cleanup`, first gives every member back as the file says
//! it was, then removes the file. A member is written down before it is
//! touched and struck out once it has been given back; the file is
//! replaced whole (a temporary file renamed over it), so a crash leaves
//! the old list or the new, never half of one. One line per member:
//! `DEVICE MAC|- UP NOARP DISABLE_IPV6|-` (plain text: a derived JSON
//! reader and writer measured 8 KiB more on x86).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use mimm_netlink::Rtnl;

use crate::config::{format_mac, parse_mac};
use crate::isolate::{self, Saved};

/// The members taken in and what each was like before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Taken {
    members: BTreeMap<String, Saved>,
}

impl Taken {
    fn to_text(&self) -> String {
        let mut text = String::new();
        for (device, s) in &self.members {
            let mac = s.mac.as_ref().map_or("-".into(), format_mac);
            let ipv6 = s.disable_ipv6.as_deref().unwrap_or("-");
            let bit = |b: bool| if b { '1' } else { '0' };
            text += &format!("{device} {mac} {} {} {ipv6}\n", bit(s.up), bit(s.noarp));
        }
        text
    }

    fn parse(text: &str) -> Result<Taken, String> {
        let mut taken = Taken::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("line {}: {line:?}", n + 1);
            let f: Vec<&str> = line.split_whitespace().collect();
            let [device, mac, up, noarp, ipv6] = f[..] else {
                return Err(bad());
            };
            let bit = |b: &str| match b {
                "1" => Ok(true),
                "0" => Ok(false),
                _ => Err(bad()),
            };
            let saved = Saved {
                mac: match mac {
                    "-" => None,
                    m => Some(parse_mac(m).ok_or_else(bad)?),
                },
                up: bit(up)?,
                noarp: bit(noarp)?,
                disable_ipv6: (ipv6 != "-").then(|| ipv6.to_string()),
            };
            taken.members.insert(device.to_string(), saved);
        }
        Ok(taken)
    }
}

pub struct HostState {
    path: PathBuf,
    taken: Taken,
}

/// The state file of VSD `name` whose control socket is `socket`.
pub fn path_for(name: &str, socket: &Path) -> PathBuf {
    socket
        .parent()
        .unwrap_or(Path::new("/var/run"))
        .join(format!("vsd-{name}.state"))
}

impl HostState {
    /// A fresh record at `path` (after [`recover`] has run).
    pub fn new(path: PathBuf) -> HostState {
        HostState {
            path,
            taken: Taken::default(),
        }
    }

    /// Writes `device` down as it was, before anything of it changes.
    pub fn record(&mut self, device: &str, saved: &Saved) -> io::Result<()> {
        self.taken.members.insert(device.to_string(), saved.clone());
        self.write()
    }

    /// Strikes `device` out once it has been given back; the last one
    /// removes the file.
    pub fn forget(&mut self, device: &str) {
        if self.taken.members.remove(device).is_none() {
            return;
        }
        let result = if self.taken.members.is_empty() {
            std::fs::remove_file(&self.path).or_else(not_found_ok)
        } else {
            self.write()
        };
        if let Err(e) = result {
            tracing::warn!("{}: {e}", self.path.display());
        }
    }

    fn write(&self) -> io::Result<()> {
        mimm_io::fs::replace(&self.path, self.taken.to_text().as_bytes())
    }
}

fn not_found_ok(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

/// Gives back every member a previous run of VSD `vsd` left taken (as its
/// state file at `path` says), removes its nftables table and the file;
/// the members restored, by name. No file: nothing to do. A member whose
/// device is gone is skipped (it comes back fresh when it reappears).
pub fn recover(rtnl: &mut Rtnl, vsd: &str, path: &Path) -> Result<Vec<String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let taken = Taken::parse(&text).map_err(|e| {
        format!(
            "{}: {e} (not a VSD state file? move it away to start)",
            path.display()
        )
    })?;
    let links = mimm_netlink::links::dump(rtnl).map_err(|e| format!("netlink: {e}"))?;
    let mut restored = Vec::new();
    for (device, saved) in &taken.members {
        let Some(link) = links.iter().find(|l| &l.name == device) else {
            tracing::warn!("{device}: left taken by an earlier run, but gone");
            continue;
        };
        for problem in isolate::give_back(rtnl, vsd, device, link.index, saved) {
            tracing::warn!("giving back {problem}");
        }
        restored.push(device.clone());
    }
    isolate::remove_table(vsd);
    std::fs::remove_file(path)
        .or_else(not_found_ok)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved(mac: u8) -> Saved {
        Saved {
            mac: Some([2, 0, 0, 0, 0, mac]),
            up: false,
            noarp: false,
            disable_ipv6: Some("0".into()),
        }
    }

    #[test]
    fn members_are_written_down_before_and_struck_out_after() {
        let dir = std::env::temp_dir().join(format!("vsd-host-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vsd-t0.state");
        let mut state = HostState::new(path.clone());
        state.record("eth1", &saved(1)).unwrap();
        state.record("eth2", &saved(2)).unwrap();
        let on_disk: Taken = Taken::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk.members["eth1"], saved(1));
        assert_eq!(on_disk.members.len(), 2);
        state.forget("eth1");
        let on_disk: Taken = Taken::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk.members.keys().collect::<Vec<_>>(), ["eth2"]);
        state.forget("eth2");
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "a temporary file left"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_file_sits_beside_the_socket() {
        assert_eq!(
            path_for("vsd0", Path::new("/var/run/vsd-vsd0.sock")),
            Path::new("/var/run/vsd-vsd0.state")
        );
    }
}
