//! Wi-Fi signal from nl80211: the station the client is associated with
//! (`NL80211_CMD_GET_STATION` on the interface) gives signal, average signal
//! and transmit bitrate. The message walk is bounds-checked and never panics;
//! it is tested on built messages, since this machine has no Wi-Fi driver
//! (mac80211_hwsim is not loadable here).

use std::io;

use netlink_sys::protocols::NETLINK_GENERIC;
use netlink_sys::{Socket, SocketAddr};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NL80211_CMD_GET_STATION: u8 = 17;
const NL80211_ATTR_IFINDEX: u16 = 3;
const NL80211_ATTR_STA_INFO: u16 = 21;
const NL80211_STA_INFO_SIGNAL: u16 = 7;
const NL80211_STA_INFO_TX_BITRATE: u16 = 8;
const NL80211_STA_INFO_SIGNAL_AVG: u16 = 13;
const NL80211_RATE_INFO_BITRATE: u16 = 1;
const NL80211_RATE_INFO_BITRATE32: u16 = 5;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

/// What the station info says.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Station {
    pub signal_dbm: Option<f64>,
    pub signal_avg_dbm: Option<f64>,
    pub tx_bitrate_kbps: Option<f64>,
}

/// Netlink attributes in `data`: (type without flags, payload).
fn attrs(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let header = data.get(at..at + 4)?;
        let len = usize::from(u16::from_ne_bytes([header[0], header[1]]));
        let kind = u16::from_ne_bytes([header[2], header[3]]) & 0x3fff;
        if len < 4 {
            return None;
        }
        let payload = data.get(at + 4..at + len)?;
        at += (len + 3) & !3;
        Some((kind, payload))
    })
}

fn attr(data: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(data).find(|(k, _)| *k == kind).map(|(_, p)| p)
}

/// The station info in a GET_STATION answer (the payload after the
/// 4-byte generic netlink header).
pub fn parse_station(payload: &[u8]) -> Option<Station> {
    let info = attr(payload, NL80211_ATTR_STA_INFO)?;
    let dbm = |k| {
        attr(info, k)
            .and_then(|p| p.first())
            .map(|&b| f64::from(b as i8))
    };
    let tx_bitrate_kbps = attr(info, NL80211_STA_INFO_TX_BITRATE).and_then(|rate| {
        let r32 = attr(rate, NL80211_RATE_INFO_BITRATE32)
            .and_then(|p| p.get(..4))
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        let r16 = attr(rate, NL80211_RATE_INFO_BITRATE)
            .and_then(|p| p.get(..2))
            .map(|b| u32::from(u16::from_ne_bytes([b[0], b[1]])));
        // Both count 100 kbit/s units.
        r32.or(r16).map(|units| f64::from(units) * 100.0)
    });
    Some(Station {
        signal_dbm: dbm(NL80211_STA_INFO_SIGNAL),
        signal_avg_dbm: dbm(NL80211_STA_INFO_SIGNAL_AVG),
        tx_bitrate_kbps,
    })
}

fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity((len + 3) & !3);
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize((len + 3) & !3, 0);
    out
}

fn genl_message(family: u16, flags: u16, seq: u32, cmd: u8, attributes: &[u8]) -> Vec<u8> {
    let len = 16 + 4 + attributes.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&family.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[cmd, 1, 0, 0]);
    m.extend_from_slice(attributes);
    m
}

/// Netlink messages in a datagram: (type, payload after the 16-byte header).
fn messages(data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let h = data.get(at..at + 16)?;
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        if len < 16 {
            return None;
        }
        let payload = data.get(at + 16..at + len)?;
        at += (len + 3) & !3;
        Some((kind, payload))
    })
}

pub struct Nl80211 {
    socket: Socket,
    family: u16,
    seq: u32,
}

