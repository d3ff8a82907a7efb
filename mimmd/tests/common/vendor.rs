//! OpenWrt's own userspace from `../shared/vendor` (ubusd, rpcd, uhttpd,
//! LuCI, uci) around a real mimmd: the namespace its script makes, with
//! mimm's package installed in it as the package installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{MIMMCTL, MIMMD, Scratch};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

/// Shell lines for inside the namespace: the rpcd plugin, its ACL,
/// mimmctl, mimmd and the configuration where the package puts them, rpcd told.
pub const INSTALL_MIMM: &str = r#"
install -m 755 "$REPO/openwrt/files/rpcd-mimm" /usr/libexec/rpcd/mimm
install -m 644 "$REPO/openwrt/files/mimm.acl.json" /usr/share/rpcd/acl.d/mimm.json
install -m 755 "$MIMMCTL" /usr/sbin/mimmctl
install -m 755 "$MIMMD" /usr/sbin/mimmd
cp "$CONFIG" /etc/config/mimm
"#;

/// `userspace ns sh SCRIPT` (services up, uhttpd on `port`): the scratch
/// directory (mimmd's socket, the config, `out`) bound at its own path,
/// and `REPO`, `MIMMCTL`, `CONFIG`, `SOCKET`, `OUT` in the environment.
pub fn namespace(
    work: &Path,
    dir: &Scratch,
    script: &Path,
    port: &str,
    config: &Path,
    socket: &Path,
    out: &Path,
) -> Command {
    let mut cmd = Command::new(repo().join("../shared/vendor/openwrt/userspace"));
    cmd.args(["ns", "sh"])
        .arg(script)
        .current_dir(repo())
        .env("OWRT_WORK", work)
        // /tmp, where the scratch directory is, the namespace replaces.
        .env("OWRT_BIND", &dir.0)
        .env("PORT", port)
        .env("REPO", repo())
        .env("MIMMCTL", MIMMCTL)
        .env("MIMMD", MIMMD)
        .env("CONFIG", config)
        .env("SOCKET", socket)
        .env("OUT", out);
    cmd
}

/// A status with what moves between two calls taken out (times, the
/// probes' latest figures, the sources' counts).
pub fn steady(mut status: Value) -> Value {
    let top = status.as_object_mut().unwrap();
    for key in ["uptime_s", "primary_for_s"] {
        top.remove(key);
    }
    if let Some(h) = top.get_mut("last_handoff").and_then(Value::as_object_mut) {
        h.remove("ago_s");
    }
    for i in top["interfaces"].as_array_mut().unwrap() {
        let i = i.as_object_mut().unwrap();
        for key in ["rtt_ms", "loss_pct", "raw", "average", "score", "sources"] {
            i.remove(key);
        }
    }
    status
}
