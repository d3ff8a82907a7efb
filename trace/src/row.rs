//! The parsed representation of a trace.

use std::fmt;

/// The columns of format v1, in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    TMs,
    Iface,
    Kind,
    SignalDbm,
    RateKbps,
    RttMs,
    LossPct,
    Up,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::TMs,
        Column::Iface,
        Column::Kind,
        Column::SignalDbm,
        Column::RateKbps,
        Column::RttMs,
        Column::LossPct,
        Column::Up,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::TMs => "t_ms",
            Column::Iface => "iface",
            Column::Kind => "kind",
            Column::SignalDbm => "signal_dbm",
            Column::RateKbps => "rate_kbps",
            Column::RttMs => "rtt_ms",
            Column::LossPct => "loss_pct",
            Column::Up => "up",
        }
    }

    pub fn from_name(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One sample: the state of `iface` from `t_ms` until its next row.
/// `None` means the field was empty (unknown) in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub t_ms: u64,
    pub iface: String,
    pub kind: Option<String>,
    pub signal_dbm: Option<f64>,
    pub rate_kbps: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub loss_pct: Option<f64>,
    pub up: Option<bool>,
}

impl Row {
    /// A row with only time and interface known.
    pub fn new(t_ms: u64, iface: impl Into<String>) -> Row {
        Row {
            t_ms,
            iface: iface.into(),
            kind: None,
            signal_dbm: None,
            rate_kbps: None,
            rtt_ms: None,
            loss_pct: None,
            up: None,
        }
    }
}

/// A whole trace: comment lines (provenance) and rows in time order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    /// Comment lines without the leading `#` (and one following space).
    pub comments: Vec<String>,
    pub rows: Vec<Row>,
}

impl Trace {
    /// Interface names in order of first appearance.
    pub fn ifaces(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for row in &self.rows {
            if !names.contains(&row.iface.as_str()) {
                names.push(&row.iface);
            }
        }
        names
    }

    /// Time of the last row, 0 for an empty trace.
    pub fn duration_ms(&self) -> u64 {
        self.rows.last().map_or(0, |r| r.t_ms)
    }

    /// Rows of one interface, in time order.
    pub fn rows_of<'a>(&'a self, iface: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| r.iface == iface)
    }

    /// Appends a row, keeping the format's rule that time never goes back.
    pub fn push(&mut self, row: Row) -> Result<(), crate::TraceError> {
        if let Some(last) = self.rows.last() {
            if row.t_ms < last.t_ms {
                return Err(crate::TraceError::new(
                    None,
                    0,
                    crate::ErrorKind::TimeWentBack {
                        t_ms: row.t_ms,
                        previous: last.t_ms,
                    },
                ));
            }
        }
        crate::read::check_iface(&row.iface)
            .map_err(|kind| crate::TraceError::new(None, 0, kind))?;
        self.rows.push(row);
        Ok(())
    }
}

impl Trace {
    /// The row in force for `iface` at `t_ms`: its last row at or before that time.
    pub fn state_at(&self, iface: &str, t_ms: u64) -> Option<&Row> {
        let end = self.rows.partition_point(|r| r.t_ms <= t_ms);
        self.rows[..end].iter().rev().find(|r| r.iface == iface)
    }
}
