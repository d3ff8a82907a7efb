//! The UCI configuration as the Mobility Manager sees it, and its errors.

use std::path::Path;

use mimm_mimmd::config::{self, from_package};
use mimm_mm::{Averaging, LinkKind, Metric};
use mimm_uci::Package;

fn load(text: &str) -> Result<mimm_mimmd::config::MimmConfig, String> {
    let file = Path::new("/etc/config/mimm");
    let package = Package::parse_named(text, "mimm", Some(file)).map_err(|e| e.to_string())?;
    from_package(&package, file).map_err(|e| e.to_string())
}

#[test]
fn shipped_example_for_the_replay_test_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/handoff.uci");
    let cfg = config::load(&path).unwrap().mm;
    assert_eq!(cfg.timing.hold_down_ms, 20_000);
    let wifi = &cfg.ifaces[1];
    assert_eq!(
        (wifi.name.as_str(), wifi.kind, wifi.metric),
        ("wifi", LinkKind::Wifi, Metric::SignalDbm)
    );
    assert_eq!(wifi.thresholds.inactive, -84.0);
    assert_eq!(wifi.averaging, Averaging::Moving { window: 3 });
    assert_eq!(wifi.priority, 80);
    // Unset options keep the defaults for the kind and metric.
    assert_eq!(cfg.ifaces[0].thresholds.stable, -90.0);
}

#[test]
fn the_shipped_etc_config_mimm_loads_with_its_documented_values() {
    use mimm_mimmd::config::Mode;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../uci/files/mimm");
    let cfg = config::load(&path).unwrap();
    assert_eq!(cfg.globals.mode, Mode::Route);
    assert_eq!(
        (cfg.globals.route_table, cfg.globals.rule_priority),
        (220, 9000)
    );
    let names: Vec<&str> = cfg.ifaces.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["wwan", "wwlan", "wan"]);
    assert_eq!(cfg.ifaces[1].signal_source.to_string(), "nl80211");
    // The LTE thresholds written out are the built-in ones.
    let lte = &cfg.mm.ifaces[0];
    let builtin = mimm_mm::IfaceConfig::with_defaults("x", LinkKind::Lte, Metric::SignalDbm);
    assert_eq!(lte.thresholds, builtin.thresholds);
    // Ethernet has no signal source: probe quality is its metric.
    assert_eq!(cfg.mm.ifaces[2].metric, Metric::Quality);
    assert!(cfg.ifaces.iter().all(|d| d.probes.len() == 2));
    assert_eq!(cfg.server, None);
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../uci/files/mimm-testbed");
    assert_eq!(config::load(&demo).unwrap().ifaces.len(), 2);
}

#[test]
fn partial_thresholds_override_defaults_and_none_means_four_levels() {
    let cfg = load("config interface 'lte'\n\toption kind lte\n\toption metric signal_dbm\n\toption available none\n\toption stable '-85'\n")
        .unwrap()
        .mm;
    let t = cfg.ifaces[0].thresholds;
    assert_eq!((t.available, t.inactive, t.stable), (None, -116.0, -85.0));
}

