//! Named network namespaces (`ip netns` conventions: bind mounts in /run/netns),
//! entering them per thread, and running iproute2 inside them.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

pub const NETNS_DIR: &str = "/run/netns";

pub fn path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Creates a named namespace with `ip netns add` and brings its loopback up.
pub fn add(name: &str) -> io::Result<()> {
    run(Command::new("ip").args(["netns", "add", name]))?;
    run(Command::new("ip").args(["-n", name, "link", "set", "lo", "up"]))
}

/// Deletes a named namespace. The kernel frees it once no process or socket
/// holds it any more.
pub fn delete(name: &str) -> io::Result<()> {
    run(Command::new("ip").args(["netns", "delete", name]))
}

/// Names of all namespaces in /run/netns.
pub fn list() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Processes whose network namespace is `name` (what `ip netns pids` prints).
pub fn pids(name: &str) -> Vec<u32> {
    let Ok(target) = std::fs::metadata(path(name)) else {
        return Vec::new();
    };
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let ns = std::fs::metadata(entry.path().join("ns/net")).ok()?;
            (ns.dev() == target.dev() && ns.ino() == target.ino()).then_some(pid)
        })
        .collect()
}

/// The calling thread inside a namespace; leaving scope (or a panic) moves it back.
pub struct Entered {
    home: File,
}

/// Moves the calling thread (only it) into the named namespace.
pub fn enter(name: &str) -> io::Result<Entered> {
    let home = File::open("/proc/thread-self/ns/net")?;
    let target = File::open(path(name))
        .map_err(|e| io::Error::new(e.kind(), format!("namespace {name}: {e}")))?;
    move_into_link_name_space(target.as_fd(), Some(LinkNameSpaceType::Network))?;
    Ok(Entered { home })
}

impl Drop for Entered {
    fn drop(&mut self) {
        // Failing to return would leave this thread's later sockets in the wrong
        // namespace; there is no sane way to continue.
        if let Err(e) =
            move_into_link_name_space(self.home.as_fd(), Some(LinkNameSpaceType::Network))
        {
            eprintln!("mimm-testbed: cannot return to the original namespace: {e}");
            std::process::abort();
        }
    }
}

/// Writes a sysctl of the namespace the thread is in (e.g. "net/ipv4/ip_forward").
pub fn sysctl(key: &str, value: &str) -> io::Result<()> {
    std::fs::write(Path::new("/proc/sys").join(key), value)
        .map_err(|e| io::Error::new(e.kind(), format!("sysctl {key}={value}: {e}")))
}

/// Runs iproute2 commands (one per line) in a namespace with `ip -batch`, so a
/// whole namespace is configured by one process. The error names the command.
pub fn ip_batch(ns: &str, commands: &[String]) -> io::Result<()> {
    if commands.is_empty() {
        return Ok(());
    }
    let mut child = Command::new("ip")
        .args(["-n", ns, "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run ip: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let script = commands.join("\n") + "\n";
    let written = stdin.write_all(script.as_bytes());
    drop(stdin);
    let out = child.wait_with_output()?;
    if !out.status.success() || written.is_err() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // "Command failed -:N" names the line; show that command too.
        let failed = stderr
            .lines()
            .find_map(|l| l.split("Command failed -:").nth(1))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .and_then(|n| commands.get(n.wrapping_sub(1)));
        return Err(io::Error::other(match failed {
            Some(cmd) => format!("in namespace {ns}: ip {cmd}: {}", stderr.trim()),
            None => format!("in namespace {ns}: ip -batch: {}", stderr.trim()),
        }));
    }
    Ok(())
}

/// Loads an nftables script (`nft -f -`) in a namespace.
pub fn nft(ns: &str, script: &str) -> io::Result<()> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run nft: {e}")))?;
    let written = child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes());
    let out = child.wait_with_output()?;
    if !out.status.success() || written.is_err() {
        return Err(io::Error::other(format!(
            "nft in {ns}: {} (is the nftables package installed?)",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The packet counts of an nftables table's `counter`s in a namespace, in
/// the order its rules list them, and the listing (for a failure message).
pub fn nft_counters(ns: &str, family: &str, table: &str) -> io::Result<(Vec<u64>, String)> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "list", "table", family, table])
        .output()?;
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "nft list table {family} {table} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let counts = listing
        .split("packets ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    Ok((counts, listing))
}

/// Runs a command, turning a non-zero exit into an error that carries stderr.
pub fn run(cmd: &mut Command) -> io::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run {cmd:?}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// True when running as root; tests skip with a reason otherwise.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
