//! The anchor's shell with real kernel parts: mimm-server runs in an
//! "anchor" namespace with its TUN, between a "client" namespace (this
//! test plays the mobile node there with a UDP socket) and an "inet"
//! namespace whose kernel answers pings. Registration, a ping through the
//! anchor to inet and its reply back, a keepalive the anchor answers
//! itself, a ping of the anchor's address its kernel answers, forged and
//! replayed packets dropped; reloads (the same file, another TUN, a TUN
//! that cannot be made) keep the binding. And a client that sends to the
//! anchor host's other address (198.51.100.1, on the far interface) hears
//! every answer from that address, not from the one facing it (the server
//! listens on 0.0.0.0: a NAT would drop those).
//!
//! ```text
//! client c0 192.0.2.2 --- 192.0.2.1 a0 [anchor: mimm-server, TUN 10.64.0.1] a1 198.51.100.1 --- 198.51.100.2 i0 inet
//! ```

mod anchor_net;

use std::net::Ipv4Addr;
use std::process::Command;

use anchor_net::*;
use mimm_testbed::netns;
use mimm_tunnel::keepalive;

#[test]
fn a_client_pings_through_the_anchor_and_its_keepalives_are_answered() {
    if !mimm_requires::root("a_client_pings_through_the_anchor_and_its_keepalives_are_answered") {
        return;
    }
    let ns = namespaces("");
    let server = start_server(&ns.0[1], "");
    let entered = netns::enter(&ns.0[0]).unwrap();
    let mut node = register(client_socket(), ANCHOR_OUTER);
    let home = node.home;
    assert_eq!(home, Ipv4Addr::new(10, 64, 0, 2), "the pool's first");

    // Through the anchor to inet, whose kernel answers back through it.
    let ping = node.seal(&echo(home, INET, 1, None));
    node.send(&ping);
    let reply = node.receive().expect("inet's echo reply");
    assert!(is_reply(&reply, INET, home, 1), "{reply:?}");

    // A keepalive: the anchor itself answers.
    node.seal_and_send(&echo(home, ANCHOR, 2, None));
    let answer = node.receive().expect("the keepalive's answer");
    let said = keepalive::answered(&answer, home, ANCHOR).expect("a keepalive answer");
    assert_eq!((said.seq, said.primary), (2, true));

    // An application's ping of the anchor's address: its kernel answers.
    node.seal_and_send(&echo(home, ANCHOR, 3, Some(0x1234)));
    let reply = node.receive().expect("the anchor kernel's echo reply");
    assert!(is_reply(&reply, ANCHOR, home, 3), "{reply:?}");

    // Forged (one flipped byte) and replayed: nothing comes back...
    let mut forged = node.seal(&echo(home, INET, 4, None));
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    node.send(&forged);
    node.send(&ping);
    assert_eq!(
        node.receive(),
        None,
        "no answer to a forged or replayed packet"
    );
    // ...and the next good one still goes through.
    ping_inet(&mut node, 5, "after the drops");

    // A reload with the same file keeps the TUN and the binding; one with
    // another TUN moves the routes to it and still keeps the binding.
    server.reload();
    ping_inet(&mut node, 6, "after a reload");
    write_config("", "mas1");
    server.reload();
    ping_inet(&mut node, 7, "after moving to another TUN");
    let links = Command::new("ip")
        .args(["-n", &ns.0[1], "-o", "link"])
        .output()
        .unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(links.contains("mas1") && !links.contains("mas0"), "{links}");
    // A TUN that cannot be made (the name is a veth's): the reload is
    // refused and the anchor runs on as it was.
    write_config("", "a0");
    server.reload();
    ping_inet(&mut node, 8, "after a refused reload");

    drop(entered);
    let log = server.stop();
    assert!(log.contains("reload refused"), "{log}");
    let status = log
        .lines()
        .rfind(|l| l.contains("anchor: 1 tunnels"))
        .unwrap_or_else(|| panic!("no status line on exit:\n{log}"));
    for counted in ["uplink 6,", "downlink 6,", "keepalives 1,", "unopened 2,"] {
        assert!(status.contains(counted), "{counted} in {status}");
    }
}

#[test]
fn answers_leave_from_the_address_the_client_sent_to() {
    if !mimm_requires::root("answers_leave_from_the_address_the_client_sent_to") {
        return;
    }
    let ns = namespaces("f");
    let server = start_server(&ns.0[1], "f");
    let entered = netns::enter(&ns.0[0]).unwrap();
    // Sent to the far address: the kernel's route back to the client
    // would pick 192.0.2.1. `register` and `receive` check each source.
    let mut node = register(client_socket(), ANCHOR_FAR);
    let home = node.home;
    node.seal_and_send(&echo(home, ANCHOR, 1, None));
    let answer = node.receive().expect("the keepalive's answer");
    assert!(keepalive::answered(&answer, home, ANCHOR).is_some());
    // Downlink goes from the address the registration came to.
    ping_inet(&mut node, 2, "through the far address");
    drop(entered);
    server.stop();
}
