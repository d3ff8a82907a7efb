//! The anchored mode's packets as tshark, the outside judge, decodes them:
//! a Registration Request with a UDP Tunnel Request as the router's
//! registrar sends it, the anchor's reply with a UDP Tunnel Reply from the
//! real server core, and tunnel data (RFC 3519 type 4) both ways, sealed
//! (next header 253), from the real tunnel code. Written to a pcap on UDP
//! 434; tshark must name each part and show the values encoded.
//!
//! What tshark 4.0 makes of tunnel data: "NAT Traversal Tunnel Data (4)",
//! next header "Unknown (253)", and then it hands the rest to its IPv4
//! dissector whatever the next header says. A sealed packet's sequence
//! number is no IPv4 header ("Bogus IP version (0)", an expert note, not
//! "Malformed"), so nothing of the inner packet shows; the same packet in
//! clear (next header 4, `cipher none`, not built) decodes to its inner
//! IPv4 and ICMP.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::Command;

use mimm_proto::DOC_ENTERPRISE;
use mimm_proto::auth::Algorithm;
use mimm_proto::replay::{self, Now};
use mimm_server::anchor::AnchorConfig;
use mimm_server::core::{ClientKey, Server, ServerConfig};
use mimm_tunnel::keepalive::{self, ECHO_LEN, Keepalive, checksum};
use mimm_tunnel::keys::derive;
use mimm_tunnel::packet::{CLEAR_HEADER, Packet, SEALED_HEADER, SEALED_OVERHEAD};
use mimm_tunnel::seal::Sealer;
use mimm_vsd::anchored::registrar::{Output, Registrar, RegistrarConfig};

const SPI: u32 = 1000;
const KEY: &[u8] = b"router-one-key-0";
const ROUTER: Ipv4Addr = Ipv4Addr::new(100, 64, 1, 7);
const ANCHOR_OUTER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const ANCHOR: Ipv4Addr = Ipv4Addr::new(10, 64, 0, 1);
const ROUTER_PORT: u16 = 40_000;

fn now() -> Now {
    Now {
        mono: 0,
        id: replay::identification(std::time::Duration::from_secs(1_800_000_000)),
    }
}

fn anchor() -> Server {
    Server::new(ServerConfig {
        clients: vec![ClientKey {
            name: "bus17".into(),
            spi: SPI,
            algorithm: Algorithm::HmacSha256,
            key: KEY.to_vec(),
        }],
        anchor: Some(AnchorConfig {
            address: ANCHOR,
            pool: (Ipv4Addr::new(10, 64, 0, 2), Ipv4Addr::new(10, 64, 0, 9)),
            fixed: Default::default(),
            max_lifetime_s: 600,
            cipher: mimm_tunnel::cipher::Cipher::default(),
        }),
        ..ServerConfig::default()
    })
}

/// The request the registrar sends for one member, its Identification.
fn request() -> (Vec<u8>, u64) {
    let mut r = Registrar::new(RegistrarConfig {
        home_agent: ANCHOR,
        home: Ipv4Addr::UNSPECIFIED,
        spi: SPI,
        algorithm: Algorithm::HmacSha256,
        key: KEY.to_vec(),
        vendor: DOC_ENTERPRISE,
        lifetime_s: 600,
        retransmit_ms: 500,
        cipher: mimm_tunnel::cipher::Cipher::default(),
    });
    r.set_care_of(0, Some(ROUTER), now());
    while let Some(out) = r.poll_output() {
        if let Output::Send { bytes, .. } = out {
            return (bytes, now().id);
        }
    }
    panic!("the registrar sent nothing");
}

