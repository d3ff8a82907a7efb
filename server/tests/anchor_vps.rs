//! The Debian setup of `dist/debian` with real kernel parts: mimm-server
//! runs as nobody with only the two capabilities the systemd unit gives it
//! (CAP_NET_ADMIN for the TUN, its address and routes; CAP_NET_BIND_SERVICE
//! for port 434), and the anchor host NATs the pool with the nftables file
//! install-anchor loads, to a network that has no route back to the pool.
//! A client registers and pings inet through the anchor and gets the reply.
//!
//! /dev/net/tun is 0666 on Debian but may be 0600 in a container: the
//! server gets a 0666 node of the same device bound over it in a private
//! mount namespace of its own, as on a Debian host.

mod anchor_net;

use std::path::PathBuf;
use std::process::Command;

use anchor_net::*;

const NOBODY: &str = "65534";
/// CAP_NET_BIND_SERVICE (10) and CAP_NET_ADMIN (12).
const TWO_CAPS: u64 = (1 << 10) | (1 << 12);

/// A directory of this test's files (the TUN node, the nft file), removed
/// on every way out.
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// dist/debian/mimm-anchor.nft as install-anchor writes it, with `wan`.
fn nft_file(dir: &Dir, wan: &str) -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist/debian/mimm-anchor.nft");
    let rules = std::fs::read_to_string(dist).unwrap();
    let line = rules
        .lines()
        .find(|l| l.starts_with("define MIMM_WAN = "))
        .expect("a MIMM_WAN definition");
    let file = dir.0.join("anchor.nft");
    let ours = rules.replace(line, &format!("define MIMM_WAN = \"{wan}\""));
    std::fs::write(&file, ours).unwrap();
    file
}

/// mimm-server in `ns` as nobody with the unit's two ambient capabilities.
fn start_unprivileged(ns: &str, dir: &Dir) -> Server {
    write_config("v", "mas0");
    let file = config_file("v");
    let node = dir.0.join("tun");
    // unshare, sh, ip netns exec and setpriv each exec the next.
    let script = "mknod \"$1\" c 10 200 && chmod 0666 \"$1\" && mount --bind \"$1\" /dev/net/tun \
                  && exec ip netns exec \"$2\" setpriv --reuid=\"$3\" --regid=\"$3\" --clear-groups \
                  --inh-caps=+net_admin,+net_bind_service --ambient-caps=+net_admin,+net_bind_service \
                  \"$4\" run -c \"$5\"";
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&node)
        .args([ns, NOBODY, env!("CARGO_BIN_EXE_mimm-server")])
        .arg(&file);
    Server::spawn(command, file)
}

/// A field of /proc/PID/status.
fn status(pid: u32, field: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn the_debian_setup_runs_as_nobody_and_nats_the_pool() {
    let name = "the_debian_setup_runs_as_nobody_and_nats_the_pool";
    if !mimm_requires::root(name)
        || !mimm_requires::tool(name, "nft", "nftables")
        || !mimm_requires::tool(name, "setpriv", "util-linux")
    {
        return;
    }
    let ns = unrouted_namespaces("v");
    let dir = Dir(std::env::temp_dir().join(format!("mimm-anchor-vps-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let nft = nft_file(&dir, "a1");
    let loaded = Command::new("ip")
        .args(["netns", "exec", &ns.0[1], "nft", "-f"])
        .arg(&nft)
        .status()
        .unwrap();
    assert!(loaded.success(), "nft -f {}", nft.display());
    let server = start_unprivileged(&ns.0[1], &dir);

    let entered = mimm_testbed::netns::enter(&ns.0[0]).unwrap();
    let mut node = register(client_socket(), ANCHOR_OUTER);
    // inet has no route to the pool: only the NAT brings the reply back.
    ping_inet(&mut node, 1, "through the NAT");
    drop(entered);

    let pid = server.pid();
    let uid = status(pid, "Uid:");
    assert!(uid.split_whitespace().all(|u| u == NOBODY), "Uid {uid}");
    let effective = u64::from_str_radix(&status(pid, "CapEff:"), 16).unwrap();
    assert_eq!(effective, TWO_CAPS, "CapEff {effective:x}");
    let log = server.stop();
    assert!(log.contains("anchor: mas0 up"), "{log}");
}