impl Nl80211 {
    /// Opens generic netlink and finds nl80211; fails where no Wi-Fi driver
    /// registered it.
    pub fn open() -> Result<Nl80211, String> {
        let fail = |e: io::Error| format!("nl80211: {e}");
        let mut socket = Socket::new(NETLINK_GENERIC).map_err(fail)?;
        socket.bind_auto().map_err(fail)?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(fail)?;
        let timeout = Some(std::time::Duration::from_secs(1));
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            timeout,
        )
        .map_err(|e| fail(e.into()))?;
        let name = nla(CTRL_ATTR_FAMILY_NAME, b"nl80211\0");
        let request = genl_message(
            GENL_ID_CTRL,
            NLM_F_REQUEST | NLM_F_ACK,
            1,
            CTRL_CMD_GETFAMILY,
            &name,
        );
        socket.send(&request, 0).map_err(fail)?;
        let mut buf = vec![0u8; 8192];
        let len = socket.recv(&mut &mut buf[..], 0).map_err(fail)?;
        for (kind, payload) in messages(&buf[..len]) {
            if kind == NLMSG_ERROR {
                let code = payload
                    .get(..4)
                    .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                if code != 0 {
                    return Err(format!(
                        "nl80211 is not available ({}): no Wi-Fi driver",
                        io::Error::from_raw_os_error(-code)
                    ));
                }
                continue;
            }
            let family = payload
                .get(4..)
                .and_then(|a| attr(a, CTRL_ATTR_FAMILY_ID))
                .and_then(|p| p.get(..2))
                .map(|b| u16::from_ne_bytes([b[0], b[1]]));
            if let Some(family) = family {
                return Ok(Nl80211 {
                    socket,
                    family,
                    seq: 1,
                });
            }
        }
        Err("nl80211: no family id in the answer".into())
    }

    /// The station the interface `ifindex` is associated with.
    pub fn station(&mut self, ifindex: u32) -> Result<Station, String> {
        self.seq += 1;
        let attrs = nla(NL80211_ATTR_IFINDEX, &ifindex.to_ne_bytes());
        let request = genl_message(
            self.family,
            NLM_F_REQUEST | NLM_F_DUMP,
            self.seq,
            NL80211_CMD_GET_STATION,
            &attrs,
        );
        self.socket
            .send(&request, 0)
            .map_err(|e| format!("nl80211: {e}"))?;
        let mut buf = vec![0u8; 16384];
        let mut found = None;
        loop {
            let len = self
                .socket
                .recv(&mut &mut buf[..], 0)
                .map_err(|e| format!("nl80211: {e}"))?;
            for (kind, payload) in messages(&buf[..len]) {
                match kind {
                    NLMSG_DONE => return found.ok_or_else(|| "not associated".to_string()),
                    NLMSG_ERROR => {
                        return found.ok_or_else(|| "nl80211: station dump failed".to_string());
                    }
                    _ => {
                        if found.is_none() {
                            found = payload.get(4..).and_then(parse_station);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn station_payload(signal: i8, avg: i8, rate_units: u32) -> Vec<u8> {
        let rate = nla(NL80211_RATE_INFO_BITRATE32, &rate_units.to_ne_bytes());
        let mut info = nla(NL80211_STA_INFO_SIGNAL, &[signal as u8]);
        info.extend(nla(NL80211_STA_INFO_SIGNAL_AVG, &[avg as u8]));
        info.extend(nla(NL80211_STA_INFO_TX_BITRATE | 0x8000, &rate));
        let mut payload = nla(NL80211_ATTR_IFINDEX, &7u32.to_ne_bytes());
        payload.extend(nla(NL80211_ATTR_STA_INFO | 0x8000, &info));
        payload
    }

    #[test]
    fn parses_station_info() {
        let s = parse_station(&station_payload(-61, -63, 1_733)).unwrap();
        assert_eq!(
            s,
            Station {
                signal_dbm: Some(-61.0),
                signal_avg_dbm: Some(-63.0),
                tx_bitrate_kbps: Some(173_300.0),
            }
        );
        assert_eq!(parse_station(&nla(NL80211_ATTR_IFINDEX, &[0; 4])), None);
    }

    #[test]
    fn never_panics_on_truncated_or_garbage_input() {
        let good = station_payload(-50, -51, 10);
        for end in 0..good.len() {
            let _ = parse_station(&good[..end]);
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
            let _ = parse_station(&m);
            let _ = messages(&m).count();
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
