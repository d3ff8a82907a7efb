//! Wi-Fi signal from nl80211 over generic netlink: the station the client
//! is associated with (`NL80211_CMD_GET_STATION` on the interface) gives
//! signal, average signal and transmit bitrate. Parsed with the one codec
//! ([`crate::wire`]); tested on built messages, since this machine has no
//! Wi-Fi driver (mac80211_hwsim is not loadable here).

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::socket::Netlink;
use crate::wire::{Attributes, GENL_HDR_LEN, Message, Request, genl_header};

/// The generic netlink controller, which names families' ids.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CTRL_VERSION: u8 = 1;

pub const NL80211_CMD_GET_STATION: u8 = 17;
pub const NL80211_ATTR_IFINDEX: u16 = 3;
pub const NL80211_ATTR_STA_INFO: u16 = 21;
pub const NL80211_STA_INFO_SIGNAL: u16 = 7;
pub const NL80211_STA_INFO_TX_BITRATE: u16 = 8;
pub const NL80211_STA_INFO_SIGNAL_AVG: u16 = 13;
pub const NL80211_RATE_INFO_BITRATE: u16 = 1;
pub const NL80211_RATE_INFO_BITRATE32: u16 = 5;
const NL80211_VERSION: u8 = 1;

/// What the station info says.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Station {
    pub signal_dbm: Option<f64>,
    pub signal_avg_dbm: Option<f64>,
    pub tx_bitrate_kbps: Option<f64>,
}

/// The station info in a GET_STATION answer (the attributes after the
/// generic netlink header).
pub fn parse_station(attributes: Attributes) -> Option<Station> {
    let info = attributes.nested(NL80211_ATTR_STA_INFO)?;
    let dbm = |kind| info.clone().find_u8(kind).map(|b| f64::from(b as i8));
    let tx_bitrate_kbps = info
        .clone()
        .nested(NL80211_STA_INFO_TX_BITRATE)
        .and_then(|rate| {
            let r32 = rate.clone().find_u32(NL80211_RATE_INFO_BITRATE32);
            let r16 = rate.find_u16(NL80211_RATE_INFO_BITRATE).map(u32::from);
            // Both count 100 kbit/s units.
            r32.or(r16).map(|units| f64::from(units) * 100.0)
        });
    Some(Station {
        signal_dbm: dbm(NL80211_STA_INFO_SIGNAL),
        signal_avg_dbm: dbm(NL80211_STA_INFO_SIGNAL_AVG),
        tx_bitrate_kbps,
    })
}

fn station_of(m: &Message) -> Option<Station> {
    parse_station(m.attributes(GENL_HDR_LEN))
}

pub struct Nl80211 {
    socket: Netlink,
    family: u16,
}

impl Nl80211 {
    /// Opens generic netlink and finds nl80211; fails where no Wi-Fi driver
    /// registered it.
    pub fn open() -> Result<Nl80211, String> {
        let fail = |e: io::Error| format!("nl80211: {e}");
        let mut socket = Netlink::generic(Duration::from_secs(1)).map_err(fail)?;
        let lookup = Request::new(
            GENL_ID_CTRL,
            0,
            &genl_header(CTRL_CMD_GETFAMILY, CTRL_VERSION),
        )
        .attr(CTRL_ATTR_FAMILY_NAME, b"nl80211\0");
        let mut family = None;
        socket
            .query(lookup, GENL_ID_CTRL, |m| {
                family = family.or(m.attributes(GENL_HDR_LEN).find_u16(CTRL_ATTR_FAMILY_ID));
            })
            .map_err(|e| format!("nl80211 is not available ({e}): no Wi-Fi driver"))?;
        let family = family.ok_or("nl80211: no family id in the answer")?;
        Ok(Nl80211 { socket, family })
    }

