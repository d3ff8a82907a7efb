//! The real `uci` (libuci's CLI, built from `../shared/vendor`) as a
//! reference for the tests that hold mimm-uci to it.

use std::path::PathBuf;
use std::process::Command;

/// The vendor `uci` and a scratch config directory, removed on drop.
pub struct RealUci {
    uci: PathBuf,
    dir: PathBuf,
}

impl Drop for RealUci {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the real `uci` makes of one file: show and export output, or the
/// line of its parse error.
pub enum Libuci {
    Accepted { show: String, export: String },
    Refused { line: u32, stderr: String },
}

impl RealUci {
    /// The vendor build's `uci` with a scratch directory named after
    /// `name`; `None` (the test skips) when it is not built.
    pub fn new(test: &str, name: &str) -> Option<RealUci> {
        let work = mimm_requires::openwrt_userspace(test)?;
        let dir = std::env::temp_dir().join(format!("mimm-uci-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::create_dir_all(dir.join("save")).unwrap();
        Some(RealUci {
            uci: work.join("root/usr/bin/uci"),
            dir,
        })
    }

    /// `text` as package `p`, read by `uci show` and `uci export`.
    pub fn read(&self, text: &str) -> Libuci {
        std::fs::write(self.dir.join("conf/p"), text).unwrap();
        let run = |what: &str| {
            let out = Command::new(&self.uci)
                .arg("-c")
                .arg(self.dir.join("conf"))
                .arg("-t")
                .arg(self.dir.join("save"))
                .args([what, "p"])
                .output()
                .unwrap();
            (
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (show, stderr) = run("show");
        if let Some(at) = stderr.find("at line ") {
            let digits: String = stderr[at + 8..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            return Libuci::Refused {
                line: digits.parse().unwrap(),
                stderr,
            };
        }
        assert!(stderr.is_empty(), "uci show: {stderr} for {text:?}");
        let (export, stderr) = run("export");
        assert!(stderr.is_empty(), "uci export: {stderr} for {text:?}");
        Libuci::Accepted { show, export }
    }
}