#[test]
fn errors_name_the_place_the_interface_and_the_option() {
    let cases = [
        (
            "config interface 'lte'\n\toption kind lte\n\toption metric signal_dbm\n\toption inactive '-100'\n",
            "/etc/config/mimm:1:1: interface lte: thresholds must rise strictly (available < inactive < deteriorating < active < stable), but inactive -100 >= deteriorating -110",
        ),
        (
            "config interface 'lte'\n\toption treshold '-100'\n",
            "/etc/config/mimm:2:2: interface lte: unknown option \"treshold\"",
        ),
        (
            "config interface 'lte'\n\toption priority high\n",
            "/etc/config/mimm:2:2: interface lte: option priority: \"high\" is not a priority 0..100",
        ),
        (
            "config interface 'lte'\n\toption metric dbm\n",
            "/etc/config/mimm:2:2: interface lte: option metric must be signal_dbm, rate_kbps or quality",
        ),
        (
            "config interface 'lte'\n\toption averaging ewma\n\toption alpha 2\n",
            "/etc/config/mimm:3:2: interface lte: smoothing alpha 2 must be in (0, 1]",
        ),
        (
            "config interface\n\toption kind lte\n",
            "/etc/config/mimm:1:1: interface sections need a name",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption hold_down_ms soon\n",
            "/etc/config/mimm:3:2: globals: option hold_down_ms: \"soon\" is not a whole number of ms",
        ),
        (
            "config interfaces 'a'\n",
            "/etc/config/mimm:1:1: unknown section type \"interfaces\"",
        ),
        (
            "config interface 'a'\n\tlist priority 1\n",
            "/etc/config/mimm:2:2: interface a: option priority must not be a list",
        ),
        (
            "config interface 'a'\n\toption monetary_cost 11\n",
            "/etc/config/mimm:2:2: interface a: monetary_cost: 11 must be 0..=10",
        ),
        (
            "config globals\n",
            "/etc/config/mimm:1:1: interfaces: no interface configured",
        ),
        (
            "config interface 'a'\n\toption preferred 1\nconfig interface 'b'\n\toption preferred 1\n",
            "/etc/config/mimm:4:2: interface b: only one interface may be preferred",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption consult_server 1\n",
            "/etc/config/mimm:3:2: globals: consult_server needs an enabled config server section",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption averaging median\n",
            "/etc/config/mimm:3:2: globals: averaging \"median\" must be ewma or moving",
        ),
        (
            "config interface 'a'\nconfig server\n\toption address 192.0.2.1\n\toption spi 7\n\toption key 00112233445566778899aabbccddeeff\n",
            "/etc/config/mimm:4:2: server: spi 7 is reserved",
        ),
        (
            "config interface 'a'\nconfig server\n\toption address 192.0.2.1\n\toption spi 300\n\toption key 0011\n",
            "/etc/config/mimm:5:2: server: key must be at least 32 hex digits",
        ),
        (
            "config interface 'a'\nconfig server\n\toption address mimm.example\n",
            "/etc/config/mimm:3:2: server: address \"mimm.example\" is not IPV4 or IPV4:PORT",
        ),
        (
            "config interface 'a'\nconfig server\n\toption address 192.0.2.1\n\toption spi 300\n\toption key 00112233445566778899aabbccddeeff\n\toption algorithm sha1\n",
            "/etc/config/mimm:6:2: server: algorithm \"sha1\" must be hmac-sha256 or hmac-md5",
        ),
        (
            "config interface 'a'\nconfig server\n\toption address 192.0.2.1\n\toption spi 300\n\toption key 00112233445566778899aabbccddeeff\n\tlist session 'voice:64'\n\tlist session 'call:64'\n",
            "/etc/config/mimm:7:2: server: session \"call:64\" must be KIND:KBPS, KIND voice, video, bulk or other",
        ),
        (
            "config globals\n\toption mode vsd\nconfig interface 'a'\n\toption device eth9\nconfig vsd 'vsd0'\n\tlist member eth1\n",
            "/etc/config/mimm:4:2: interface a: device eth9 is not a member of vsd vsd0 (members: eth1)",
        ),
        (
            "config globals\n\toption mode vsd\nconfig interface 'a'\n",
            "/etc/config/mimm:2:2: globals: mode vsd needs a config vsd section",
        ),
        (
            "config globals\n\toption mode vsd\n\toption vsd vsd9\nconfig interface 'a'\nconfig vsd 'vsd0'\n",
            "/etc/config/mimm:3:2: globals: no config vsd 'vsd9' (there is: vsd0)",
        ),
        (
            "config interface 'a'\nconfig vsd 'vsd0'\n\toption mtu 9\n",
            "/etc/config/mimm:3:2: vsd vsd0: mtu 9 must be 576..65535",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption log_level verbose\n",
            "/etc/config/mimm:3:2: globals: log_level \"verbose\" must be one of off, error, warn, info, debug, trace",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption route_table 254\n",
            "/etc/config/mimm:3:2: globals: route_table 254 is reserved",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption rule_priority 1\n",
            "/etc/config/mimm:3:2: globals: rule_priority must be 2..32765",
        ),
        (
            "config interface 'a'\nconfig globals\n\toption gain_alpha 1.5\n",
            "/etc/config/mimm:3:2: gain_alpha: 1.5 must be in (0, 1]",
        ),
        (
            "config interface 'a'\nconfig server\n\toption port 434\n",
            "/etc/config/mimm:3:2: server: unknown option \"port\"",
        ),
    ];
    for (text, want) in cases {
        let got = load(text).unwrap_err();
        assert!(got.starts_with(want), "\n got: {got}\nwant: {want}");
    }
}

