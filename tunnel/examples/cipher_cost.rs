//! What a tunnel cipher costs per byte on this CPU: seal and open of
//! 1400-byte packets in place (a full-size tunnel payload) with each AEAD
//! candidate, for about a second each. Run natively and under qemu-user for
//! the router CPUs; the ratio between candidates is what chooses one.
//!
//!     cargo run --release -p mimm-tunnel --example cipher_cost

use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use mimm_tunnel::packet::{SEALED_HEADER, SEALED_OVERHEAD};
use mimm_tunnel::seal::{Opener, Sealer};

const PACKET: usize = 1400;

/// Seals and opens packets for `budget`, after a warm-up (qemu translates
/// code on first use), three times; the median MB/s of payload.
fn rate(name: &str, budget: Duration, mut one: impl FnMut(u64, &mut [u8; PACKET])) -> f64 {
    let mut packet = [0x5au8; PACKET];
    let mut n = 0u64;
    let mut round = |budget: Duration| {
        let start = Instant::now();
        let first = n;
        while start.elapsed() < budget {
            for _ in 0..64 {
                one(n, &mut packet);
                n += 1;
            }
        }
        ((n - first) as f64 * PACKET as f64) / start.elapsed().as_secs_f64() / 1e6
    };
    round(budget / 2);
    let mut rounds = [round(budget), round(budget), round(budget)];
    rounds.sort_by(f64::total_cmp);
    let mb_s = rounds[1];
    // Each packet is sealed and opened: one end of a tunnel does one of the two.
    let per_gb = 500.0 / mb_s;
    println!(
        "{name:<20} {mb_s:>8.1} MB/s sealed+opened (rounds {:.1}..{:.1}), {per_gb:.2} CPU s per GB one way",
        rounds[0], rounds[2]
    );
    mb_s
}

fn nonce(seq: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    n
}

fn with<A: AeadInPlace + KeyInit>(name: &str, budget: Duration) -> f64 {
    let cipher = A::new_from_slice(&[7u8; 32]).expect("a 32-byte key");
    rate(name, budget, |seq, packet| {
        let nonce = chacha20poly1305::aead::Nonce::<A>::clone_from_slice(&nonce(seq));
        let tag = cipher
            .encrypt_in_place_detached(&nonce, b"hdr", packet)
            .expect("sealed");
        cipher
            .decrypt_in_place_detached(&nonce, b"hdr", packet, &tag)
            .expect("opened");
    })
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(secs);
    let chacha = with::<ChaCha20Poly1305>("chacha20-poly1305", budget);
    let aes = with::<Aes256Gcm>("aes-256-gcm", budget);
    // The tunnel's own path: header, nonce, tag, and the replay window.
    let (mut sealer, mut opener) = (Sealer::new(&[7; 32]), Opener::new(&[7; 32]));
    let mut buf = [0u8; PACKET + SEALED_OVERHEAD];
    rate("mimm-tunnel", budget, |_, packet| {
        buf[SEALED_HEADER..SEALED_HEADER + PACKET].copy_from_slice(packet);
        let len = sealer.seal(&mut buf, PACKET).expect("sealed");
        let inner = opener.open(&mut buf[..len]).expect("opened");
        packet.copy_from_slice(inner);
    });
    println!("chacha20-poly1305 / aes-256-gcm: {:.2}", chacha / aes);
}
