//! mimmd killed with SIGKILL. Route mode: its rules and route stay and
//! carry the traffic; the next start takes them over without a switch (or
//! removes them when the configuration names others); `mimmd cleanup`
//! removes them by hand; a clean stop leaves nothing. Vsd mode, killed
//! between preparing a handoff and making it: the VSD carries on on the
//! member it had, and the next start takes that over.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::vsd_bed::{Member, VsdBed};
use common::{MIMMD, Mimmd, Scratch, root_or_skip, serial};
use mimm_testbed::Testbed;
use mimm_testbed::probe::{self, Options};

/// mimmd's rules (`ip rule` lines at its priorities) and its table's routes.
fn kernel_state(bed: &Testbed, table: &str) -> (Vec<String>, String) {
    let text = |args: &[&str]| {
        let out = bed.exec("router", args).unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let rules = text(&["ip", "rule", "show"])
        .lines()
        .filter(|l| !l.starts_with("0:") && !l.starts_with("32766:") && !l.starts_with("32767:"))
        .map(str::to_string)
        .collect();
    (rules, text(&["ip", "route", "show", "table", table]))
}

fn cleanup(bed: &Testbed, config: &Path) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &bed.ns("router"), MIMMD, "cleanup", "-c"])
        .arg(config)
        .output()
        .unwrap();
    let both =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    format!(
        "{}{both}",
        if out.status.success() { "" } else { "failed: " }
    )
}

#[test]
fn a_killed_route_mode_leaves_its_route_carrying_traffic_and_the_next_start_takes_it_over() {
    if !root_or_skip("a_killed_route_mode_leaves_its_route_carrying_traffic") {
        return;
    }
    let _serial = serial();
    let (bed, dir, socket, config) = common::lte_and_wifi("crash-route");
    let state = dir.0.join("mimmd-route.state");
    let (before, _) = kernel_state(&bed, "220");
    let log = dir.0.join("log");
    let mut m = Mimmd::start(&bed, &config, &socket, &log);
    assert_eq!(m.primary().as_deref(), Some("wifi"));
    let (rules, table) = kernel_state(&bed, "220");
    assert_eq!(rules.len(), before.len() + 2, "{rules:?}");
    assert!(table.contains("dev wlan0"), "{table}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        "rules 9000 table 220\n"
    );

    // Killed under a 1 kHz stream, restarted 0.5 s later: the kernel keeps
    // forwarding through the table the killed run left, and the new run
    // takes its primary over without touching the route.
    let run = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(3),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    m.kill();
    assert_eq!(kernel_state(&bed, "220"), (rules.clone(), table.clone()));
    assert!(state.exists());
    std::thread::sleep(Duration::from_millis(500));
    let m = Mimmd::start_until(&bed, &config, &socket, &log, "taken over without a switch");
    let r = run.finish().unwrap();
    eprintln!(
        "route mode killed and restarted under a stream: {}",
        r.stream.lost
    );
    assert_eq!(r.stream.lost, 0, "{}\n{}", r.to_text(), m.log_text());
    assert_eq!(m.primary().as_deref(), Some("wifi"));
    assert!(
        m.log_text()
            .contains("the primary of mimmd's table, left by an earlier run"),
        "{}",
        m.log_text()
    );
    assert_eq!(kernel_state(&bed, "220"), (rules.clone(), table));
    drop(m);

    // A clean stop removes the rules, the route and the record.
    assert_eq!(kernel_state(&bed, "220"), (before.clone(), String::new()));
    assert!(!state.exists());
    assert_eq!(cleanup(&bed, &config), "mimmd: nothing left behind\n");

    // Killed, then started with another priority and table: what the killed
    // run left is removed, the new ones installed.
    let mut m = Mimmd::start(&bed, &config, &socket, &log);
    m.kill();
    let moved = dir.file(
        "mimm-moved",
        &std::fs::read_to_string(&config).unwrap().replace(
            "config globals\n",
            "config globals\n\toption rule_priority 7000\n\toption route_table 230\n",
        ),
    );
    let m = Mimmd::start(&bed, &moved, &socket, &log);
    assert!(
        m.log_text().contains(
            "removed rules 8999, 9000 and table 220's default route left by an earlier run"
        ),
        "{}",
        m.log_text()
    );
    let (rules, table) = kernel_state(&bed, "230");
    assert!(rules.iter().any(|r| r.starts_with("7000:")), "{rules:?}");
    assert!(!rules.iter().any(|r| r.starts_with("9000:")), "{rules:?}");
    assert!(table.contains("dev wlan0"), "{table}");
    assert_eq!(kernel_state(&bed, "220").1, "");

    // `mimmd cleanup` is refused while mimmd runs, and removes what a
    // killed one left.
    assert!(cleanup(&bed, &moved).starts_with("failed: mimmd: mimmd is running"));
    let mut m = m;
    m.kill();
    assert_eq!(
        cleanup(&bed, &moved),
        "mimmd: removed rules 6999, 7000 and table 230's default route left by an earlier run\n"
    );
    assert_eq!(kernel_state(&bed, "230"), (before, String::new()));
    assert!(!state.exists());
}

