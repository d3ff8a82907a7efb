//! Running mimmd inside a testbed's router namespace.
#![allow(dead_code)]

pub mod vendor;
pub mod vsd_bed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mimm_mimmd::control::proto::Status;
use mimm_testbed::{Description, LinkSpec, LinkType, Testbed};

pub const MIMMD: &str = env!("CARGO_BIN_EXE_mimmd");
pub const MIMMCTL: &str = env!("CARGO_BIN_EXE_mimmctl");

/// Timing-sensitive tests run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[allow(unused_imports)] // not every test binary needs root
pub use mimm_requires::root as root_or_skip;

/// A testbed with an LTE modem (wwan0, raw IP, 10 ms) and a Wi-Fi client
/// (wlan0, 5 ms, preferred by priority), both probed, and mimmd's
/// configuration for them: (bed, scratch dir, socket, config file).
pub fn lte_and_wifi(tag: &str) -> (Testbed, Scratch, PathBuf, PathBuf) {
    let desc = Description {
        lan: true,
        seed: 1,
        links: vec![
            LinkSpec::new("wwan0", LinkType::Ptp).delay_ms(10.0),
            LinkSpec::new("wlan0", LinkType::Ether).delay_ms(5.0),
        ],
    };
    let bed = Testbed::up(&desc).unwrap();
    let dir = Scratch::new(tag);
    let socket = dir.0.join("mimmd.sock");
    let config = dir.file(
        "mimm",
        &format!(
            "config globals\n\toption socket '{}'\n\
             config interface 'lte'\n\toption device wwan0\n\toption kind lte\n\tlist probe 'udp:198.51.100.1:7'\n\
             config interface 'wifi'\n\toption device wlan0\n\toption kind wifi\n\tlist probe 198.51.100.1\n\toption priority 90\n",
            socket.display()
        ),
    );
    (bed, dir, socket, config)
}

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("mimmd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An executable shell script.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.file(name, &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// mimmd running in the router namespace; stopped (SIGTERM) on drop so its
/// rules go away with it.
pub struct Mimmd {
    child: Child,
    pub socket: PathBuf,
    pub ns: String,
    pub log: PathBuf,
}

impl Mimmd {
    pub fn start(bed: &Testbed, config: &Path, socket: &Path, log: &Path) -> Mimmd {
        Mimmd::start_until(bed, config, socket, log, ": initial;")
    }

    /// Starts mimmd and waits until its log shows `first` (its first
    /// decision), without asking it anything.
    pub fn start_until(
        bed: &Testbed,
        config: &Path,
        socket: &Path,
        log: &Path,
        first: &str,
    ) -> Mimmd {
        let child = Command::new("ip")
            .args(["netns", "exec", &bed.ns("router"), MIMMD, "run", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let m = Mimmd {
            child,
            socket: socket.to_path_buf(),
            ns: bed.ns("router"),
            log: log.to_path_buf(),
        };
        // Watch the log, not the socket: a control connection wakes the
        // loop, and mimmd must get going without one.
        let start = Instant::now();
        while !m.log_text().contains(first) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no first primary within 5 s without being asked; log:\n{}",
                m.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        m.wait_for(Duration::from_secs(10), |s| s.primary.is_some());
        m
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGKILL: no chance to tidy up (the VSD must carry on regardless).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, MIMMCTL, "-s"])
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    pub fn status(&self) -> Status {
        let out = self.ctl(&["status", "--json"]);
        assert!(
            out.status.success(),
            "mimmctl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn primary(&self) -> Option<String> {
        self.status().primary
    }

    /// Waits until `ready` holds for the status; panics with the log if not.
    pub fn wait_for(&self, limit: Duration, ready: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        loop {
            let out = self.ctl(&["status", "--json"]);
            if out.status.success() {
                let status: Status = serde_json::from_slice(&out.stdout).unwrap();
                if ready(&status) {
                    return status;
                }
            }
            if start.elapsed() > limit {
                panic!(
                    "mimmd did not get there in {limit:?}; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn events(&self) -> String {
        String::from_utf8_lossy(&self.ctl(&["events"]).stdout).into_owned()
    }
}

impl Drop for Mimmd {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary of another workspace package, built next to mimmd (`cargo test
/// --workspace` builds it; alone, `cargo test -p mimm-mimmd` builds it here).
pub fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    let path = Path::new(MIMMD).parent().unwrap().join(bin);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-p", package, "--bin", bin]);
        if MIMMD.contains("/release/") {
            cmd.arg("--release");
        }
        assert!(cmd.status().unwrap().success(), "building {bin} failed");
    }
    path
}

/// The VSD binary.
pub fn vsd_binary() -> PathBuf {
    workspace_binary("mimm-vsd", "vsd")
}

/// The VSD in the router namespace, stopped (SIGTERM) on drop.
pub struct VsdProcess {
    child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
}

impl VsdProcess {
    pub fn start(bed: &Testbed, config: &Path, socket: &Path, log: &Path) -> VsdProcess {
        let child = Command::new("ip")
            .args(["netns", "exec", &bed.ns("router")])
            .arg(vsd_binary())
            .args(["run", "-c"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let v = VsdProcess {
            child,
            socket: socket.to_path_buf(),
            log: log.to_path_buf(),
        };
        let start = Instant::now();
        while v.status().is_none_or(|s| s.active.is_none()) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the VSD did not come up; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        v
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn status(&self) -> Option<mimm_vsd::control::Status> {
        match mimm_vsd::control::call(&self.socket, &mimm_vsd::control::Request::Status) {
            Ok(mimm_vsd::control::Reply::Status(s)) => Some(*s),
            _ => None,
        }
    }
}

impl Drop for VsdProcess {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
