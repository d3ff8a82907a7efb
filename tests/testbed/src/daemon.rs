//! A daemon a test runs in one of a testbed's namespaces (mimm-server in
//! `core`, the VSD or mimmd in `router`): its stderr appended to one log
//! across restarts, killed on drop, and killed, stopped and started again
//! as procd or systemd would; with the JSON its control socket answers.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::Testbed;

pub struct Daemon {
    child: Child,
    /// `ip netns exec NS PROGRAM ARGS...`, to start it again.
    argv: Vec<String>,
    envs: Vec<(String, String)>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `program args` in `role`'s namespace, logging to `log`.
    pub fn start(
        bed: &Testbed,
        role: &str,
        program: &Path,
        args: &[&str],
        log: PathBuf,
    ) -> io::Result<Daemon> {
        Daemon::start_with_env(bed, role, program, args, &[], log)
    }

    /// [`Daemon::start`] with environment variables set (`VSD_LOG`...).
    pub fn start_with_env(
        bed: &Testbed,
        role: &str,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        log: PathBuf,
    ) -> io::Result<Daemon> {
        let mut argv = vec!["netns".into(), "exec".into(), bed.ns(role)];
        argv.push(program.to_string_lossy().into_owned());
        argv.extend(args.iter().map(|a| a.to_string()));
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = spawn(&argv, &envs, &log)?;
        Ok(Daemon {
            child,
            argv,
            envs,
            log,
        })
    }

    /// Its process id: `ip netns exec` execs the program, so the same one.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and waits: no chance to tidy up (a crash, the OOM killer).
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.child.kill()?;
        self.child.wait()
    }

    /// SIGTERM, and waits for it to exit by itself.
    pub fn stop(&mut self) -> io::Result<ExitStatus> {
        let pid = Pid::from_raw(self.child.id() as i32);
        signal::kill(pid, Signal::SIGTERM).map_err(io::Error::from)?;
        self.child.wait()
    }

    /// What procd does when its instance died: starts it again at once,
    /// from the same command line, logging on. Waits for nothing.
    pub fn respawn(&mut self) -> io::Result<()> {
        let _ = self.child.wait();
        self.child = spawn(&self.argv, &self.envs, &self.log)?;
        Ok(())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// How often `needle` has been logged so far (over every start).
    pub fn logged(&self, needle: &str) -> usize {
        self.log_text().matches(needle).count()
    }

    /// Waits until `needle` has been logged more than `times` times,
    /// looking every millisecond; false after `limit`.
    pub fn wait_logged(&self, needle: &str, times: usize, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while self.logged(needle) <= times {
            if Instant::now() >= until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

fn spawn(argv: &[String], envs: &[(String, String)], log: &Path) -> io::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Command::new("ip")
        .args(argv)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One JSON request to a daemon's control socket (the VSD's, mimmd's):
/// its answer, `None` if it did not answer within a second.
pub fn ask(socket: &Path, request: &str) -> Option<serde_json::Value> {
    let line =
        mimm_io::client::request(socket, "daemon", request.as_bytes(), Duration::from_secs(1))
            .ok()?;
    serde_json::from_str(&line).ok()
}

/// A test's scratch directory, removed with what is in it on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `$TMPDIR/NAME-PID`, made afresh.
    pub fn new(name: &str) -> io::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
