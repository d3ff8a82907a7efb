//! mimmd's netlink parts against a real kernel, inside a namespace of the
//! test's own.

use std::net::Ipv4Addr;
use std::process::Command;

use mimm_mimmd::netlink::{Rtnl, conntrack, links, routes};
use mimm_testbed::netns;

struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

fn ip(ns: &str, args: &str) -> String {
    let out = Command::new("ip")
        .args(["-n", ns])
        .args(args.split_whitespace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn links_routes_rules_and_conntrack_in_a_namespace() {
    if !mimm_requires::root("links_routes_rules_and_conntrack_in_a_namespace") {
        return;
    }
    let ns = Namespace(format!("mimmd-nl-{}", std::process::id()));
    netns::add(&ns.0).unwrap();
    netns::ip_batch(
        &ns.0,
        &[
            "link add up0 type veth peer name up1".into(),
            "link set up0 up".into(),
            "link set up1 up".into(),
            "addr add 10.9.0.2/24 dev up0".into(),
            "route add default via 10.9.0.1 dev up0 table 101".into(),
        ],
    )
    .unwrap();
    let _in = netns::enter(&ns.0).unwrap();
    let mut rtnl = Rtnl::new().unwrap();
    let mut watcher = links::LinkWatcher::new().unwrap();

    let all = links::dump(&mut rtnl).unwrap();
    let up0 = all
        .iter()
        .find(|l| l.name == "up0")
        .expect("up0 listed")
        .clone();
    assert!(up0.up && up0.carrier, "{up0:?}");
    let lo = all.iter().find(|l| l.name == "lo").unwrap();
    assert!(lo.up);

    // Carrier follows the peer: down the peer, and the watcher says so.
    ip(&ns.0, "link set up1 down");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let events = watcher.drain();
    let change = events.iter().rev().find_map(|e| match e {
        links::LinkEvent::Changed(l) if l.name == "up0" => Some(l.clone()),
        _ => None,
    });
    assert_eq!(
        change.map(|l| (l.up, l.carrier)),
        Some((true, false)),
        "{events:?}"
    );
    ip(&ns.0, "link set up1 up");

    // Gateways come from default routes in any table.
    let gws = routes::default_gateways(&mut rtnl).unwrap();
    assert!(
        gws.contains(&(up0.index, Ipv4Addr::new(10, 9, 0, 1))),
        "{gws:?}"
    );

    // Route mode's table and rules.
    routes::set_default(&mut rtnl, 220, up0.index, Some(Ipv4Addr::new(10, 9, 0, 1))).unwrap();
    assert!(ip(&ns.0, "route show table 220").contains("default via 10.9.0.1 dev up0"));
    routes::set_default(&mut rtnl, 220, up0.index, None).unwrap();
    let table = ip(&ns.0, "route show table 220");
    assert!(
        table.contains("default dev up0") && !table.contains("via"),
        "{table}"
    );
    routes::install_rules(&mut rtnl, 220, 9000).unwrap();
    routes::install_rules(&mut rtnl, 220, 9000).unwrap();
    let rules = ip(&ns.0, "rule show");
    assert!(
        rules.contains("8999:\tfrom all lookup main suppress_prefixlength 0"),
        "{rules}"
    );
    assert!(rules.contains("9000:\tfrom all lookup 220"), "{rules}");
    assert_eq!(
        rules.matches("9000:").count(),
        1,
        "installing twice leaves one copy: {rules}"
    );
    routes::remove_rules(&mut rtnl, 9000).unwrap();
    routes::clear_default(&mut rtnl, 220).unwrap();
    routes::clear_default(&mut rtnl, 220).unwrap();
    assert!(!ip(&ns.0, "rule show").contains("9000:"));
    assert!(ip(&ns.0, "route show table 220").is_empty());

    conntrack::flush().unwrap();
}
