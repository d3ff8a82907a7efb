//! iperf3 TCP through vsd0 against the direct veth path between the same
//! two namespaces, measured in one run (the machine's speed varies run to
//! run; the ratio is what compares), with each data path (`datapath
//! 'kernel'`, the default, and `'userspace'`), and CPU seconds per GB: the
//! VSD's, and the whole machine's through vsd0 and direct (the kernel path
//! forwards in other processes' contexts, so the VSD's alone would flatter it).
//!
//! ```text
//!  mimm-bench-<pid>-a                          mimm-bench-<pid>-b
//!  vsd0 10.91.0.2 ── member m1 ═══ veth ═══ u1 10.91.0.1   (iperf3 -s)
//!  d1   10.92.0.2 ══════════════ veth ═══ d2 10.92.0.1
//! ```
//!
//! Run as root: `cargo bench -p mimm-vsd --bench throughput`.
//! `MIMM_BENCH_SHORT=1`: one-second runs with no omitted start (CI).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mimm_testbed::netns;

mod common;

use common::{
    Killed, Namespaces, cpu_seconds, flows, host_cpu_seconds, iperf3, median, per_gb, rounds,
    timing,
};

fn main() {
    if !mimm_requires::root("throughput") || !mimm_requires::tool("throughput", "iperf3", "iperf3")
    {
        return;
    }
    let pid = std::process::id();
    let ns = Namespaces([format!("mimm-bench-{pid}-a"), format!("mimm-bench-{pid}-b")]);
    let (a, b) = (&ns.0[0], &ns.0[1]);
    netns::add(a).unwrap();
    netns::add(b).unwrap();
    netns::ip_batch(
        a,
        &[
            "link set lo up".into(),
            format!("link add m1 type veth peer name u1 netns {b}"),
            format!("link add d1 type veth peer name d2 netns {b}"),
            "addr add 10.92.0.2/24 dev d1".into(),
            "link set d1 up".into(),
        ],
    )
    .unwrap();
    netns::ip_batch(
        b,
        &[
            "link set lo up".into(),
            "addr add 10.91.0.1/24 dev u1".into(),
            "addr add 10.92.0.1/24 dev d2".into(),
            "link set u1 up".into(),
            "link set d2 up".into(),
        ],
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("mimm-bench-{pid}"));
    std::fs::create_dir_all(&dir).unwrap();
    let _server = Killed(
        Command::new("ip")
            .args(["netns", "exec", b, "iperf3", "-s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (seconds, omit) = timing();
    println!(
        "iperf3 TCP (cubic), {seconds} s each ({omit} s omitted), medians of {} rounds \
         alternating vsd0 and direct, this machine; CPU s/GB: the VSD's, and the whole \
         machine's (every core, /proc/stat) through vsd0 and direct:",
        rounds()
    );
    println!(
        "{:<10} {:<10} {:>5} {:>12} {:>13} {:>6} {:>8} {:>10} {:>10}",
        "datapath",
        "direction",
        "flows",
        "vsd0 Gbit/s",
        "direct Gbit/s",
        "ratio",
        "vsd s/GB",
        "host s/GB",
        "direct s/GB"
    );
    for datapath in ["kernel", "userspace"] {
        let config = dir.join(format!("mimm-{datapath}"));
        std::fs::write(
            &config,
            format!(
                "config vsd 'vsd0'\n\tlist member m1\n\toption datapath '{datapath}'\n\toption socket '{}'\n",
                dir.join("vsd0.sock").display()
            ),
        )
        .unwrap();
        let vsd = Killed(
            Command::new("ip")
                .args(["netns", "exec", a, env!("CARGO_BIN_EXE_vsd"), "run", "-c"])
                .arg(&config)
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while netns::ip_batch(a, &["addr add 10.91.0.2/24 dev vsd0".into()]).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "vsd0 did not appear"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(1500));
        for (name, reverse, flows) in [("upload", false), ("download", true)]
            .into_iter()
            .flat_map(|(name, reverse)| flows().into_iter().map(move |n| (name, reverse, n)))
        {
            // Rounds alternate through vsd0 and direct: this VM's speed
            // drifts by 2x within a minute, so each ratio is of neighbours.
            let pairs: Vec<Pair> = (0..rounds())
                .map(|_| Pair::measure(a, vsd.0.id(), reverse, flows))
                .collect();
            let m = |f: fn(&Pair) -> f64| median(pairs.iter().map(f).collect());
            println!(
                "{datapath:<10} {name:<10} {flows:>5} {:>12.2} {:>13.2} {:>6.2} {:>8.3} {:>10.3} {:>10.3}",
                m(|p| p.through),
                m(|p| p.direct),
                m(|p| p.through / p.direct),
                m(|p| per_gb(p.vsd_cpu, p.bytes)),
                m(|p| per_gb(p.host, p.bytes)),
                m(|p| per_gb(p.direct_host, p.direct_bytes)),
            );
            // Figures are printed, not asserted; but a run that moved nothing
            // (iperf3 failed, the VSD carried no traffic) must not pass.
            for p in &pairs {
                assert!(
                    p.bytes > 0.0 && p.direct > 0.0,
                    "{datapath} {name}: nothing measured (through vsd0 {} bytes, direct {} Gbit/s)",
                    p.bytes,
                    p.direct
                );
            }
        }
        drop(vsd);
        // The TAP goes with the VSD; the next one makes its own.
        let gone = Instant::now();
        while netns::ip_batch(a, &["link show vsd0".into()]).is_ok() {
            assert!(gone.elapsed() < Duration::from_secs(5), "vsd0 stayed");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One round: iperf3 through vsd0, then direct, with the CPU each took.
struct Pair {
    through: f64,
    bytes: f64,
    vsd_cpu: f64,
    host: f64,
    direct: f64,
    direct_bytes: f64,
    direct_host: f64,
}

impl Pair {
    fn measure(a: &str, vsd: u32, reverse: bool, flows: u32) -> Pair {
        let (cpu0, host0) = (cpu_seconds(vsd), host_cpu_seconds());
        let (through, bytes) = iperf3(a, "10.91.0.1", reverse, flows);
        let (vsd_cpu, host) = (cpu_seconds(vsd) - cpu0, host_cpu_seconds() - host0);
        let host1 = host_cpu_seconds();
        let (direct, direct_bytes) = iperf3(a, "10.92.0.1", reverse, flows);
        Pair {
            through,
            bytes,
            vsd_cpu,
            host,
            direct,
            direct_bytes,
            direct_host: host_cpu_seconds() - host1,
        }
    }
}
