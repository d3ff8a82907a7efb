//! `mimmctl prefer IFACE --save` writes `/etc/config/mimm` through the real
//! `uci` (vendor build, in its namespace) where there is one, as on every
//! router; where there is none it writes the very file libuci would.

mod common;

use std::process::Command;
use std::time::Duration;

use common::vendor;
use common::{MIMMCTL, Mimmd, root_or_skip, serial};

/// The shipped testbed config with a comment and wifi preferred at start.
const CONFIG: &str = "# the router's links
config globals
\toption socket 'SOCKET'
config interface 'lte'
\toption device wwan0
\toption kind lte
\tlist probe 'udp:198.51.100.1:7'
config interface 'wifi'
\toption device wlan0   # the hotspot
\toption kind wifi
\tlist probe 198.51.100.1
\toption priority 90
\toption preferred 1
";

/// Inside the namespace, with the real `uci` on PATH: the preference moved
/// and saved, then a name mimmd does not know, which must not be saved.
const INSIDE: &str = r#"
command -v uci >"$OUT/uci-path"
"$MIMMCTL" -s "$SOCKET" -c "$CONFIG" prefer lte --save
if "$MIMMCTL" -s "$SOCKET" -c "$CONFIG" prefer nosuch --save 2>"$OUT/refused.txt"; then
    exit 1
fi
"#;

#[test]
fn prefer_save_writes_the_file_as_the_real_uci_commits_it() {
    let test = "prefer_save_writes_the_file_as_the_real_uci_commits_it";
    if !root_or_skip(test) {
        return;
    }
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let _serial = serial();
    let (bed, dir, socket, _) = common::lte_and_wifi("uci-save");
    let text = CONFIG.replace("SOCKET", &socket.display().to_string());
    let config = dir.0.join("etc/mimm");
    let without_uci = dir.0.join("plain/mimm");
    for file in [&config, &without_uci] {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, &text).unwrap();
    }
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    assert_eq!(m.status().preferred.as_deref(), Some("wifi"));

    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = dir.file("inside.sh", &format!("set -eu\n{INSIDE}"));
    let run = vendor::namespace(&work, &dir, &script, "18096", &config, &socket, &out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let uci_path = std::fs::read_to_string(out.join("uci-path")).unwrap();
    assert_eq!(uci_path.trim(), "/usr/bin/uci", "not the vendor's uci");
    let status = m.wait_for(Duration::from_secs(2), |s| {
        s.preferred.as_deref() == Some("lte")
    });
    assert_eq!(status.preferred.as_deref(), Some("lte"));
    let refused = std::fs::read_to_string(out.join("refused.txt")).unwrap();
    assert!(refused.contains("nosuch"), "{refused}");

    // What libuci committed: lte preferred, wifi no longer, nothing else
    // changed but the layout (libuci writes every file in its export form,
    // comments dropped, as on a router).
    let saved = std::fs::read_to_string(&config).unwrap();
    let lte = &saved[saved.find("config interface 'lte'").unwrap()
        ..saved.find("config interface 'wifi'").unwrap()];
    assert!(lte.contains("\toption preferred '1'\n"), "{saved}");
    assert_eq!(saved.matches("preferred").count(), 1, "{saved}");
    assert!(saved.contains("\toption priority '90'\n"), "{saved}");
    let reread = mimm_mimmd::config::load(&config).unwrap();
    assert_eq!(reread.ifaces.len(), 2);

    // Without uci (this host has none on its PATH), the same file.
    let plain = Command::new(MIMMCTL)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .arg("-s")
        .arg(&socket)
        .arg("-c")
        .arg(&without_uci)
        .args(["prefer", "lte", "--save"])
        .output()
        .unwrap();
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    for bin in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        assert!(
            !std::path::Path::new(bin).join("uci").exists(),
            "{bin}/uci: the host has uci"
        );
    }
    assert_eq!(std::fs::read_to_string(&without_uci).unwrap(), saved);
}
