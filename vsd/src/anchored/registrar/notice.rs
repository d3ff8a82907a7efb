//! The anchor's notice that it has no binding for a path
//! ([`mimm_proto::notice`]): it was restarted, or a NAT moved the path's
//! mapping, and the path's packets reach nothing until it registers again,
//! which it does at once instead of at its renewal (two thirds of the
//! lifetime: minutes).
//!
//! The notice is unsigned (the anchor cannot tell whose packets they
//! were), so anyone who can send from the anchor's address could forge
//! one: it is taken as a reason to register sooner and nothing more. The
//! binding stays as it is until the signed reply (a forged notice costs a
//! renewal, whose new keys take over without a gap), a path already
//! registering ignores it, and a path heeds one at most once per
//! [`REBIND_EVERY_MS`].

use mimm_io::clock::Millis;
use mimm_proto::notice::{self, Kind};
use mimm_proto::replay::Now;

use super::Registrar;

/// A path registers again on a notice at most this often.
pub const REBIND_EVERY_MS: Millis = 1_000;

impl Registrar {
    /// A datagram from the anchor on path `path`'s socket that may be a
    /// notice: whether it had the path register again.
    pub fn on_notice(&mut self, path: usize, bytes: &[u8], now: Now) -> bool {
        let Ok(n) = notice::parse(bytes) else {
            return false;
        };
        match n.kind {
            Kind::NoBinding => self.rebind(path, now),
        }
    }

    /// Registers bound path `path` again, unless it is registering already
    /// or did on a notice within [`REBIND_EVERY_MS`].
    fn rebind(&mut self, path: usize, now: Now) -> bool {
        let Some(p) = self.paths.get_mut(path) else {
            return false;
        };
        let recent = p
            .rebound_at
            .is_some_and(|at| now.mono.saturating_sub(at) < REBIND_EVERY_MS);
        if p.bound.is_none() || p.asking.is_some() || recent {
            return false;
        }
        p.rebinds += 1;
        p.rebound_at = Some(now.mono);
        p.asked_by_notice = true;
        tracing::info!(
            "path {path}: the anchor has no binding for it (restarted?): registering again"
        );
        self.register(path, now);
        true
    }
}
