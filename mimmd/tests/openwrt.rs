//! The OpenWrt side: the hotplug script reaches a running mimmd at once and
//! never holds netifd up; the rpcd plugin answers like mimmctl; the init
//! scripts check before they start (the packages: `openwrt_packages.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::vendor::steady;
use common::{MIMMCTL, MIMMD, Mimmd, Scratch, root_or_skip, serial};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

/// Runs `sh SCRIPT ARGS` with only the given environment (as netifd and
/// rpcd do), stdin from `input`; returns its output and how long it took.
fn sh(script: &str, args: &[&str], env: &[(&str, &str)], input: &str) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg(repo().join(script))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

/// README: the hotplug script returns in this long, whether mimmd is up,
/// hung or gone; asserted with the one margin all timing tests take.
const HOTPLUG_MS: f64 = 1.6;

fn returned_in_time(took: Duration) -> bool {
    took.as_secs_f64() * 1e3 <= mimm_requires::margin(HOTPLUG_MS)
}

/// Runs the hotplug script; the time it took is less what a shell that
/// exits at once (an action the script ignores) took just before or after,
/// beyond its fastest: a stall of the host (a CI run saw 19 ms) is not the
/// script waiting, and a script that waited on mimmd (its timeout is 1 s)
/// still fails.
fn hotplug(action: &str, iface: &str, device: &str, socket: &Path) -> (Output, Duration) {
    let shell = || run_hotplug("none", iface, device, socket).1;
    let before = shell();
    let (out, took) = run_hotplug(action, iface, device, socket);
    let after = shell();
    let stall = before.max(after).saturating_sub(before.min(after));
    (out, took.saturating_sub(stall))
}

fn run_hotplug(action: &str, iface: &str, device: &str, socket: &Path) -> (Output, Duration) {
    let socket = socket.to_str().unwrap();
    sh(
        "hotplug/iface/50-mimm",
        &[],
        &[
            ("ACTION", action),
            ("INTERFACE", iface),
            ("DEVICE", device),
            ("MIMMCTL", MIMMCTL),
            ("MIMM_SOCKET", socket),
        ],
        "",
    )
}

