//! Signal from a modem tool run as a child each sample period (`uqmi`,
//! `mmcli`): never blocking the loop, killed if it hangs, its output parsed
//! when its pidfd says it exited.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::{Child, Command, Stdio};

use mimm_io::clock::Nanos;

use crate::monitor::modem::ModemSignal;
use crate::monitor::source::{Ask, Reading, Source, Update};

/// A modem tool answers within this or is killed.
const TIMEOUT: Nanos = Nanos(5_000_000_000);

pub struct CommandSource {
    /// `uqmi` or `mmcli`, as `mimmctl status` names it.
    kind: &'static str,
    program: String,
    args: Vec<String>,
    parse: fn(&str) -> Result<ModemSignal, String>,
    running: Option<(Child, OwnedFd, Nanos)>,
    /// The pidfd of a run the loop does not watch yet.
    new_fd: Option<RawFd>,
}

impl CommandSource {
    pub fn new(
        kind: &'static str,
        program: &str,
        args: &[&str],
        parse: fn(&str) -> Result<ModemSignal, String>,
    ) -> CommandSource {
        CommandSource {
            kind,
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            parse,
            running: None,
            new_fd: None,
        }
    }

    /// `uqmi -d DEVICE --get-signal-info`.
    pub fn uqmi(device: &str) -> CommandSource {
        CommandSource::new(
            "uqmi",
            "uqmi",
            &["-d", device, "--get-signal-info"],
            crate::monitor::modem::parse_uqmi,
        )
    }

    /// `mmcli -m MODEM --signal-get -J`.
    pub fn mmcli(modem: &str) -> CommandSource {
        CommandSource::new(
            "mmcli",
            "mmcli",
            &["-m", modem, "--signal-get", "-J"],
            crate::monitor::modem::parse_mmcli,
        )
    }

    /// Starts a query unless one is under way.
    fn start(&mut self, now: Nanos) -> Result<(), String> {
        if self.running.is_some() {
            return Ok(());
        }
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", self.program))?;
        let pid = rustix::process::Pid::from_raw(child.id() as i32).ok_or("bad pid")?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
            .map_err(|e| format!("pidfd: {e}"))?;
        self.new_fd = Some(pidfd.as_raw_fd());
        self.running = Some((child, pidfd, now.saturating_add(TIMEOUT)));
        Ok(())
    }

    /// The tool may have exited: its answer, if it did.
    fn on_exit(&mut self) -> Option<Result<ModemSignal, String>> {
        let (child, _, _) = self.running.as_mut()?;
        match child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => {
                let (mut child, _, _) = self.running.take()?;
                let mut out = String::new();
                if let Some(mut stdout) = child.stdout.take() {
                    let _ = stdout.read_to_string(&mut out);
                }
                if !status.success() {
                    return Some(Err(format!("{} {status}", self.program)));
                }
                Some((self.parse)(&out))
            }
            Err(e) => {
                self.running = None;
                Some(Err(e.to_string()))
            }
        }
    }

    /// Kills a query past its deadline.
    fn kill_late(&mut self, now: Nanos) -> Option<String> {
        if self
            .running
            .as_ref()
            .is_some_and(|(_, _, deadline)| now >= *deadline)
        {
            if let Some((mut child, _, _)) = self.running.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            return Some(format!("{} did not answer in time", self.program));
        }
        None
    }
}

impl Source for CommandSource {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn detail(&self) -> String {
        self.args.join(" ")
    }

    fn sample(&mut self, ask: &Ask) -> Option<Update> {
        self.start(ask.now).err().map(Update::Failed)
    }

    fn take_new_fds(&mut self) -> Vec<RawFd> {
        self.new_fd.take().into_iter().collect()
    }

    fn on_readable(&mut self, _now: Nanos) -> Option<Update> {
        Some(signal_update(self.on_exit()?))
    }

    fn deadline(&self) -> Option<Nanos> {
        self.running.as_ref().map(|(_, _, deadline)| *deadline)
    }

    fn expire(&mut self, now: Nanos) -> Option<Update> {
        self.kill_late(now).map(Update::Failed)
    }

    fn waiting(&self) -> bool {
        self.running.is_some()
    }
}

/// A modem's answer as the loop takes it.
pub fn signal_update(answer: Result<ModemSignal, String>) -> Update {
    match answer {
        Ok(s) => Update::Signal(Reading {
            signal_dbm: Some(s.signal_dbm),
            rate_kbps: None,
        }),
        Err(e) => Update::Failed(e),
    }
}

impl Drop for CommandSource {
    fn drop(&mut self) {
        if let Some((mut child, _, _)) = self.running.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
