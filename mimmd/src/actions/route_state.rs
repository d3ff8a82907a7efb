//! What route mode has put in the kernel, kept in a file beside mimmd's
//! control socket (`/var/run/mimmd-route.state`): its two rules at
//! PRIORITY-1 and PRIORITY and the default route in TABLE. A mimmd killed
//! without tidying up (kill -9, the OOM killer) leaves them, and traffic
//! keeps flowing through the primary it chose; the file says whose they
//! are. The next start takes them over when the configuration still names
//! that priority and table (the primary the table points at is taken over
//! without a switch), else removes them, as vsd mode does; `mimmd cleanup`
//! removes them by hand. Written (replaced whole) before the rules go in,
//! removed once they are gone. One line: `rules PRIORITY table TABLE`.

use std::io;
use std::path::{Path, PathBuf};

use mimm_netlink::{Rtnl, routes};

/// Route mode's rules and table, as installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub priority: u32,
    pub table: u32,
}

/// The state file beside the control socket `socket`.
pub fn path_for(socket: &Path) -> PathBuf {
    socket
        .parent()
        .unwrap_or(Path::new("/var/run"))
        .join("mimmd-route.state")
}

impl Installed {
    fn to_text(self) -> String {
        format!("rules {} table {}\n", self.priority, self.table)
    }

    fn parse(text: &str) -> Option<Installed> {
        let f: Vec<&str> = text.split_whitespace().collect();
        let ["rules", priority, "table", table] = f[..] else {
            return None;
        };
        Some(Installed {
            priority: priority.parse().ok()?,
            table: table.parse().ok()?,
        })
    }

    /// What an earlier run left at `path` (none when there is no file).
    pub fn load(path: &Path) -> Result<Option<Installed>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Installed::parse(&text).map(Some).ok_or_else(|| {
                format!(
                    "{}: {:?} is not `rules PRIORITY table TABLE` (not mimmd's? move it away to start)",
                    path.display(),
                    text.trim_end()
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes this down at `path`, before the rules go in.
    pub fn record(self, path: &Path) -> io::Result<()> {
        mimm_io::fs::replace(path, self.to_text().as_bytes())
    }

    /// Removes the rules and the table's default route, then the file at
    /// `path` (kept if removing failed, for the next try).
    pub fn remove(self, rtnl: &mut Rtnl, path: &Path) -> io::Result<()> {
        routes::remove_rules(rtnl, self.priority)?;
        routes::clear_default(rtnl, self.table)?;
        forget(path)
    }

    /// "rules 9999, 10000 and table 100's default route", for the log.
    pub fn describe(self) -> String {
        format!(
            "rules {}, {} and table {}'s default route",
            self.priority.saturating_sub(1),
            self.priority,
            self.table
        )
    }
}

fn forget(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes what an earlier run left recorded at `path`; what it was.
pub fn remove_left(rtnl: &mut Rtnl, path: &Path) -> Result<Option<Installed>, String> {
    let Some(left) = Installed::load(path)? else {
        return Ok(None);
    };
    left.remove(rtnl, path)
        .map_err(|e| format!("removing {} left by an earlier run: {e}", left.describe()))?;
    Ok(Some(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_reads_back_and_anything_else_is_refused_naming_the_file() {
        let i = Installed {
            priority: 10000,
            table: 100,
        };
        assert_eq!(Installed::parse(&i.to_text()), Some(i));
        for bad in ["", "rules 1 table", "rules x table 1", "rule 1 table 2"] {
            assert_eq!(Installed::parse(bad), None, "{bad:?}");
        }
        let dir = std::env::temp_dir().join(format!("mimmd-route-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = path_for(&dir.join("mimmd.sock"));
        assert_eq!(Installed::load(&path), Ok(None));
        i.record(&path).unwrap();
        assert_eq!(Installed::load(&path), Ok(Some(i)));
        std::fs::write(&path, "garbage\n").unwrap();
        let e = Installed::load(&path).unwrap_err();
        assert!(
            e.contains("mimmd-route.state") && e.contains("garbage"),
            "{e}"
        );
        forget(&path).unwrap();
        forget(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