#[test]
fn mimmd_killed_between_prepare_and_commit_loses_nothing_and_the_next_start_does_not_switch() {
    if !root_or_skip("mimmd_killed_between_prepare_and_commit") {
        return;
    }
    let _serial = serial();
    // wifi1's pre-handoff hook takes 3 s: mimmd is killed while it runs,
    // after the MM prepared wifi1 and before it told the VSD to switch.
    let hooks = Scratch::new("crash-prepare-hooks");
    let started = hooks.0.join("started");
    let hook = hooks.script("pre", &format!("touch '{}'; sleep 3", started.display()));
    let mut wifi1 = Member::wifi("wlan1", "wifi1");
    wifi1.options += &format!("\tlist pre_handoff '{}'\n", hook.display());
    let b = VsdBed::up(
        "crash-prepare",
        &[Member::wifi("wlan0", "wifi0"), wifi1],
        "",
    );
    let log = b.dir.0.join("mimmd.log");
    let until = "taken over without a switch";
    let mut m = Mimmd::start_until(&b.bed, &b.config, &b.socket, &log, until);
    assert_eq!(m.primary().as_deref(), Some("wifi0"));
    let switches = b.vsd.status().unwrap().switches;

    let run = probe::start(
        &b.bed.plan,
        Options {
            duration: Duration::from_secs(4),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(m.ctl(&["prefer", "wifi1"]).status.success());
    let asked = std::time::Instant::now();
    while !started.exists() {
        assert!(asked.elapsed() < Duration::from_secs(3), "{}", m.log_text());
        std::thread::sleep(Duration::from_millis(10));
    }
    m.kill();
    assert!(m.log_text().contains("pre-handoff"), "{}", m.log_text());
    std::thread::sleep(Duration::from_millis(500));
    let v = b.vsd.status().unwrap();
    assert_eq!((v.active.as_deref(), v.switches), (Some("wlan0"), switches));

    // The restart finds the VSD on wlan0 and keeps it there.
    std::fs::remove_file(&log).unwrap();
    let m = Mimmd::start_until(&b.bed, &b.config, &b.socket, &log, until);
    assert_eq!(m.primary().as_deref(), Some("wifi0"));
    let r = run.finish().unwrap();
    let v = b.vsd.status().unwrap();
    eprintln!(
        "mimmd killed between prepare and commit: {} lost, the VSD switched {} times",
        r.stream.lost,
        v.switches - switches
    );
    assert_eq!(r.stream.lost, 0, "{}\n{}", r.to_text(), m.log_text());
    assert_eq!((v.active.as_deref(), v.switches), (Some("wlan0"), switches));
    assert_eq!(m.primary().as_deref(), Some("wifi0"), "{}", m.log_text());
}
