//! Link state, events and settings against a real kernel, in a namespace of
//! the test's own.

use mimm_netlink::Rtnl;
use mimm_netlink::links::{self, LinkEvent, LinkWatcher};
use mimm_netlink::settings::LinkChange;
use mimm_testbed::netns;

struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

#[test]
fn settings_apply_and_the_watcher_sees_changes_and_removals() {
    if !mimm_requires::root("settings_apply_and_the_watcher_sees_changes_and_removals") {
        return;
    }
    let ns = Namespace(format!("mimm-nl-{}", std::process::id()));
    netns::add(&ns.0).unwrap();
    netns::ip_batch(&ns.0, &["link add m0 type veth peer name m1".into()]).unwrap();
    let _in = netns::enter(&ns.0).unwrap();
    let mut rtnl = Rtnl::new().unwrap();
    let mut watcher = LinkWatcher::new().unwrap();
    let start = watcher.snapshot().unwrap();
    let find = |events: &[LinkEvent], name: &str| {
        events.iter().rev().find_map(|e| match e {
            LinkEvent::Changed(l) if l.name == name => Some(l.clone()),
            _ => None,
        })
    };
    let m0 = find(&start, "m0").expect("m0 in the snapshot");
    let m1 = find(&start, "m1").expect("m1 in the snapshot");
    assert!(!m0.up && !m0.point_to_point && m0.mac.is_some());

    let shadow = [0x02, 0x6d, 0x69, 0x6d, 0x6d, 0x01];
    LinkChange {
        mac: Some(shadow),
        mtu: Some(1400),
        up: Some(true),
        noarp: Some(true),
    }
    .apply(&mut rtnl, m0.index)
    .unwrap();
    LinkChange {
        up: Some(true),
        ..LinkChange::default()
    }
    .apply(&mut rtnl, m1.index)
    .unwrap();
    let now = links::dump(&mut rtnl).unwrap();
    let m0 = now.iter().find(|l| l.name == "m0").unwrap();
    assert_eq!(m0.mac, Some(shadow));
    assert_eq!(m0.mtu, Some(1400));
    assert!(m0.up && m0.noarp && m0.carrier);
    // The kernel's link watch announces carrier changes in rounds (up to a
    // second apart): wait for it.
    let mut until = |carrier: bool| {
        let start = std::time::Instant::now();
        let mut seen = Vec::new();
        while start.elapsed() < std::time::Duration::from_secs(3) {
            seen.extend(watcher.drain());
            if find(&seen, "m0").is_some_and(|l| l.carrier == carrier) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("m0 carrier {carrier} not announced: {seen:?}");
    };
    until(true);
    netns::ip_batch(&ns.0, &["addr add 10.77.0.2/24 dev m0".into()]).unwrap();
    let addrs = mimm_netlink::addresses::of_link(&mut rtnl, m0.index).unwrap();
    assert!(addrs.contains(&"10.77.0.2".parse().unwrap()), "{addrs:?}");

    // The peer goes down: m0 loses carrier, announced at once.
    LinkChange {
        up: Some(false),
        ..LinkChange::default()
    }
    .apply(&mut rtnl, m1.index)
    .unwrap();
    until(false);

    // A bad value is the kernel's error, not a panic.
    let err = LinkChange {
        mtu: Some(10),
        ..LinkChange::default()
    }
    .apply(&mut rtnl, m0.index)
    .unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(rustix::io::Errno::INVAL.raw_os_error())
    );

    // A removal the watcher did not hear about (as after an overrun) shows up
    // in the next snapshot.
    netns::ip_batch(&ns.0, &["link del m0".into()]).unwrap();
    let again = watcher.snapshot().unwrap();
    assert!(
        again
            .iter()
            .any(|e| matches!(e, LinkEvent::Removed { name, .. } if name == "m0")),
        "{again:?}"
    );
}
