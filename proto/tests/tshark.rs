//! Golden packets: registrations this crate emits, written to a pcap (UDP
//! port 434) and decoded by tshark, the outside judge. Every field tshark
//! reports must be what was encoded, and it must find nothing malformed.

use std::net::Ipv4Addr;
use std::process::Command;

use mimm_proto::auth::Algorithm;
use mimm_proto::ext::{TUNNEL_F, TUNNEL_REPLY_F};
use mimm_proto::message::Builder;
use mimm_proto::mimm::{
    HandoffAdvice, IfaceReport, Message, ReactiveAdvice, Report, RequestHandoff, Session, Verdict,
};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader, code};
use mimm_proto::{DOC_ENTERPRISE, replay};
use mimm_vsd::wire::checksum;

/// Ethernet + IPv4 + UDP (source port 434 or ephemeral, destination 434 or
/// back) around `payload`.
fn frame(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    f.extend_from_slice(payload);
    f
}

fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    // pcap global header: magic, version 2.4, zone, sigfigs, snaplen, link type.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_800_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

const CLIENT: Ipv4Addr = Ipv4Addr::new(100, 64, 0, 7);
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

fn golden() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let id = replay::identification(std::time::Duration::from_secs(1_800_000_000));
    let request = Header::Request(RequestHeader {
        flags: Flags(Flags::S | Flags::T),
        lifetime: 1800,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: SERVER,
        care_of: CLIENT,
        identification: id,
    });
    let reply = |code| {
        Header::Reply(ReplyHeader {
            code,
            lifetime: 1800,
            home_address: "10.1.0.2".parse().unwrap(),
            home_agent: SERVER,
            identification: id,
        })
    };
    let mut payloads = Vec::new();
    let mut buf = [0u8; 1500];
    let mut b = Builder::new(&mut buf, &request, DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::Report(Report {
        sequence: 42,
        sessions: [Session {
            kind: 1,
            realtime: true,
            kbps: 64,
        }]
        .into_iter()
        .collect(),
    }))
    .unwrap()
    .mimm(&Message::IfaceReport(IfaceReport {
        name: "wwan",
        kind: 4,
        network: "26201",
        metric_x100: -10450,
        rate_kbps: 12000,
        load_pct: 35,
        attached: true,
        primary: true,
    }))
    .unwrap()
    .mimm(&Message::RequestHandoff(RequestHandoff {
        target_network: "wifi:depot",
        target_iface: "wwlan",
        care_of: CLIENT,
    }))
    .unwrap()
    .udp_tunnel_request(TUNNEL_F, 4)
    .unwrap();
    payloads.push(
        b.sign(1000, Algorithm::HmacSha256, b"k1k1k1k1k1k1k1k1")
            .unwrap()
            .to_vec(),
    );

    let mut buf = [0u8; 1500];
    let mut b = Builder::new(&mut buf, &reply(code::ACCEPTED), DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::HandoffAdvice(HandoffAdvice {
        verdict: Verdict::Deny,
        reason: "target network full",
        alternative: Some("26202"),
        binding_done: false,
    }))
    .unwrap()
    .udp_tunnel_reply(0, TUNNEL_REPLY_F, 110)
    .unwrap();
    payloads.push(
        b.sign(1001, Algorithm::HmacMd5, b"k2k2k2k2k2k2k2k2")
            .unwrap()
            .to_vec(),
    );

    let mut buf = [0u8; 1500];
    let mut b = Builder::new(&mut buf, &request, DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::ReactiveAdvice(ReactiveAdvice {
        id: 7,
        network: "26201",
        reason: "linkDown on cell 4711",
        expiry_s: 300,
        alternative: None,
    }))
    .unwrap();
    payloads.push(
        b.sign(1000, Algorithm::HmacSha256, b"k1k1k1k1k1k1k1k1")
            .unwrap()
            .to_vec(),
    );

    let mut buf = [0u8; 1500];
    let mut b = Builder::new(&mut buf, &reply(code::ACCEPTED), DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::Ack { id: 7 }).unwrap();
    payloads.push(
        b.sign(1000, Algorithm::HmacSha256, b"k1k1k1k1k1k1k1k1")
            .unwrap()
            .to_vec(),
    );

    let frames = vec![
        frame(CLIENT, SERVER, 40000, 434, &payloads[0]),
        frame(SERVER, CLIENT, 434, 40000, &payloads[1]),
        frame(SERVER, CLIENT, 434, 434, &payloads[2]),
        frame(CLIENT, SERVER, 434, 434, &payloads[3]),
    ];
    (frames, payloads)
}

