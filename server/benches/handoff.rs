//! Request Handoff over loopback: 10 000 clients (each its own SPI and
//! key) registered with a report, then asking to move, 64 requests in
//! flight; prints throughput, latency p50/p99 and the server's peak RSS.
//! `cargo bench -p mimm-server --bench handoff` (release build of the server).

use std::collections::HashMap;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mimm_proto::auth::Algorithm;
use mimm_proto::message::Builder;
use mimm_proto::mimm::{IfaceReport, Message, Report, RequestHandoff};
use mimm_proto::registration::{Flags, Header, RequestHeader};
use mimm_proto::{DOC_ENTERPRISE, replay};

const CLIENTS: u32 = 10_000;
const REQUESTS: usize = 100_000;
const IN_FLIGHT: usize = 64;

fn key(spi: u32) -> Vec<u8> {
    format!("{spi:032x}").into_bytes()[..16].to_vec()
}

fn request(spi: u32, report: bool) -> (u64, Vec<u8>) {
    let id = replay::identification(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
    let header = Header::Request(RequestHeader {
        flags: Flags(0),
        lifetime: 600,
        home_address: std::net::Ipv4Addr::from(0x0a00_0000 + spi),
        home_agent: "127.0.0.1".parse().unwrap(),
        care_of: "127.0.0.1".parse().unwrap(),
        identification: id,
    });
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
    if report {
        b.mimm(&Message::Report(Report {
            sequence: 1,
            sessions: heapless::Vec::new(),
        }))
        .unwrap();
        for (network, primary) in [("A", true), ("B", false)] {
            b.mimm(&Message::IfaceReport(IfaceReport {
                name: network,
                kind: 4,
                network,
                metric_x100: -9000,
                rate_kbps: 10_000,
                load_pct: 10,
                attached: true,
                primary,
            }))
            .unwrap();
        }
    } else {
        b.mimm(&Message::RequestHandoff(RequestHandoff {
            target_network: "B",
            target_iface: "wwan1",
            care_of: "127.0.0.1".parse().unwrap(),
        }))
        .unwrap();
    }
    let k = key(spi);
    (id, b.sign(spi, Algorithm::HmacSha256, &k).unwrap().to_vec())
}

fn main() {
    let dir = std::env::temp_dir().join(format!("mimm-server-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = format!(
        "config server 'server'\n\toption address '127.0.0.1'\n\toption port '{port}'\n\toption window_s '60'\n\
         config network 'A'\n\toption capacity_kbps '100000'\nconfig network 'B'\n\toption capacity_kbps '100000'\n"
    );
    for spi in 1000..1000 + CLIENTS {
        let hex: String = key(spi).iter().map(|b| format!("{b:02x}")).collect();
        cfg.push_str(&format!(
            "config client 'c{spi}'\n\toption spi '{spi}'\n\toption key '{hex}'\n"
        ));
    }
    let file = dir.join("mimm-server");
    std::fs::write(&file, cfg).unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_mimm-server"))
        .args(["run", "-c"])
        .arg(&file)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 2048];
    // Wait for the server, then register every client with a report.
    let start = Instant::now();
    loop {
        socket.send(&request(1000, true).1).unwrap();
        if socket.recv(&mut buf).is_ok() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no server");
    }
    let mut run = |first_report: bool, count: usize| -> (Duration, Vec<Duration>) {
        let mut sent: HashMap<u64, Instant> = HashMap::new();
        let mut latencies = Vec::with_capacity(count);
        let (mut next, mut lost) = (0usize, 0usize);
        let started = Instant::now();
        while latencies.len() + lost < count {
            while sent.len() < IN_FLIGHT && next < count {
                let spi = 1000 + (next as u32 % CLIENTS);
                let (id, bytes) = request(spi, first_report);
                sent.insert(id, Instant::now());
                socket.send(&bytes).unwrap();
                next += 1;
            }
            match socket.recv(&mut buf) {
                Ok(n) => {
                    if let Ok((h, _)) = Header::parse(&buf[..n]) {
                        if let Some(at) = sent.remove(&h.identification()) {
                            latencies.push(at.elapsed());
                        }
                    }
                }
                Err(_) => {
                    lost += sent.len();
                    sent.clear();
                }
            }
        }
        (started.elapsed(), latencies)
    };
    let (took, _) = run(true, CLIENTS as usize);
    println!("registered {CLIENTS} clients (report each) in {took:?}");
    let (took, mut lat) = run(false, REQUESTS);
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let rss = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        .unwrap_or_default();
    println!(
        "Request Handoff: {} answered of {REQUESTS} in {took:.2?}: {:.0} msg/s, latency p50 {:?} p99 {:?}, {IN_FLIGHT} in flight; server peak RSS {} KiB",
        lat.len(),
        lat.len() as f64 / took.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        rss
    );
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
