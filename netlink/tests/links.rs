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

/// A dump sent without waiting and read as its answers arrive (what the
/// nl80211 source does each sample) gives what the blocking dump gives.
#[test]
fn a_dump_read_without_waiting_equals_the_blocking_one() {
    if !mimm_requires::root("a_dump_read_without_waiting_equals_the_blocking_one") {
        return;
    }
    use mimm_netlink::wire::{RTM_GETLINK, RTM_NEWLINK, Request, ifinfo};
    let ns = Namespace(format!("mimm-nlnb-{}", std::process::id()));
    netns::add(&ns.0).unwrap();
    let veths: Vec<String> = (0..40)
        .map(|i| format!("link add a{i} type veth peer name b{i}"))
        .collect();
    netns::ip_batch(&ns.0, &veths).unwrap();
    let _in = netns::enter(&ns.0).unwrap();
    let mut rtnl = Rtnl::new().unwrap();
    let blocking: Vec<String> = links::dump(&mut rtnl)
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(blocking.len(), 81, "lo and 40 pairs");
    let request = Request::new(RTM_GETLINK, 0, &ifinfo(0, 0, 0, 0));
    let seq = rtnl.start_dump(request).unwrap();
    let mut names = Vec::new();
    let mut reads = 0;
    loop {
        let mut fds = [rustix::event::PollFd::from_borrowed_fd(
            // SAFETY: rtnl outlives this poll.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(rtnl.fd()) },
            rustix::event::PollFlags::IN,
        )];
        rustix::event::poll(&mut fds, None).unwrap();
        reads += 1;
        let done = rtnl
            .read_dump(seq, RTM_NEWLINK, |m| {
                names.extend(links::parse_link(m).map(|l| l.name))
            })
            .unwrap();
        if done {
            break;
        }
    }
    assert_eq!(names, blocking, "after {reads} reads");
    // Nothing is waiting now: a read returns at once, and not as done.
    let before = std::time::Instant::now();
    assert!(!rtnl.read_dump(seq, RTM_NEWLINK, |_| ()).unwrap());
    assert!(before.elapsed() < std::time::Duration::from_millis(100));
}
