//! Splitting UCI text into commands and arguments the way libuci does
//! (file.c), quirks included: every router reads its files with libuci, so
//! a file means what libuci makes of it, not what it seems to say.
//!
//! libuci reads one line at a time into a buffer and parses it in place:
//! - an argument's end is marked by writing NUL over the character after
//!   it. A bare word ended by `;` loses the `;` that way, and with it the
//!   rest of the line (`option a 1; option b 2` sets only `a`); after a
//!   quoted word or a blank the `;` separates commands;
//! - the command word is split off at a blank only (not at a line break),
//!   so `config` alone on a line, or a line ending in `';`, is an invalid
//!   command;
//! - a quote left open, or a backslash at the end of a line, reads the next
//!   line into the same buffer; a backslash otherwise keeps the next byte
//!   as it is (`\n` is `n`).
//!
//! [`Cursor`] is that buffer: the same reads, the same writes, each byte
//! remembering where in the text it came from so errors can point there.

/// What libuci's `isspace` (C locale) takes for white space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// An error at a byte of the buffer.
pub(crate) struct Fault {
    pub at: usize,
    pub message: String,
    /// For a quote left open: where it opened.
    pub opened: Option<usize>,
}

pub(crate) fn fault(at: usize, message: impl Into<String>) -> Fault {
    Fault {
        at,
        message: message.into(),
        opened: None,
    }
}

/// Which checks an argument gets: none, a section or option name
/// (`[A-Za-z0-9_]`), a `package` statement's name (`-` too), or a section
/// type or package file name (printable ASCII).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Text,
    Name,
    Package,
    Printable,
}

/// libuci's `uci_validate_str`: non-empty, and every byte allowed.
pub(crate) fn valid(s: &[u8], check: Check) -> bool {
    let allowed = |c: u8| match check {
        Check::Text => true,
        Check::Name => c.is_ascii_alphanumeric() || c == b'_',
        Check::Package => c.is_ascii_alphanumeric() || c == b'_' || c == b'-',
        Check::Printable => (33..=126).contains(&c),
    };
    !s.is_empty() && s.iter().all(|&c| allowed(c))
}