#[test]
fn daemon_options_and_their_defaults() {
    use mimm_mimmd::config::{Mode, ProbeTarget};
    let text = "config globals\n\toption mode route\n\toption probe_fail 4\n\toption socket '/tmp/m.sock'\n\
                config interface 'wan_lte'\n\toption device wwan0\n\toption kind lte\n\
                \toption signal_source 'uqmi:/dev/cdc-wdm0'\n\tlist probe 198.51.100.1\n\
                \tlist probe 'udp:198.51.100.1:7'\n\tlist pre_handoff /bin/true\n\
                config interface 'wlan'\n\toption kind wifi\n\toption gateway 10.3.0.1\n";
    let cfg = load(text).unwrap();
    assert_eq!(cfg.globals.mode, Mode::Route);
    assert_eq!(cfg.globals.probe_fail, 4);
    assert_eq!(cfg.globals.probe_interval_ms, 150);
    assert_eq!(cfg.globals.socket, Path::new("/tmp/m.sock"));
    let lte = &cfg.ifaces[0];
    assert_eq!(lte.device, "wwan0");
    assert_eq!(lte.signal_source.to_string(), "uqmi:/dev/cdc-wdm0");
    assert_eq!(lte.probes.len(), 2);
    assert!(matches!(lte.probes[1], ProbeTarget::Udp(_)));
    assert_eq!(lte.pre_handoff, [Path::new("/bin/true")]);
    assert!(
        cfg.mm.ifaces[0].pre_handoff,
        "the MM prepares an interface with pre-handoff hooks"
    );
    assert_eq!(cfg.mm.ifaces[0].metric, Metric::SignalDbm);
    // No signal source: the probes are the measure, and the device is the name.
    let wlan = &cfg.ifaces[1];
    assert_eq!(wlan.device, "wlan");
    assert_eq!(cfg.mm.ifaces[1].metric, Metric::Quality);
    assert_eq!(wlan.gateway, Some("10.3.0.1".parse().unwrap()));
}

#[test]
fn preference_global_averaging_and_the_server_section() {
    let text = "config globals\n\toption averaging moving\n\toption window 4\n\toption consult_server 1\n\
                config interface 'lte'\n\toption kind lte\n\
                config interface 'wifi'\n\toption kind wifi\n\toption alpha 0.5\n\toption preferred 1\n\
                config server\n\toption address '192.0.2.10:4434'\n\toption spi 4096\n\
                \toption key '00112233445566778899AABBCCDDEEFF'\n\toption algorithm hmac-md5\n\
                \toption report_s 5\n\tlist session 'voice:64'\n\tlist session 'bulk:2000'\n";
    let cfg = load(text).unwrap();
    // The globals' averaging is every interface's default; an interface's own wins.
    assert_eq!(cfg.mm.ifaces[0].averaging, Averaging::Moving { window: 4 });
    assert_eq!(cfg.mm.ifaces[1].averaging, Averaging::Ewma { alpha: 0.5 });
    assert_eq!(
        cfg.ifaces.iter().map(|d| d.preferred).collect::<Vec<_>>(),
        [false, true]
    );
    assert!(cfg.mm.consult_server);
    let server = cfg.server.unwrap();
    assert_eq!(server.address, "192.0.2.10:4434".parse().unwrap());
    assert_eq!(
        (server.spi, server.key.len(), server.key[15]),
        (4096, 16, 0xff)
    );
    assert!(server.enabled);
    assert_eq!(server.algorithm, mimm_proto::auth::Algorithm::HmacMd5);
    assert_eq!(
        (server.report_s, server.window_s, server.enterprise),
        (5, 7, 32473)
    );
    let rt: Vec<(bool, u32)> = server
        .sessions
        .iter()
        .map(|s| (s.realtime, s.kbps))
        .collect();
    assert_eq!(rt, [(true, 64), (false, 2000)]);
    // The network id defaults to the interface's name.
    assert_eq!(cfg.ifaces[0].network, "lte");
    // Without a server section there is none.
    assert_eq!(load("config interface 'a'\n").unwrap().server, None);
}

