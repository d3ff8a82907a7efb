//! The two demos: the anchored one (the default: two point-to-point modems
//! and a Wi-Fi client, each on its own ISP that NATs, bonded behind one home
//! address through the anchor in the core) and `--shadow` (three 5G modems
//! in Ethernet mode on one bridged segment behind the shadow-MAC VSD).

use std::path::Path;

use mimm_testbed::anchored::{self, AnchorClient};
use mimm_testbed::{Change, Description, LinkSpec, LinkType, Testbed};

/// The router's MN-HA security context at the anchor.
const ANCHOR_CLIENT: AnchorClient = AnchorClient {
    name: "router",
    spi: 2000,
    key_hex: "6d696d6d2d64656d6f2d616e63686f72",
};
/// The anchor's TUN in `core`.
const ANCHOR_TUN: &str = "mimm-anchor0";
/// Keepalives per member: each path's RTT and loss for mimmd, and a dead
/// path found in three of them.
const KEEPALIVE_MS: u64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Anchored,
    Shadow,
}

impl Variant {
    /// The router's device for the trace's `i`-th interface. Anchored: a
    /// PPP link (OpenWrt names it `3g-<interface>`), a raw-IP modem, a
    /// Wi-Fi client, then more modems.
    pub fn device(self, i: usize) -> String {
        match (self, i) {
            (Variant::Shadow, _) => format!("wwan{i}"),
            (Variant::Anchored, 0) => "3g-wan".into(),
            (Variant::Anchored, 2) => "wlan0".into(),
            (Variant::Anchored, 1) => "wwan0".into(),
            (Variant::Anchored, _) => format!("wwan{}", i - 2),
        }
    }

    fn link(self, dev: &str) -> LinkSpec {
        match self {
            Variant::Shadow => LinkSpec::new(dev, LinkType::Ether).upstream().no_address(),
            // Each member has its ISP's address: its care-of address.
            Variant::Anchored if dev.starts_with("wlan") => LinkSpec::new(dev, LinkType::Ether),
            Variant::Anchored => LinkSpec::new(dev, LinkType::Ptp),
        }
        .delay_ms(10.0)
    }

    pub fn description(self, devices: &[&str]) -> Description {
        Description {
            lan: true,
            seed: 1,
            links: devices.iter().map(|d| self.link(d)).collect(),
        }
    }

    pub fn up(self, desc: &Description) -> std::io::Result<Testbed> {
        match self {
            Variant::Shadow => Testbed::up(desc),
            Variant::Anchored => Testbed::up_anchored(desc),
        }
    }

    /// What the run is, for its first line.
    pub fn headline(self, devices: &[&str]) -> String {
        match self {
            Variant::Shadow => format!(
                "{} modems ({}) on one segment behind the shadow-MAC vsd0",
                devices.len(),
                devices.join(", ")
            ),
            Variant::Anchored => format!(
                "{} links ({}) on {} ISPs that NAT, bonded in vsd0 behind one home address \
                 through the anchor at {}",
                devices.len(),
                devices.join(", "),
                devices.len(),
                anchored::ANCHOR_ADDR
            ),
        }
    }

    /// The `config vsd` section mimmd and the VSD share.
    pub fn vsd_section(self, devices: &[&str], socket: &Path) -> String {
        match self {
            Variant::Anchored => anchored::anchored_vsd_section(
                "vsd0",
                devices,
                &ANCHOR_CLIENT,
                KEEPALIVE_MS,
                socket,
            ),
            Variant::Shadow => {
                let mut text = format!(
                    "config vsd 'vsd0'\n\toption socket '{}'\n",
                    socket.display()
                );
                for dev in devices {
                    text.push_str(&format!("\tlist member '{dev}'\n"));
                }
                text
            }
        }
    }

    /// mimm-server's file for the anchor, when there is one.
    pub fn anchor_config(self) -> Option<String> {
        (self == Variant::Anchored).then(|| anchored::anchor_config(&ANCHOR_CLIENT, ANCHOR_TUN))
    }

    /// True once the VSD can carry traffic: a member active, and in the
    /// anchored mode every member bound at the anchor (so every handoff
    /// has a path to go to).
    pub fn vsd_ready(self, status: &serde_json::Value) -> bool {
        let s = &status["ok"]["status"];
        let bound = |m: &serde_json::Value| m["path"]["bound"].as_bool() == Some(true);
        !s["active"].is_null()
            && (self == Variant::Shadow
                || s["members"]
                    .as_array()
                    .is_some_and(|ms| ms.iter().all(bound)))
    }

    /// Sends the router's traffic through `vsd0`.
    pub fn route_through_vsd(self, bed: &Testbed) -> Result<(), String> {
        match self {
            Variant::Shadow => bed.route_through_vsd("vsd0"),
            // A TUN: no gateway; the router's NAT gives the LAN the home address.
            Variant::Anchored => {
                let args = ["ip", "route", "replace", "default", "dev", "vsd0"];
                let out = bed.exec("router", &args).map_err(|e| e.to_string())?;
                match out.status.success() {
                    true => Ok(()),
                    false => Err(format!(
                        "{args:?}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )),
                }
            }
        }
    }

    /// Unplugging `dev` and plugging it back in: an Ethernet modem loses
    /// carrier; a point-to-point device (PPP, raw IP) goes down.
    pub fn unplug(self, bed: &Testbed, dev: &str, plugged: bool) -> std::io::Result<()> {
        let ether = bed
            .plan
            .link(dev)
            .is_some_and(|l| l.link_type == LinkType::Ether);
        let change = match (ether, plugged) {
            (true, false) => Change::CarrierOff,
            (true, true) => Change::CarrierOn,
            (false, false) => Change::Down,
            (false, true) => Change::Up,
        };
        bed.set(dev, change)
    }
}
