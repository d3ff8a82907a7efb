//! The TAP's holder: a small process (`vsd hold NAME`) that keeps one
//! disabled queue of the VSD's multi-queue TAP open, so the TAP keeps its
//! carrier while no VSD runs (killed, respawning). A TAP nobody holds has
//! no carrier, and the kernel path's redirects to it (a member's frames
//! for vsd0, the replies to its ARP among them) are dropped until the next
//! VSD opens it: a 300 ms respawn cost a 309 ms hole. Held, the kernel
//! keeps forwarding both ways as the dead VSD left it.
//!
//! The holder is not the VSD's child (it forks away once the queue is
//! held), so nothing of the VSD's dying touches it; its pid is in the
//! state file. It ends on SIGTERM (a clean stop, `vsd cleanup`), and by
//! itself when its TAP is deleted.

use std::io;
use std::os::fd::BorrowedFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mimm_io::tuntap::TunTap;
use mimm_netlink::links::{LinkEvent, LinkWatcher};

/// The argument that makes `vsd` a holder.
pub const HOLD: &str = "hold";

/// Starts a holder of TAP `name` and returns its pid once it holds.
pub fn spawn(name: &str) -> Result<u32, String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    // This very binary (an upgrade may have replaced the file), named
    // `vsd` for `ps`. Its complaints, if it cannot hold, go where the
    // VSD's log goes.
    let mut child = Command::new("/proc/self/exe")
        .arg0("vsd")
        .args([HOLD, name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: holder: {e}"))?;
    let mut said = [0u8; 16];
    let mut len = 0;
    if let Some(mut out) = child.stdout.take() {
        while let Ok(n @ 1..) = out.read(&mut said[len..]) {
            len += n;
        }
    }
    let status = child.wait().map_err(|e| format!("{name}: holder: {e}"))?;
    let pid = std::str::from_utf8(&said[..len])
        .ok()
        .and_then(|s| s.trim().parse().ok());
    match (status.success(), pid) {
        (true, Some(pid)) => Ok(pid),
        _ => Err(format!("{name}: holder did not start ({status})")),
    }
}

/// Whether `pid` is a live holder of `name` (not a process that took its
/// number since).
pub fn is_holding(pid: u32, name: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // The last two arguments: under an emulator (qemu-user) the program
    // is not the first.
    let args: Vec<&[u8]> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    args.ends_with(&[HOLD.as_bytes(), name.as_bytes()]) && !zombie(pid)
}

fn zombie(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which may hold spaces.
    stat.rsplit(')')
        .next()
        .and_then(|r| r.trim().chars().next())
        == Some('Z')
}

/// Ends holder `pid` of `name` and waits (up to a second) until it has
/// let go of the TAP; nothing when it is gone already.
pub fn stop(pid: u32, name: &str) {
    if !is_holding(pid, name) {
        return;
    }
    let Ok(pid_t) = i32::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers.
    unsafe { libc::kill(pid_t, libc::SIGTERM) };
    let start = Instant::now();
    while is_holding(pid, name) && start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    if is_holding(pid, name) {
        tracing::warn!("{name}: holder {pid} did not end");
    }
}

/// `vsd hold NAME`: holds a disabled queue of TAP `name`, prints the pid
/// of the process that goes on holding it, and returns; that process
/// holds until SIGTERM or until the TAP is deleted.
pub fn run(name: &str) -> Result<(), String> {
    default_signals();
    // Subscribed before the TAP is looked up: a deletion in between is
    // seen. Looked up before it is opened: opening makes a missing one.
    let mut links = LinkWatcher::new().map_err(|e| format!("netlink: {e}"))?;
    let index = links
        .snapshot()
        .map_err(|e| format!("netlink: {e}"))?
        .into_iter()
        .find_map(|e| match e {
            LinkEvent::Changed(l) if l.name == name => Some(l.index),
            _ => None,
        })
        .ok_or_else(|| format!("{name}: no such device"))?;
    let queue = TunTap::hold_queue(name).map_err(|e| e.to_string())?;
    // SAFETY: this process has one thread; the child only runs the loop
    // below (no locks held by another thread to inherit).
    match unsafe { libc::fork() } {
        -1 => return Err(format!("fork: {}", io::Error::last_os_error())),
        0 => {}
        child => {
            println!("{child}");
            return Ok(());
        }
    }
    detach();
    wait_for_removal(&mut links, index);
    drop(queue);
    Ok(())
}

/// The VSD blocks the signals it reads from a signalfd, and a mask
/// outlives exec: unblocked here, SIGTERM ends the holder.
fn default_signals() {
    // SAFETY: sigset_t is plain data that sigemptyset initialises; the
    // calls take pointers to it, which outlive them.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}

/// Leaves the VSD's session, and the pipes it reads our output from (it
/// waits for them to close): from here on the holder has nothing to say.
fn detach() {
    // SAFETY: setsid(2) takes nothing; a fresh child is no group leader.
    unsafe { libc::setsid() };
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        for fd in [1, 2] {
            // SAFETY: dup2(2) on descriptors this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Sleeps until link `index` is removed.
fn wait_for_removal(links: &mut LinkWatcher, index: u32) {
    loop {
        // SAFETY: the watcher outlives this borrow of its descriptor.
        let fd = unsafe { BorrowedFd::borrow_raw(links.fd()) };
        let mut poll = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut poll, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            // Blind to a deletion: let go rather than hold on forever.
            Err(_) => return,
        }
        let removed = links
            .drain()
            .into_iter()
            .any(|e| matches!(e, LinkEvent::Removed { index: i, .. } if i == index));
        if removed {
            return;
        }
    }
}
