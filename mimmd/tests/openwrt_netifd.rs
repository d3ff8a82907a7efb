//! mimmd's way to netifd and netifd's way to mimmd, through OpenWrt's own
//! ubusd, rpcd, ubus CLI and uci (vendor build, in its namespace):
//! - mimmd brings a standby link up and back down with `ubus call
//!   network.interface.NAME down/up` (its default up/down command). The
//!   real netifd cannot be built here: it needs `udebug_ubus` from
//!   OpenWrt's udebug library, which vendor does not hold (libubox's
//!   udebug has no ubus part), and procd likewise; so the object answering
//!   is an rpcd exec plugin named `network.interface.lte` that records
//!   each call.
//! - the hotplug script, as netifd runs it, finds mimmd's socket with the
//!   real `uci` in `/etc/config/mimm` and tells mimmd.

mod common;

use std::process::{Command, Stdio};

use common::vendor::{self, INSTALL_MIMM};
use common::{root_or_skip, serial};

/// Inside the namespace, mimmd in the testbed router's network namespace
/// (`nsenter`, so it sees the vendor's `/usr/bin/ubus`).
const INSIDE: &str = r#"
cat >/usr/libexec/rpcd/network.interface.lte <<EOF
#!/bin/sh
case "\$1" in
	list) echo '{"up":{},"down":{}}' ;;
	call) echo "\$2" >>"$OUT/calls"; echo '{}' ;;
esac
EOF
chmod 755 /usr/libexec/rpcd/network.interface.lte
install -D -m 755 "$REPO/hotplug/iface/50-mimm" /etc/hotplug.d/iface/50-mimm
kill -HUP "$(pidof rpcd)"
until_ok() { for _ in $(seq 150); do eval "$1" && return 0; sleep 0.1; done; echo "timed out: $1" >&2; return 1; }
until_ok 'ubus list network.interface.lte >/dev/null 2>&1'
nsenter --net="/proc/$NETPID/ns/net" "$MIMMD" run -c /etc/config/mimm >"$OUT/mimmd.log" 2>&1 &
mimmd=$!
trap 'kill $mimmd' EXIT
ctl() { mimmctl -s "$SOCKET" "$@"; }
until_ok 'ctl status --json | grep -q "\"primary\": \"wifi\""'
ctl handoff lte
until_ok 'grep -qx up "$OUT/calls" 2>/dev/null'
until_ok 'ctl status --json | grep -q "\"primary\": \"lte\""'
ctl handoff wifi
until_ok 'grep -qx down "$OUT/calls"'
ctl status --json >"$OUT/standby.json"
env -i ACTION=ifdown INTERFACE=lte DEVICE=wwan0 PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	sh /etc/hotplug.d/iface/50-mimm
until_ok 'ctl events | grep -q "netifd ifdown"'
ctl events >"$OUT/events.txt"
"#;

#[test]
fn mimmd_reaches_netifd_through_ubus_and_the_hotplug_script_reaches_mimmd() {
    let test = "mimmd_reaches_netifd_through_ubus_and_the_hotplug_script_reaches_mimmd";
    if !root_or_skip(test) {
        return;
    }
    let Some(work) = mimm_requires::openwrt_userspace(test) else {
        return;
    };
    let _serial = serial();
    let (bed, dir, socket, shipped) = common::lte_and_wifi("netifd");
    // lte may be switched off while wifi is stable (and must then be
    // brought up before use).
    let text = std::fs::read_to_string(&shipped).unwrap();
    let config = dir.file(
        "mimm",
        &text.replace(
            "\toption kind lte\n",
            "\toption kind lte\n\toption standby 1\n\toption needs_activation 1\n",
        ),
    );
    // A process in the router's network namespace, for nsenter.
    let mut holder = Command::new("ip")
        .args(["netns", "exec", &bed.ns("router"), "sleep", "120"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let script = dir.file("inside.sh", &format!("set -eu\n{INSTALL_MIMM}{INSIDE}"));
    let run = vendor::namespace(&work, &dir, &script, "18097", &config, &socket, &out)
        .env("NETPID", holder.id().to_string())
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert!(
        run.status.success(),
        "{}\n{}\nmimmd:\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
        read("mimmd.log")
    );

    // A link that needs activation starts down: up when lte was asked
    // for, down again once wifi was back and stable; each once, through
    // ubus, in that order.
    assert_eq!(read("calls"), "up\ndown\n", "{}", read("mimmd.log"));
    let standby: serde_json::Value = serde_json::from_str(&read("standby.json")).unwrap();
    assert_eq!(standby["primary"], "wifi");
    let events = read("events.txt");
    for kind in ["activate", "deactivate"] {
        let line = format!("\"kind\":\"{kind}\",\"iface\":\"lte\"");
        assert!(events.contains(&line), "{events}");
    }
    assert!(!events.contains("\"kind\":\"error\""), "{events}");
    // The hotplug script found the socket with the real uci and got through.
    assert!(events.contains("netifd ifdown"), "{events}");
}
