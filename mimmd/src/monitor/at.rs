//! Signal over a modem's AT command port: `AT+CESQ` (falling back to
//! `AT+CSQ` where the modem answers ERROR), on a serial port set to raw mode,
//! read without blocking the loop.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use mimm_io::clock::Nanos;
use rustix::fs::{Mode, OFlags};

use crate::monitor::command::signal_update;
use crate::monitor::modem::{ModemSignal, parse_cesq, parse_csq};
use crate::monitor::source::{Ask, Source, Update};

const TIMEOUT: Nanos = Nanos(3_000_000_000);

pub struct AtSource {
    port: PathBuf,
    fd: Option<OwnedFd>,
    /// The command asked and when the answer is due, while waiting.
    waiting: Option<(bool, Nanos)>,
    buf: Vec<u8>,
    /// The modem knows +CESQ (until it says ERROR).
    cesq: bool,
    /// The port was reopened and the loop does not watch it yet.
    reopened: bool,
}

fn open_raw(port: &Path) -> Result<OwnedFd, String> {
    let fd = rustix::fs::open(
        port,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("{}: {e}", port.display()))?;
    // Raw mode: no echo, no line editing, no CR/LF translation.
    if let Ok(mut t) = rustix::termios::tcgetattr(&fd) {
        t.make_raw();
        let _ = rustix::termios::tcsetattr(&fd, rustix::termios::OptionalActions::Now, &t);
    }
    Ok(fd)
}

impl AtSource {
    pub fn new(port: &Path) -> AtSource {
        AtSource {
            port: port.to_path_buf(),
            fd: None,
            waiting: None,
            buf: Vec::new(),
            cesq: true,
            reopened: false,
        }
    }

    /// Asks for the signal unless a question is open (opening the port
    /// when it is not).
    fn ask(&mut self, now: Nanos) -> Result<(), String> {
        if self.waiting.is_some() {
            return Ok(());
        }
        if self.fd.is_none() {
            self.fd = Some(open_raw(&self.port)?);
            self.reopened = true;
        }
        let Some(fd) = self.fd.as_ref() else {
            return Ok(());
        };
        let command: &[u8] = if self.cesq { b"AT+CESQ\r" } else { b"AT+CSQ\r" };
        rustix::io::write(fd, command).map_err(|e| format!("{}: {e}", self.port.display()))?;
        self.buf.clear();
        self.waiting = Some((self.cesq, now.saturating_add(TIMEOUT)));
        Ok(())
    }

    /// Reads what the modem sent; the parsed signal once its answer is complete.
    fn read_answer(&mut self) -> Option<Result<ModemSignal, String>> {
        let fd = self.fd.as_ref()?;
        let mut chunk = [0u8; 256];
        loop {
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => break,
            }
            if self.buf.len() > 4096 {
                self.buf.clear();
            }
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        let done_ok = text.lines().any(|l| l.trim() == "OK");
        let done_err = text
            .lines()
            .any(|l| l.trim() == "ERROR" || l.trim().starts_with("+CME ERROR"));
        let (asked_cesq, _) = self.waiting?;
        if !(done_ok || done_err) {
            return None;
        }
        self.waiting = None;
        if done_err && asked_cesq {
            // Older modems: ask +CSQ from now on.
            self.cesq = false;
            return Some(Err("modem does not know AT+CESQ; using AT+CSQ".into()));
        }
        Some(if asked_cesq {
            parse_cesq(&text)
        } else {
            parse_csq(&text)
        })
    }

    /// Gives up on an unanswered question (and reopens the port next time).
    fn give_up_late(&mut self, now: Nanos) -> Option<String> {
        if self.waiting.is_some_and(|(_, deadline)| now >= deadline) {
            self.waiting = None;
            self.fd = None;
            return Some(format!("{}: no answer to AT", self.port.display()));
        }
        None
    }
}

impl Source for AtSource {
    fn kind(&self) -> &'static str {
        "at"
    }

    fn detail(&self) -> String {
        let command = if self.cesq { "AT+CESQ" } else { "AT+CSQ" };
        format!("{command} on {}", self.port.display())
    }

    fn sample(&mut self, ask: &Ask) -> Option<Update> {
        self.ask(ask.now).err().map(Update::Failed)
    }

    fn take_new_fds(&mut self) -> Vec<RawFd> {
        match (std::mem::take(&mut self.reopened), &self.fd) {
            (true, Some(fd)) => vec![fd.as_raw_fd()],
            _ => Vec::new(),
        }
    }

    fn on_readable(&mut self, _now: Nanos) -> Option<Update> {
        Some(signal_update(self.read_answer()?))
    }

    fn deadline(&self) -> Option<Nanos> {
        self.waiting.map(|(_, deadline)| deadline)
    }

    fn expire(&mut self, now: Nanos) -> Option<Update> {
        self.give_up_late(now).map(Update::Failed)
    }

    fn waiting(&self) -> bool {
        self.waiting.is_some()
    }
}