#[test]
fn the_hotplug_script_reaches_mimmd_at_once_and_never_holds_netifd_up() {
    if !root_or_skip("the_hotplug_script_reaches_mimmd_at_once_and_never_holds_netifd_up") {
        return;
    }
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("openwrt");
    let mut m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    assert_eq!(m.primary().as_deref(), Some("wifi"));

    // netifd takes the primary's interface down (its device keeps carrier):
    // mimmd moves traffic without waiting for a probe to fail.
    let (out, took) = hotplug("ifdown", "wifi", "wlan0", &socket);
    eprintln!("hotplug ifdown returned in {took:?}");
    assert!(
        out.status.success() && returned_in_time(took),
        "{took:?} {out:?}"
    );
    let s = m.wait_for(Duration::from_millis(500), |s| {
        s.primary.as_deref() == Some("lte")
    });
    let wifi = s.interfaces.iter().find(|i| i.name == "wifi").unwrap();
    assert_eq!(
        (wifi.netifd_up, wifi.carrier),
        (Some(false), true),
        "{wifi:?}"
    );
    assert_eq!(wifi.state, "down");
    let events = m.events();
    assert!(events.contains("netifd ifdown"), "{events}");
    assert!(events.contains("wifi -> lte"), "{events}");

    // Back up: a candidate again. An interface mimmd does not manage (lan)
    // is no error.
    let (out, took) = hotplug("ifup", "wifi", "wlan0", &socket);
    assert!(out.status.success() && returned_in_time(took), "{took:?}");
    let (out, _) = hotplug("ifup", "lan", "br-lan", &socket);
    assert!(out.status.success());
    m.wait_for(Duration::from_millis(500), |s| {
        s.interfaces[1].netifd_up == Some(true)
    });
    // Other actions are not mimmd's business and never sent.
    let (out, _) = hotplug("iflink", "wifi", "wlan0", &socket);
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
    assert!(!m.events().contains("error"), "{}", m.events());

    // A mimmd that accepts nothing (hung) and no mimmd at all: the handler
    // still returns at once and succeeds.
    let hung = dir.0.join("hung.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&hung).unwrap();
    let (out, took) = hotplug("ifdown", "wifi", "wlan0", &hung);
    eprintln!("hotplug with a hung mimmd returned in {took:?}");
    assert!(out.status.success() && returned_in_time(took), "{took:?}");
    m.kill();
    let (out, took) = hotplug("ifdown", "wifi", "wlan0", &socket);
    eprintln!("hotplug with mimmd down returned in {took:?}");
    assert!(out.status.success() && returned_in_time(took), "{took:?}");
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn the_rpcd_plugin_answers_like_mimmctl() {
    if !root_or_skip("the_rpcd_plugin_answers_like_mimmctl") {
        return;
    }
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("openwrt");
    let mut m = Mimmd::start(&bed, &config, &socket, &dir.0.join("log"));
    let env = [
        ("MIMMCTL", MIMMCTL),
        ("MIMM_SOCKET", socket.to_str().unwrap()),
    ];
    let rpcd =
        |args: &[&str], input: &str| json(&sh("openwrt/files/rpcd-mimm", args, &env, input).0);

    let list = rpcd(&["list"], "");
    for method in ["status", "interfaces", "history", "prefer", "handoff"] {
        assert!(list.get(method).is_some_and(Value::is_object), "{list}");
    }
    assert_eq!(list["prefer"]["interface"], "str");

    let status = rpcd(&["call", "status"], "");
    let ctl = json(&m.ctl(&["--json", "status"]));
    assert_eq!(steady(status.clone()), steady(ctl.clone()));
    assert_eq!(status["primary"], "wifi");
    assert_eq!(status["interfaces"].as_array().map(Vec::len), Some(2));
    let ifaces = rpcd(&["call", "interfaces"], "");
    assert_eq!(
        ifaces["interfaces"].as_array().unwrap().len(),
        ctl["interfaces"].as_array().unwrap().len()
    );

    // Steering through rpcd, and what it did shows in the history.
    let done = rpcd(&["call", "prefer"], r#"{"interface":"lte"}"#);
    assert_eq!(done, serde_json::json!({"ok": "done"}));
    m.wait_for(Duration::from_secs(2), |s| {
        s.preferred.as_deref() == Some("lte")
    });
    let history = rpcd(&["call", "history"], "{}");
    let events = history["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "prefer" && e["detail"] == "preference set to lte"),
        "{history}"
    );

    // Bad calls answer an error object naming the problem.
    let bad = rpcd(&["call", "prefer"], r#"{"iface":"lte"}"#);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("needs {\"interface\""),
        "{bad}"
    );
    let bad = rpcd(&["call", "handoff"], r#"{"interface":"nosuch"}"#);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("no interface \"nosuch\""),
        "{bad}"
    );
    let bad = rpcd(&["call", "reboot"], "");
    assert!(
        bad["error"].as_str().unwrap().contains("no method"),
        "{bad}"
    );
    m.kill();
    let (out, took) = sh("openwrt/files/rpcd-mimm", &["call", "status"], &env, "");
    let down = json(&out);
    assert!(
        down["error"]
            .as_str()
            .unwrap()
            .contains("is mimmd running?"),
        "{down}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Every shell script mimm installs or runs: `sh -n`, and shellcheck.
#[test]
fn every_shell_script_parses_and_passes_shellcheck() {
    let scripts = [
        "hotplug/iface/50-mimm",
        "openwrt/files/vsd.init",
        "openwrt/files/mimmd.init",
        "openwrt/files/rpcd-mimm",
        "openwrt/files/mimm-server.init",
        "openwrt/pkg/mimm/postinst",
        "openwrt/pkg/mimm/prerm",
        "openwrt/pkg/mimm/postrm",
        "openwrt/pkg/mimm-server/postinst",
        "openwrt/pkg/mimm-server/prerm",
        "openwrt/mkipk",
        "openwrt/build",
        "openwrt/qemu-test",
        ".ci/run",
    ];
    for s in scripts {
        let path = repo().join(s);
        if !path.exists() {
            panic!("{s}: missing");
        }
        let shell = if std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("#!/usr/bin/env bash")
        {
            "bash"
        } else {
            "sh"
        };
        let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
        assert!(out.status.success(), "{s}: {out:?}");
    }
    if !mimm_requires::tool("the shellcheck part", "shellcheck", "shellcheck") {
        return;
    }
    let out = Command::new("shellcheck")
        .args(scripts.iter().map(|s| repo().join(s)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The init script with procd's functions recorded instead of run: it starts
/// mimmd with respawn and logging, a broken file starts nothing, and the
/// stop path cleans up.
#[test]
fn the_mimmd_init_script_checks_the_file_before_it_starts() {
    let dir = Scratch::new("init");
    let good = dir.file("good", "config interface 'wan'\n\toption device eth0\n");
    let bad = dir.file("bad", "config interface 'wan'\n\toption devcie eth0\n");
    let run = |conf: &Path| {
        let script = format!(
            "calls=''
procd_open_instance() {{ calls=\"$calls open:$1\"; }}
procd_set_param() {{ calls=\"$calls $*;\"; }}
procd_close_instance() {{ calls=\"$calls close\"; }}
procd_add_reload_trigger() {{ calls=\"$calls trigger:$1\"; }}
procd_send_signal() {{ calls=\"$calls signal:$*\"; }}
logger() {{ cat >&2; }}
. {init}
PROG={mimmd} CONF={conf}
start_service; echo \"start=$?\"
service_triggers; reload_service; service_stopped
echo \"$calls\"",
            init = repo().join("openwrt/files/mimmd.init").display(),
            mimmd = MIMMD,
            conf = conf.display()
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (calls, log) = run(&good);
    assert!(calls.contains("start=0"), "{calls}");
    // The stop path removes what a killed mimmd left: here, nothing.
    assert_eq!(log, "mimmd: nothing left behind\n");
    assert!(
        calls.contains(&format!(
            "open:mimmd command {MIMMD} run -c {};",
            good.display()
        )),
        "{calls}"
    );
    assert!(calls.contains("respawn 60 0 5;"), "{calls}");
    assert!(
        calls.contains("stdout 1;") && calls.contains("stderr 1;"),
        "{calls}"
    );
    assert!(
        calls.contains("trigger:mimm signal:mimmd mimmd HUP"),
        "{calls}"
    );
    let (calls, log) = run(&bad);
    assert!(
        calls.contains("start=1") && !calls.contains("open:"),
        "{calls}"
    );
    assert!(
        log.contains(&format!("{}:2:2", bad.display())) && log.contains("devcie"),
        "{log}"
    );
}
