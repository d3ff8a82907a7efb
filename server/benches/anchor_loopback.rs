//! The anchor end to end with 1,000 simulated routers over loopback: the
//! release mimm-server with `config anchor` and 1,000 clients configured
//! (each its SPI and key), and in this process 1,000 clients, each on its
//! own UDP socket (the anchor keys tunnels by source address and port),
//! that register (signed, with a UDP Tunnel Request), renew at a high rate
//! (each renewal a binding update with new keys at the anchor), then send
//! sealed keepalives at 1/s each and more. Prints registrations/s, binding
//! updates/s, keepalives answered/s at each offered load, the anchor's CPU
//! seconds per 1,000 keepalives, and its RSS with 1,000 clients bound.
//!
//! Figures are printed, not asserted; the run fails when a phase got no
//! correct answer, or any answer was wrong (bad signature, refusal).
//! Root: the anchor makes a TUN, so it runs in a private namespace (its
//! loopback is the clients' too).
//!
//!     cargo bench -p mimm-server --bench anchor_loopback   (MIMM_BENCH_SHORT=1: a few seconds)

// A bench root's modules sit beside it (benches/anchor.rs is another
// bench): these are in anchor_loopback/.
#[path = "anchor_loopback/anchor.rs"]
mod anchor;
#[path = "anchor_loopback/client.rs"]
mod client;
#[path = "anchor_loopback/fleet.rs"]
mod fleet;
#[path = "anchor_loopback/keepalive.rs"]
mod keepalive;
#[path = "anchor_loopback/register.rs"]
mod register;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mimm_testbed::netns;

use anchor::Anchor;
use fleet::Fleet;
use register::{Plan, Tally};

const CLIENTS: u32 = 1_000;
const WINDOW: usize = 128;

/// Client 0 registered (its request sent again while mimm-server starts).
fn wait_for_anchor(fleet: &mut Fleet, to: SocketAddr) -> bool {
    let plan = Plan {
        clients: 0..1,
        until: None,
        window: 1,
        give_up: Instant::now() + Duration::from_secs(5),
    };
    register::run(fleet, to, plan).0.bound == 1
}

/// A registration phase's figures (`cpu_s`: the anchor's CPU in it); true
/// when it got correct answers only.
fn print_tally(what: &str, t: Tally, took: Duration, cpu_s: f64) -> bool {
    println!(
        "{what:<22} {:>9.0}/s  ({} in {:.2} s; refused {}, bad {}, lost and resent {}); \
         anchor CPU {:.3} s per 1,000",
        t.bound as f64 / took.as_secs_f64(),
        t.bound,
        took.as_secs_f64(),
        t.refused,
        t.bad,
        t.lost,
        cpu_s / t.bound.max(1) as f64 * 1000.0
    );
    t.bound > 0 && t.refused == 0 && t.bad == 0
}

fn main() -> ExitCode {
    if !mimm_requires::root("anchor_loopback") {
        return ExitCode::SUCCESS;
    }
    let short = std::env::var_os("MIMM_BENCH_SHORT").is_some();
    let anchor = Anchor::start(CLIENTS);
    // Its first request would only be lost while mimm-server starts.
    std::thread::sleep(Duration::from_millis(200));
    let entered = netns::enter(&anchor.ns).expect("the anchor's namespace");
    let mut fleet = Fleet::new(CLIENTS).expect("the clients' sockets");
    let to: SocketAddr = "127.0.0.1:434".parse().expect("an address");
    if !wait_for_anchor(&mut fleet, to) {
        eprintln!("anchor_loopback: mimm-server never answered a registration");
        return ExitCode::FAILURE;
    }
    println!("anchor over loopback, {CLIENTS} clients, {WINDOW} registrations in flight");
    let mut ok = true;
    let plan = Plan {
        clients: 1..CLIENTS as usize,
        until: None,
        window: WINDOW,
        give_up: Instant::now() + Duration::from_secs(30),
    };
    let cpu = anchor.cpu_seconds();
    let (t, took) = register::run(&mut fleet, to, plan);
    ok &= print_tally("registrations", t, took, anchor.cpu_seconds() - cpu);
    println!("anchor RSS, {CLIENTS} bound  {:>6} KiB", anchor.rss_kib());
    let renewing = Duration::from_secs(if short { 1 } else { 5 });
    let plan = Plan {
        clients: 0..CLIENTS as usize,
        until: Some(Instant::now() + renewing),
        window: WINDOW,
        give_up: Instant::now() + renewing + Duration::from_secs(2),
    };
    let cpu = anchor.cpu_seconds();
    let (t, took) = register::run(&mut fleet, to, plan);
    ok &= print_tally("binding updates", t, took, anchor.cpu_seconds() - cpu);
    let (levels, seconds): (&[f64], f64) = if short {
        (&[1.0, 20.0], 1.0)
    } else {
        (&[1.0, 10.0, 50.0, 100.0], 5.0)
    };
    for &hz in levels {
        let l = keepalive::run(&mut fleet, &anchor, to, hz, seconds);
        println!(
            "keepalives {hz:>3}/s each  offered {:>7.0}/s, sent {:>7.0}/s, answered {:>7.0}/s \
             ({} of {}; receive buffers dropped {}); anchor CPU {:.3} s per 1,000",
            l.offered_per_s,
            l.sent as f64 / l.seconds,
            l.answered as f64 / l.seconds,
            l.answered,
            l.sent,
            l.rcvbuf_drops,
            l.anchor_cpu_s / (l.answered.max(1) as f64) * 1000.0
        );
        ok &= l.answered > 0;
    }
    println!("anchor RSS after       {:>6} KiB (VmRSS)", anchor.rss_kib());
    drop(fleet);
    drop(entered);
    drop(anchor);
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("anchor_loopback: a phase got no correct answers, or wrong ones");
        ExitCode::FAILURE
    }
}
