//! The OpenWrt side: the hotplug script reaches a running mimmd at once and
//! never holds netifd up; the rpcd plugin answers like mimmctl; the init
//! scripts check before they start; the .ipk is what opkg expects.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// The status with what moves between two calls taken out (times, the
/// probes' latest figures).
fn steady(mut status: Value) -> Value {
    let top = status.as_object_mut().unwrap();
    for key in ["uptime_s", "primary_for_s"] {
        top.remove(key);
    }
    if let Some(h) = top.get_mut("last_handoff").and_then(Value::as_object_mut) {
        h.remove("ago_s");
    }
    for i in top["interfaces"].as_array_mut().unwrap() {
        let i = i.as_object_mut().unwrap();
        for key in ["rtt_ms", "loss_pct", "raw", "average", "score"] {
            i.remove(key);
        }
    }
    status
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

/// The packages mkipk makes, each from openwrt/pkg/NAME: name, its conffile,
/// its package scripts.
const PACKAGES: [(&str, &str, &[&str]); 2] = [
    ("mimm", "/etc/config/mimm", &["postinst", "prerm", "postrm"]),
    (
        "mimm-server",
        "/etc/config/mimm-server",
        &["postinst", "prerm"],
    ),
];

/// (source, destination, mode) of every line of a package's manifest.
fn manifest(package: &str) -> Vec<(String, String, u32)> {
    let path = format!("openwrt/pkg/{package}/manifest");
    std::fs::read_to_string(repo().join(&path))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "{path}: {l:?}");
            (
                f[0].into(),
                f[1].into(),
                u32::from_str_radix(f[2], 8).unwrap(),
            )
        })
        .collect()
}

fn tar_list(archive: &Path) -> String {
    let out = Command::new("tar")
        .arg("-tvzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_ipks_hold_what_opkg_expects() {
    let dir = Scratch::new("ipk");
    let bins = dir.0.join("bin");
    std::fs::create_dir_all(&bins).unwrap();
    for (name, from) in [
        ("mimmd", PathBuf::from(MIMMD)),
        ("mimmctl", PathBuf::from(MIMMCTL)),
        ("vsd", common::workspace_binary("mimm-vsd", "vsd")),
        (
            "mimm-server",
            common::workspace_binary("mimm-server", "mimm-server"),
        ),
    ] {
        std::fs::copy(from, bins.join(name)).unwrap();
    }
    let out = Command::new(repo().join("openwrt/mkipk"))
        .args(["mips_24kc"])
        .arg(&bins)
        .arg(dir.0.join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for (package, conffile, scripts) in PACKAGES {
        check_ipk(&dir, package, conffile, scripts);
    }
}

fn check_ipk(dir: &Scratch, package: &str, conffile: &str, scripts: &[&str]) {
    let ipk = dir.0.join(format!("out/{package}_0.1.0-1_mips_24kc.ipk"));
    let outer = tar_list(&ipk);
    let names: Vec<&str> = outer
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["./debian-binary", "./data.tar.gz", "./control.tar.gz"]
    );
    let x = dir.0.join(format!("x-{package}"));
    std::fs::create_dir_all(&x).unwrap();
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("tar").arg("-xzf").arg(&ipk).arg("-C").arg(&x));
    assert_eq!(
        std::fs::read_to_string(x.join("debian-binary")).unwrap(),
        "2.0\n"
    );
    let (data, control) = (x.join("data"), x.join("control"));
    for (archive, into) in [("data.tar.gz", &data), ("control.tar.gz", &control)] {
        std::fs::create_dir_all(into).unwrap();
        ok(Command::new("tar")
            .arg("-xzf")
            .arg(x.join(archive))
            .arg("-C")
            .arg(into));
    }

    // Every manifest file at its path with its mode, owned by root, and
    // nothing else.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let listing = tar_list(&x.join("data.tar.gz"));
    let mut size = 0;
    let entries = manifest(package);
    for (src, dest, mode) in &entries {
        let meta =
            std::fs::metadata(data.join(&dest[1..])).unwrap_or_else(|e| panic!("{dest}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o7777, *mode, "{dest}");
        size += meta.size();
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(".{dest}")))
            .unwrap();
        assert!(line.contains(" 0/0 "), "{line}");
        if !src.starts_with("bin/") {
            assert_eq!(
                std::fs::read(data.join(&dest[1..])).unwrap(),
                std::fs::read(repo().join(src)).unwrap()
            );
        }
    }
    let files = listing.lines().filter(|l| l.starts_with('-')).count();
    assert_eq!(files, entries.len(), "{listing}");

    let fields = std::fs::read_to_string(control.join("control")).unwrap();
    let field = |name: &str| {
        fields
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in\n{fields}"))
            .to_string()
    };
    assert_eq!(field("Package"), package);
    assert_eq!(field("Version"), "0.1.0-1");
    assert_eq!(field("Architecture"), "mips_24kc");
    assert!(field("Depends").starts_with("libc"));
    assert_eq!(field("Installed-Size"), size.to_string());
    for name in ["License", "Section", "Maintainer", "Source", "Description"] {
        assert!(!field(name).is_empty(), "{name}");
    }
    assert_eq!(
        std::fs::read_to_string(control.join("conffiles")).unwrap(),
        format!("{conffile}\n")
    );
    for script in scripts {
        let meta = std::fs::metadata(control.join(script)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o111, 0o111, "{script}");
    }
}

#[test]
fn the_feed_makefile_installs_what_the_manifests_list() {
    let makefile = std::fs::read_to_string(repo().join("openwrt/mimm/Makefile")).unwrap();
    for (package, conffile, _) in PACKAGES {
        // The package's install block.
        let start = format!("define Package/{package}/install\n");
        let block = &makefile[makefile.find(&start).unwrap() + start.len()..];
        let block = &block[..block.find("endef").unwrap()];
        let installs: Vec<&str> = block
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("$(INSTALL_") && !l.starts_with("$(INSTALL_DIR)"))
            .collect();
        let entries = manifest(package);
        assert_eq!(installs.len(), entries.len(), "{package}: {installs:#?}");
        for (src, dest, mode) in entries {
            let from = match src.strip_prefix("bin/") {
                Some(bin) => format!("$(PKG_INSTALL_DIR)/bin/{bin}"),
                None => format!("$(MIMM_SOURCE)/{src}"),
            };
            let how = match mode {
                0o755 => "$(INSTALL_BIN)",
                0o644 => "$(INSTALL_DATA)",
                0o600 => "$(INSTALL_CONF)",
                m => panic!("mode {m:o} has no OpenWrt install macro"),
            };
            let want = format!("{how} {from} $(1){dest}");
            assert!(
                installs.contains(&want.as_str()),
                "{package}: missing {want}"
            );
        }
        let conffiles = format!("define Package/{package}/conffiles\n{conffile}\nendef");
        assert!(makefile.contains(&conffiles), "{conffiles}");
        assert!(makefile.contains(&format!("$(eval $(call BuildPackage,{package}))")));
    }
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
/// mimmd with respawn and logging, and a broken file starts nothing.
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
service_triggers; reload_service
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
    let (calls, _) = run(&good);
    assert!(calls.contains("start=0"), "{calls}");
    assert!(
        calls.contains(&format!(
            "open:mimmd command {MIMMD} run -c {};",
            good.display()
        )),
        "{calls}"
    );
    assert!(calls.contains("respawn 3600 5 5;"), "{calls}");
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
