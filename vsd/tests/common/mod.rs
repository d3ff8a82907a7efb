//! A VSD running in a testbed's router namespace, over members the testbed
//! created without addresses on its upstream segment.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mimm_testbed::{Description, LinkSpec, LinkType, Testbed};
use mimm_vsd::control::{self, Reply, Request, Status};

pub const VSD: &str = env!("CARGO_BIN_EXE_vsd");

/// Timing-sensitive tests run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub use mimm_requires::root as root_or_skip;

/// Two (or more) ether members on the shared upstream segment, no addresses.
pub fn bed(members: &[&str]) -> Testbed {
    let desc = Description {
        lan: true,
        seed: 1,
        links: members
            .iter()
            .map(|m| {
                LinkSpec::new(m, LinkType::Ether)
                    .upstream()
                    .no_address()
                    .delay_ms(1.0)
            })
            .collect(),
    };
    Testbed::up(&desc).unwrap()
}

/// Runs a command in a namespace; panics with its output if it fails.
pub fn run(bed: &Testbed, role: &str, args: &[&str]) -> String {
    let out = bed.exec(role, args).unwrap();
    assert!(
        out.status.success(),
        "{args:?} in {role}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A member's MAC, flags (`<...,NOARP,UP,...>`) and IPv6 switch, as the
/// kernel has them.
pub fn link_state(bed: &Testbed, dev: &str) -> (String, String, String) {
    let show = run(bed, "router", &["ip", "-o", "link", "show", dev]);
    let flags = show.split_whitespace().nth(2).unwrap_or("").to_string();
    let mac = show
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or("")
        .to_string();
    let ipv6 = run(
        bed,
        "router",
        &["sysctl", "-n", &format!("net.ipv6.conf.{dev}.disable_ipv6")],
    );
    (mac, flags, ipv6.trim().to_string())
}

/// Every time any thread of process `pid` went to sleep and was woken
/// (voluntary context switches; preemptions are the machine's doing), from
/// `/proc/PID/task/*/status`.
pub fn wakeups(pid: i32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    tasks
        .flatten()
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

pub struct Vsd {
    child: Child,
    pub socket: PathBuf,
    pub log: PathBuf,
    dir: PathBuf,
}

impl Vsd {
    /// Starts `vsd0` over `members` (in order of preference) with extra
    /// UCI options, gives it the upstream address and the default route.
    pub fn start(bed: &Testbed, members: &[&str], extra: &str) -> Vsd {
        let dir =
            std::env::temp_dir().join(format!("vsd-test-{}-{}", std::process::id(), bed.id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("vsd0.sock");
        let list: String = members
            .iter()
            .map(|m| format!("\tlist member '{m}'\n"))
            .collect();
        let config = dir.join("mimm");
        std::fs::write(
            &config,
            format!(
                "config vsd 'vsd0'\n{list}\toption socket '{}'\n{extra}",
                socket.display()
            ),
        )
        .unwrap();
        let log = dir.join("log");
        let child = spawn(bed, &config, &log);
        let vsd = Vsd {
            child,
            socket,
            log,
            dir,
        };
        vsd.wait_for(Duration::from_secs(5), |s| s.active.is_some());
        bed.route_through_vsd("vsd0").unwrap();
        vsd
    }

    /// What procd does when its instance dies: starts it again at once
    /// (from the same file, logging on). Waits for nothing.
    pub fn respawn(&mut self, bed: &Testbed) {
        let _ = self.child.wait();
        self.child = spawn(bed, &self.config(), &self.log);
    }

    pub fn call(&self, request: Request) -> Result<Reply, String> {
        control::call(&self.socket, &request).map_err(|e| e.to_string())
    }

    pub fn status(&self) -> Status {
        match self.call(Request::Status) {
            Ok(Reply::Status(s)) => *s,
            other => panic!("status: {other:?}\n{}", self.log_text()),
        }
    }

    pub fn wait_for(&self, limit: Duration, ready: impl Fn(&Status) -> bool) -> Status {
        let start = Instant::now();
        loop {
            if let Ok(Reply::Status(s)) = control::call(&self.socket, &Request::Status) {
                if ready(&s) {
                    return *s;
                }
            }
            assert!(
                start.elapsed() < limit,
                "vsd did not get there in {limit:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The configuration file it runs from (rewritten by reload tests).
    pub fn config(&self) -> PathBuf {
        self.dir.join("mimm")
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGKILL and wait: no chance to tidy up (a crash, the OOM killer).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the VSD gives its members back.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        // The child is `ip netns exec`, which execs the VSD: same process.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        self.child.wait().unwrap()
    }
}

fn spawn(bed: &Testbed, config: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new("ip")
        .args(["netns", "exec", &bed.ns("router"), VSD, "run", "-c"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

impl Drop for Vsd {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
