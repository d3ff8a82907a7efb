//! Run-time changes to a link (`mimm-testbed set`), checked against the link
//! they are for.

use std::io;

use crate::clock::Nanos;
use crate::control::Change;
use crate::emu::link::{Dir, Link, LinkType};

/// Applies a `set` command to a link, checking it makes sense for the link.
pub fn apply_change(link: &mut Link, change: &Change, dir: Dir, now: Nanos) -> Result<(), String> {
    let name = link.name.clone();
    let both_only = |what: &str| {
        if dir == Dir::Both {
            Ok(())
        } else {
            Err(format!("{name}: {what} applies to both directions"))
        }
    };
    let io = |e: io::Error| format!("{name}: {e}");
    match *change {
        Change::Rate(kbps) => link.update_params(now, dir, |p| {
            p.rate_bps = kbps.map(|k| k.saturating_mul(1000))
        }),
        Change::Delay(ms) => {
            if !(0.0..=60_000.0).contains(&ms) {
                return Err(format!("{name}: delay {ms} ms must be 0..=60000"));
            }
            link.update_params(now, dir, |p| p.delay = Nanos::from_ms_f64(ms))
        }
        Change::Loss(pct) => {
            if !(0.0..=100.0).contains(&pct) {
                return Err(format!("{name}: loss {pct} % must be 0..=100"));
            }
            link.update_params(now, dir, |p| p.loss = pct / 100.0)
        }
        Change::Queue(ms) => {
            if !(1..=60_000).contains(&ms) {
                return Err(format!("{name}: queue {ms} ms must be 1..=60000"));
            }
            link.update_params(now, dir, |p| p.queue = Nanos::from_ms(ms))
        }
        Change::Blackhole(ms) => {
            let until = ms.map_or(Nanos::MAX, |ms| now.saturating_add(Nanos::from_ms(ms)));
            link.set_blackhole(dir, Some(until));
        }
        Change::Down => {
            both_only("down")?;
            link.set_unplugged(true).map_err(io)?;
        }
        Change::Up => {
            both_only("up")?;
            link.set_blackhole(Dir::Both, None);
            link.set_carrier_off(false).map_err(io)?;
            link.set_unplugged(false).map_err(io)?;
        }
        Change::CarrierOff | Change::CarrierOn => {
            both_only("carrier")?;
            if link.link_type != LinkType::Ether {
                return Err(format!(
                    "{name}: carrier-off/carrier-on apply to ether links; {name} is ptp \
                     (a raw-IP modem has no carrier of its own: use down/up)"
                ));
            }
            link.set_carrier_off(*change == Change::CarrierOff)
                .map_err(io)?;
        }
    }
    Ok(())
}
