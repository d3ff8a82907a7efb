//! Splitting UCI text into arguments the way libuci does.

use crate::model::Pos;

pub(crate) struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: u32,
    col: u32,
}

/// A lexical error at a position.
pub(crate) struct LexError {
    pub pos: Pos,
    pub message: &'static str,
}

impl Lexer {
    pub fn new(text: &str) -> Lexer {
        Lexer {
            chars: text.chars().collect(),
            at: 0,
            line: 1,
            col: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    pub fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    pub fn at_eof(&self) -> bool {
        self.at >= self.chars.len()
    }

    /// A backslash before a line break (`\n` or `\r\n`) joins the lines.
    fn continuation(&mut self) -> bool {
        let joined = match (self.peek(), self.peek2()) {
            (Some('\\'), Some('\n')) => 2,
            (Some('\\'), Some('\r')) if self.chars.get(self.at + 2) == Some(&'\n') => 3,
            _ => 0,
        };
        for _ in 0..joined {
            self.bump();
        }
        joined > 0
    }

    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                Some('\\') if self.continuation() => {}
                _ => return,
            }
        }
    }

    /// The next argument of the current statement, or `None` at its end
    /// (line break, `;`, `#` or end of input, none of them consumed).
    /// An empty quoted string is an argument: `Some("")`.
    pub fn next_arg(&mut self) -> Result<Option<(String, Pos)>, LexError> {
        self.skip_blanks();
        let start = self.pos();
        match self.peek() {
            None | Some('\n' | ';' | '#') => return Ok(None),
            _ => {}
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None | Some(' ' | '\t' | '\r' | '\n' | ';' | '#') => break,
                Some('\'') => {
                    self.bump();
                    loop {
                        match self.bump() {
                            Some('\'') => break,
                            Some(c) => out.push(c),
                            None => {
                                return Err(LexError {
                                    pos: start,
                                    message: "end of file inside a '-quoted string",
                                });
                            }
                        }
                    }
                }
                Some('"') => {
                    self.bump();
                    loop {
                        if self.continuation() {
                            continue;
                        }
                        match self.bump() {
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                Some(c) => out.push(c),
                                None => break,
                            },
                            Some(c) => out.push(c),
                            None => {
                                return Err(LexError {
                                    pos: start,
                                    message: "end of file inside a \"-quoted string",
                                });
                            }
                        }
                    }
                }
                Some('\\') => {
                    if !self.continuation() {
                        self.bump();
                        if let Some(c) = self.bump() {
                            out.push(c);
                        }
                    }
                }
                Some(c) => {
                    self.bump();
                    out.push(c);
                }
            }
        }
        Ok(Some((out, start)))
    }

    /// Consumes the end of a statement: a comment, then `;` or a line break.
    pub fn end_statement(&mut self) {
        self.skip_blanks();
        if self.peek() == Some('#') {
            while !matches!(self.peek(), None | Some('\n')) {
                self.bump();
            }
        }
        if matches!(self.peek(), Some(';' | '\n')) {
            self.bump();
        }
    }
}
