//! Trace replay: plays the rows of a trace onto links in (scaled) real time.

use serde::{Deserialize, Serialize};

use mimm_trace::{Row, Trace};

use crate::clock::Nanos;
use crate::emu::impair::Params;
use crate::emu::link::{Dir, Link, LinkType};

/// Which trace interface drives which link (by index into the engine's links).
pub type Mapping = Vec<(String, usize)>;

/// Works out the mapping: explicit pairs first; otherwise by name when every
/// trace interface names a link; else by kind (a `wifi` or `ethernet`
/// interface drives the next ether link, any other the next ptp link, each
/// falling back to any free link), in order of first appearance.
pub fn resolve_map(
    trace: &Trace,
    links: &[(&str, LinkType)],
    explicit: &[(String, String)],
) -> Result<Mapping, String> {
    let types: Vec<LinkType> = links.iter().map(|(_, t)| *t).collect();
    let links: Vec<&str> = links.iter().map(|(n, _)| *n).collect();
    let ifaces = trace.ifaces();
    let index = |link: &str| {
        links.iter().position(|l| *l == link).ok_or_else(|| {
            format!(
                "--map: no link named {link:?} (links: {})",
                links.join(", ")
            )
        })
    };
    if !explicit.is_empty() {
        return explicit
            .iter()
            .map(|(iface, link)| {
                if !ifaces.contains(&iface.as_str()) {
                    return Err(format!(
                        "--map: the trace has no interface {iface:?} (it has: {})",
                        ifaces.join(", ")
                    ));
                }
                Ok((iface.clone(), index(link)?))
            })
            .collect();
    }
    if ifaces.iter().all(|i| links.contains(i)) {
        return ifaces
            .iter()
            .map(|i| Ok((i.to_string(), index(i)?)))
            .collect();
    }
    if ifaces.len() > links.len() {
        return Err(format!(
            "the trace has {} interfaces ({}) but the testbed has {} links ({}); \
             choose with --map IFACE=LINK,...",
            ifaces.len(),
            ifaces.join(", "),
            links.len(),
            links.join(", ")
        ));
    }
    // First every interface that finds a link of its type, then the rest.
    let mut used = vec![false; links.len()];
    let mut chosen: Vec<Option<usize>> = vec![None; ifaces.len()];
    for strict in [true, false] {
        for (n, iface) in ifaces.iter().enumerate() {
            if chosen[n].is_some() {
                continue;
            }
            let kind = trace.rows_of(iface).find_map(|r| r.kind.as_deref());
            let wanted = match kind {
                Some("wifi" | "wlan" | "ethernet" | "eth") => LinkType::Ether,
                _ => LinkType::Ptp,
            };
            let index = (0..links.len()).find(|&i| !used[i] && (!strict || types[i] == wanted));
            if let Some(i) = index {
                used[i] = true;
                chosen[n] = Some(i);
            }
        }
    }
    let mapping = ifaces
        .iter()
        .zip(chosen)
        .map(|(iface, link)| {
            (
                iface.to_string(),
                link.expect("no more interfaces than links"),
            )
        })
        .collect();
    Ok(mapping)
}

/// Progress of a replay, as the status shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayStatus {
    pub name: String,
    /// Position in trace time.
    pub position_ms: u64,
    pub duration_ms: u64,
    pub speed: f64,
    pub repeat: bool,
    pub finished: bool,
    pub mapping: Vec<(String, String)>,
}

pub struct Player {
    name: String,
    /// Mapped rows: link index and row, in trace order.
    rows: Vec<(usize, Row)>,
    next: usize,
    start: Nanos,
    speed: f64,
    repeat: bool,
    duration_ms: u64,
    mapping: Vec<(String, String)>,
}

impl Player {
    pub fn new(
        name: &str,
        trace: &Trace,
        mapping: &Mapping,
        link_names: &[&str],
        speed: f64,
        repeat: bool,
        start: Nanos,
    ) -> Player {
        let rows = trace
            .rows
            .iter()
            .filter_map(|row| {
                let (_, link) = mapping.iter().find(|(iface, _)| *iface == row.iface)?;
                Some((*link, row.clone()))
            })
            .collect();
        Player {
            name: name.to_string(),
            rows,
            next: 0,
            start,
            speed: if speed > 0.0 { speed } else { 1.0 },
            repeat,
            // A trace of one instant still plays for one step.
            duration_ms: trace.duration_ms().max(1),
            mapping: mapping
                .iter()
                .map(|(iface, link)| (iface.clone(), link_names[*link].to_string()))
                .collect(),
        }
    }

    fn at(&self, t_ms: u64) -> Nanos {
        self.start
            .saturating_add(Nanos((t_ms as f64 * 1e6 / self.speed) as u64))
    }

    /// When the next row is due; `None` once finished.
    pub fn deadline(&self) -> Option<Nanos> {
        self.rows.get(self.next).map(|(_, row)| self.at(row.t_ms))
    }

    pub fn finished(&self) -> bool {
        self.next >= self.rows.len()
    }

    /// The next row due at `now`, if any; restarts the trace when repeating.
    pub fn pop_due(&mut self, now: Nanos) -> Option<(usize, Row)> {
        if self.finished() && self.repeat && !self.rows.is_empty() {
            let end = self.at(self.duration_ms);
            if now >= end {
                self.start = end;
                self.next = 0;
            }
        }
        let (link, row) = self.rows.get(self.next)?;
        if self.at(row.t_ms) > now {
            return None;
        }
        self.next += 1;
        Some((*link, row.clone()))
    }

    /// Deadline including a pending restart.
    pub fn wake_at(&self) -> Option<Nanos> {
        match self.deadline() {
            Some(t) => Some(t),
            None if self.repeat && !self.rows.is_empty() => Some(self.at(self.duration_ms)),
            None => None,
        }
    }

