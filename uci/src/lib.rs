//! OpenWrt UCI configuration files (`/etc/config/*`): a parser and a writer
//! faithful to libuci's syntax.
//!
//! - statements `package`, `config TYPE ['NAME']`, `option NAME 'VALUE'`,
//!   `list NAME 'VALUE'` (libuci's one-letter forms `p`, `c`, `o`, `l` too),
//!   separated by newlines or `;`;
//! - arguments as bare words, single quotes (literal) or double quotes and
//!   bare words with backslash escapes; adjacent pieces join (`'a'"b"c` is
//!   `abc`); quotes may span lines; a backslash at the end of a line
//!   continues it; `#` starts a comment outside quotes;
//! - names of sections and options `[A-Za-z0-9_]+`, types any printable ASCII;
//! - a named section given twice is one section (options merge, a different
//!   type is an error, as in strict libuci); an option given twice keeps the
//!   last value; `list` appends, turning a plain option into a list;
//!   an empty value removes the option.
//!
//! Every element keeps its `line:col`, so configuration errors can point at
//! them; [`ParseError`] does the same for syntax.

mod lex;
mod model;
mod parse;
mod typed;
mod write;

pub use model::{Opt, Package, Pos, Section, Value};
pub use parse::ParseError;
pub use typed::{ConfigError, Reader};
pub use write::{escape, quote};
