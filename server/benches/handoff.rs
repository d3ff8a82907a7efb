//! Request Handoff over loopback: 10 000 clients (each its own SPI and
//! key) registered with a report, then asking to move, 64 requests in
//! flight; prints throughput, latency p50/p99 and the server's peak RSS.
//! `cargo bench -p mimm-server --bench handoff` (release build of the server).
//!
//! Only a correct answer counts: an accepted reply (code 0 or 1),
//! authenticated with that client's own key, echoing the request's
//! Identification, and, for a Request Handoff, carrying a Handoff Advice
//! with the verdict the scenario must produce ([`EXPECTED`]). Refusals (by
//! code), wrong verdicts, replies that fail authentication or do not parse,
//! stray replies and timeouts are counted apart and printed; the bench exits
//! non-zero when any of them is not zero, so it cannot rot silently.
//!
//! `MIMM_BENCH_SHORT=1`: 500 clients and 5 000 requests, a few seconds (CI).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::{IfaceReport, Message, Report, RequestHandoff, Verdict};
use mimm_proto::registration::{Flags, Header, RequestHeader, code};
use mimm_proto::{DOC_ENTERPRISE, Error, replay};

const FIRST_SPI: u32 = 1000;
/// Client `spi`'s home address is `HOME_BASE + spi`.
const HOME_BASE: u32 = 0x0a00_0000;
const IN_FLIGHT: usize = 64;
const ALGORITHM: Algorithm = Algorithm::HmacSha256;

/// The scenario: networks A and B with 100 Mbit/s of real-time capacity
/// each and no RTS feed; every client reports being on A (primary) with B
/// attached too, 10 Mbit/s measured on both, and no real-time sessions; then
/// asks to move to B. B is not alarmed, its load stays 0 (no client has
/// real-time sessions) within its usable 90 000 kbit/s, and the client's own
/// 0 kbit/s fit its B link: `admission::decide` allows every move.
const EXPECTED: Verdict = Verdict::Allow;

/// splitmix64's finaliser: a bijection on u64 (an added constant, xor-shifts
/// and multiplications by odd numbers are each invertible).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Client `spi`'s 256-bit key. Its first 8 bytes are `mix(spi)`, and `mix`
/// is a bijection, so no two SPIs share a key (main also checks).
fn key(spi: u32) -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, chunk) in k.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(((i as u64) << 32) | u64::from(spi)).to_be_bytes());
    }
    k
}

fn home_address(spi: u32) -> Ipv4Addr {
    Ipv4Addr::from(HOME_BASE + spi)
}