    pub fn status(&self, now: Nanos) -> ReplayStatus {
        let elapsed = now.saturating_sub(self.start).0 as f64 / 1e6 * self.speed;
        ReplayStatus {
            name: self.name.clone(),
            position_ms: (elapsed as u64).min(self.duration_ms),
            duration_ms: self.duration_ms,
            speed: self.speed,
            repeat: self.repeat,
            finished: self.finished() && !self.repeat,
            mapping: self.mapping.clone(),
        }
    }
}

/// The parameters a trace row asks for, unknown fields falling back to `base`.
/// `rtt_ms` is split evenly between the directions; `loss_pct` is round-trip
/// probe loss, so each direction gets `1 - sqrt(1 - p)`.
pub fn row_params(base: &Params, row: &Row) -> Params {
    let mut params = *base;
    if let Some(rate) = row.rate_kbps {
        params.rate_bps = Some((rate * 1000.0) as u64);
    }
    if let Some(rtt) = row.rtt_ms {
        params.delay = Nanos::from_ms_f64(rtt / 2.0);
    }
    if let Some(loss) = row.loss_pct {
        params.loss = 1.0 - (1.0 - (loss / 100.0).clamp(0.0, 1.0)).sqrt();
    }
    params
}

/// Applies one trace row to its link.
pub fn apply_row(link: &mut Link, now: Nanos, row: &Row) -> std::io::Result<()> {
    let params = row_params(&link.base, row);
    link.update_params(now, Dir::Both, |p| *p = params);
    link.signal_dbm = row.signal_dbm;
    if row.kind.is_some() {
        link.kind = row.kind.clone();
    }
    match row.up {
        Some(false) => link.set_down(true),
        Some(true) => link.set_down(false),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> Trace {
        Trace::parse(
            "t_ms,iface,kind,rate_kbps,up\n0,cell,lte,1000,1\n0,wifi,wifi,2000,1\n500,cell,,,0\n1000,wifi,,3,1\n",
        )
        .unwrap()
    }

    const PTP: LinkType = LinkType::Ptp;
    const ETHER: LinkType = LinkType::Ether;

    fn map(pairs: &[(&str, usize)]) -> Mapping {
        pairs.iter().map(|(i, l)| (i.to_string(), *l)).collect()
    }

    #[test]
    fn maps_by_name_kind_or_explicitly() {
        let t = trace();
        assert_eq!(
            resolve_map(&t, &[("wifi", PTP), ("cell", PTP)], &[]).unwrap(),
            map(&[("cell", 1), ("wifi", 0)])
        );
        // Wi-Fi goes to the ether link even when a ptp link comes first.
        assert_eq!(
            resolve_map(&t, &[("wwan0", PTP), ("wwan1", PTP), ("wlan0", ETHER)], &[]).unwrap(),
            map(&[("cell", 0), ("wifi", 2)])
        );
        assert_eq!(
            resolve_map(&t, &[("wlan0", ETHER), ("wlan1", ETHER)], &[]).unwrap(),
            map(&[("cell", 1), ("wifi", 0)])
        );
        let explicit = [("wifi".to_string(), "wwan0".to_string())];
        assert_eq!(
            resolve_map(&t, &[("wwan0", PTP), ("wlan0", ETHER)], &explicit).unwrap(),
            map(&[("wifi", 0)])
        );
        assert!(
            resolve_map(&t, &[("wwan0", PTP)], &[])
                .unwrap_err()
                .contains("--map")
        );
        let bad = [("lte".to_string(), "wwan0".to_string())];
        assert!(
            resolve_map(&t, &[("wwan0", PTP)], &bad)
                .unwrap_err()
                .contains("no interface")
        );
    }

    #[test]
    fn plays_rows_at_scaled_times_and_repeats() {
        let t = trace();
        let map = resolve_map(&t, &[("cell", PTP), ("wifi", ETHER)], &[]).unwrap();
        let mut p = Player::new("t", &t, &map, &["cell", "wifi"], 2.0, true, Nanos(1_000));
        assert_eq!(p.pop_due(Nanos(1_000)).unwrap().0, 0);
        assert_eq!(p.pop_due(Nanos(1_000)).unwrap().0, 1);
        assert!(p.pop_due(Nanos(1_000)).is_none());
        // 500 ms of trace time at speed 2 is 250 ms later.
        assert_eq!(p.deadline(), Some(Nanos(1_000 + 250_000_000)));
        assert!(p.pop_due(Nanos(1_000 + 250_000_000)).is_some());
        assert!(p.pop_due(Nanos(1_000 + 500_000_000)).is_some());
        assert!(p.finished());
        assert_eq!(p.wake_at(), Some(Nanos(1_000 + 500_000_000)));
        assert_eq!(p.pop_due(Nanos(1_000 + 500_000_000)).unwrap().0, 0);
    }

    #[test]
    fn row_params_fall_back_to_base() {
        let base = Params {
            rate_bps: Some(5_000_000),
            delay: Nanos::from_ms(20),
            ..Params::default()
        };
        let mut row = Row::new(0, "cell");
        assert_eq!(row_params(&base, &row), base);
        row.rate_kbps = Some(1500.0);
        row.rtt_ms = Some(80.0);
        row.loss_pct = Some(19.0);
        let p = row_params(&base, &row);
        assert_eq!(p.rate_bps, Some(1_500_000));
        assert_eq!(p.delay, Nanos::from_ms(40));
        // Two directions at 10 % each lose 19 % of round trips.
        assert!((p.loss - 0.1).abs() < 1e-9, "{}", p.loss);
    }
}
