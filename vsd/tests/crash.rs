//! A VSD killed with SIGKILL (a crash, the OOM killer, a power cut) leaves
//! its members taken from the host stack; the next start, or `vsd
//! cleanup`, gives them back as they were before the first run touched
//! them, however many kills came between.

mod common;

use std::process::Command;

use common::{VSD, Vsd, bed, link_state, root_or_skip, run, serial};
use mimm_testbed::Testbed;

fn members_state(bed: &Testbed) -> Vec<(String, String, String)> {
    ["wlan0", "wlan1"]
        .iter()
        .map(|m| link_state(bed, m))
        .collect()
}

fn has_table(bed: &Testbed) -> bool {
    run(bed, "router", &["nft", "list", "tables"]).contains("mimm_vsd_vsd0")
}

fn cleanup(bed: &Testbed, vsd: &Vsd) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", &bed.ns("router"), VSD, "cleanup", "-c"])
        .arg(vsd.config())
        .output()
        .unwrap()
}

#[test]
fn killed_vsds_never_lose_the_members_original_state() {
    if !root_or_skip("killed_vsds_never_lose_the_members_original_state") {
        return;
    }
    let _serial = serial();
    let bed = bed(&["wlan0", "wlan1"]);
    let before = members_state(&bed);
    let state_file = |vsd: &Vsd| vsd.socket.with_file_name("vsd-vsd0.state");

    // Killed: the members stay taken (shadow MAC, NOARP, IPv6 off, the
    // drop-all ingress table), and the state file says what they were.
    let mut first = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    first.kill();
    assert_ne!(members_state(&bed), before);
    assert!(has_table(&bed));
    assert!(state_file(&first).exists());
    // Started and killed again, then started and stopped: each start gave
    // back what the last run left, so the last stop restores the original.
    let mut second = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    assert!(
        second.log_text().contains("gave back wlan0, wlan1"),
        "{}",
        second.log_text()
    );
    second.kill();
    let mut third = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    assert!(third.stop().success(), "{}", third.log_text());
    assert_eq!(members_state(&bed), before);
    assert!(!has_table(&bed));
    assert!(!state_file(&third).exists());

    // By hand: refused while it runs, then after a kill it gives back.
    let mut fourth = Vsd::start(&bed, &["wlan0", "wlan1"], "");
    let refused = cleanup(&bed, &fourth);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is running"));
    fourth.kill();
    let out = cleanup(&bed, &fourth);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "vsd0: gave back wlan0, wlan1\n"
    );
    assert_eq!(members_state(&bed), before);
    assert!(!has_table(&bed));
    let again = cleanup(&bed, &fourth);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "vsd0: nothing left taken\n"
    );
}
