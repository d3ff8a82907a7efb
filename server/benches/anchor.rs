//! The anchor's binding cache alone (the sans-IO core, no sockets): how
//! many registrations and binding updates it takes per second with many
//! clients, each with two members re-registering as a router does (the
//! make-before-break pair: a second care-of address with S, then a
//! replacement without). What the UDP shell and the cipher add is measured
//! with them, later.
//!
//!     cargo bench -p mimm-server --bench anchor    (MIMM_BENCH_SHORT=1: 1,000 clients only)

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use mimm_proto::registration::{Flags, RequestHeader};
use mimm_server::anchor::{Anchor, AnchorConfig};

const KEY: &[u8] = b"0123456789abcdef";

fn request(home: Ipv4Addr, care_of: Ipv4Addr, simultaneous: bool) -> RequestHeader {
    RequestHeader {
        flags: Flags(if simultaneous {
            Flags::S | Flags::D
        } else {
            Flags::D
        }),
        lifetime: 300,
        home_address: home,
        home_agent: Ipv4Addr::new(192, 0, 2, 1),
        care_of,
        identification: 1,
    }
}

fn run(clients: u32, rounds: u32) {
    let mut anchor = Anchor::new(AnchorConfig {
        address: Ipv4Addr::new(10, 64, 0, 1),
        pool: (Ipv4Addr::new(10, 64, 0, 2), Ipv4Addr::new(10, 64, 255, 254)),
        fixed: Default::default(),
        max_lifetime_s: 600,
        cipher: mimm_tunnel::cipher::Cipher::default(),
    });
    let lte = |c: u32| Ipv4Addr::from(0x6440_0000 + c);
    let wifi = |c: u32| Ipv4Addr::from(0xc0a8_0000 + c);
    let start = Instant::now();
    let mut homes = Vec::with_capacity(clients as usize);
    for c in 0..clients {
        let req = request(Ipv4Addr::UNSPECIFIED, lte(c), false);
        homes.push(
            anchor
                .register(0, 1000 + c, KEY, &req, SocketAddrV4::new(lte(c), 434))
                .home,
        );
    }
    let first = start.elapsed();
    let start = Instant::now();
    let mut now = 0;
    for round in 0..rounds {
        for c in 0..clients {
            now += 1;
            let (add, home) = (round % 2 == 0, homes[c as usize]);
            let to = if add { wifi(c) } else { lte(c) };
            let req = request(home, to, add);
            let got = anchor.register(now, 1000 + c, KEY, &req, SocketAddrV4::new(to, 434));
            assert_eq!(got.code, 0);
        }
    }
    let updates = u64::from(clients) * u64::from(rounds);
    let per_s = updates as f64 / start.elapsed().as_secs_f64();
    println!(
        "{clients:>6} clients: first registrations {:>9.0}/s, binding updates {per_s:>9.0}/s ({updates} in {:.2} s)",
        f64::from(clients) / first.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
}

fn main() {
    let short = std::env::var_os("MIMM_BENCH_SHORT").is_some();
    println!("anchor binding cache, sans-IO, one thread, this machine");
    run(1_000, 400);
    if !short {
        run(10_000, 40);
        run(60_000, 8);
    }
}
