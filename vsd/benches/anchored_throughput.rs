//! iperf3 TCP through the anchored path — vsd0 → sealed UDP tunnel over a
//! veth → the anchor (mimm-server) → its TUN → the host behind it — against
//! the direct veth between the same two namespaces, in one run (medians of
//! 3 rounds alternating the two), both directions, with the cipher
//! (chacha20-poly1305) and without (`cipher none`); with the VSD's and the
//! anchor's CPU seconds per GB.
//!
//! ```text
//!  mimm-abench-<pid>-a                          mimm-abench-<pid>-b
//!  vsd0 (home 10.64.0.2) ┐                      anchor on 10.93.0.1:434, TUN manc0 10.64.0.1
//!  member m1 10.93.0.2 ══ veth ═══ u1 10.93.0.1 iperf3 -s on 10.94.0.1 (lo)
//!  d1 10.92.0.2 ═════════ veth ═══ d2 10.92.0.1
//! ```
//!
//! Run as root: `cargo bench -p mimm-vsd --bench anchored_throughput`
//! (`cargo build -p mimm-server` first, or `cargo bench --workspace`).
//! `MIMM_BENCH_SHORT=1`: one-second runs (CI).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Killed, Namespaces, cpu_seconds, flows, iperf3, median, per_gb, rounds, timing};
use mimm_testbed::netns;

const KEY: &str = "00112233445566778899aabbccddeeff";

/// mimm-server, built beside this bench.
fn server_binary() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let path = me.parent()?.parent()?.join("mimm-server");
    path.exists().then_some(path)
}

fn spawn(ns: &str, program: &std::path::Path, args: &[&str], log: &std::path::Path) -> Killed {
    spawn_with(ns, program, args, log, true)
}