pub(crate) struct Cursor<'a> {
    text: &'a [u8],
    /// The next byte of `text` to read.
    read: usize,
    /// Lines read through their line break: the line libuci names.
    pub lines: u32,
    /// Whether the last read stopped at the end of the text, not at a
    /// line break (the line it read is then one libuci does not count).
    pub partial: bool,
    buf: Vec<u8>,
    /// The text offset each byte of `buf` was read from.
    src: Vec<usize>,
    /// How much of `buf` the last read filled (libuci's `buf_filled`).
    filled: usize,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a [u8]) -> Cursor<'a> {
        Cursor {
            text,
            read: 0,
            lines: 0,
            partial: false,
            buf: Vec::new(),
            src: Vec::new(),
            filled: 0,
            pos: 0,
        }
    }

    /// Whether any text is left to read.
    pub fn more(&self) -> bool {
        self.read < self.text.len()
    }

    /// The byte at `i`; past what was read, NUL.
    pub fn at(&self, i: usize) -> u8 {
        self.buf.get(i).copied().unwrap_or(0)
    }

    fn set(&mut self, i: usize, b: u8) {
        if i >= self.buf.len() {
            self.buf.resize(i + 1, 0);
            let last = self.src.last().copied().unwrap_or(0);
            self.src.resize(i + 1, last);
        }
        self.buf[i] = b;
    }

    /// Where in the text the byte at `i` came from (past the end of the
    /// buffer: where reading stopped).
    pub fn source(&self, i: usize) -> usize {
        match self.src.get(i) {
            Some(&s) if i < self.filled => s,
            _ => self.read,
        }
    }

    /// Reads the next line (through its line break) into the buffer at
    /// `offset`; at the end of the text only marks the end there.
    pub fn read_line(&mut self, offset: usize) {
        self.set(offset, 0);
        if !self.more() {
            return;
        }
        let rest = &self.text[self.read..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        self.buf.truncate(offset);
        self.src.truncate(offset);
        self.buf.extend_from_slice(&rest[..n]);
        self.src.extend(self.read..self.read + n);
        self.buf.push(0);
        self.src.push(self.read + n);
        self.read += n;
        self.filled = offset + n;
        self.partial = rest[n - 1] != b'\n';
        if !self.partial {
            self.lines += 1;
        }
    }

    /// The NUL-terminated string at `i`.
    pub fn string(&self, i: usize) -> Vec<u8> {
        let end = (i..self.buf.len()).find(|&j| self.buf[j] == 0);
        self.buf[i.min(self.buf.len())..end.unwrap_or(self.buf.len())].to_vec()
    }

    pub fn skip_whitespace(&mut self) {
        while self.at(self.pos) != 0 && is_space(self.at(self.pos)) {
            self.pos += 1;
        }
    }

    /// The command word at the cursor, split off as `strtok(s, " \t")`
    /// does: blanks skipped, NUL written after the word. `None` when only
    /// blanks are left. Returns where the word starts.
    pub fn command_word(&mut self) -> Option<(usize, Vec<u8>)> {
        let mut start = self.pos;
        while matches!(self.at(start), b' ' | b'\t') {
            start += 1;
        }
        if self.at(start) == 0 {
            return None;
        }
        let mut end = start;
        while !matches!(self.at(end), 0 | b' ' | b'\t') {
            end += 1;
        }
        let word = self.buf[start..end].to_vec();
        self.set(end, 0);
        Some((start, word))
    }

    /// Steps over the command word and its terminator, as libuci does
    /// before a command's first argument; fails when nothing follows.
    pub fn after_command(&mut self, what: &str) -> Result<(), Fault> {
        let mut end = self.pos;
        while self.at(end) != 0 {
            end += 1;
        }
        if end + 1 > self.filled {
            return Err(fault(self.pos, format!("{what} without arguments")));
        }
        self.pos = end + 1;
        Ok(())
    }

    /// A backslash: steps over it; at the end of a line reads the next one
    /// in its place and returns false (nothing to keep).
    fn backslash(&mut self) -> bool {
        self.pos += 1;
        let c = self.at(self.pos);
        let crlf_end = c == b'\r' && self.at(self.pos + 1) == b'\n' && self.at(self.pos + 2) == 0;
        if c == 0 || c == b'\n' || crlf_end {
            self.read_line(self.pos);
            return false;
        }
        true
    }

    /// Copies the byte at the cursor to `target`.
    fn keep(&mut self, target: &mut usize) {
        let b = self.at(self.pos);
        self.set(*target, b);
        *target += 1;
        self.pos += 1;
    }

    fn quoted(&mut self, target: &mut usize, quote: u8) -> Result<(), Fault> {
        let opened = self.pos;
        self.pos += 1;
        loop {
            match self.at(self.pos) {
                c if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                0 => {
                    // The line ended inside the quotes: they go on on the next.
                    self.read_line(self.pos);
                    if self.at(self.pos) == 0 {
                        let q = quote as char;
                        return Err(Fault {
                            opened: Some(opened),
                            ..fault(self.pos, format!("end of file inside a {q}-quoted string"))
                        });
                    }
                }
                b'\\' if quote == b'"' => {
                    if self.backslash() {
                        self.keep(target);
                    }
                }
                _ => self.keep(target),
            }
        }
    }

    /// One argument's pieces (bare, quoted, escaped), joined at `target`.
    fn word(&mut self, target: &mut usize) -> Result<(), Fault> {
        let mut step_over = true;
        loop {
            match self.at(self.pos) {
                b'\'' => self.quoted(target, b'\'')?,
                b'"' => self.quoted(target, b'"')?,
                b'#' => {
                    self.set(self.pos, 0);
                    break;
                }
                0 => break,
                b';' => {
                    step_over = false;
                    break;
                }
                b'\\' => {
                    if self.backslash() {
                        self.keep(target);
                    }
                }
                _ => self.keep(target),
            }
            let c = self.at(self.pos);
            if c == 0 || is_space(c) {
                break;
            }
        }
        if self.at(self.pos) != 0 && step_over {
            self.pos += 1;
        }
        self.set(*target, 0);
        Ok(())
    }

    /// The next argument: where it starts and its bytes (empty at the end
    /// of the command). `missing` is the error when it is required; `what`
    /// names it in the error when it fails `check`.
    pub fn next_arg(
        &mut self,
        missing: Option<&str>,
        check: Check,
        what: &str,
    ) -> Result<(usize, Vec<u8>), Fault> {
        self.skip_whitespace();
        let start = self.pos;
        if self.at(self.pos) == b';' {
            self.set(self.pos, 0);
            self.pos += 1;
        } else {
            let mut target = self.pos;
            self.word(&mut target)?;
        }
        let value = self.string(start);
        if value.is_empty() {
            return match missing {
                Some(what) => Err(fault(self.pos, what)),
                None => Ok((start, value)),
            };
        }
        if check != Check::Text && !valid(&value, check) {
            let v = String::from_utf8_lossy(&value);
            let why = match check {
                Check::Name => "letters, digits and '_' only",
                Check::Package => "letters, digits, '_' and '-' only",
                _ => "printable characters only",
            };
            return Err(fault(start, format!("invalid {what} {v:?}: {why}")));
        }
        Ok((start, value))
    }

    /// The end of a command: anything more is an error.
    pub fn end_of_command(&mut self) -> Result<(), Fault> {
        self.skip_whitespace();
        let (start, extra) = self.next_arg(None, Check::Text, "argument")?;
        if !extra.is_empty() {
            let e = String::from_utf8_lossy(&extra);
            return Err(fault(start, format!("too many arguments (from {e:?})")));
        }
        Ok(())
    }
}
