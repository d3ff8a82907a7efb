//! The server binary on loopback: a client registers and is answered; real
//! SNMP traps from net-snmp's `snmptrap` (v2c and v1) with the wrong
//! community, a non-matching varbind and the matching one; the client on
//! the alarmed network gets Reactive Advice, again until it acks.

use std::io::Read as _;
use std::net::UdpSocket;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mimm_proto::auth::Algorithm;
use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::{IfaceReport, Message, Report};
use mimm_proto::registration::{Flags, Header, ReplyHeader, RequestHeader, code};
use mimm_proto::{DOC_ENTERPRISE, replay};

const KEY: &[u8] = b"0123456789abcdef";
const KEYS: OneKey = OneKey {
    spi: 1000,
    algorithm: Algorithm::HmacSha256,
    key: KEY,
};

struct ServerProcess(Child, std::path::PathBuf);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

impl ServerProcess {
    /// The server on `file` (logging into `dir`), and a client socket
    /// connected to it on `port`.
    fn start(
        dir: &std::path::Path,
        file: &std::path::Path,
        port: u16,
    ) -> (ServerProcess, UdpSocket) {
        let server = ServerProcess(
            Command::new(env!("CARGO_BIN_EXE_mimm-server"))
                .args(["run", "-c"])
                .arg(file)
                .stderr(std::fs::File::create(dir.join("log")).unwrap())
                .spawn()
                .unwrap(),
            dir.to_path_buf(),
        );
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(("127.0.0.1", port)).unwrap();
        (server, client)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.1.join("log")).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now_id() -> u64 {
    replay::identification(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
}

fn report_on_a() -> Vec<u8> {
    let header = Header::Request(RequestHeader {
        flags: Flags(0),
        lifetime: 600,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: "127.0.0.1".parse().unwrap(),
        care_of: "127.0.0.1".parse().unwrap(),
        identification: now_id(),
    });
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::Report(Report {
        sequence: 1,
        sessions: [mimm_proto::mimm::Session {
            kind: 1,
            realtime: true,
            kbps: 400,
        }]
        .into_iter()
        .collect(),
    }))
    .unwrap();
    for (network, primary) in [("A", true), ("B", false)] {
        b.mimm(&Message::IfaceReport(IfaceReport {
            name: network,
            kind: 4,
            network,
            metric_x100: 0,
            rate_kbps: 1000,
            load_pct: 0,
            attached: true,
            primary,
        }))
        .unwrap();
    }
    b.sign(1000, Algorithm::HmacSha256, KEY).unwrap().to_vec()
}

/// README's figure for a trap (snmptrap started) to Reactive Advice at the
/// client, asserted with the one margin all timing tests take.
const TRAP_TO_ADVICE_MS: f64 = 9.0;

/// Runs snmptrap; returns how long the tool took (its start-up is most of
/// it, and the host's load shows there).
fn snmptrap(args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new("snmptrap").args(args).output().unwrap();
    assert!(out.status.success(), "snmptrap {args:?}: {out:?}");
    started.elapsed()
}

/// Sends the report on network A until the server accepts it (code 0). A
/// first report may be refused, as a real client's
/// may: made before the server read its start time and read after it bound
/// its port, it is older than the server (code 133), and the client sends a
/// fresh one at once; before the bind nothing answers.
fn registered(client: &UdpSocket, server: &ServerProcess) {
    let start = Instant::now();
    loop {
        client.send(&report_on_a()).unwrap();
        if let Some(reply) = next(client, Duration::from_millis(200)) {
            let header = message::parse(&reply, DOC_ENTERPRISE, &KEYS)
                .unwrap()
                .header;
            match header {
                Header::Reply(ReplyHeader { code: 0, .. }) => return,
                Header::Reply(ReplyHeader { code: 133, .. }) => continue,
                other => panic!("{other:?}\n{}", server.log()),
            }
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{}", server.log());
    }
}

/// The next datagram within `limit`, if any.
fn next(socket: &UdpSocket, limit: Duration) -> Option<Vec<u8>> {
    socket.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 2048];
    socket.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

#[test]
fn traps_raise_reactive_advice_for_the_clients_on_the_network() {
    if !mimm_requires::tool(
        "traps_raise_reactive_advice_for_the_clients_on_the_network",
        "snmptrap",
        "snmp",
    ) {
        return;
    }
    let (port, snmp_port) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("mimm-server-udp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mimm-server");
    std::fs::write(
        &file,
        format!(
            "config server 'server'\n\toption address '127.0.0.1'\n\toption port '{port}'\n\
             \toption snmp_port '{snmp_port}'\n\tlist community 'mimmtest'\n\
             config client 'bus1'\n\toption spi '1000'\n\toption key '30313233343536373839616263646566'\n\
             config network 'A'\nconfig network 'B'\n\
             config alarm 'cell17'\n\toption trap_oid '1.3.6.1.6.3.1.1.5.3'\n\
             \toption match_oid '1.3.6.1.2.1.2.2.1.1.17'\n\toption match_value '17'\n\
             \toption network 'A'\n\toption reason 'cell 17 down'\n\toption expiry_s '30'\n"
        ),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_mimm-server"))
        .args(["check", "-c"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let (server, client) = ServerProcess::start(&dir, &file, port);
    registered(&client, &server);

    let to = format!("127.0.0.1:{snmp_port}");
    let trap_v2 = |community: &str, index: &str| {
        snmptrap(&[
            "-v",
            "2c",
            "-c",
            community,
            &to,
            "",
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.1.17",
            "i",
            index,
        ])
    };
    // A wrong community and a varbind that does not match: nothing.
    let usual = trap_v2("public", "17").min(trap_v2("mimmtest", "18"));
    assert_eq!(
        next(&client, Duration::from_millis(500)),
        None,
        "{}",
        server.log()
    );
    let log = server.log();
    assert!(log.contains("community \"public\" refused"), "{log}");
    assert!(log.contains("no alarm maps it"), "{log}");

    // The matching trap: Reactive Advice within a second, then again
    // (retransmitted) until acked.
    let sent = Instant::now();
    let ran = trap_v2("mimmtest", "17");
    let advice = next(&client, Duration::from_secs(1)).expect("advice within 1 s");
    let took_ms = sent.elapsed().as_secs_f64() * 1e3;
    // The tool running slower than it did moments ago is the host, not
    // the server (a CI run saw 30.1 ms against a bound of 23).
    let noise_ms = ran.saturating_sub(usual).as_secs_f64() * 1e3;
    eprintln!(
        "trap to advice: {took_ms:.1} ms (snmptrap's run included; it ran {noise_ms:.1} ms \
         slower than its fastest before)"
    );
    assert!(
        took_ms <= mimm_requires::margin_over_noise(TRAP_TO_ADVICE_MS, noise_ms),
        "{took_ms} ms, noise {noise_ms} ms"
    );
    let r = message::parse(&advice, DOC_ENTERPRISE, &KEYS).unwrap();
    let Message::ReactiveAdvice(a) = r.mimm[0].message().unwrap() else {
        panic!("{:?}", r.mimm)
    };
    assert_eq!((a.network, a.reason, a.expiry_s), ("A", "cell 17 down", 30));
    let again = next(&client, Duration::from_secs(2)).expect("retransmitted");
    assert_eq!(again, advice);
    let ack = Header::Reply(ReplyHeader {
        code: code::ACCEPTED,
        lifetime: 0,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: "127.0.0.1".parse().unwrap(),
        identification: r.header.identification(),
    });
    let mut buf = [0u8; 256];
    let mut b = Builder::new(&mut buf, &ack, DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::Ack { id: a.id }).unwrap();
    client
        .send(b.sign(1000, Algorithm::HmacSha256, KEY).unwrap())
        .unwrap();
    assert_eq!(
        next(&client, Duration::from_millis(1500)),
        None,
        "acked: no more"
    );

    // An SNMPv1 linkDown (generic trap 2) maps to the same trap OID.
    snmptrap(&[
        "-v",
        "1",
        "-c",
        "mimmtest",
        &to,
        "1.3.6.1.4.1.32473",
        "127.0.0.1",
        "2",
        "0",
        "",
        "1.3.6.1.2.1.2.2.1.1.17",
        "i",
        "17",
    ]);
    let v1 = next(&client, Duration::from_secs(1)).expect("advice for the v1 trap");
    let r = message::parse(&v1, DOC_ENTERPRISE, &KEYS).unwrap();
    assert!(matches!(
        r.mimm[0].message().unwrap(),
        Message::ReactiveAdvice(_)
    ));
    assert!(
        server.log().contains("SNMP v1 trap 1.3.6.1.6.3.1.1.5.3"),
        "{}",
        server.log()
    );

    // A forged request is refused with 131, unsigned.
    let mut forged = report_on_a();
    let n = forged.len();
    forged[n - 1] ^= 1;
    client.send(&forged).unwrap();
    loop {
        let d = next(&client, Duration::from_secs(1)).expect("a refusal");
        if let Ok((Header::Reply(h), _)) = Header::parse(&d) {
            assert_eq!(h.code, code::FAILED_AUTHENTICATION);
            break;
        }
    }
    let mut s = server;
    let _ = Command::new("kill").arg(s.0.id().to_string()).status();
    let status = s.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    let _ = std::fs::File::open(dir.join("log")).map(|mut f| f.read_to_string(&mut rest));
    assert!(rest.contains("stopping"), "{rest}");
}

fn request_handoff_to(target: &str) -> Vec<u8> {
    let header = Header::Request(RequestHeader {
        flags: Flags(0),
        lifetime: 600,
        home_address: "10.1.0.2".parse().unwrap(),
        home_agent: "127.0.0.1".parse().unwrap(),
        care_of: "127.0.0.1".parse().unwrap(),
        identification: now_id(),
    });
    let mut buf = [0u8; 512];
    let mut b = Builder::new(&mut buf, &header, DOC_ENTERPRISE).unwrap();
    b.mimm(&Message::RequestHandoff(mimm_proto::mimm::RequestHandoff {
        target_network: target,
        target_iface: "wwan1",
        care_of: "127.0.0.1".parse().unwrap(),
    }))
    .unwrap();
    b.sign(1000, Algorithm::HmacSha256, KEY).unwrap().to_vec()
}

#[test]
fn an_rts_feed_fills_a_network_and_handoffs_there_are_denied() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("mimm-server-rts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let feed = dir.join("rts.sock");
    let file = dir.join("mimm-server");
    std::fs::write(
        &file,
        format!(
            "config server 'server'\n\toption address '127.0.0.1'\n\toption port '{port}'\n\
             \toption rts_socket '{}'\n\
             config client 'bus1'\n\toption spi '1000'\n\toption key '30313233343536373839616263646566'\n\
             config network 'A'\nconfig network 'B'\n\toption capacity_kbps '1000'\n",
            feed.display()
        ),
    )
    .unwrap();
    let (server, client) = ServerProcess::start(&dir, &file, port);
    let ask = |target: &str| -> mimm_proto::mimm::Verdict {
        client.send(&request_handoff_to(target)).unwrap();
        let d = next(&client, Duration::from_secs(1)).expect("an answer");
        let r = message::parse(&d, DOC_ENTERPRISE, &KEYS).unwrap();
        match r.mimm[0].message().unwrap() {
            Message::HandoffAdvice(a) => a.verdict,
            other => panic!("{other:?}"),
        }
    };
    registered(&client, &server);
    // The client's own real-time need: a 400 kbit/s session.
    assert_eq!(ask("B"), mimm_proto::mimm::Verdict::Allow);
    let sender = std::os::unix::net::UnixDatagram::unbound().unwrap();
    sender
        .send_to(
            b"{\"network\":\"B\",\"kbps\":950,\"sessions\":12}\n{\"bad\":1}\n",
            &feed,
        )
        .unwrap();
    let start = Instant::now();
    while !server.log().contains("RTS: network B carries 950 kbit/s") {
        assert!(start.elapsed() < Duration::from_secs(2), "{}", server.log());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        server.log().contains("RTS line 2: unknown field `bad`"),
        "{}",
        server.log()
    );
    assert_eq!(ask("B"), mimm_proto::mimm::Verdict::Deny);
    // A network without a capacity has no admission control.
    assert_eq!(ask("A"), mimm_proto::mimm::Verdict::Allow);
}

#[test]
fn sighup_rereads_the_file_and_keeps_what_the_server_knows() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("mimm-server-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mimm-server");
    let config = |capacity: u32| {
        format!(
            "config server 'server'\n\toption address '127.0.0.1'\n\toption port '{port}'\n\
             config client 'bus1'\n\toption spi '1000'\n\toption key '30313233343536373839616263646566'\n\
             config network 'B'\n\toption capacity_kbps '{capacity}'\n"
        )
    };
    std::fs::write(&file, config(300)).unwrap();
    let (server, client) = ServerProcess::start(&dir, &file, port);
    // The report: 400 kbit/s of real-time sessions.
    registered(&client, &server);
    let reason = |request: &[u8]| -> String {
        client.send(request).unwrap();
        let d = next(&client, Duration::from_secs(1)).expect("an answer");
        let r = message::parse(&d, DOC_ENTERPRISE, &KEYS).unwrap();
        match r.mimm.first().map(|m| m.message()) {
            Some(Ok(Message::HandoffAdvice(a))) => a.reason.to_string(),
            other => panic!("not Handoff Advice: {other:?}"),
        }
    };
    let first = request_handoff_to("B");
    assert!(reason(&first).ends_with("400 kbit/s after the move > 270 usable of 300"));
    let hup = |expect: &str| {
        let before = server.log().matches(expect).count();
        let pid = server.0.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        while server.log().matches(expect).count() == before {
            assert!(start.elapsed() < Duration::from_secs(5), "{}", server.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // The new capacity applies, and the client's 400 kbit/s, known from
    // its report before the reload, still counts (it did not report again).
    std::fs::write(&file, config(400)).unwrap();
    hup("reloaded");
    assert!(
        reason(&request_handoff_to("B")).ends_with("400 kbit/s after the move > 360 usable of 400"),
        "{}",
        server.log()
    );
    // Its replay state too: the first request again is a replay (code 133).
    client.send(&first).unwrap();
    let d = next(&client, Duration::from_secs(1)).expect("an answer");
    let Ok((Header::Reply(h), _)) = Header::parse(&d) else {
        panic!("{d:?}")
    };
    assert_eq!(h.code, code::IDENTIFICATION_MISMATCH);
    // A broken file is refused, naming the place; the server runs on.
    std::fs::write(&file, config(400) + "\toption capacity 5\n").unwrap();
    hup("reload refused");
    let log = server.log();
    assert!(
        log.contains("mimm-server:9:2: network B: unknown option \"capacity\""),
        "{log}"
    );
    assert!(reason(&request_handoff_to("B")).ends_with("> 360 usable of 400"));
}
