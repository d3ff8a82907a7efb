//! What the anchor's root tests share: the namespaces (client, anchor,
//! inet), mimm-server in the anchor one, and the mobile node this test
//! process plays in the client one.
//!
//! ```text
//! client c0 192.0.2.2 --- 192.0.2.1 a0 [anchor: mimm-server, TUN 10.64.0.1] a1 198.51.100.1 --- 198.51.100.2 i0 inet
//! ```

// Each test file uses a part of this.
#![allow(dead_code)]
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::registration::{Flags, Header, RequestHeader, code};
use mimm_proto::{DOC_ENTERPRISE, replay};
use mimm_testbed::netns;
use mimm_tunnel::keepalive::{self, ECHO_LEN, Keepalive};
use mimm_tunnel::keys::derive;
use mimm_tunnel::packet::SEALED_OVERHEAD;
use mimm_tunnel::seal::{Opener, Sealer};

pub const SPI: u32 = 1000;
pub const KEY_HEX: &str = "00112233445566778899aabbccddeeff";
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
pub const ANCHOR_OUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The anchor host's address on its other interface (towards inet).
pub const ANCHOR_FAR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const ANCHOR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);
pub const INET: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

pub fn key() -> Vec<u8> {
    mimm_proto::auth::key_from_hex(KEY_HEX).unwrap()
}

/// The three namespaces, deleted on every way out (panics included).
pub struct Namespaces(pub Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = netns::delete(ns);
        }
    }
}

/// mimm-server and its configuration file, stopped and removed on every
/// way out; `stop` returns what it logged.
pub struct Server(Child, std::path::PathBuf);

impl Server {
    pub fn stop(mut self) -> String {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
        let mut log = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut log);
        }
        log
    }
}