#[test]
fn replay_follows_the_configuration() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mimmd"))
        .args([
            "replay",
            dir.join("handoff.csv").to_str().unwrap(),
            "--json",
        ])
        .args(["--config", dir.join("handoff.uci").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // With Wi-Fi preferred by priority and a 20 s hold-down, the MM leaves the
    // fading LTE early and returns after 24 s; the defaults would not.
    let times: Vec<u64> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["t_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(times, [0, 11_000, 35_000]);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_mimmd"))
        .args([
            "replay",
            dir.join("handoff.csv").to_str().unwrap(),
            "--config",
            "/nonexistent/mimm",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent/mimm: cannot read"));
}

/// A section of `kind` that loads, with `option` set to `value` on a line
/// of its own (replacing the base's value of it); the text and the line.
fn with_option(kind: &str, option: &str, value: &str) -> (String, u32) {
    let base: &[(&str, &str)] = match kind {
        "globals" => &[],
        "interface" => &[("device", "eth0")],
        "server" => &[
            ("address", "192.0.2.1"),
            ("spi", "256"),
            ("key", "00112233445566778899aabbccddeeff"),
        ],
        "vsd" if mimm_vsd::anchored::config::OPTIONS.contains(&option) => &[
            ("mode", "anchored"),
            ("anchor", "192.0.2.1"),
            ("home_agent", "10.64.0.1"),
            ("spi", "256"),
            ("key", "00112233445566778899aabbccddeeff"),
        ],
        _ => &[],
    };
    let head = match kind {
        "interface" => "config interface 'wan'\n".to_string(),
        "vsd" => "config vsd 'vsd0'\n\tlist member 'eth1'\n".to_string(),
        other => format!("config {other}\n"),
    };
    let mut text = head;
    for (name, v) in base.iter().filter(|(name, _)| *name != option) {
        text += &format!("\toption {name} '{v}'\n");
    }
    let line = text.lines().count() as u32 + 1;
    text += &format!("\toption {option} '{value}'\n");
    if kind != "interface" {
        text += "config interface 'wan'\n\toption device 'eth0'\n";
    }
    (text, line)
}

/// Values that are wrong for options of the kinds mimmd reads: not a
/// number, negative, too large, not an address, a relative path.
const BAD_VALUES: &[&str] = &["x!", "-5", "99999999999", "1.2.3.4.5", "relative/path", "0"];

/// Options whose every value is taken as given: the VSD section's name
/// (looked up in mode vsd), a shell command, a network's name.
const FREE_FORM: &[(&str, &str)] = &[
    ("globals", "vsd"),
    ("interface", "network"),
    ("interface", "up_cmd"),
    ("interface", "down_cmd"),
];

#[test]
fn every_option_given_a_bad_value_is_refused_naming_its_place() {
    let mut refused = 0;
    let mut taken = Vec::new();
    for kind in ["globals", "interface", "server", "vsd"] {
        for option in config::options_of(kind) {
            if FREE_FORM.contains(&(kind, option)) {
                continue;
            }
            let mut named = None;
            for value in BAD_VALUES {
                let (text, line) = with_option(kind, option, value);
                let Err(e) = load(&text) else { continue };
                assert!(
                    e.starts_with(&format!("/etc/config/mimm:{line}:")),
                    "config {kind}: {option} '{value}': the error names no line {line}: {e}\n{text}"
                );
                assert!(e.contains(option), "config {kind}: {option} '{value}': {e}");
                named = Some(e);
                break;
            }
            match named {
                Some(e) => {
                    eprintln!("{kind} {option}: {e}");
                    refused += 1;
                }
                None => taken.push(format!("{kind} {option}")),
            }
        }
    }
    assert!(
        taken.is_empty(),
        "these take every one of {BAD_VALUES:?}: {taken:?}"
    );
    eprintln!("{refused} options refused a bad value, each naming file:line:col and itself");
    assert!(refused >= 85, "{refused}");
}
