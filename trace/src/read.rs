//! The reader: all or nothing, with file:line:col and field in every error.

use std::path::{Path, PathBuf};

use crate::{Column, ErrorKind, Row, Trace, TraceError};

const MAX_NAME: usize = 32;

impl Trace {
    /// Reads and parses a trace file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            TraceError::new(Some(path.to_path_buf()), 0, ErrorKind::Io(e.to_string()))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| TraceError::new(Some(path.to_path_buf()), 0, ErrorKind::NotUtf8))?;
        Trace::parse_named(&text, Some(path))
    }

    /// Parses trace text that did not come from a file.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        Trace::parse_named(text, None)
    }

    /// Parses trace text; `file` is only used to name the place in errors.
    pub fn parse_named(text: &str, file: Option<&Path>) -> Result<Trace, TraceError> {
        Parser {
            file: file.map(Path::to_path_buf),
            columns: Vec::new(),
            trace: Trace::default(),
        }
        .run(text)
    }
}

struct Parser {
    file: Option<PathBuf>,
    /// Header columns in file order; empty until the header is read.
    columns: Vec<Column>,
    trace: Trace,
}

impl Parser {
    fn run(mut self, text: &str) -> Result<Trace, TraceError> {
        for (index, raw) in text.split('\n').enumerate() {
            let line_no = index + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(comment) = line.strip_prefix('#') {
                let comment = comment.strip_prefix(' ').unwrap_or(comment);
                self.trace.comments.push(comment.to_string());
            } else if line.trim().is_empty() {
                continue;
            } else if self.columns.is_empty() {
                self.header(line, line_no)?;
            } else {
                self.row(line, line_no)?;
            }
        }
        if self.columns.is_empty() {
            return Err(TraceError::new(self.file, 0, ErrorKind::MissingHeader));
        }
        Ok(self.trace)
    }

    fn err(&self, line: usize, col: usize, kind: ErrorKind) -> TraceError {
        TraceError::new(self.file.clone(), line, kind).at_col(col)
    }

    fn header(&mut self, line: &str, line_no: usize) -> Result<(), TraceError> {
        let mut columns = Vec::new();
        for (col, name) in fields(line) {
            // A data row where the header should be: say so, not "unknown column".
            if columns.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
                return Err(self.err(line_no, col, ErrorKind::MissingHeader));
            }
            let column = Column::from_name(name)
                .ok_or_else(|| self.err(line_no, col, ErrorKind::UnknownColumn(name.into())))?;
            if columns.contains(&column) {
                return Err(self.err(line_no, col, ErrorKind::DuplicateColumn(column)));
            }
            columns.push(column);
        }
        for required in [Column::TMs, Column::Iface] {
            if !columns.contains(&required) {
                return Err(self.err(line_no, 1, ErrorKind::MissingColumn(required)));
            }
        }
        self.columns = columns;
        Ok(())
    }

    fn row(&mut self, line: &str, line_no: usize) -> Result<(), TraceError> {
        let found: Vec<(usize, &str)> = fields(line).collect();
        if found.len() != self.columns.len() {
            return Err(TraceError::new(
                self.file.clone(),
                line_no,
                ErrorKind::FieldCount {
                    expected: self.columns.len(),
                    found: found.len(),
                },
            ));
        }
        let mut row = Row::new(0, String::new());
        for (&column, &(col, value)) in self.columns.iter().zip(&found) {
            parse_field(&mut row, column, value).map_err(|k| self.err(line_no, col, k))?;
        }
        if let Some(last) = self.trace.rows.last() {
            if row.t_ms < last.t_ms {
                let kind = ErrorKind::TimeWentBack {
                    t_ms: row.t_ms,
                    previous: last.t_ms,
                };
                let col = self.col_of(Column::TMs, &found);
                return Err(self.err(line_no, col, kind));
            }
        }
        self.trace.rows.push(row);
        Ok(())
    }

    fn col_of(&self, column: Column, found: &[(usize, &str)]) -> usize {
        let index = self.columns.iter().position(|&c| c == column).unwrap_or(0);
        found.get(index).map_or(1, |&(col, _)| col)
    }
}

/// Splits a line at commas, yielding each trimmed field with its 1-based column.
fn fields(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    line.split(',').map(move |piece| {
        let lead = piece.len() - piece.trim_start().len();
        let col = line[..start + lead].chars().count() + 1;
        start += piece.len() + 1;
        (col, piece.trim())
    })
}

fn parse_field(row: &mut Row, column: Column, value: &str) -> Result<(), ErrorKind> {
    match column {
        Column::TMs => {
            if value.is_empty() {
                return Err(ErrorKind::Empty(column));
            }
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ErrorKind::NotAnInteger {
                    column,
                    value: value.into(),
                });
            }
            row.t_ms = value.parse().map_err(|_| ErrorKind::OutOfRange {
                column,
                value: value.into(),
                range: "0..2^64 ms",
            })?;
        }
        Column::Iface => {
            if value.is_empty() {
                return Err(ErrorKind::Empty(column));
            }
            check_name(column, value)?;
            row.iface = value.to_string();
        }
        Column::Kind => {
            if !value.is_empty() {
                check_name(column, value)?;
                row.kind = Some(value.to_string());
            }
        }
        Column::SignalDbm => row.signal_dbm = number(column, value, -200.0, 50.0, "-200..50 dBm")?,
        Column::RateKbps => row.rate_kbps = number(column, value, 0.0, 1e9, "0..1e9 kbit/s")?,
        Column::RttMs => row.rtt_ms = number(column, value, 0.0, 1e7, "0..1e7 ms")?,
        Column::LossPct => row.loss_pct = number(column, value, 0.0, 100.0, "0..100 %")?,
        Column::Up => {
            row.up = match value {
                "" => None,
                "1" => Some(true),
                "0" => Some(false),
                other => return Err(ErrorKind::BadUp(other.into())),
            }
        }
    }
    Ok(())
}

fn number(
    column: Column,
    value: &str,
    min: f64,
    max: f64,
    range: &'static str,
) -> Result<Option<f64>, ErrorKind> {
    if value.is_empty() {
        return Ok(None);
    }
    // `f64::from_str` also takes "inf" and "NaN"; a trace never means those.
    let number: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| ErrorKind::NotANumber {
            column,
            value: value.into(),
        })?;
    if !(min..=max).contains(&number) {
        return Err(ErrorKind::OutOfRange {
            column,
            value: value.into(),
            range,
        });
    }
    Ok(Some(number))
}

fn check_name(column: Column, value: &str) -> Result<(), ErrorKind> {
    let ok = value.len() <= MAX_NAME
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ErrorKind::BadName {
            column,
            value: value.into(),
        })
    }
}

/// Checks an interface name given outside a file (e.g. to [`Trace::push`]).
pub(crate) fn check_iface(value: &str) -> Result<(), ErrorKind> {
    if value.is_empty() {
        return Err(ErrorKind::Empty(Column::Iface));
    }
    check_name(Column::Iface, value)
}
