//! `/etc/config/mimm` as OpenWrt keeps it: read with the changes a LuCI
//! session has staged but not applied, and written through the real `uci`
//! CLI (as every router has it), so the file ends up in the form libuci
//! gives every file it commits. Where there is no `uci` (a Linux host),
//! the same form is written by mimm-uci, atomically.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use mimm_uci::{Package, Pos};

/// Where rpcd keeps a session's staged changes (`RPC_UCI_SAVEDIR_PREFIX`).
const RPCD_SAVEDIR: &str = "/var/run/rpcd/uci-";

/// Where mimmd is, as the package installs it.
const MIMMD: &str = "/usr/sbin/mimmd";

/// The file as it would be once the changes staged in rpcd session `sid`
/// were applied (`uci -P SAVEDIR export`), checked by `mimmd check` (run,
/// not linked: mimmctl stays a small client). `Err` is mimmd's reason,
/// naming section and option.
pub fn check_staged(package: &str, sid: Option<&str>) -> Result<(), String> {
    let savedir = match sid {
        Some(sid) if sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(format!("{RPCD_SAVEDIR}{sid}"))
        }
        Some(sid) => return Err(format!("check: {sid:?} is not an rpcd session")),
        None => None,
    };
    let mut uci = Command::new("uci");
    if let Some(dir) = savedir.filter(|d| Path::new(d).is_dir()) {
        uci.arg("-P").arg(dir);
    }
    let out = uci
        .args(["export", package])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("check: uci: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "check: uci export {package}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    // The keys in it: readable by root alone.
    let staged = std::env::temp_dir().join(format!(".{package}-staged-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|mut f| f.write_all(&out.stdout));
    let checked = written
        .map_err(|e| format!("check: {}: {e}", staged.display()))
        .and_then(|()| {
            Command::new(std::env::var_os("MIMMD").unwrap_or(MIMMD.into()))
                .arg("check")
                .arg("-c")
                .arg(&staged)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("check: mimmd: {e}"))
        });
    let _ = std::fs::remove_file(&staged);
    let checked = checked?;
    if checked.status.success() {
        return Ok(());
    }
    // "mimmd: FILE:LINE:COL: MESSAGE": positions would be the export's,
    // not the user's file's, and the message names section and option.
    let text = String::from_utf8_lossy(&checked.stderr);
    let text = text.trim().trim_start_matches("mimmd: ");
    let prefix = format!("{}:", staged.display());
    let message = text
        .strip_prefix(&prefix)
        .and_then(|rest| rest.splitn(3, ':').nth(2))
        .map_or(text, str::trim_start);
    Err(message.to_string())
}

/// Makes `iface` the one preferred interface of `file` (`None`: none), as
/// `mimmctl prefer IFACE --save` asks.
pub fn save_preferred(file: &Path, iface: Option<&str>) -> Result<(), String> {
    let mut package = Package::from_path(file).map_err(|e| e.to_string())?;
    let name = package.name.clone();
    let at = |f: String| format!("{}: {f}", file.display());
    if let Some(iface) = iface {
        if !package
            .sections_of("interface")
            .any(|s| s.name.as_deref() == Some(iface))
        {
            return Err(at(format!("no config interface '{iface}'")));
        }
    }
    let mut batch = String::new();
    for s in package
        .sections
        .iter_mut()
        .filter(|s| s.kind == "interface")
    {
        let Some(section) = s.name.clone() else {
            continue;
        };
        let wanted = iface == Some(section.as_str());
        if wanted {
            batch += &format!("set {name}.{section}.preferred='1'\n");
            s.set("preferred", "1", Pos::default());
        } else if s.option("preferred").is_some() {
            batch += &format!("delete {name}.{section}.preferred\n");
            s.options.retain(|o| o.name != "preferred");
        }
    }
    batch += &format!("commit {name}\n");
    match uci_batch(file, &batch) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            mimm_io::fs::replace(file, package.to_text(false).as_bytes())
                .map_err(|e| at(e.to_string()))
        }
        Err(e) => Err(at(format!("uci: {e}"))),
        Ok(()) => Ok(()),
    }
}

/// `uci -c DIR -t PRIVATE batch`: a savedir of its own, so that changes
/// someone else staged (in LuCI, with `uci set`) are not committed too.
fn uci_batch(file: &Path, batch: &str) -> std::io::Result<()> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let savedir = std::env::temp_dir().join(format!(".mimm-uci-{}", std::process::id()));
    std::fs::create_dir_all(&savedir)?;
    let run = || -> std::io::Result<()> {
        let mut child = Command::new("uci")
            .arg("-c")
            .arg(dir.unwrap_or(Path::new(".")))
            .arg("-t")
            .arg(&savedir)
            .arg("batch")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().unwrap().write_all(batch.as_bytes())?;
        let out = child.wait_with_output()?;
        if out.status.success() && out.stderr.is_empty() {
            Ok(())
        } else {
            // `uci batch` reports a failed line on stderr, exit status 0.
            Err(std::io::Error::other(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    };
    let result = run();
    let _ = std::fs::remove_dir_all(&savedir);
    result
}
