//! From text to a [`Package`], with errors that say `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::lex::{Check, Cursor, Fault, fault, valid};
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

/// Line starts of a text, to turn offsets into `line:col`.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl Lines<'_> {
    fn new(text: &str) -> Lines<'_> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// Column (in characters, 1-based) of `offset` on 1-based `line`, at
    /// most one past the line's end.
    fn col(&self, line: u32, offset: usize) -> u32 {
        let Some(&start) = self.starts.get(line.saturating_sub(1) as usize) else {
            return 1;
        };
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i);
        let at = offset.clamp(start, end);
        let chars = self.text.get(start..at).map_or(0, |s| s.chars().count());
        chars as u32 + 1
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset) as u32;
        Pos {
            line,
            col: self.col(line, offset),
        }
    }
}

/// Why a command word is refused. libuci splits it off at a blank only,
/// so a command alone on its line, or the line break after a `;` that
/// ends a line, is the word; say so rather than show it.
fn invalid_command(word: &[u8]) -> String {
    let w = text(word);
    let trimmed = w.trim_end_matches(['\n', '\r']);
    if trimmed.is_empty() {
        return "nothing after ';' (a line may not end in one)".to_string();
    }
    let commands = ["package", "p", "config", "c", "option", "o", "list", "l"];
    if trimmed.len() < w.len() && commands.contains(&trimmed) {
        return format!("{trimmed}: arguments missing");
    }
    format!("invalid command {w:?}")
}

/// Text from the buffer (UCI is bytes; the files are UTF-8 in practice).
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
            .filter(|n| valid(n.as_bytes(), Check::Printable))
            .unwrap_or("config");
        Package::parse_named(&text, name, Some(path))
    }

    pub fn parse(text: &str, name: &str) -> Result<Package, ParseError> {
        Package::parse_named(text, name, None)
    }

    /// Parses `text` as package `name` the way libuci loads a file
    /// (`uci_import` in single-package mode: a `package` statement is
    /// checked and ignored); `file` only names the place in errors.
    pub fn parse_named(text: &str, name: &str, file: Option<&Path>) -> Result<Package, ParseError> {
        let lines = Lines::new(text);
        if let Some(i) = text.find('\0') {
            return Err(ParseError {
                file: file.map(Path::to_path_buf),
                pos: lines.pos(i),
                message: "NUL byte in the file".to_string(),
            });
        }
        let mut parser = Parser {
            cursor: Cursor::new(text.as_bytes()),
            lines: &lines,
            package: Package::new(name),
            current: None,
        };
        while parser.cursor.more() {
            parser.cursor.pos = 0;
            parser.cursor.read_line(0);
            if parser.cursor.at(0) != 0 {
                parser.line().map_err(|f| parser.error(f, file))?;
            }
        }
        Ok(parser.package)
    }
}

struct Parser<'a> {
    cursor: Cursor<'a>,
    lines: &'a Lines<'a>,
    package: Package,
    current: Option<usize>,
}

impl Parser<'_> {
    /// A fault as libuci reports it: at the line it has read up to (the
    /// last one even when it ends the file without a line break, which
    /// libuci leaves uncounted), with the fault's column on that line.
    fn error(&self, f: Fault, file: Option<&Path>) -> ParseError {
        let c = &self.cursor;
        let line = c.lines + u32::from(c.partial);
        let message = match f.opened {
            Some(at) => {
                let p = self.pos_of(at);
                format!("{} (opened at {}:{})", f.message, p.line, p.col)
            }
            None => f.message,
        };
        ParseError {
            file: file.map(Path::to_path_buf),
            pos: Pos {
                line,
                col: self.lines.col(line, c.source(f.at)),
            },
            message,
        }
    }

    fn pos_of(&self, at: usize) -> Pos {
        self.lines.pos(self.cursor.source(at))
    }

    /// One line: commands until its end (`;` separates them).
    fn line(&mut self) -> Result<(), Fault> {
        self.cursor.skip_whitespace();
        while let Some((at, word)) = self.cursor.command_word() {
            match word.as_slice() {
                [b'#', ..] => return Ok(()),
                b"p" | b"package" => self.package_statement()?,
                b"c" | b"config" => self.config(at)?,
                b"o" | b"option" => self.option(at, false)?,
                b"l" | b"list" => self.option(at, true)?,
                _ => return Err(fault(at, invalid_command(&word))),
            }
        }
        Ok(())
    }

    /// `package NAME`: libuci names a loaded file's package after the file
    /// and only checks the statement.
    fn package_statement(&mut self) -> Result<(), Fault> {
        let c = &mut self.cursor;
        c.after_command("package")?;
        c.next_arg(
            Some("package: name missing"),
            Check::Package,
            "package name",
        )?;
        c.end_of_command()
    }

    fn config(&mut self, at: usize) -> Result<(), Fault> {
        let c = &mut self.cursor;
        c.after_command("config")?;
        let missing = Some("config: section type missing");
        let (start, kind) = c.next_arg(missing, Check::Text, "section type")?;
        if !valid(&kind, Check::Printable) {
            let k = text(&kind);
            return Err(fault(start, format!("invalid section type {k:?}")));
        }
        let (_, name) = c.next_arg(None, Check::Name, "section name")?;
        c.end_of_command()?;
        let (kind, name) = (text(&kind), text(&name));
        let pos = self.pos_of(at);
        let sections = &mut self.package.sections;
        let existing = (!name.is_empty())
            .then(|| {
                sections
                    .iter()
                    .position(|s| s.name.as_deref() == Some(&name))
            })
            .flatten();
        self.current = Some(match existing {
            Some(i) if sections[i].kind != kind => {
                let was = &sections[i].kind;
                return Err(fault(
                    at,
                    format!("section {name:?} of type {kind:?} overwrites one of type {was:?}"),
                ));
            }
            Some(i) => i,
            None => {
                let mut section = Section::new(&kind, (!name.is_empty()).then_some(&*name));
                section.pos = pos;
                sections.push(section);
                sections.len() - 1
            }
        });
        Ok(())
    }

    fn option(&mut self, at: usize, list: bool) -> Result<(), Fault> {
        let Some(index) = self.current else {
            let command = if list { "list" } else { "option" };
            return Err(fault(at, format!("{command} before the first section")));
        };
        let command = if list { "list" } else { "option" };
        let c = &mut self.cursor;
        c.after_command(command)?;
        let missing = format!("{command}: option name missing");
        let (_, name) = c.next_arg(Some(&missing), Check::Name, "option name")?;
        let (_, value) = c.next_arg(None, Check::Text, "value")?;
        c.end_of_command()?;
        let pos = self.pos_of(at);
        let section = &mut self.package.sections[index];
        let (name, value) = (text(&name), text(&value));
        if list {
            section.add_list(&name, &value, pos);
        } else {
            section.set(&name, &value, pos);
        }
        Ok(())
    }
}
