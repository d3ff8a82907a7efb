//! From text to a [`Package`], with errors that say `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::lex::{LexError, Lexer};
use crate::model::{Package, Pos, Section};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: Option<PathBuf>,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:", file.display())?,
            None => f.write_str("<uci>:")?,
        }
        if self.pos.line == 0 {
            // Not about a place in the text (the file could not be read).
            return write!(f, " {}", self.message);
        }
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Names of sections and options (and packages): `[A-Za-z0-9_]+`.
pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Section types: printable ASCII without spaces.
fn valid_type(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (33..=126).contains(&b))
}

impl Package {
    /// Reads `/etc/config/NAME`-style file; the package is named after the
    /// file unless it says `package ...`.
    pub fn from_path(path: &Path) -> Result<Package, ParseError> {
        let fail = |message: String| ParseError {
            file: Some(path.to_path_buf()),
            pos: Pos { line: 0, col: 0 },
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| valid_name(n))
            .unwrap_or("config");
        Package::parse_named(&text, name, Some(path))
    }

    pub fn parse(text: &str, name: &str) -> Result<Package, ParseError> {
        Package::parse_named(text, name, None)
    }

    /// Parses `text` as package `name`; `file` only names the place in errors.
    pub fn parse_named(text: &str, name: &str, file: Option<&Path>) -> Result<Package, ParseError> {
        let err = |pos: Pos, message: String| ParseError {
            file: file.map(Path::to_path_buf),
            pos,
            message,
        };
        let lex_err = |e: LexError| err(e.pos, e.message.to_string());
        let mut package = Package::new(name);
        let mut lexer = Lexer::new(text);
        let mut current: Option<usize> = None;
        while !lexer.at_eof() {
            let Some((command, pos)) = lexer.next_arg().map_err(lex_err)? else {
                lexer.end_statement();
                continue;
            };
            let mut arg = |required: Option<&str>| -> Result<Option<(String, Pos)>, ParseError> {
                let next = lexer.next_arg().map_err(lex_err)?;
                match (next, required) {
                    (None, Some(what)) => Err(err(pos, format!("{command}: {what} missing"))),
                    (next, _) => Ok(next),
                }
            };
            let name_arg = |arg: Option<(String, Pos)>,
                            what: &str|
             -> Result<Option<(String, Pos)>, ParseError> {
                match arg {
                    Some((n, p)) if !valid_name(&n) => Err(err(
                        p,
                        format!("invalid {what} {n:?}: letters, digits and '_' only"),
                    )),
                    other => Ok(other),
                }
            };
            match command.as_str() {
                "package" | "p" => {
                    let (n, p) =
                        name_arg(arg(Some("package name"))?, "package name")?.expect("required");
                    if !package.sections.is_empty() {
                        return Err(err(p, "package statement after the first section".into()));
                    }
                    package.name = n;
                }
                "config" | "c" => {
                    let (kind, p) = arg(Some("section type"))?.expect("required");
                    if !valid_type(&kind) {
                        return Err(err(p, format!("invalid section type {kind:?}")));
                    }
                    let named = name_arg(arg(None)?, "section name")?;
                    let existing = named.as_ref().and_then(|(n, _)| {
                        package
                            .sections
                            .iter()
                            .position(|s| s.name.as_deref() == Some(n))
                    });
                    current = Some(match existing {
                        Some(i) if package.sections[i].kind != kind => {
                            return Err(err(
                                pos,
                                format!(
                                    "section {:?} of type {kind:?} overwrites one of type {:?}",
                                    named.map(|(n, _)| n).unwrap_or_default(),
                                    package.sections[i].kind
                                ),
                            ));
                        }
                        Some(i) => i,
                        None => {
                            let mut section =
                                Section::new(&kind, named.as_ref().map(|(n, _)| n.as_str()));
                            section.pos = pos;
                            package.sections.push(section);
                            package.sections.len() - 1
                        }
                    });
                }
                "option" | "o" | "list" | "l" => {
                    let Some(index) = current else {
                        return Err(err(pos, format!("{command} before the first section")));
                    };
                    let (n, _) =
                        name_arg(arg(Some("option name"))?, "option name")?.expect("required");
                    let value = arg(None)?.map(|(v, _)| v).unwrap_or_default();
                    let section = &mut package.sections[index];
                    if command.starts_with('l') {
                        section.add_list(&n, &value, pos);
                    } else {
                        section.set(&n, &value, pos);
                    }
                }
                other => return Err(err(pos, format!("invalid command {other:?}"))),
            }
            if let Some((extra, p)) = lexer.next_arg().map_err(lex_err)? {
                return Err(err(p, format!("too many arguments (from {extra:?})")));
            }
            lexer.end_statement();
        }
        Ok(package)
    }
}