/// [`spawn`], with UDP segmentation offload on or off (`MIMM_UDP_OFFLOAD`).
fn spawn_with(
    ns: &str,
    program: &std::path::Path,
    args: &[&str],
    log: &std::path::Path,
    offload: bool,
) -> Killed {
    Killed(
        Command::new("ip")
            .args(["netns", "exec", ns])
            .env("MIMM_UDP_OFFLOAD", if offload { "on" } else { "off" })
            .arg(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// The anchor (in `b`) and the VSD (in `a`) with tunnel cipher `cipher`,
/// bound, and the far host routed through vsd0.
fn start_pair(
    ns: &Namespaces,
    server: &std::path::Path,
    dir: &std::path::Path,
    cipher: &str,
    offload: bool,
) -> (Killed, Killed) {
    let (a, b) = (&ns.0[0], &ns.0[1]);
    let server_cfg = dir.join("mimm-server");
    std::fs::write(
        &server_cfg,
        format!(
            "config server 'server'\n\toption address '10.93.0.1'\n\
             config client 'bench'\n\toption spi '1000'\n\toption key '{KEY}'\n\
             config anchor 'anchor'\n\toption address '10.64.0.1'\n\
             \toption pool '10.64.0.2-10.64.0.9'\n\toption tun 'manc0'\n\
             \toption cipher '{cipher}'\n"
        ),
    )
    .unwrap();
    let anchor = spawn_with(
        b,
        server,
        &["run", "-c", server_cfg.to_str().unwrap()],
        &dir.join("anchor.log"),
        offload,
    );
    let socket = dir.join("vsd0.sock");
    let vsd_cfg = dir.join("mimm");
    std::fs::write(
        &vsd_cfg,
        format!(
            "config vsd 'vsd0'\n\toption mode 'anchored'\n\tlist member 'm1'\n\
             \toption anchor '10.93.0.1'\n\toption home_agent '10.64.0.1'\n\toption spi '1000'\n\
             \toption key '{KEY}'\n\toption socket '{}'\n\toption cipher '{cipher}'\n",
            socket.display()
        ),
    )
    .unwrap();
    let vsd = spawn_with(
        a,
        std::path::Path::new(env!("CARGO_BIN_EXE_vsd")),
        &["run", "-c", vsd_cfg.to_str().unwrap()],
        &dir.join("vsd.log"),
        offload,
    );
    // Bound once the home address is on vsd0: route the far host through it.
    let start = Instant::now();
    while netns::ip_batch(a, &["route add 10.94.0.1/32 dev vsd0 src 10.64.0.2".into()]).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "vsd0 never bound ({cipher}); vsd log:\n{}\nanchor log:\n{}",
            std::fs::read_to_string(dir.join("vsd.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("anchor.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The first keepalives make the path usable.
    std::thread::sleep(Duration::from_millis(1500));
    (anchor, vsd)
}

fn main() {
    if !mimm_requires::root("anchored_throughput")
        || !mimm_requires::tool("anchored_throughput", "iperf3", "iperf3")
    {
        return;
    }
    let Some(server) = server_binary() else {
        let why = "mimm-server is not built (cargo build --release -p mimm-server)";
        // CI builds it just before; there a missing binary is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "anchored_throughput: {why}"
        );
        println!("anchored_throughput: skipped: {why}");
        return;
    };

    let pid = std::process::id();
    let ns = Namespaces([
        format!("mimm-abench-{pid}-a"),
        format!("mimm-abench-{pid}-b"),
    ]);
    let (a, b) = (&ns.0[0], &ns.0[1]);
    netns::add(a).unwrap();
    netns::add(b).unwrap();
    netns::ip_batch(
        a,
        &[
            format!("link add m1 type veth peer name u1 netns {b}"),
            format!("link add d1 type veth peer name d2 netns {b}"),
            "addr add 10.93.0.2/24 dev m1".into(),
            "addr add 10.92.0.2/24 dev d1".into(),
            "link set m1 up".into(),
            "link set d1 up".into(),
        ],
    )
    .unwrap();
    netns::ip_batch(
        b,
        &[
            "addr add 10.93.0.1/24 dev u1".into(),
            "addr add 10.92.0.1/24 dev d2".into(),
            "addr add 10.94.0.1/32 dev lo".into(),
            "link set u1 up".into(),
            "link set d2 up".into(),
        ],
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("mimm-abench-{pid}"));
    std::fs::create_dir_all(&dir).unwrap();
    let _iperf = spawn(
        b,
        std::path::Path::new("iperf3"),
        &["-s"],
        &dir.join("iperf3.log"),
    );
    let (seconds, omit) = timing();
    println!(
        "iperf3 TCP (cubic) through vsd0 -> tunnel -> anchor -> host, {seconds} s each \
         ({omit} s omitted), medians of {} rounds alternating with direct, this machine:",
        rounds()
    );
    println!(
        "{:<10} {:<18} {:<8} {:>5} {:>14} {:>14} {:>7} {:>14} {:>16}",
        "direction",
        "cipher",
        "offloads",
        "flows",
        "tunnel Gbit/s",
        "direct Gbit/s",
        "ratio",
        "vsd CPU s/GB",
        "anchor CPU s/GB"
    );
    // UDP segmentation offload (UDP_SEGMENT sends, UDP_GRO receives) on,
    // and off to show what it buys.
    for (cipher, offload) in [
        ("chacha20-poly1305", true),
        ("none", true),
        ("chacha20-poly1305", false),
        ("none", false),
    ] {
        let (anchor, vsd) = start_pair(&ns, &server, &dir, cipher, offload);
        let gso = if offload { "on" } else { "off" };
        // Without offloads one flow shows what they buy; the flows that
        // spread over the cores are measured with them.
        let counts = if offload { flows() } else { vec![1] };
        for (name, reverse, flows) in [("upload", false), ("download", true)]
            .into_iter()
            .flat_map(|(name, reverse)| counts.iter().map(move |&n| (name, reverse, n)))
        {
            // Rounds alternate through the tunnel and direct: this VM's
            // veth drifts between 11 and 45 Gbit/s within a minute, so each
            // ratio is of neighbours.
            let rounds: Vec<Round> = (0..rounds())
                .map(|_| Round::measure(a, (&vsd, &anchor), reverse, flows))
                .collect();
            let m = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
            println!(
                "{name:<10} {cipher:<18} {gso:<8} {flows:>5} {:>14.3} {:>14.2} {:>7.3} {:>14.2} {:>16.2}",
                m(&|r| r.through),
                m(&|r| r.direct),
                m(&|r| r.through / r.direct),
                m(&|r| per_gb(r.vsd_cpu, r.bytes)),
                m(&|r| per_gb(r.anchor_cpu, r.bytes)),
            );
            // Printed, not asserted; a run that moved nothing must not pass.
            for r in &rounds {
                assert!(
                    r.bytes > 0.0 && r.direct > 0.0,
                    "{name}, {cipher}: nothing measured (through the tunnel {} bytes, \
                     direct {} Gbit/s)",
                    r.bytes,
                    r.direct
                );
            }
        }
        // Both stop (and take down their TUNs) before the next pair starts.
        drop((vsd, anchor));
        let _ = netns::ip_batch(a, &["route del 10.94.0.1/32".into()]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One round: iperf3 through the tunnel, then direct, with the CPU the
/// VSD and the anchor took.
struct Round {
    through: f64,
    bytes: f64,
    vsd_cpu: f64,
    anchor_cpu: f64,
    direct: f64,
}

impl Round {
    fn measure(a: &str, (vsd, anchor): (&Killed, &Killed), reverse: bool, flows: u32) -> Round {
        let (vsd0, anchor0) = (cpu_seconds(vsd.0.id()), cpu_seconds(anchor.0.id()));
        let (through, bytes) = iperf3(a, "10.94.0.1", reverse, flows);
        let vsd_cpu = cpu_seconds(vsd.0.id()) - vsd0;
        let anchor_cpu = cpu_seconds(anchor.0.id()) - anchor0;
        let (direct, _) = iperf3(a, "10.92.0.1", reverse, flows);
        Round {
            through,
            bytes,
            vsd_cpu,
            anchor_cpu,
            direct,
        }
    }
}
