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
//! x86), and `created tap NAME` (`created tun NAME` when anchored) for the
//! VSD's own device, which is persistent while the VSD runs: a restarted
//! VSD takes it over with the addresses and routes it carries, and `vsd
//! cleanup` removes it. The kernel path (`crate::kernel_path`) adds `tc
//! DEVICE made|added` for each device it hooked (`made`: the clsact qdisc
//! is the VSD's) and `actions BASE` for its block of actions; `holder PID`
//! names the process that holds the TAP's carrier (`crate::holder`).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use mimm_io::tuntap::{DevKind, TunTap};
use mimm_netlink::Rtnl;

use crate::config::{format_mac, parse_mac};
use crate::isolate::{self, Saved};

const CREATED: &str = "created";
const TC: &str = "tc ";
const ACTIONS: &str = "actions ";
const HOLDER: &str = "holder ";

/// The members taken in and what each was like before, and the VSD's own
/// device (its TAP, or its TUN when anchored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Taken {
    members: BTreeMap<String, Saved>,
    device: Option<(String, DevKind)>,
    /// Devices the kernel path hooked: whether their qdisc is the VSD's.
    tc: BTreeMap<String, bool>,
    /// The kernel path's block of actions.
    actions: Option<u32>,
    /// The pid of the TAP's holder.
    holder: Option<u32>,
}

fn kind_word(kind: DevKind) -> &'static str {
    match kind {
        DevKind::Tap => "tap",
        DevKind::Tun => "tun",
    }
}