impl Server {
    /// SIGHUP, and time to read the file again.
    pub fn reload(&self) {
        // SAFETY: as in `stop`.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGHUP) };
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

/// The namespaces of the test `tag`.
pub fn namespaces(tag: &str) -> Namespaces {
    let ns = unrouted_namespaces(tag);
    netns::ip_batch(
        &ns.0[2],
        &["route add 10.64.0.0/24 via 198.51.100.1".into()],
    )
    .unwrap();
    ns
}

/// The namespaces of test `tag`, inet without a route to the pool (the
/// anchor host must NAT it).
pub fn unrouted_namespaces(tag: &str) -> Namespaces {
    let pid = std::process::id();
    let [client, anchor, inet] = ["c", "a", "i"].map(|n| format!("mimm-as{n}{tag}-{pid}"));
    let guard = Namespaces(vec![client.clone(), anchor.clone(), inet.clone()]);
    for ns in &guard.0 {
        netns::add(ns).unwrap();
    }
    netns::ip_batch(
        &anchor,
        &[
            format!("link add a0 type veth peer name c0 netns {client}"),
            format!("link add a1 type veth peer name i0 netns {inet}"),
            "addr add 192.0.2.1/24 dev a0".into(),
            "addr add 198.51.100.1/24 dev a1".into(),
            "link set a0 up".into(),
            "link set a1 up".into(),
        ],
    )
    .unwrap();
    netns::ip_batch(
        &client,
        &[
            "addr add 192.0.2.2/24 dev c0".into(),
            "link set c0 up".into(),
            "route add 198.51.100.0/24 via 192.0.2.1".into(),
        ],
    )
    .unwrap();
    netns::ip_batch(
        &inet,
        &[
            "addr add 198.51.100.2/24 dev i0".into(),
            "link set i0 up".into(),
        ],
    )
    .unwrap();
    let _in = netns::enter(&anchor).unwrap();
    netns::sysctl("net/ipv4/ip_forward", "1").unwrap();
    guard
}

pub fn config_file(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("mimm-anchor-shell-{tag}-{}", std::process::id()))
}

/// The server's configuration for test `tag`, with the anchor on TUN `tun`.
pub fn write_config(tag: &str, tun: &str) {
    std::fs::write(
        config_file(tag),
        format!(
            "config server 'server'\n\toption port '434'\n\
             config client 'bus17'\n\toption spi '{SPI}'\n\toption key '{KEY_HEX}'\n\
             config anchor 'anchor'\n\toption address '{ANCHOR}'\n\
             \toption pool '10.64.0.2-10.64.0.254'\n\toption tun '{tun}'\n"
        ),
    )
    .unwrap();
}

pub fn start_server(anchor_ns: &str, tag: &str) -> Server {
    write_config(tag, "mas0");
    let file = config_file(tag);
    let mut command = Command::new("ip");
    command
        .args([
            "netns",
            "exec",
            anchor_ns,
            env!("CARGO_BIN_EXE_mimm-server"),
        ])
        .args(["run", "-c"])
        .arg(&file);
    Server::spawn(command, file)
}

impl Server {
    /// `command` (which must end up being mimm-server, by exec, for the
    /// signals to reach it) with its configuration `file`.
    pub fn spawn(mut command: Command, file: std::path::PathBuf) -> Server {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Server(child, file)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// The mobile node's end: its socket, the anchor's address and port it
/// sends to (every answer must come from there), home address and tunnel
/// keys.
pub struct Node {
    socket: UdpSocket,
    anchor: SocketAddr,
    pub home: Ipv4Addr,
    up: Sealer,
    down: Opener,
}

/// Registers with the anchor at `outer` (retrying while the server
/// starts) and derives the keys.
pub fn register(socket: UdpSocket, outer: Ipv4Addr) -> Node {
    let anchor = SocketAddr::from((outer, 434));
    let mut buf = [0u8; 1500];
    for _ in 0..50 {
        let identification = replay::wall_identification();
        let header = Header::Request(RequestHeader {
            flags: Flags(Flags::S | Flags::D | Flags::T),
            lifetime: 300,
            home_address: Ipv4Addr::UNSPECIFIED,
            home_agent: ANCHOR,
            care_of: CLIENT,
            identification,
        });
        let mut out = [0u8; 1500];
        let mut b = Builder::new(&mut out, &header, DOC_ENTERPRISE).unwrap();
        b.udp_tunnel_request(
            0,
            mimm_tunnel::cipher::Cipher::ChaCha20Poly1305.encapsulation(),
        )
        .unwrap();
        let request = b.sign(SPI, Algorithm::HmacSha256, &key()).unwrap();
        socket.send_to(request, anchor).unwrap();
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        assert_eq!(from, anchor, "the registration reply's source");
        let keys = OneKey {
            spi: SPI,
            algorithm: Algorithm::HmacSha256,
            key: &key(),
        };
        let reply = message::parse(&buf[..n], DOC_ENTERPRISE, &keys).expect("a signed reply");
        let Header::Reply(h) = reply.header else {
            panic!("not a reply")
        };
        assert_eq!(h.code, code::ACCEPTED);
        let keys = derive(&key(), identification, h.home_address, CLIENT);
        return Node {
            socket,
            anchor,
            home: h.home_address,
            up: Sealer::new(&keys.uplink),
            down: Opener::new(&keys.downlink),
        };
    }
    panic!("no registration reply from the anchor");
}

impl Node {
    /// `inner` sealed for the anchor, as it goes on the wire.
    pub fn seal(&mut self, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; inner.len() + SEALED_OVERHEAD];
        let len = self.up.seal_into(inner, &mut out).unwrap();
        out.truncate(len);
        out
    }

    pub fn seal_and_send(&mut self, inner: &[u8]) {
        let sealed = self.seal(inner);
        self.send(&sealed);
    }

    pub fn send(&self, sealed: &[u8]) {
        self.socket.send_to(sealed, self.anchor).unwrap();
    }

    /// The next tunnel packet from the anchor (from the address it was
    /// sent to), opened; `None` when none comes within the socket's timeout.
    pub fn receive(&mut self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        let (n, from) = self.socket.recv_from(&mut buf).ok()?;
        assert_eq!(from, self.anchor, "a tunnel packet's source");
        Some(self.down.open(&mut buf[..n]).expect("opens").to_vec())
    }
}

/// An ICMP echo request from `from` to `to` (the keepalive's form; with
/// another identifier when `ident` is given).
pub fn echo(from: Ipv4Addr, to: Ipv4Addr, seq: u16, ident: Option<u16>) -> [u8; ECHO_LEN] {
    let mut p = [0u8; ECHO_LEN];
    let k = Keepalive {
        path: 0,
        seq,
        primary: true,
        duplicate: false,
    };
    keepalive::request(&mut p, from, to, k);
    if let Some(id) = ident {
        p[24..26].copy_from_slice(&id.to_be_bytes());
        p[22..24].fill(0);
        let sum = keepalive::checksum(&p[20..]);
        p[22..24].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// A ping through the anchor to inet, answered (`when`: for the message).
pub fn ping_inet(node: &mut Node, seq: u16, when: &str) {
    let home = node.home;
    node.seal_and_send(&echo(home, INET, seq, None));
    let reply = node
        .receive()
        .unwrap_or_else(|| panic!("no echo reply {when}"));
    assert!(is_reply(&reply, INET, home, seq), "{when}: {reply:?}");
}

/// An echo reply from `from` to `to` with sequence `seq`.
pub fn is_reply(p: &[u8], from: Ipv4Addr, to: Ipv4Addr, seq: u16) -> bool {
    p.len() >= 28
        && p[9] == 1
        && p[12..16] == from.octets()
        && p[16..20] == to.octets()
        && p[20] == 0
        && p[26..28] == seq.to_be_bytes()
        && keepalive::checksum(&p[20..]) == 0
}

pub fn client_socket() -> UdpSocket {
    let socket = UdpSocket::bind((CLIENT, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    socket
}