fn request(spi: u32, report: bool) -> (u64, Vec<u8>) {
    let id = replay::identification(SystemTime::now().duration_since(UNIX_EPOCH).unwrap());
    let header = Header::Request(RequestHeader {
        flags: Flags(0),
        lifetime: 600,
        home_address: home_address(spi),
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
    (id, b.sign(spi, ALGORITHM, &k).unwrap().to_vec())
}

/// What came back for the requests of one phase.
#[derive(Default)]
struct Tally {
    correct: usize,
    /// Reply code (not 0 or 1) and how many.
    refused: BTreeMap<u8, usize>,
    /// Accepted and authenticated, but not the answer the scenario needs
    /// (another verdict, no advice, advice to a report, identification not
    /// echoed).
    wrong: usize,
    /// Accepted, but not signed with the client's key.
    unauthenticated: usize,
    /// Not a registration reply that parses.
    unparseable: usize,
    /// Replies matching no request in flight (late after a timeout,
    /// duplicated, or a request from the server).
    stray: usize,
    timeouts: usize,
    /// The first few failures, for the reader.
    examples: Vec<String>,
    /// Latencies of the correct replies.
    latencies: Vec<Duration>,
}

impl Tally {
    fn failures(&self) -> usize {
        self.refused.values().sum::<usize>()
            + self.wrong
            + self.unauthenticated
            + self.unparseable
            + self.stray
            + self.timeouts
    }

    fn example(&mut self, what: String) {
        if self.examples.len() < 5 {
            self.examples.push(what);
        }
    }

    fn refused_text(&self) -> String {
        if self.refused.is_empty() {
            return "0".into();
        }
        let by_code: Vec<String> = self
            .refused
            .iter()
            .map(|(code, n)| format!("{n} code {code}"))
            .collect();
        format!(
            "{} ({})",
            self.refused.values().sum::<usize>(),
            by_code.join(", ")
        )
    }

    fn counts(&self) -> String {
        format!(
            "{} correct, refused {}, {} wrong, {} unauthenticated, {} unparseable, {} stray, {} timeouts",
            self.correct,
            self.refused_text(),
            self.wrong,
            self.unauthenticated,
            self.unparseable,
            self.stray,
            self.timeouts
        )
    }

    /// Judges one reply to client `spi`'s request `id` (a report when
    /// `report`).
    fn judge(&mut self, spi: u32, id: u64, report: bool, bytes: &[u8], latency: Duration) {
        let h = match Header::parse(bytes) {
            Ok((Header::Reply(h), _)) => h,
            Ok((Header::Request(_), _)) => {
                self.stray += 1;
                return self.example(format!("spi {spi}: a request, not a reply"));
            }
            Err(e) => {
                self.unparseable += 1;
                return self.example(format!("spi {spi}: {e:?}"));
            }
        };
        if h.code != code::ACCEPTED && h.code != 1 {
            *self.refused.entry(h.code).or_default() += 1;
            return self.example(format!("spi {spi}: refused with code {}", h.code));
        }
        let k = key(spi);
        let keys = OneKey {
            spi,
            algorithm: ALGORITHM,
            key: &k,
        };
        let reg = match message::parse(bytes, DOC_ENTERPRISE, &keys) {
            Ok(reg) => reg,
            Err(e @ (Error::BadAuthenticator | Error::NoAuthentication | Error::UnknownSpi(_))) => {
                self.unauthenticated += 1;
                return self.example(format!("spi {spi}: {e:?}"));
            }
            Err(e) => {
                self.unparseable += 1;
                return self.example(format!("spi {spi}: {e:?}"));
            }
        };
        if h.identification != id {
            self.wrong += 1;
            return self.example(format!(
                "spi {spi}: identification {:#x}, asked {id:#x}",
                h.identification
            ));
        }
        let mut advice = Vec::new();
        for item in &reg.mimm {
            match item.message() {
                Ok(Message::HandoffAdvice(a)) => advice.push(a.verdict),
                Ok(_) => {}
                Err(e) => {
                    self.unparseable += 1;
                    return self.example(format!("spi {spi}: MIMM message: {e:?}"));
                }
            }
        }
        let expected: &[Verdict] = if report { &[] } else { &[EXPECTED] };
        if advice != expected {
            self.wrong += 1;
            return self.example(format!(
                "spi {spi}: advice {advice:?}, expected {expected:?}"
            ));
        }
        self.correct += 1;
        self.latencies.push(latency);
    }
}

/// A reply as it came, judged after the timed loop (so checking HMACs does
/// not slow the client down while it measures).
struct Received {
    spi: u32,
    id: u64,
    latency: Duration,
    bytes: Vec<u8>,
}

/// `count` requests (reports when `report`) round-robin over the clients,
/// `IN_FLIGHT` at a time. Replies are matched to requests by home address
/// and the low 32 bits of the Identification, which a code-133 refusal
/// keeps too.
fn phase(socket: &UdpSocket, clients: u32, report: bool, count: usize) -> (Duration, Tally) {
    let mut sent: HashMap<(Ipv4Addr, u32), (u32, u64, Instant)> = HashMap::new();
    let mut received = Vec::with_capacity(count);
    let mut tally = Tally::default();
    let mut buf = [0u8; 2048];
    let mut next = 0usize;
    let started = Instant::now();
    while received.len() + tally.timeouts < count {
        while sent.len() < IN_FLIGHT && next < count {
            let spi = FIRST_SPI + (next as u32 % clients);
            let (id, bytes) = request(spi, report);
            let previous = sent.insert((home_address(spi), id as u32), (spi, id, Instant::now()));
            assert!(previous.is_none(), "two requests of spi {spi} in flight");
            socket.send(&bytes).unwrap();
            next += 1;
        }
        match socket.recv(&mut buf) {
            Ok(n) => {
                let bytes = &buf[..n];
                let found = Header::parse(bytes)
                    .ok()
                    .and_then(|(h, _)| sent.remove(&(h.home_address(), h.identification() as u32)));
                match found {
                    Some((spi, id, at)) => received.push(Received {
                        spi,
                        id,
                        latency: at.elapsed(),
                        bytes: bytes.to_vec(),
                    }),
                    None => {
                        tally.stray += 1;
                        tally.example(format!("a stray datagram of {n} bytes"));
                    }
                }
            }
            Err(_) => {
                // Nothing for the read timeout: everything in flight is lost.
                tally.timeouts += sent.len();
                sent.clear();
            }
        }
    }
    let took = started.elapsed();
    for r in &received {
        tally.judge(r.spi, r.id, report, &r.bytes, r.latency);
    }
    (took, tally)
}

fn main() -> ExitCode {
    let short = std::env::var("MIMM_BENCH_SHORT").is_ok_and(|v| v == "1");
    let (clients, requests): (u32, usize) = if short {
        (500, 5_000)
    } else {
        (10_000, 100_000)
    };
    let distinct: HashSet<[u8; 32]> = (FIRST_SPI..FIRST_SPI + clients).map(key).collect();
    assert_eq!(distinct.len(), clients as usize, "two clients share a key");

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
    for spi in FIRST_SPI..FIRST_SPI + clients {
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
    // Wait for the server (a refused send or receive just means not yet),
    // then drain any second answer so the phases start clean.
    let mut buf = [0u8; 2048];
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    loop {
        let _ = socket.send(&request(FIRST_SPI, true).1);
        if socket.recv(&mut buf).is_ok() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no server");
        std::thread::sleep(Duration::from_millis(20));
    }
    while socket.recv(&mut buf).is_ok() {}
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();

    let (reg_took, reg) = phase(&socket, clients, true, clients as usize);
    println!(
        "registered {clients} clients (a report each) in {reg_took:.2?}: {}",
        reg.counts()
    );
    let (took, mut ho) = phase(&socket, clients, false, requests);
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", server.id()))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let alive = matches!(server.try_wait(), Ok(None));
    ho.latencies.sort();
    let pct = |p: f64| {
        let l = &ho.latencies;
        if l.is_empty() {
            Duration::ZERO
        } else {
            l[((l.len() as f64 * p) as usize).min(l.len() - 1)]
        }
    };
    let rate = ho.correct as f64 / took.as_secs_f64();
    println!(
        "Request Handoff: {requests} in {took:.2?}, expected verdict {EXPECTED:?}: {}",
        ho.counts()
    );
    for (what, t) in [("registration", &reg), ("Request Handoff", &ho)] {
        for e in &t.examples {
            println!("  {what}: {e}");
        }
    }
    let failures = reg.failures() + ho.failures();
    println!(
        "handoff bench: {mode}, {clients} clients, {requests} requests, {IN_FLIGHT} in flight: \
         {rate:.0} correct msg/s, latency p50 {:?} p99 {:?}, server peak RSS {rss_kib} KiB; \
         handoff {}; registration {}{}",
        pct(0.50),
        pct(0.99),
        ho.counts(),
        reg.counts(),
        if alive { "" } else { "; the server died" },
        mode = if short { "short" } else { "full" },
    );
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if failures > 0 || !alive {
        eprintln!("handoff bench: {failures} requests were not answered correctly");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