/// The five datagrams: request, reply, a sealed keepalive up, a sealed
/// packet down (the anchor's own downlink path), and the keepalive in
/// clear (RFC 3519's plain tunnel data).
fn datagrams() -> Vec<(bool, Vec<u8>)> {
    let (request, identification) = request();
    let mut server = anchor();
    let from = SocketAddr::V4(SocketAddrV4::new(ROUTER, ROUTER_PORT));
    server.handle_datagram(now(), from, &request);
    let (_, reply) = server.poll_transmit().expect("the anchor's reply");
    let home = Ipv4Addr::new(10, 64, 0, 2);
    let keys = derive(KEY, identification, home, ROUTER);

    let mut inner = [0u8; ECHO_LEN];
    let k = Keepalive {
        path: 0,
        seq: 1,
        primary: true,
        duplicate: false,
    };
    keepalive::request(&mut inner, home, ANCHOR, k);
    let mut up = vec![0u8; ECHO_LEN + SEALED_OVERHEAD];
    let len = Sealer::new(&keys.uplink)
        .seal_into(&inner, &mut up)
        .unwrap();
    up.truncate(len);

    let mut down = vec![0u8; ECHO_LEN + SEALED_OVERHEAD];
    let mut echo = inner;
    echo[12..16].copy_from_slice(&Ipv4Addr::new(198, 51, 100, 2).octets());
    echo[16..20].copy_from_slice(&home.octets());
    down[SEALED_HEADER..][..ECHO_LEN].copy_from_slice(&echo);
    let sealed = server.anchor_mut().unwrap().downlink(&mut down, ECHO_LEN);
    down.truncate(sealed.expect("a binding to seal for").len);

    let mut clear = vec![0u8; CLEAR_HEADER + ECHO_LEN];
    Packet::new_unchecked(&mut clear[..]).set_clear_header(0);
    clear[CLEAR_HEADER..].copy_from_slice(&inner);
    vec![
        (true, request),
        (false, reply.to_vec()),
        (true, up),
        (false, down),
        (true, clear),
    ]
}

