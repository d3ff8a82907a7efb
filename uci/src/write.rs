//! From a [`Package`] back to text: the file form (`uci export`) and the
//! dotted form (`uci show`).

use std::fmt::Write as _;

use crate::model::{Package, Value};

/// A value in single quotes, with `'` written as `'\''` (as libuci does).
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

impl Package {
    /// The file form, one statement per line; reading it back gives the
    /// same package. With `header`, starts with `package NAME`.
    pub fn to_text(&self, header: bool) -> String {
        let mut out = String::new();
        if header {
            let _ = writeln!(out, "package {}", quote(&self.name));
        }
        for section in &self.sections {
            out.push('\n');
            let _ = write!(out, "config {}", quote(&section.kind));
            if let Some(name) = &section.name {
                let _ = write!(out, " {}", quote(name));
            }
            out.push('\n');
            for opt in &section.options {
                match &opt.value {
                    Value::Single(v) => {
                        let _ = writeln!(out, "\toption {} {}", opt.name, quote(v));
                    }
                    Value::List(items) => {
                        for v in items {
                            let _ = writeln!(out, "\tlist {} {}", opt.name, quote(v));
                        }
                    }
                }
            }
        }
        out
    }

    /// `uci show` lines: `pkg.section=type`, `pkg.section.option='value'`,
    /// lists as `'a' 'b'`; anonymous sections as `@type[N]`.
    pub fn show(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (i, section) in self.sections.iter().enumerate() {
            let path = format!("{}.{}", self.name, self.section_ref(i));
            lines.push(format!("{path}={}", section.kind));
            for opt in &section.options {
                let value = match &opt.value {
                    Value::Single(v) => quote(v),
                    Value::List(items) => {
                        items.iter().map(|v| quote(v)).collect::<Vec<_>>().join(" ")
                    }
                };
                lines.push(format!("{path}.{}={value}", opt.name));
            }
        }
        lines
    }
}
