//! From a [`Package`] back to text: the file form (`uci export`) and the
//! dotted form (`uci show`).

use std::fmt::Write as _;

use crate::model::{Package, Value};

/// libuci's escaping for export: each `'` as `'\''`, nothing else.
pub fn escape(s: &str) -> String {
    s.replace('\'', "'\\''")
}

/// A value in single quotes, escaped (as libuci writes values).
pub fn quote(value: &str) -> String {
    format!("'{}'", escape(value))
}

impl Package {
    /// The file form exactly as libuci writes it (`uci export`, and a
    /// committed file without `header`): package name, types and option
    /// names bare, section names and values quoted, a blank line before
    /// each section and at the end. Reading it back gives the same package
    /// when [`Package::round_trips`].
    pub fn to_text(&self, header: bool) -> String {
        let mut out = String::new();
        if header {
            let _ = writeln!(out, "package {}", escape(&self.name));
        }
        for section in &self.sections {
            let _ = write!(out, "\nconfig {}", escape(&section.kind));
            if let Some(name) = &section.name {
                let _ = write!(out, " {}", quote(name));
            }
            out.push('\n');
            for opt in &section.options {
                let name = escape(&opt.name);
                for v in opt.value.items() {
                    let command = match opt.value {
                        Value::Single(_) => "option",
                        Value::List(_) => "list",
                    };
                    let _ = writeln!(out, "\t{command} {name} {}", quote(v));
                }
            }
        }
        out.push('\n');
        out
    }

    /// Whether [`Package::to_text`] reads back as this package: libuci
    /// writes section types bare, so one holding a quote, a backslash, `#`
    /// or `;` does not.
    pub fn round_trips(&self) -> bool {
        (self.sections.iter()).all(|s| !s.kind.contains(['\'', '"', '\\', '#', ';']))
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