fn tshark(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark").args(args).output().ok()?;
    assert!(out.status.success(), "tshark {args:?}: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn tshark_decodes_the_golden_packets_as_encoded() {
    if !mimm_requires::tool(
        "tshark_decodes_the_golden_packets_as_encoded",
        "tshark",
        "tshark",
    ) {
        return;
    }
    let (frames, payloads) = golden();
    let dir = std::env::temp_dir().join(format!("mimm-proto-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("golden.pcap");
    std::fs::write(&file, pcap(&frames)).unwrap();
    let f = file.to_str().unwrap();

    let verbose = tshark(&["-r", f, "-V", "-O", "mip"]).unwrap();
    assert!(!verbose.contains("Malformed"), "{verbose}");
    assert!(verbose.matches("Mobile IP").count() >= 4, "{verbose}");
    // The identification is an NTP timestamp: 1 800 000 000 s after 1970.
    assert!(
        verbose.contains("Identification: Jan 15, 2027 08:00:00.000000000 UTC"),
        "{verbose}"
    );

    let fields = [
        "mip.type",
        "mip.code",
        "mip.life",
        "mip.homeaddr",
        "mip.haaddr",
        "mip.coa",
        "mip.s",
        "mip.t",
        "mip.ext.type",
        "mip.ext.nvse.vendor_id",
        "mip.ext.nvse.vendor_type",
        "mip.ext.cvse.vendor_id",
        "mip.ext.cvse.vendor_type",
        "mip.ext.utrq.f",
        "mip.ext.utrq.encaptype",
        "mip.ext.utrp.f",
        "mip.ext.utrp.keepalive",
        "mip.auth.spi",
        "mip.auth.auth",
    ];
    let mut args = vec!["-r", f, "-T", "fields", "-E", "separator=|"];
    for field in &fields {
        args.extend(["-e", field]);
    }
    let table = tshark(&args).unwrap();
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 4, "{table}");
    let get = |row: usize, name: &str| rows[row][fields.iter().position(|f| *f == name).unwrap()];
    // tshark prints some numbers in hex (0x0004), others in decimal.
    let num = |row: usize, name: &str| -> Vec<u64> {
        get(row, name)
            .split(',')
            .map(|v| match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
                None => v.parse().unwrap(),
            })
            .collect()
    };

    // 1: the client's request: report, interface, handoff request, UDP tunnel, SHA-256.
    assert_eq!(num(0, "mip.type"), [1]);
    assert_eq!(num(0, "mip.life"), [1800]);
    assert_eq!(get(0, "mip.homeaddr"), "10.1.0.2");
    assert_eq!(get(0, "mip.haaddr"), "192.0.2.10");
    assert_eq!(get(0, "mip.coa"), "100.64.0.7");
    assert!(matches!(get(0, "mip.s"), "1" | "True"), "{table}");
    assert!(matches!(get(0, "mip.t"), "1" | "True"), "{table}");
    assert_eq!(num(0, "mip.ext.type"), [134, 134, 134, 144, 32]);
    assert_eq!(num(0, "mip.ext.nvse.vendor_id"), [32473; 3]);
    assert_eq!(num(0, "mip.ext.nvse.vendor_type"), [1, 2, 3]);
    assert!(matches!(get(0, "mip.ext.utrq.f"), "1" | "True"), "{table}");
    assert_eq!(num(0, "mip.ext.utrq.encaptype"), [4]);
    assert_eq!(num(0, "mip.auth.spi"), [1000]);
    let auth0 = &payloads[0][payloads[0].len() - 32..];
    let hex: String = auth0.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(get(0, "mip.auth.auth").replace(':', ""), hex);

    // 2: the server's reply: handoff advice (critical), UDP tunnel reply, MD5.
    assert_eq!(num(1, "mip.type"), [3]);
    assert_eq!(num(1, "mip.code"), [0]);
    assert_eq!(num(1, "mip.ext.type"), [38, 44, 32]);
    assert_eq!(num(1, "mip.ext.cvse.vendor_id"), [32473]);
    assert_eq!(num(1, "mip.ext.cvse.vendor_type"), [4]);
    assert!(matches!(get(1, "mip.ext.utrp.f"), "1" | "True"), "{table}");
    assert_eq!(num(1, "mip.ext.utrp.keepalive"), [110]);
    assert_eq!(num(1, "mip.auth.spi"), [1001]);
    let auth1 = &payloads[1][payloads[1].len() - 16..];
    let hex: String = auth1.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(get(1, "mip.auth.auth").replace(':', ""), hex);

    // 3 and 4: reactive advice pushed (critical) and its ack.
    assert_eq!(num(2, "mip.ext.type"), [38, 32]);
    assert_eq!(num(2, "mip.ext.cvse.vendor_type"), [5]);
    assert_eq!(num(3, "mip.ext.type"), [134, 32]);
    assert_eq!(num(3, "mip.ext.nvse.vendor_type"), [6]);
    if std::env::var_os("MIMM_KEEP_GOLDEN").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("golden packets kept in {f}");
    }
}
