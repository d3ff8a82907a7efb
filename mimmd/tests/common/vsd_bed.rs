//! The vsd-mode testbed (`mimmd/tests/vsd.rs`, `mimmd/tests/chaos.rs`): two
//! ether members behind vsd0 on the upstream segment, the VSD running with
//! vsd0's address and the default route, and mimmd's configuration for vsd
//! mode (mimmd itself is the caller's to start).

use std::path::PathBuf;

use mimm_testbed::{Description, LinkSpec, LinkType, Testbed};

use super::{Scratch, VsdProcess};

/// One member of vsd0 and mimmd's interface on it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The router's device (the testbed's link of that name).
    pub device: &'static str,
    /// mimmd's interface for it.
    pub iface: &'static str,
    /// The link's one-way delay.
    pub delay_ms: f64,
    /// The interface section's further lines (kind, probes, sources).
    pub options: String,
}

impl Member {
    /// A Wi-Fi client probed through vsd0, 1 ms away: what vsd.rs uses.
    pub fn wifi(device: &'static str, iface: &'static str) -> Member {
        Member {
            device,
            iface,
            delay_ms: 1.0,
            options: "\toption kind wifi\n\tlist probe 198.51.100.1\n".into(),
        }
    }
}

/// A running VSD testbed. Fields drop in order: the VSD stops (and gives
/// its members back) before the scratch directory and the testbed go.
pub struct VsdBed {
    pub vsd: VsdProcess,
    /// mimmd's configuration file (the VSD's section is in it too).
    pub config: PathBuf,
    /// mimmd's control socket.
    pub socket: PathBuf,
    pub dir: Scratch,
    pub bed: Testbed,
}

impl VsdBed {
    /// Builds it: `members` in order (the first is the VSD's first active
    /// one), `globals` extra lines for mimmd's `config globals`.
    pub fn up(tag: &str, members: &[Member], globals: &str) -> VsdBed {
        let desc = Description {
            lan: true,
            seed: 1,
            links: members
                .iter()
                .map(|m| {
                    LinkSpec::new(m.device, LinkType::Ether)
                        .upstream()
                        .no_address()
                        .delay_ms(m.delay_ms)
                })
                .collect(),
        };
        let bed = Testbed::up(&desc).unwrap();
        let dir = Scratch::new(tag);
        let socket = dir.0.join("mimmd.sock");
        let vsd_socket = dir.0.join("vsd0.sock");
        let config = dir.file("mimm", &config_text(members, globals, &socket, &vsd_socket));
        let vsd = VsdProcess::start(&bed, &config, &vsd_socket, &dir.0.join("vsd.log"));
        bed.route_through_vsd("vsd0").unwrap();
        VsdBed {
            vsd,
            config,
            socket,
            dir,
            bed,
        }
    }
}

fn config_text(
    members: &[Member],
    globals: &str,
    socket: &std::path::Path,
    vsd_socket: &std::path::Path,
) -> String {
    let mut text = format!(
        "config globals\n\toption mode vsd\n\toption socket '{}'\n{globals}\
         config vsd 'vsd0'\n",
        socket.display()
    );
    for m in members {
        text += &format!("\tlist member {}\n", m.device);
    }
    text += &format!("\toption socket '{}'\n", vsd_socket.display());
    for m in members {
        text += &format!(
            "config interface '{}'\n\toption device {}\n{}",
            m.iface, m.device, m.options
        );
    }
    text
}

/// wlan0 and wlan1 (mimmd's wifi0 and wifi1), 1 ms each: (bed, scratch,
/// config, mimmd's socket, VSD).
pub fn vsd_bed(tag: &str) -> (Testbed, Scratch, PathBuf, PathBuf, VsdProcess) {
    let b = VsdBed::up(
        tag,
        &[
            Member::wifi("wlan0", "wifi0"),
            Member::wifi("wlan1", "wifi1"),
        ],
        "",
    );
    (b.bed, b.dir, b.config, b.socket, b.vsd)
}
