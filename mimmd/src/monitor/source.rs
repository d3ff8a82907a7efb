//! The one seam every source of the Interface Monitor goes through (as
//! teamd's link watchers do): a signal source (nl80211, uqmi, mmcli, AT, a
//! trace) or the probes. The loop asks each source at every sample, watches
//! the descriptors it opens, wakes for its deadline, and shows its state in
//! `mimmctl status`. A source never blocks: what it cannot answer at once
//! it answers when its descriptor is readable.
//!
//! Adding a signal source is one file implementing [`Source`] plus one line
//! in [`KINDS`].

use std::os::fd::RawFd;
use std::path::Path;

use mimm_io::clock::Nanos;
use mimm_mm::Millis;

pub use crate::control::proto::SourceStatus;
use crate::netlink::links::Link;

/// A signal reading: what the radio reports, whichever is known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub signal_dbm: Option<f64>,
    pub rate_kbps: Option<f64>,
}

/// What a source tells the loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Signal(Reading),
    /// No reading could be had: the signal is unknown until one can.
    Failed(String),
    /// The path's reachability changed (the probes).
    Path {
        reachable: bool,
    },
}

/// What a source is asked with at each sample.
pub struct Ask<'a> {
    pub now: Nanos,
    /// The MM's clock (a trace plays on it).
    pub ms: Millis,
    /// The kernel's view of the device, `None` while it does not exist.
    pub link: Option<&'a Link>,
}

pub trait Source {
    /// How `mimmctl status` names it: `nl80211`, `uqmi`, `probes`, ...
    fn kind(&self) -> &'static str;
    /// What it reads, for `mimmctl status` (`-d /dev/cdc-wdm0`).
    fn detail(&self) -> String;
    /// The sample period came: a reading now, or a question whose answer
    /// comes through [`Source::on_readable`].
    fn sample(&mut self, ask: &Ask) -> Option<Update>;
    /// Descriptors opened since last asked, for the loop to watch; the
    /// position of each is the `k` its readiness is reported with.
    fn take_new_fds(&mut self) -> Vec<RawFd> {
        Vec::new()
    }
    /// One of its descriptors is readable.
    fn on_readable(&mut self, _now: Nanos) -> Option<Update> {
        None
    }
    /// When it next needs the loop (an answer overdue, a probe to send).
    fn deadline(&self) -> Option<Nanos> {
        None
    }
    /// Time passed: overdue answers are given up, due probes sent.
    fn expire(&mut self, _now: Nanos) -> Option<Update> {
        None
    }
    /// A question is open.
    fn waiting(&self) -> bool {
        false
    }
}

/// Where a signal source is opened from: the interface it serves and when
/// the daemon's clock started (a trace plays from it).
pub struct Opening<'a> {
    pub iface: &'a str,
    pub now: Millis,
}

/// Opens a source of a kind from what followed its `:`.
pub type Open = fn(arg: &str, at: &Opening) -> Result<Box<dyn Source>, String>;

/// A kind of signal source as `option signal_source 'KIND[:ARG]'` names it.
pub struct Kind {
    pub name: &'static str,
    /// What must follow the `:` (`None`: nothing may).
    pub arg: Option<&'static str>,
    /// The form shown in the error for an unknown kind.
    pub usage: &'static str,
    pub open: Open,
}

/// Every signal source mimmd knows.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "none",
        arg: None,
        usage: "none",
        open: |_, _| Ok(Box::new(NoSignal)),
    },
    Kind {
        name: "nl80211",
        arg: None,
        usage: "nl80211",
        open: |_, _| Ok(Box::new(super::wifi::WifiSource::open())),
    },
    Kind {
        name: "uqmi",
        arg: Some("a device"),
        usage: "uqmi:DEV",
        open: |arg, _| Ok(Box::new(super::command::CommandSource::uqmi(arg))),
    },
    Kind {
        name: "mmcli",
        arg: Some("a modem index"),
        usage: "mmcli:N",
        open: |arg, _| Ok(Box::new(super::command::CommandSource::mmcli(arg))),
    },
    Kind {
        name: "at",
        arg: Some("a serial port"),
        usage: "at:PORT",
        open: |arg, _| Ok(Box::new(super::at::AtSource::new(Path::new(arg)))),
    },
    Kind {
        name: "trace",
        arg: Some("a file"),
        usage: "trace:FILE[:IFACE]",
        open: |arg, at| Ok(Box::new(super::trace_source::TraceSource::open(arg, at)?)),
    },
];

/// The kind `name` names.
pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

/// No signal source: the probes are the measure.
struct NoSignal;

impl Source for NoSignal {
    fn kind(&self) -> &'static str {
        "none"
    }
    fn detail(&self) -> String {
        String::new()
    }
    fn sample(&mut self, _: &Ask) -> Option<Update> {
        None
    }
}

/// What a source gave, for `mimmctl status`; a failure is logged when it
/// differs from the last one, and the recovery once.
#[derive(Debug, Default)]
pub struct Tally {
    updates: u64,
    failures: u64,
    error: Option<String>,
}

impl Tally {
    pub fn note(&mut self, iface: &str, kind: &str, update: &Update) {
        if let Update::Failed(e) = update {
            self.failures += 1;
            if self.error.as_ref() != Some(e) {
                tracing::warn!("interface {iface}: {kind}: {e}");
                self.error = Some(e.clone());
            }
        } else {
            self.updates += 1;
            if self.error.take().is_some() {
                tracing::info!("interface {iface}: {kind} answers again");
            }
        }
    }

    pub fn status(&self, source: &dyn Source) -> SourceStatus {
        SourceStatus {
            kind: source.kind().into(),
            detail: source.detail(),
            waiting: source.waiting(),
            updates: self.updates,
            failures: self.failures,
            error: self.error.clone(),
        }
    }
}
