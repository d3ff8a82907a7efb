//! rpcd and ubus for real: mimm's rpcd plugin and ACL installed where
//! OpenWrt's own ubusd, rpcd and uhttpd (built from `../shared/vendor`, run
//! in its namespace) find them, a real mimmd behind them on the testbed.
//! `ubus call mimm status` is what `mimmctl --json status` says; over
//! JSON-RPC an unauthenticated call is refused, a read-only login reads but
//! cannot steer, a login with write access can.

mod common;

use std::path::Path;
use std::time::Duration;

use common::vendor::{self, INSTALL_MIMM, steady};
use common::{Mimmd, root_or_skip, serial};
use serde_json::{Value, json};

/// Run inside the namespace, services up, after [`INSTALL_MIMM`]: adds two
/// rpcd logins with the real `uci`, then asks through `ubus` and JSON-RPC
/// and leaves each answer in `$OUT`.
const INSIDE: &str = r#"
hash=$(uci -q get rpcd.@login[0].password)
for login in viewer:read admin:write; do
    uci -q add rpcd login >/dev/null
    uci set "rpcd.@login[-1].username=${login%%:*}"
    uci set "rpcd.@login[-1].password=$hash"
    uci add_list rpcd.@login[-1].read=mimm
    [ "${login#*:}" = write ] && uci add_list rpcd.@login[-1].write=mimm
done
uci commit rpcd
kill -HUP "$(pidof rpcd)"
for _ in $(seq 50); do ubus list mimm >/dev/null 2>&1 && break; sleep 0.1; done
ubus -v list mimm >"$OUT/ubus-list.txt"
ubus call mimm status >"$OUT/ubus-status.json"
mimmctl -s "$SOCKET" --json status >"$OUT/ctl-status.json"
rpc() { curl -s -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"call\",\"params\":$1}" "http://127.0.0.1:$PORT/ubus"; }
Z=00000000000000000000000000000000
sid() { rpc "[\"$Z\",\"session\",\"login\",{\"username\":\"$1\",\"password\":\"secret\"}]" |
        sed -n 's/.*"ubus_rpc_session":"\([0-9a-f]*\)".*/\1/p'; }
viewer=$(sid viewer); admin=$(sid admin)
rpc "[\"$Z\",\"mimm\",\"status\",{}]" >"$OUT/anonymous-status.json"
rpc "[\"$viewer\",\"mimm\",\"status\",{}]" >"$OUT/viewer-status.json"
rpc "[\"$viewer\",\"mimm\",\"prefer\",{\"interface\":\"lte\"}]" >"$OUT/viewer-prefer.json"
rpc "[\"$admin\",\"mimm\",\"prefer\",{\"interface\":\"lte\"}]" >"$OUT/admin-prefer.json"
"#;

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()))
}

#[test]
fn ubus_and_json_rpc_reach_mimmd_through_the_real_rpcd() {
    let test = "ubus_and_json_rpc_reach_mimmd_through_the_real_rpcd";
    if !root_or_skip(test) {
        return;
    }
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("rpcd");
    let m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = dir.file("inside.sh", &format!("set -eu\n{INSTALL_MIMM}{INSIDE}"));
    let run = vendor::namespace(&work, &dir, &script, "18093", &config, &socket, &out)
        .output()
        .unwrap();
    let log = |name: &str| std::fs::read_to_string(work.join("run-logs").join(name));
    assert!(
        run.status.success(),
        "{}\n{}\nrpcd: {:?}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        log("rpcd.log")
    );

    // ubus sees the plugin's methods and its answer is mimmctl's.
    let list = std::fs::read_to_string(out.join("ubus-list.txt")).unwrap();
    for method in ["status", "interfaces", "history", "prefer", "handoff"] {
        assert!(list.contains(&format!("\"{method}\"")), "{list}");
    }
    let ubus = read_json(&out.join("ubus-status.json"));
    let ctl = read_json(&out.join("ctl-status.json"));
    assert_eq!(steady(ubus.clone()), steady(ctl));
    assert_eq!(ubus["primary"], "wifi");

    // JSON-RPC through uhttpd: refused without a session, read with the
    // viewer's, steered only with the admin's.
    let anonymous = read_json(&out.join("anonymous-status.json"));
    assert_eq!(anonymous["error"]["code"], -32002, "{anonymous}");
    let viewer = read_json(&out.join("viewer-status.json"));
    assert_eq!(viewer["result"][0], 0, "{viewer}");
    assert_eq!(viewer["result"][1]["primary"], "wifi", "{viewer}");
    let refused = read_json(&out.join("viewer-prefer.json"));
    assert_eq!(refused["error"]["code"], -32002, "{refused}");
    let done = read_json(&out.join("admin-prefer.json"));
    assert_eq!(done["result"], json!([0, {"ok": "done"}]), "{done}");
    let status = m.wait_for(Duration::from_secs(2), |s| {
        s.preferred.as_deref() == Some("lte")
    });
    assert_eq!(status.preferred.as_deref(), Some("lte"));
}
