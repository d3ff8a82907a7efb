//! Typed access to a parsed package: options read as numbers, flags, text
//! and lists, unknown options refused, and every error a [`ConfigError`]
//! that names `file:line:col`, the section and the option.

use std::path::{Path, PathBuf};

use crate::{Pos, Section};

/// A configuration error, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.pos.line,
            self.pos.col,
            self.message
        )
    }
}

pub struct Reader<'a> {
    pub file: &'a Path,
}

impl Reader<'_> {
    pub fn fail(&self, pos: Pos, message: String) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            pos,
            message,
        }
    }

    pub fn check_known(
        &self,
        section: &Section,
        known: &[&str],
        what: &str,
    ) -> Result<(), ConfigError> {
        for opt in &section.options {
            if !known.contains(&opt.name.as_str()) {
                return Err(self.fail(
                    opt.pos,
                    format!(
                        "{what}: unknown option {:?} (known: {})",
                        opt.name,
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A plain option parsed as `T`, or `None` when absent.
    pub fn value<T: std::str::FromStr>(
        &self,
        section: &Section,
        what: &str,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        let Some(opt) = section.option(name) else {
            return Ok(None);
        };
        let Some(text) = opt.value.as_str() else {
            return Err(self.fail(opt.pos, format!("{what}: option {name} must not be a list")));
        };
        text.trim().parse().map(Some).map_err(|_| {
            self.fail(
                opt.pos,
                format!("{what}: option {name}: {text:?} is not {expected}"),
            )
        })
    }

    pub fn number(&self, s: &Section, what: &str, name: &str) -> Result<Option<f64>, ConfigError> {
        match self.value::<f64>(s, what, name, "a number")? {
            Some(v) if !v.is_finite() => {
                let pos = s.option(name).map_or(s.pos, |o| o.pos);
                Err(self.fail(pos, format!("{what}: option {name}: {v} is not a number")))
            }
            other => Ok(other),
        }
    }

    pub fn flag(&self, s: &Section, what: &str, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some(opt) = s.option(name) else {
            return Ok(None);
        };
        match opt.value.as_str() {
            Some("1" | "yes" | "on" | "true" | "enabled") => Ok(Some(true)),
            Some("0" | "no" | "off" | "false" | "disabled") => Ok(Some(false)),
            _ => Err(self.fail(opt.pos, format!("{what}: option {name} must be 0 or 1"))),
        }
    }

    /// A plain option as text.
    pub fn string(
        &self,
        s: &Section,
        what: &str,
        name: &str,
    ) -> Result<Option<String>, ConfigError> {
        let Some(opt) = s.option(name) else {
            return Ok(None);
        };
        match opt.value.as_str() {
            Some(v) => Ok(Some(v.to_string())),
            None => Err(self.fail(opt.pos, format!("{what}: option {name} must not be a list"))),
        }
    }

    /// A file's path, which must be absolute: a daemon's working directory
    /// is procd's (`/`), not the one the file was written in.
    pub fn absolute_path(
        &self,
        s: &Section,
        what: &str,
        name: &str,
    ) -> Result<Option<std::path::PathBuf>, ConfigError> {
        let Some(v) = self.string(s, what, name)? else {
            return Ok(None);
        };
        if !v.starts_with('/') {
            let pos = s.option(name).map_or(s.pos, |o| o.pos);
            return Err(self.fail(
                pos,
                format!("{what}: option {name} must be an absolute path, not {v:?}"),
            ));
        }
        Ok(Some(v.into()))
    }

    /// Every item of an option given as `list` (or once as `option`), with
    /// where the option is.
    pub fn list(&self, s: &Section, name: &str) -> (Vec<String>, Pos) {
        match s.option(name) {
            Some(o) => (
                o.value.items().into_iter().map(str::to_string).collect(),
                o.pos,
            ),
            None => (Vec::new(), s.pos),
        }
    }
}