/// Ethernet, IPv4 and UDP around `payload`, router to anchor when `up`.
fn frame(up: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if up {
        (ROUTER, ANCHOR_OUTER, ROUTER_PORT, 434)
    } else {
        (ANCHOR_OUTER, ROUTER, 434, ROUTER_PORT)
    };
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    for half in [sport, dport, (8 + payload.len()) as u16, 0] {
        f.extend_from_slice(&half.to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// A classic pcap file (microsecond, Ethernet) of `frames`, a second apart.
fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (second, f) in (1_800_000_000u32..).zip(frames) {
        let len = f.len() as u32;
        for word in [second, 0, len, len] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    out
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark").args(args).output().unwrap();
    assert!(out.status.success(), "tshark {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The golden file, removed when dropped (kept with MIMM_KEEP_GOLDEN).
struct Golden(std::path::PathBuf);

impl Drop for Golden {
    fn drop(&mut self) {
        if std::env::var_os("MIMM_KEEP_GOLDEN").is_none() {
            let _ = std::fs::remove_file(&self.0);
        } else {
            eprintln!("golden packets kept in {}", self.0.display());
        }
    }
}

const FIELDS: [&str; 14] = [
    "mip.type",
    "mip.code",
    "mip.homeaddr",
    "mip.ext.type",
    "mip.ext.utrq.f",
    "mip.ext.utrq.r",
    "mip.ext.utrq.encaptype",
    "mip.ext.utrp.code",
    "mip.ext.utrp.f",
    "mip.ext.utrp.keepalive",
    "mip.nattt.nexthdr",
    "mip.nattt.reserved",
    "ip.src",
    "icmp.type",
];

/// Field `name` of each row, comma-separated values as tshark prints them.
fn column<'a>(rows: &[Vec<&'a str>], name: &str) -> Vec<&'a str> {
    let at = FIELDS.iter().position(|f| *f == name).unwrap();
    rows.iter()
        .map(|r| r.get(at).copied().unwrap_or(""))
        .collect()
}

#[test]
fn tshark_decodes_the_anchored_registrations_and_tunnel_data_as_mobile_ip() {
    let name = "tshark_decodes_the_anchored_registrations_and_tunnel_data_as_mobile_ip";
    if !mimm_requires::tool(name, "tshark", "tshark") {
        return;
    }
    let frames: Vec<Vec<u8>> = datagrams().iter().map(|(up, d)| frame(*up, d)).collect();
    let file =
        std::env::temp_dir().join(format!("mimm-anchored-golden-{}.pcap", std::process::id()));
    let golden = Golden(file);
    std::fs::write(&golden.0, pcap(&frames)).unwrap();
    let f = golden.0.to_str().unwrap();

    let verbose = tshark(&["-r", f, "-V", "-O", "mip"]);
    assert!(!verbose.contains("Malformed"), "{verbose}");
    for named in [
        "Registration Request",
        "Registration Reply",
        "UDP Tunnel Request Extension",
        "UDP Tunnel Reply Extension",
        "Message Type: NAT Traversal Tunnel Data (4)",
        "NATTT NextHeader: Unknown (253)",
    ] {
        assert!(verbose.contains(named), "{named}:\n{verbose}");
    }

    let mut args = vec!["-r", f, "-T", "fields", "-E", "separator=|"];
    for field in FIELDS {
        args.extend(["-e", field]);
    }
    let table = tshark(&args);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 5, "{table}");
    let at = |name: &str, row: usize| column(&rows, name)[row];
    let yes = |v: &str| matches!(v, "1" | "True");
    let no = |v: &str| matches!(v, "0" | "False");
    // The request: type 1, a UDP Tunnel Request (144) not forced, not via
    // a foreign agent, encapsulation 253 (the sealed tunnel's next header:
    // the cipher; 4, IPv4 in UDP, for cipher none), then the MN-HA
    // authenticator (32).
    assert_eq!(at("mip.type", 0), "1", "{table}");
    assert_eq!(at("mip.ext.type", 0), "144,32", "{table}");
    assert!(
        no(at("mip.ext.utrq.f", 0)) && no(at("mip.ext.utrq.r", 0)),
        "{table}"
    );
    assert_eq!(at("mip.ext.utrq.encaptype", 0), "253", "{table}");
    // The anchor's reply: type 3, accepted, the home address from the
    // pool, a UDP Tunnel Reply (44) accepted (code 0) with keepalive 20 s.
    assert_eq!(at("mip.type", 1), "3", "{table}");
    assert_eq!(at("mip.code", 1), "0", "{table}");
    assert_eq!(at("mip.homeaddr", 1), "10.64.0.2", "{table}");
    assert!(at("mip.ext.type", 1).starts_with("44,"), "{table}");
    assert_eq!(at("mip.ext.utrp.code", 1), "0", "{table}");
    assert!(yes(at("mip.ext.utrp.f", 1)), "{table}");
    assert_eq!(at("mip.ext.utrp.keepalive", 1), "20", "{table}");
    // Tunnel data both ways: type 4, next header 253 (sealed), the
    // reserved field zero (no duplicate flag on these), and nothing of the
    // inner packet (only the outer source).
    for (row, outer) in [(2, "100.64.1.7"), (3, "192.0.2.10")] {
        assert_eq!(at("mip.type", row), "4", "{table}");
        assert_eq!(at("mip.nattt.nexthdr", row), "253", "{table}");
        assert!(
            matches!(at("mip.nattt.reserved", row), "0" | "0x0000"),
            "{table}"
        );
        assert_eq!(at("ip.src", row), outer, "{table}");
        assert_eq!(at("icmp.type", row), "", "{table}");
    }
    // In clear (next header 4): the inner keepalive, from the home address.
    assert_eq!(at("mip.type", 4), "4", "{table}");
    assert_eq!(at("mip.nattt.nexthdr", 4), "4", "{table}");
    assert_eq!(at("ip.src", 4), "100.64.1.7,10.64.0.2", "{table}");
    assert_eq!(at("icmp.type", 4), "8", "{table}");
}
