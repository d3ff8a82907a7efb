//! What the VSD found on the host before it changed it, kept in a file
//! beside its control socket (`/var/run/vsd-NAME.state`), so that a VSD
//! killed without a chance to tidy up (kill -9, the OOM killer, a power
//! cut with /var/run on flash) leaves nothing it cannot undo: the next
//! start, or `vsd cleanup`, first gives every member back as the file says
//! it was. A member is written down before it is touched and struck out
//! once it has been given back; the file is replaced whole (a temporary
//! file renamed over it), so a crash leaves the old list or the new, never
//! half of one. One line per member: `DEVICE MAC|- UP NOARP DISABLE_IPV6|-`
//! (plain text: a derived JSON reader and writer measured 8 KiB more on
//! x86), and `created tap NAME` for the VSD's own TAP, which is persistent
//! while the VSD runs: a restarted VSD takes it over with the addresses
//! and routes netifd gave it, and `vsd cleanup` removes it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use mimm_io::tuntap::{DevKind, TunTap};
use mimm_netlink::Rtnl;

use crate::config::{format_mac, parse_mac};
use crate::isolate::{self, Saved};

const CREATED_TAP: &str = "created tap";

/// The members taken in and what each was like before, and the TAP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Taken {
    members: BTreeMap<String, Saved>,
    tap: Option<String>,
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
        if let Some(tap) = &self.tap {
            text += &format!("{CREATED_TAP} {tap}\n");
        }
        text
    }

    fn parse(text: &str) -> Result<Taken, String> {
        let mut taken = Taken::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("line {}: {line:?}", n + 1);
            if let Some(tap) = line.strip_prefix(CREATED_TAP) {
                taken.tap = Some(tap.trim().to_string()).filter(|t| !t.is_empty());
                continue;
            }
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

    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.tap.is_none()
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
    /// What an earlier run left at `path` (nothing when there is no file).
    /// Reading it changes nothing.
    pub fn load(path: PathBuf) -> Result<HostState, String> {
        let taken = match std::fs::read_to_string(&path) {
            Ok(text) => Taken::parse(&text).map_err(|e| {
                format!(
                    "{}: {e} (not a VSD state file? move it away to start)",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Taken::default(),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        Ok(HostState { path, taken })
    }

    /// The persistent TAP an earlier run created and left, by name.
    pub fn left_tap(&self) -> Option<&str> {
        self.taken.tap.as_deref()
    }

    /// Writes `device` down as it was, before anything of it changes.
    pub fn record(&mut self, device: &str, saved: &Saved) -> io::Result<()> {
        self.taken.members.insert(device.to_string(), saved.clone());
        self.write()
    }

    /// Writes the TAP down as this VSD's, before it is made persistent.
    pub fn record_tap(&mut self, tap: &str) -> io::Result<()> {
        self.taken.tap = Some(tap.to_string());
        self.write()
    }

    /// Strikes `device` out once it has been given back; the file goes
    /// once nothing is left in it.
    pub fn forget(&mut self, device: &str) {
        if self.taken.members.remove(device).is_some() {
            self.save_or_warn();
        }
    }

    /// Strikes the TAP out once it is no longer persistent.
    pub fn forget_tap(&mut self) {
        if self.taken.tap.take().is_some() {
            self.save_or_warn();
        }
    }

    /// Gives back every member an earlier run of VSD `vsd` left taken and
    /// removes its nftables table; the members restored, by name. A member
    /// whose device is gone is skipped (it comes back fresh when it
    /// reappears). The TAP stays for the caller to take over or remove.
    pub fn give_back_members(&mut self, rtnl: &mut Rtnl, vsd: &str) -> Result<Vec<String>, String> {
        if self.taken.members.is_empty() {
            return Ok(Vec::new());
        }
        let links = mimm_netlink::links::dump(rtnl).map_err(|e| format!("netlink: {e}"))?;
        let mut restored = Vec::new();
        for (device, saved) in std::mem::take(&mut self.taken.members) {
            let Some(link) = links.iter().find(|l| l.name == device) else {
                tracing::warn!("{device}: left taken by an earlier run, but gone");
                continue;
            };
            for problem in isolate::give_back(rtnl, vsd, &device, link.index, &saved) {
                tracing::warn!("giving back {problem}");
            }
            restored.push(device);
        }
        isolate::remove_table(vsd);
        self.save()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(restored)
    }

    /// Removes the persistent TAP an earlier run left (by hand, when the
    /// VSD is not to run again); its name, if there was one.
    pub fn remove_left_tap(&mut self) -> Result<Option<String>, String> {
        let Some(name) = self.taken.tap.clone() else {
            return Ok(None);
        };
        // Opening attaches to it (or creates it, if it went); no longer
        // persistent, it disappears when this descriptor closes.
        match TunTap::open(&name, DevKind::Tap) {
            Ok(tap) => tap.set_persist(false).map_err(|e| e.to_string())?,
            // Not a TAP (any more): not ours to remove.
            Err(e) => tracing::warn!("{name}: left by an earlier run, but {e}"),
        }
        self.forget_tap();
        Ok(Some(name))
    }

    fn save_or_warn(&self) {
        if let Err(e) = self.save() {
            tracing::warn!("{}: {e}", self.path.display());
        }
    }

    /// The file as the record is now; none when nothing is left.
    fn save(&self) -> io::Result<()> {
        if self.taken.is_empty() {
            std::fs::remove_file(&self.path).or_else(not_found_ok)
        } else {
            self.write()
        }
    }

    fn write(&self) -> io::Result<()> {
        mimm_io::fs::replace(&self.path, self.taken.to_text().as_bytes())
    }
}

/// Everything an earlier run of VSD `vsd` left (its state file at `path`)
/// given back: the members restored and the TAP removed, by name.
pub fn recover(rtnl: &mut Rtnl, vsd: &str, path: &Path) -> Result<Vec<String>, String> {
    let mut state = HostState::load(path.to_path_buf())?;
    let mut restored = state.give_back_members(rtnl, vsd)?;
    restored.extend(state.remove_left_tap()?);
    Ok(restored)
}

fn not_found_ok(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
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
        let mut state = HostState::load(path.clone()).unwrap();
        assert_eq!(state.left_tap(), None);
        state.record("eth1", &saved(1)).unwrap();
        state.record("eth2", &saved(2)).unwrap();
        state.record_tap("vsd7").unwrap();
        let on_disk: Taken = Taken::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk.members["eth1"], saved(1));
        assert_eq!(on_disk.members.len(), 2);
        state.forget("eth1");
        let on_disk: Taken = Taken::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk.members.keys().collect::<Vec<_>>(), ["eth2"]);
        state.forget("eth2");
        let again = HostState::load(path.clone()).unwrap();
        assert_eq!(again.left_tap(), Some("vsd7"));
        assert!(again.taken.members.is_empty());
        state.forget_tap();
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
