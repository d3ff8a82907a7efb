//! Errors that say where: file, line, column and field.

use std::fmt;
use std::path::PathBuf;

use crate::Column;

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    Io(String),
    NotUtf8,
    MissingHeader,
    UnknownColumn(String),
    DuplicateColumn(Column),
    MissingColumn(Column),
    FieldCount {
        expected: usize,
        found: usize,
    },
    Empty(Column),
    NotANumber {
        column: Column,
        value: String,
    },
    NotAnInteger {
        column: Column,
        value: String,
    },
    OutOfRange {
        column: Column,
        value: String,
        range: &'static str,
    },
    BadUp(String),
    BadName {
        column: Column,
        value: String,
    },
    TimeWentBack {
        t_ms: u64,
        previous: u64,
    },
}

impl ErrorKind {
    /// The column the problem is in, when it is in one.
    pub fn column(&self) -> Option<Column> {
        match self {
            ErrorKind::DuplicateColumn(c) | ErrorKind::MissingColumn(c) | ErrorKind::Empty(c) => {
                Some(*c)
            }
            ErrorKind::NotANumber { column, .. }
            | ErrorKind::NotAnInteger { column, .. }
            | ErrorKind::OutOfRange { column, .. }
            | ErrorKind::BadName { column, .. } => Some(*column),
            ErrorKind::BadUp(_) => Some(Column::Up),
            ErrorKind::TimeWentBack { .. } => Some(Column::TMs),
            _ => None,
        }
    }
}

/// A trace that cannot be loaded. Displays as `file:line:col: field: problem`.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceError {
    pub file: Option<PathBuf>,
    /// 1-based line; 0 when the problem is not on a line (I/O, empty file).
    pub line: usize,
    /// 1-based column (character) where the offending field starts, when known.
    pub col: Option<usize>,
    pub kind: ErrorKind,
}

impl TraceError {
    pub(crate) fn new(file: Option<PathBuf>, line: usize, kind: ErrorKind) -> TraceError {
        TraceError {
            file,
            line,
            col: None,
            kind,
        }
    }

    pub(crate) fn at_col(mut self, col: usize) -> TraceError {
        self.col = Some(col);
        self
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "{}", p.display())?,
            None => f.write_str("<trace>")?,
        }
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(c) = self.col {
                write!(f, ":{c}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(c) = self.kind.column() {
            write!(f, "field {c}: ")?;
        }
        match &self.kind {
            ErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            ErrorKind::NotUtf8 => f.write_str("not UTF-8 text"),
            ErrorKind::MissingHeader => f.write_str(
                "missing header: the first non-comment line must be \
                 t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms,loss_pct,up",
            ),
            ErrorKind::UnknownColumn(name) => write!(
                f,
                "unknown column {name:?} in header (known: t_ms, iface, kind, signal_dbm, \
                 rate_kbps, rtt_ms, loss_pct, up)"
            ),
            ErrorKind::DuplicateColumn(_) => f.write_str("column appears twice in header"),
            ErrorKind::MissingColumn(_) => f.write_str("required column missing from header"),
            ErrorKind::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            ErrorKind::Empty(_) => f.write_str("must not be empty"),
            ErrorKind::NotANumber { value, .. } => write!(f, "not a number: {value:?}"),
            ErrorKind::NotAnInteger { value, .. } => {
                write!(f, "not a non-negative integer: {value:?}")
            }
            ErrorKind::OutOfRange { value, range, .. } => {
                write!(f, "{value} is out of range ({range})")
            }
            ErrorKind::BadUp(v) => write!(f, "must be 0, 1 or empty, not {v:?}"),
            ErrorKind::BadName { value, .. } => write!(
                f,
                "{value:?} is not a valid name (letters, digits, '_', '-', '.', at most 32)"
            ),
            ErrorKind::TimeWentBack { t_ms, previous } => {
                write!(f, "time goes back: {t_ms} after {previous}")
            }
        }
    }
}

impl std::error::Error for TraceError {}