/// `tap NAME` or `tun NAME`.
fn parse_device(rest: &str) -> Option<(String, DevKind)> {
    let (word, name) = rest.trim().split_once(' ')?;
    let kind = match word {
        "tap" => DevKind::Tap,
        "tun" => DevKind::Tun,
        _ => return None,
    };
    let name = name.trim();
    (!name.is_empty()).then(|| (name.to_string(), kind))
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
        if let Some((name, kind)) = &self.device {
            text += &format!("{CREATED} {} {name}\n", kind_word(*kind));
        }
        for (device, made) in &self.tc {
            let how = if *made { "made" } else { "added" };
            text += &format!("{TC}{device} {how}\n");
        }
        if let Some(base) = self.actions {
            text += &format!("{ACTIONS}{base:#x}\n");
        }
        if let Some(pid) = self.holder {
            text += &format!("{HOLDER}{pid}\n");
        }
        text
    }

    fn parse(text: &str) -> Result<Taken, String> {
        let mut taken = Taken::default();
        for (n, line) in text.lines().enumerate() {
            let bad = || format!("line {}: {line:?}", n + 1);
            if let Some(rest) = line.strip_prefix(CREATED) {
                taken.device = Some(parse_device(rest).ok_or_else(bad)?);
                continue;
            }
            if let Some(rest) = line.strip_prefix(TC) {
                let (device, made) = match rest.split_once(' ') {
                    Some((d, "made")) => (d, true),
                    Some((d, "added")) => (d, false),
                    _ => return Err(bad()),
                };
                taken.tc.insert(device.to_string(), made);
                continue;
            }
            if let Some(rest) = line.strip_prefix(HOLDER) {
                taken.holder = Some(rest.trim().parse().map_err(|_| bad())?);
                continue;
            }
            if let Some(rest) = line.strip_prefix(ACTIONS) {
                let hex = rest.strip_prefix("0x").ok_or_else(bad)?;
                taken.actions = Some(u32::from_str_radix(hex, 16).map_err(|_| bad())?);
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
        self.members.is_empty()
            && self.device.is_none()
            && self.tc.is_empty()
            && self.actions.is_none()
            && self.holder.is_none()
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

    /// The persistent device an earlier run created and left: name, kind.
    pub fn left_device(&self) -> Option<(&str, DevKind)> {
        self.taken.device.as_ref().map(|(n, k)| (n.as_str(), *k))
    }

    /// Writes `device` down as it was, before anything of it changes.
    pub fn record(&mut self, device: &str, saved: &Saved) -> io::Result<()> {
        self.taken.members.insert(device.to_string(), saved.clone());
        self.write()
    }

    /// Writes the device down as this VSD's, before it is made persistent.
    pub fn record_device(&mut self, name: &str, kind: DevKind) -> io::Result<()> {
        self.taken.device = Some((name.to_string(), kind));
        self.write()
    }

    /// Strikes `device` out once it has been given back; the file goes
    /// once nothing is left in it.
    pub fn forget(&mut self, device: &str) {
        if self.taken.members.remove(device).is_some() {
            self.save_or_warn();
        }
    }

    /// Writes down that the kernel path hooks `device` (`made`: with a
    /// clsact qdisc of its own), before it does.
    pub fn record_tc(&mut self, device: &str, made: bool) -> io::Result<()> {
        self.taken.tc.insert(device.to_string(), made);
        self.write()
    }

    /// Whether the kernel path hooked `device` (`Some(true)`: its qdisc
    /// is the VSD's).
    pub fn tc_made(&self, device: &str) -> Option<bool> {
        self.taken.tc.get(device).copied()
    }

    pub fn forget_tc(&mut self, device: &str) {
        if self.taken.tc.remove(device).is_some() {
            self.save_or_warn();
        }
    }

    /// The kernel path's block of actions, when written down (by this run
    /// or, taken over, an earlier one).
    pub fn actions(&self) -> Option<u32> {
        self.taken.actions
    }

    /// Writes down the kernel path's block of actions, before it makes one.
    pub fn record_actions(&mut self, base: u32) -> io::Result<()> {
        self.taken.actions = Some(base);
        self.write()
    }

    pub fn forget_actions(&mut self) {
        if self.taken.actions.take().is_some() {
            self.save_or_warn();
        }
    }

    /// The TAP's holder, when one was started (by this run or an earlier).
    pub fn holder(&self) -> Option<u32> {
        self.taken.holder
    }

    /// Writes down the TAP's holder as soon as it holds.
    pub fn record_holder(&mut self, pid: u32) -> io::Result<()> {
        self.taken.holder = Some(pid);
        self.write()
    }

    /// Ends the TAP's holder, if one was written down, and strikes it out.
    pub fn stop_holder(&mut self) {
        if let (Some(pid), Some((name, _))) = (self.taken.holder, &self.taken.device) {
            crate::holder::stop(pid, name);
        }
        if self.taken.holder.take().is_some() {
            self.save_or_warn();
        }
    }

    /// Strikes the device out once it is no longer persistent.
    pub fn forget_device(&mut self) {
        if self.taken.device.take().is_some() {
            self.save_or_warn();
        }
    }

    /// Gives back every member an earlier run of VSD `vsd` left taken and
    /// removes its nftables table; the members restored, by name. A member
    /// whose device is gone is skipped (it comes back fresh when it
    /// reappears). The TAP stays for the caller to take over or remove.
    pub fn give_back_members(&mut self, rtnl: &mut Rtnl, vsd: &str) -> Result<Vec<String>, String> {
        self.give_back_members_but(rtnl, vsd, &[])
    }

    /// [`Self::give_back_members`], but the members in `keep` stay as the
    /// earlier run left them, with their kernel-path hooks, the TAP's and
    /// the actions: a start that takes them over as they are (the kernel
    /// kept forwarding while no VSD ran) with what they were like before
    /// that run ([`Self::saved`]), never what they are like now.
    pub fn give_back_members_but(
        &mut self,
        rtnl: &mut Rtnl,
        vsd: &str,
        keep: &[String],
    ) -> Result<Vec<String>, String> {
        let kept = |device: &str| keep.iter().any(|k| k == device);
        let adopting = self.taken.members.keys().any(|m| kept(m));
        let tap = self.taken.device.as_ref().map(|(name, _)| name.clone());
        // Each hook as (device, made by us): the adopted ones' stay. (Loops
        // that insert, not a collect into a map: that costs the binary its
        // bulk-building code, 12 KiB.)
        let mut others = Vec::new();
        for (device, made) in std::mem::take(&mut self.taken.tc) {
            if adopting && (kept(&device) || Some(&device) == tap.as_ref()) {
                self.taken.tc.insert(device, made);
            } else {
                others.push((device, made));
            }
        }
        if !others.is_empty() || (!adopting && self.taken.actions.is_some()) {
            // Unhooked first: nothing may be redirected to a member given back.
            let actions = if adopting {
                None
            } else {
                self.taken.actions.take()
            };
            crate::kernel_path::remove_left(rtnl, &others, actions);
        }
        let mut left = Vec::new();
        for (device, saved) in std::mem::take(&mut self.taken.members) {
            if kept(&device) {
                self.taken.members.insert(device, saved);
            } else {
                left.push((device, saved));
            }
        }
        if left.is_empty() {
            self.save()
                .map_err(|e| format!("{}: {e}", self.path.display()))?;
            return Ok(Vec::new());
        }
        let links = mimm_netlink::links::dump(rtnl).map_err(|e| format!("netlink: {e}"))?;
        let mut restored = Vec::new();
        for (device, saved) in left {
            let Some(link) = links.iter().find(|l| l.name == device) else {
                tracing::warn!("{device}: left taken by an earlier run, but gone");
                continue;
            };
            for problem in isolate::give_back(rtnl, vsd, &device, link.index, &saved) {
                tracing::warn!("giving back {problem}");
            }
            restored.push(device);
        }
        if self.taken.members.is_empty() {
            isolate::remove_table(vsd);
        }
        self.save()
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        Ok(restored)
    }

    /// What member `device` was like before an earlier run took it, when
    /// that run left it taken and this one takes it over.
    pub fn saved(&self, device: &str) -> Option<Saved> {
        self.taken.members.get(device).cloned()
    }

    /// Removes the persistent device an earlier run left (by hand, when
    /// the VSD is not to run again, or a start that cannot take it over);
    /// its name, if there was one.
    pub fn remove_left_device(&mut self) -> Result<Option<String>, String> {
        let Some((name, kind)) = self.taken.device.clone() else {
            return Ok(None);
        };
        // Its holder first: the TAP goes only once no queue is open.
        self.stop_holder();
        // Opening attaches to it (or creates it, if it went); no longer
        // persistent, it disappears when this descriptor closes.
        match TunTap::attach(&name, kind) {
            Ok(dev) => dev.set_persist(false).map_err(|e| e.to_string())?,
            // Not of that kind (any more): not ours to remove.
            Err(e) => tracing::warn!("{name}: left by an earlier run, but {e}"),
        }
        self.forget_device();
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
        assert_eq!(state.left_device(), None);
        state.record("eth1", &saved(1)).unwrap();
        state.record("eth2", &saved(2)).unwrap();
        state.record_device("vsd7", DevKind::Tap).unwrap();
        let on_disk: Taken = Taken::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk.members["eth1"], saved(1));
        assert_eq!(on_disk.members.len(), 2);
        state.forget("eth1");
        let on_disk: Taken = Taken::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk.members.keys().collect::<Vec<_>>(), ["eth2"]);
        state.forget("eth2");
        let again = HostState::load(path.clone()).unwrap();
        assert_eq!(again.left_device(), Some(("vsd7", DevKind::Tap)));
        assert!(again.taken.members.is_empty());
        state.record_device("vsd7", DevKind::Tun).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "created tun vsd7\n");
        let again = HostState::load(path.clone()).unwrap();
        assert_eq!(again.left_device(), Some(("vsd7", DevKind::Tun)));
        for bad in ["created tap\n", "created tux vsd7\n"] {
            std::fs::write(&path, bad).unwrap();
            assert!(HostState::load(path.clone()).is_err(), "{bad:?}");
        }
        state.forget_device();
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "a temporary file left"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_kernel_paths_hooks_and_actions_are_written_down_and_read_back() {
        let dir = std::env::temp_dir().join(format!("vsd-host-state-tc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vsd-t1.state");
        let mut state = HostState::load(path.clone()).unwrap();
        state.record_actions(0x6d00_0700).unwrap();
        state.record_tc("vsd1", true).unwrap();
        state.record_tc("eth1", false).unwrap();
        state.record_holder(4242).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "tc eth1 added\ntc vsd1 made\nactions 0x6d000700\nholder 4242\n"
        );
        let again = HostState::load(path.clone()).unwrap();
        assert_eq!(again.holder(), Some(4242));
        assert_eq!(again.tc_made("vsd1"), Some(true));
        assert_eq!(again.tc_made("eth1"), Some(false));
        assert_eq!(again.tc_made("eth2"), None);
        for bad in [
            "tc eth1 taken\n",
            "tc eth1\n",
            "actions 12\n",
            "actions 0xzz\n",
            "holder x\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(HostState::load(path.clone()).is_err(), "{bad:?}");
        }
        state.forget_tc("eth1");
        state.forget_tc("vsd1");
        state.forget_actions();
        // No TAP written down: nothing to end, the line struck out.
        state.stop_holder();
        assert!(!path.exists());
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
