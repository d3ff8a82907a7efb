//! One emulated link: two devices and a lane per direction. Packets read from
//! the router's side go up the uplink lane to the far side, and back down the
//! downlink lane.

use std::io;

use serde::{Deserialize, Serialize};

use crate::clock::Nanos;
use crate::emu::impair::{Admit, Counters, Direction, Params};
use crate::emu::ring::{Ring, SLOT};
use crate::tuntap::{DevKind, TunTap};

/// The two kinds of WAN link the testbed emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkType {
    /// Point-to-point, no MAC (ppp0, raw-IP wwan0): TUN on both ends.
    Ptp,
    /// Ethernet-like (Wi-Fi client, cdc_ether/NCM modem): TAP on both ends.
    Ether,
}

impl LinkType {
    pub fn dev_kind(self) -> DevKind {
        match self {
            LinkType::Ptp => DevKind::Tun,
            LinkType::Ether => DevKind::Tap,
        }
    }

    /// Bytes counted against the rate: the IP packet, not the Ethernet header,
    /// so a rate means the same on both link types.
    fn ip_len(self, len: usize) -> usize {
        match self {
            LinkType::Ptp => len,
            LinkType::Ether => len.saturating_sub(14),
        }
    }
}

/// Which device a readiness event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The router's side.
    Near,
    /// The ISP's (or upstream segment's) side.
    Far,
}

/// Which direction a setting applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dir {
    /// Router to far side.
    Uplink,
    /// Far side to router.
    Downlink,
    #[default]
    Both,
}

/// Ring slots per direction: enough for ~40 ms at 1 Gbit/s of full frames.
const RING_SLOTS: usize = 4096;

struct Lane {
    dir: Direction,
    ring: Ring,
}

/// A link's administrative state as the status shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Up,
    Down,
    CarrierOff,
    Blackhole,
}

pub struct Link {
    pub name: String,
    pub link_type: LinkType,
    near: TunTap,
    far: TunTap,
    uplink: Lane,
    downlink: Lane,
    /// Down per the trace being played (its `up` column).
    down: bool,
    /// Down because someone unplugged it (`set down`): held until `set up`,
    /// whatever the trace's rows say meanwhile.
    unplugged: bool,
    carrier_off: bool,
    /// What the description asked for; a trace field that is unknown falls back to it.
    pub base: Params,
    /// Radio facts from a trace, shown in the status for whoever watches.
    pub signal_dbm: Option<f64>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaneStatus {
    pub params: Params,
    pub queued_bytes: usize,
    pub queued_packets: usize,
    pub in_flight_packets: usize,
    pub counters: Counters,
}

impl Link {
    pub fn new(
        name: &str,
        link_type: LinkType,
        near: TunTap,
        far: TunTap,
        base: Params,
        seed: u64,
    ) -> Link {
        let lane = |seed| Lane {
            dir: Direction::new(base, seed),
            ring: Ring::new(RING_SLOTS),
        };
        Link {
            name: name.to_string(),
            link_type,
            near,
            far,
            uplink: lane(seed),
            downlink: lane(seed ^ 0x5555_5555_5555_5555),
            down: false,
            unplugged: false,
            carrier_off: false,
            base,
            signal_dbm: None,
            kind: None,
        }
    }

    pub fn device(&self, end: End) -> &TunTap {
        match end {
            End::Near => &self.near,
            End::Far => &self.far,
        }
    }

    pub fn state(&self, now: Nanos) -> State {
        if self.is_down() {
            State::Down
        } else if self.carrier_off {
            State::CarrierOff
        } else if [&self.uplink, &self.downlink]
            .iter()
            .any(|l| l.dir.blackhole_until().is_some_and(|u| now < u))
        {
            State::Blackhole
        } else {
            State::Up
        }
    }

    pub fn lane_status(&self, dir: Dir) -> LaneStatus {
        let lane = match dir {
            Dir::Downlink => &self.downlink,
            _ => &self.uplink,
        };
        LaneStatus {
            params: *lane.dir.params(),
            queued_bytes: lane.dir.queued_bytes(),
            queued_packets: lane.ring.queued(),
            in_flight_packets: lane.ring.in_flight(),
            counters: lane.dir.counters,
        }
    }

    fn lanes(&mut self, dir: Dir) -> impl Iterator<Item = &mut Lane> {
        let (up, down) = match dir {
            Dir::Uplink => (true, false),
            Dir::Downlink => (false, true),
            Dir::Both => (true, true),
        };
        [(&mut self.uplink, up), (&mut self.downlink, down)]
            .into_iter()
            .filter_map(|(lane, on)| on.then_some(lane))
    }

    /// Changes parameters of one or both directions.
    pub fn update_params(&mut self, now: Nanos, dir: Dir, change: impl Fn(&mut Params)) {
        for lane in self.lanes(dir) {
            let mut params = *lane.dir.params();
            change(&mut params);
            lane.dir.set_params(now, params);
        }
    }

