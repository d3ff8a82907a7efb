//! The anchor under test: the release mimm-server with `config anchor` and
//! the bench's clients configured, in a private network namespace (it
//! creates a TUN) whose loopback the bench's clients use too. Stopped, its
//! namespace and configuration file removed, on every way out.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use mimm_testbed::netns;

use crate::client::{FIRST_SPI, key_hex};

pub struct Anchor {
    child: Child,
    pub ns: String,
    file: PathBuf,
}

impl Drop for Anchor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
        let _ = netns::delete(&self.ns);
    }
}

/// The server's file: `clients` clients, the anchor with a pool for all.
fn config(clients: u32) -> String {
    let mut c = String::from(
        "config server 'server'\n\toption port '434'\n\
         config anchor 'anchor'\n\toption address '10.64.0.1'\n\
         \toption pool '10.64.0.2-10.64.15.254'\n\toption tun 'mlb0'\n",
    );
    for spi in FIRST_SPI..FIRST_SPI + clients {
        c += &format!(
            "config client 'c{spi}'\n\toption spi '{spi}'\n\toption key '{}'\n",
            key_hex(spi)
        );
    }
    c
}

impl Anchor {
    /// mimm-server in a new namespace with `clients` clients configured.
    pub fn start(clients: u32) -> Anchor {
        let pid = std::process::id();
        let ns = format!("mimm-alb-{pid}");
        let file = std::env::temp_dir().join(format!("mimm-anchor-loopback-{pid}"));
        netns::add(&ns).expect("a namespace");
        std::fs::write(&file, config(clients)).expect("the configuration file");
        // `ip netns exec` execs the program: the child is mimm-server.
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_mimm-server")])
            .args(["run", "-c"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mimm-server");
        Anchor { child, ns, file }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU seconds the anchor used so far: the scheduler's nanoseconds
    /// (/proc/PID/schedstat), else user and system ticks (10 ms steps).
    pub fn cpu_seconds(&self) -> f64 {
        let schedstat = std::fs::read_to_string(format!("/proc/{}/schedstat", self.pid()));
        let ns = schedstat.ok().and_then(|s| {
            let first = s.split_whitespace().next()?;
            first.parse::<u64>().ok()
        });
        match ns {
            Some(ns) => ns as f64 / 1e9,
            None => self.cpu_ticks_seconds(),
        }
    }

    fn cpu_ticks_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()));
        let stat = stat.unwrap_or_default();
        // After the command name (in parentheses, perhaps with spaces):
        // state is field 3, utime and stime fields 14 and 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|f| f.parse::<u64>().ok())
            .sum();
        // SAFETY: sysconf has no memory preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
        ticks as f64 / hz as f64
    }

    /// The anchor's resident memory now, KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()));
        status
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}
