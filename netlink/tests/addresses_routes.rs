//! Addresses and prefix routes against a real kernel: given to a TUN in a
//! namespace of the test's own, read back with iproute2, and taken off.

use std::net::Ipv4Addr;
use std::process::Command;

use mimm_netlink::{Rtnl, addresses, links, routes};
use mimm_testbed::netns;

/// The namespace, deleted on every way out of the test (panics included).
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
    assert!(out.status.success(), "ip {args}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const MAIN: u32 = 254;

#[test]
fn an_address_and_a_prefix_route_on_a_tun() {
    if !mimm_requires::root("an_address_and_a_prefix_route_on_a_tun") {
        return;
    }
    let ns = Namespace(format!("mimm-nl-addr-{}", std::process::id()));
    netns::add(&ns.0).unwrap();
    // A route needs its device up; a TUN nobody holds is up without carrier.
    netns::ip_batch(
        &ns.0,
        &[
            "tuntap add mode tun name t0".into(),
            "link set t0 up".into(),
        ],
    )
    .unwrap();
    let _in = netns::enter(&ns.0).unwrap();
    let mut rtnl = Rtnl::new().unwrap();
    let t0 = links::dump(&mut rtnl)
        .unwrap()
        .into_iter()
        .find(|l| l.name == "t0")
        .expect("t0 listed");
    let (own, pool) = (Ipv4Addr::new(10, 64, 0, 1), Ipv4Addr::new(10, 64, 0, 0));

    addresses::add(&mut rtnl, t0.index, own, 32).unwrap();
    addresses::add(&mut rtnl, t0.index, own, 32).unwrap(); // again: replaced
    routes::add_prefix(&mut rtnl, MAIN, pool, 24, t0.index).unwrap();
    routes::add_prefix(&mut rtnl, MAIN, pool, 24, t0.index).unwrap();
    let addrs = ip(&ns.0, "-o -4 addr show dev t0");
    assert_eq!(addrs.matches("inet 10.64.0.1/32").count(), 1, "{addrs}");
    let table = ip(&ns.0, "route show dev t0");
    assert_eq!(table.matches("10.64.0.0/24").count(), 1, "{table}");
    assert!(table.contains("scope link"), "{table}");
    assert!(!table.contains("via"), "{table}");

    routes::remove_prefix(&mut rtnl, MAIN, pool, 24, t0.index).unwrap();
    addresses::remove(&mut rtnl, t0.index, own, 32).unwrap();
    assert!(!ip(&ns.0, "route show dev t0").contains("10.64.0.0/24"));
    assert!(!ip(&ns.0, "-o addr show dev t0").contains("10.64.0.1"));
    // Taking off what is not there is no error.
    routes::remove_prefix(&mut rtnl, MAIN, pool, 24, t0.index).unwrap();
    addresses::remove(&mut rtnl, t0.index, own, 32).unwrap();
}
