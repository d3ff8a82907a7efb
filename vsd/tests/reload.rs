//! SIGHUP (what `/etc/init.d/vsd reload` sends): member changes apply while
//! traffic flows; a change that needs a restart is refused whole.

mod common;

use std::time::Duration;

use common::{Vsd, bed, root_or_skip, serial};
use mimm_testbed::probe::{self, Options};

fn hup(vsd: &Vsd) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(vsd.pid()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
}

fn rewrite(vsd: &Vsd, members: &[&str], extra: &str) {
    let list: String = members
        .iter()
        .map(|m| format!("\tlist member '{m}'\n"))
        .collect();
    std::fs::write(
        vsd.config(),
        format!(
            "config vsd 'vsd0'\n{list}\toption socket '{}'\n{extra}",
            vsd.socket.display()
        ),
    )
    .unwrap();
}

#[test]
fn sighup_applies_member_changes_without_loss_and_refuses_restart_only_options() {
    if !root_or_skip("sighup_applies_member_changes_without_loss_and_refuses_restart_only_options")
    {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let vsd = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let priority = |s: &mimm_vsd::control::Status, m: &str| {
        s.members.iter().find(|x| x.name == m).map(|x| x.priority)
    };
    let before = vsd.status();
    assert!(priority(&before, "wlan0") > priority(&before, "wlan1"));

    // Swap the order under a 1 kHz stream: priorities follow, nothing lost.
    let stream = probe::start(
        &bed.plan,
        Options {
            duration: Duration::from_secs(2),
            ..Options::default()
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    rewrite(&vsd, &["wlan1", "wlan0"], "\toption num_grat_arp '1'\n");
    hup(&vsd);
    let swapped = vsd.wait_for(Duration::from_secs(2), |s| {
        priority(s, "wlan1") > priority(s, "wlan0")
    });
    let r = stream.finish().unwrap();
    assert_eq!(r.stream.lost, 0, "{}\n{}", r.to_text(), vsd.log_text());
    assert_eq!(swapped.members.len(), 2);
    assert!(
        vsd.log_text()
            .contains("reloaded: 0 member(s) added, 0 given back, order wlan1 > wlan0")
    );

    // A new MTU needs a new TAP: refused, naming the option; nothing changes.
    rewrite(&vsd, &["wlan1"], "\toption mtu '1400'\n");
    hup(&vsd);
    let start = std::time::Instant::now();
    while !vsd.log_text().contains("option mtu changed (1500 -> 1400)") {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{}",
            vsd.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = vsd.status();
    assert_eq!((s.mtu, s.members.len()), (1500, 2), "{s:?}");

    // A member dropped from the list is given back (its MAC restored).
    rewrite(&vsd, &["wlan1"], "");
    hup(&vsd);
    let s = vsd.wait_for(Duration::from_secs(2), |s| s.members.len() == 1);
    assert_eq!(s.members[0].name, "wlan1");
    assert!(
        vsd.log_text().contains("1 given back"),
        "{}",
        vsd.log_text()
    );
}