    /// Starts (`Some`) or ends (`None`) a blackhole.
    pub fn set_blackhole(&mut self, dir: Dir, until: Option<Nanos>) {
        for lane in self.lanes(dir) {
            lane.dir.set_blackhole(until);
        }
    }

    fn is_down(&self) -> bool {
        self.down || self.unplugged
    }

    /// Link down as a trace row says: carrier off on both ends, queues
    /// flushed, nothing passes.
    pub fn set_down(&mut self, down: bool) -> io::Result<()> {
        self.down = down;
        self.apply_down()
    }

    /// Unplugged (or plugged back in) by hand: down as [`Link::set_down`]
    /// is, and kept down while a trace plays rows that say up (the demo's
    /// 5 s unplug was undone by the next row, a blip the VSD could miss).
    pub fn set_unplugged(&mut self, unplugged: bool) -> io::Result<()> {
        self.unplugged = unplugged;
        self.apply_down()
    }

    fn apply_down(&mut self) -> io::Result<()> {
        self.far.set_carrier(!self.is_down())?;
        self.apply_carrier()
    }

    /// Carrier off on the router's side only (an Ethernet-like link lost).
    pub fn set_carrier_off(&mut self, off: bool) -> io::Result<()> {
        self.carrier_off = off;
        self.apply_carrier()
    }

    fn apply_carrier(&mut self) -> io::Result<()> {
        let blocked = self.is_down() || self.carrier_off;
        for lane in self.lanes(Dir::Both) {
            let flushed = if blocked { lane.ring.clear() } else { 0 };
            lane.dir.set_down(blocked, flushed);
        }
        self.near.set_carrier(!blocked)
    }

    /// Ends expired blackholes; true if one ended.
    pub fn expire(&mut self, now: Nanos) -> bool {
        let up = self.uplink.dir.expire_blackhole(now);
        let down = self.downlink.dir.expire_blackhole(now);
        up || down
    }

    /// The earliest blackhole end still pending.
    pub fn blackhole_deadline(&self) -> Option<Nanos> {
        [&self.uplink, &self.downlink]
            .iter()
            .filter_map(|l| l.dir.blackhole_until())
            .filter(|&u| u != Nanos::MAX)
            .min()
    }

    /// Drains a readable device into its lane. `scratch` takes packets that
    /// find the ring full, so the device is always drained.
    pub fn on_readable(&mut self, end: End, now: Nanos, scratch: &mut [u8; SLOT]) {
        let link_type = self.link_type;
        let (dev, lane) = match end {
            End::Near => (&self.near, &mut self.uplink),
            End::Far => (&self.far, &mut self.downlink),
        };
        loop {
            let has_slot = !lane.ring.is_full();
            let buf: &mut [u8] = match lane.ring.free_slot() {
                Some(slot) => slot,
                None => &mut scratch[..],
            };
            let len = match dev.recv(buf) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("mimm-testbed: {}: read {}: {e}", self.name, dev.name());
                    return;
                }
            };
            let ip_len = link_type.ip_len(len);
            let control = link_type == LinkType::Ether && is_arp(&buf[..len]);
            if lane.dir.admit(now, ip_len, control) == Admit::Queue {
                if has_slot {
                    lane.ring.push(len, now);
                } else {
                    lane.dir.overflowed(ip_len);
                }
            }
        }
    }

    /// Moves packets through shaper and delay line up to `now`; returns when
    /// something is next due.
    pub fn pump(&mut self, now: Nanos) -> Option<Nanos> {
        let link_type = self.link_type;
        let up = pump_lane(&mut self.uplink, &self.far, link_type, now);
        let down = pump_lane(&mut self.downlink, &self.near, link_type, now);
        [up, down, self.blackhole_deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}

/// An ARP frame. A full queue never refuses one: on a saturated downlink
/// tail drop would otherwise eat the replies to the kernel's neighbour probes,
/// the router would lose its gateway for a round trip every half minute or
/// so, and TCP would time out. Modems in Ethernet mode answer ARP locally, so
/// this is also closer to them. Loss, delay, rate and outages still apply.
fn is_arp(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x06][..])
}

fn pump_lane(lane: &mut Lane, out: &TunTap, link_type: LinkType, now: Nanos) -> Option<Nanos> {
    let mut next = None;
    while let Some(head) = lane.ring.queue_head() {
        match lane.dir.departure(head.arrival) {
            Some(at) if at <= now => {
                let deliver = lane.dir.depart(at, link_type.ip_len(head.len as usize));
                lane.ring.depart(deliver);
            }
            Some(at) => {
                next = Some(at);
                break;
            }
            None => break,
        }
    }
    while let Some((meta, bytes)) = lane.ring.flight_head() {
        if meta.deliver > now {
            next = Some(next.map_or(meta.deliver, |n: Nanos| n.min(meta.deliver)));
            break;
        }
        // A TUN/TAP write never blocks; an error means the kernel refused the
        // packet (e.g. device down), which counts as loss on a real link too.
        match out.send(bytes) {
            Ok(_) => lane.dir.delivered(link_type.ip_len(bytes.len())),
            Err(_) => lane.dir.send_failed(),
        }
        lane.ring.pop();
    }
    next
}