    /// Asks for the station the interface `ifindex` is associated with,
    /// without waiting: the answer is read by [`Nl80211::read_station`]
    /// when [`Nl80211::fd`] is readable.
    pub fn ask_station(&mut self, ifindex: u32) -> Result<StationQuery, String> {
        let request = Request::new(
            self.family,
            0,
            &genl_header(NL80211_CMD_GET_STATION, NL80211_VERSION),
        )
        .attr_u32(NL80211_ATTR_IFINDEX, ifindex);
        let seq = self
            .socket
            .start_dump(request)
            .map_err(|e| format!("nl80211: station dump not sent: {e}"))?;
        Ok(StationQuery { seq, found: None })
    }

    /// Reads what has arrived for `query`: `None` while the dump goes on,
    /// then the station (an error when the interface is not associated).
    pub fn read_station(&mut self, query: &mut StationQuery) -> Option<Result<Station, String>> {
        let family = self.family;
        let found = &mut query.found;
        let done = self.socket.read_dump(query.seq, family, |m| {
            *found = found.or_else(|| station_of(m))
        });
        match done {
            Ok(false) => None,
            Ok(true) => Some(found.ok_or_else(|| "not associated".to_string())),
            Err(e) => Some(Err(format!("nl80211: station dump failed: {e}"))),
        }
    }

    /// The socket answers arrive on.
    pub fn fd(&self) -> RawFd {
        self.socket.fd()
    }
}

/// A station request under way.
#[derive(Debug)]
pub struct StationQuery {
    seq: u32,
    found: Option<Station>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AttrWriter, NLA_F_NESTED, messages};

    fn station_answer(family: u16, signal: i8, avg: i8, rate_units: u32) -> Vec<u8> {
        let rate = AttrWriter::default()
            .attr(NL80211_RATE_INFO_BITRATE32, &rate_units.to_ne_bytes())
            .into_bytes();
        let info = AttrWriter::default()
            .attr(NL80211_STA_INFO_SIGNAL, &[signal as u8])
            .attr(NL80211_STA_INFO_SIGNAL_AVG, &[avg as u8])
            .attr(NL80211_STA_INFO_TX_BITRATE | NLA_F_NESTED, &rate)
            .into_bytes();
        let mut m = Request::new(family, 0, &genl_header(NL80211_CMD_GET_STATION, 1))
            .attr_u32(NL80211_ATTR_IFINDEX, 7)
            .attr(NL80211_ATTR_STA_INFO | NLA_F_NESTED, &info);
        m.finish(0, 3).to_vec()
    }

    #[test]
    fn parses_station_info() {
        let bytes = station_answer(28, -61, -63, 1_733);
        let m = messages(&bytes).next().unwrap();
        assert_eq!(
            station_of(&m),
            Some(Station {
                signal_dbm: Some(-61.0),
                signal_avg_dbm: Some(-63.0),
                tx_bitrate_kbps: Some(173_300.0),
            })
        );
        let mut bare = Request::new(28, 0, &genl_header(NL80211_CMD_GET_STATION, 1))
            .attr_u32(NL80211_ATTR_IFINDEX, 7);
        let bare = bare.finish(0, 1).to_vec();
        assert_eq!(station_of(&messages(&bare).next().unwrap()), None);
    }

    #[test]
    fn never_panics_on_truncated_or_garbage_input() {
        let good = station_answer(28, -50, -51, 10);
        for end in 0..good.len() {
            let _ = parse_station(Attributes::new(&good[..end]));
            let _ = messages(&good[..end])
                .filter_map(|m| station_of(&m))
                .count();
        }
        let mut seed = 0x1234_5678u32;
        for _ in 0..10_000 {
            let mut m = good.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % m.len();
                m[i] = (seed >> 8) as u8;
            }
            let _ = messages(&m).filter_map(|m| station_of(&m)).count();
        }
    }

    #[test]
    fn open_reports_a_missing_driver_clearly() {
        // This machine has no Wi-Fi driver; where one is loaded, open succeeds.
        match Nl80211::open() {
            Ok(_) => {}
            Err(e) => assert!(e.contains("nl80211"), "{e}"),
        }
    }
}
