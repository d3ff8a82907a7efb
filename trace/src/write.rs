//! The writer: canonical header, comments first, shortest exact numbers.

use std::fmt::Write as _;
use std::io;

use crate::{Column, Row, Trace};

impl Trace {
    /// Writes the trace in format v1.
    pub fn write_to(&self, mut out: impl io::Write) -> io::Result<()> {
        out.write_all(self.to_csv().as_bytes())
    }

    /// The trace as format v1 text.
    pub fn to_csv(&self) -> String {
        let mut text = String::with_capacity(64 * (self.rows.len() + 2));
        for comment in &self.comments {
            text.push('#');
            if !comment.is_empty() {
                text.push(' ');
            }
            // A newline inside a comment would end it; keep the file loadable.
            text.push_str(&comment.replace(['\n', '\r'], " "));
            text.push('\n');
        }
        let header: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
        text.push_str(&header.join(","));
        text.push('\n');
        for row in &self.rows {
            push_row(&mut text, row);
        }
        text
    }
}

fn push_row(text: &mut String, row: &Row) {
    let _ = write!(text, "{},{},", row.t_ms, row.iface);
    if let Some(kind) = &row.kind {
        text.push_str(kind);
    }
    for value in [row.signal_dbm, row.rate_kbps, row.rtt_ms, row.loss_pct] {
        text.push(',');
        if let Some(v) = value {
            // `Display` for f64 is the shortest text that reads back to the same value.
            let _ = write!(text, "{v}");
        }
    }
    text.push(',');
    match row.up {
        Some(true) => text.push('1'),
        Some(false) => text.push('0'),
        None => {}
    }
    text.push('\n');
}
