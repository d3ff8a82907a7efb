//! `config vsd 'NAME'` sections of `/etc/config/mimm`: one virtual subnet
//! device each, named after its TAP.
//!
//! ```text
//! config vsd 'vsd0'
//!     list member 'eth1'            # in priority order: the first is preferred
//!     list member 'eth2'
//!     option mac_policy 'same_all'  # same_all | only_active | by_active
//!     option mac '02:6d:69:6d:6d:01' # default: derived, locally administered
//!     option mtu '1500'
//!     option datapath 'kernel'      # kernel | userspace (see crate::kernel_path)
//! ```

use std::path::{Path, PathBuf};

use mimm_uci::{ConfigError, Package, Reader, Section};

use crate::anchored::config::{self as anchored, AnchoredConfig};
use crate::macs::MacPolicy;
use crate::switch::SwitchConfig;
use crate::wire::Mac;

pub const OPTIONS: &[&str] = &[
    "member",
    "mac",
    "mac_policy",
    "mtu",
    "overlap_ms",
    "num_grat_arp",
    "num_unsol_na",
    "announce_interval_ms",
    "socket",
    "batch",
    "datapath",
];

#[derive(Debug, Clone, PartialEq)]
pub struct VsdConfig {
    /// The TAP's name (the section's).
    pub name: String,
    /// Member devices, the first preferred.
    pub members: Vec<String>,
    /// `None`: derived from the name and the machine.
    pub mac: Option<Mac>,
    pub mac_policy: MacPolicy,
    pub mtu: u32,
    pub num_grat_arp: u32,
    pub num_unsol_na: u32,
    pub switch: SwitchConfig,
    pub socket: PathBuf,
    /// Frames moved per system call.
    pub batch: usize,
    /// The kernel forwards frames, steered by the switch (`datapath
    /// 'kernel'`, the default); else every frame goes through the loop.
    pub kernel_path: bool,
    /// `option mode 'anchored'`: a TUN with the home address, members
    /// tunnelled to an anchor (see [`crate::anchored::config`]).
    pub anchored: Option<AnchoredConfig>,
}

impl VsdConfig {
    pub fn new(name: &str) -> VsdConfig {
        VsdConfig {
            name: name.to_string(),
            members: Vec::new(),
            mac: None,
            mac_policy: MacPolicy::SameAll,
            mtu: 1500,
            num_grat_arp: 3,
            num_unsol_na: 3,
            switch: SwitchConfig::default(),
            socket: default_socket(name),
            batch: 16,
            kernel_path: true,
            anchored: None,
        }
    }
}

pub fn default_socket(name: &str) -> PathBuf {
    PathBuf::from(format!("/var/run/vsd-{name}.sock"))
}

pub fn parse_mac(text: &str) -> Option<Mac> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

pub fn format_mac(mac: &Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn device_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && !name.contains(['/', ' ', ':'])
        && name != "."
        && name != ".."
}

/// Every option of a `config vsd` section, in either mode.
pub fn all_options() -> Vec<&'static str> {
    [OPTIONS, anchored::OPTIONS].concat()
}

fn read(r: &Reader, s: &Section, name: &str) -> Result<VsdConfig, ConfigError> {
    let what = format!("vsd {name}");
    let what = what.as_str();
    let at = |option: &str| s.option(option).map_or(s.pos, |o| o.pos);
    r.check_known(s, &all_options(), what)?;
    if !device_name_ok(name) {
        return Err(r.fail(
            s.pos,
            format!("{what}: not a kernel device name (1 to 15 characters)"),
        ));
    }
    let mut cfg = VsdConfig::new(name);
    let (members, pos) = r.list(s, "member");
    for (i, m) in members.iter().enumerate() {
        if !device_name_ok(m) {
            return Err(r.fail(
                pos,
                format!("{what}: member {m:?} is not a kernel device name"),
            ));
        }
        if m == name || members[..i].contains(m) {
            return Err(r.fail(
                pos,
                format!("{what}: member {m} is listed twice or is the VSD itself"),
            ));
        }
    }
    cfg.members = members;
    if let Some(text) = r.string(s, what, "mac")? {
        let mac = parse_mac(&text).filter(|m| m[0] & 1 == 0).ok_or_else(|| {
            r.fail(
                at("mac"),
                format!("{what}: mac {text:?} is not a unicast address like 02:6d:69:6d:6d:01"),
            )
        })?;
        cfg.mac = Some(mac);
    }
    if let Some(text) = r.string(s, what, "mac_policy")? {
        cfg.mac_policy = MacPolicy::parse(&text).ok_or_else(|| {
            r.fail(
                at("mac_policy"),
                format!("{what}: mac_policy {text:?} must be same_all, only_active or by_active"),
            )
        })?;
    }
    if let Some(mtu) = r.value::<u32>(s, what, "mtu", "an MTU")? {
        if !(576..=65_535).contains(&mtu) {
            return Err(r.fail(at("mtu"), format!("{what}: mtu {mtu} must be 576..65535")));
        }
        cfg.mtu = mtu;
    }
    for (option, field) in [
        ("num_grat_arp", &mut cfg.num_grat_arp),
        ("num_unsol_na", &mut cfg.num_unsol_na),
    ] {
        if let Some(v) = r.value::<u32>(s, what, option, "a count 0..255")? {
            if v > 255 {
                return Err(r.fail(at(option), format!("{what}: {option} {v} must be 0..255")));
            }
            *field = v;
        }
    }
    cfg.switch.announce_count = cfg.num_grat_arp.max(cfg.num_unsol_na);
    for (option, field) in [
        ("overlap_ms", &mut cfg.switch.overlap_ms),
        ("announce_interval_ms", &mut cfg.switch.announce_interval_ms),
    ] {
        if let Some(v) = r.value::<u64>(s, what, option, "a whole number of ms")? {
            *field = v;
        }
    }
    if let Some(v) = r.absolute_path(s, what, "socket")? {
        cfg.socket = v;
    }
    if let Some(v) = r.value::<usize>(s, what, "batch", "a batch size 1..64")? {
        if !(1..=64).contains(&v) {
            return Err(r.fail(at("batch"), format!("{what}: batch {v} must be 1..64")));
        }
        cfg.batch = v;
    }
    if let Some(text) = r.string(s, what, "datapath")? {
        cfg.kernel_path = match text.as_str() {
            "kernel" => true,
            "userspace" => false,
            _ => {
                return Err(r.fail(
                    at("datapath"),
                    format!("{what}: datapath {text:?} must be kernel or userspace"),
                ));
            }
        };
    }
    cfg.anchored = anchored::read(r, s, what)?;
    if cfg.anchored.is_some() {
        // A TUN has no MAC: the shadow-MAC options mean nothing there, nor
        // the kernel path (the tunnel and its cipher are the loop's).
        let shadow_only = ["mac", "mac_policy", "datapath"];
        if let Some(o) = shadow_only.iter().find(|o| s.option(o).is_some()) {
            return Err(r.fail(
                at(o),
                format!("{what}: option {o} has no meaning in mode anchored"),
            ));
        }
        if s.option("mtu").is_none() {
            cfg.mtu = anchored::DEFAULT_MTU;
        }
    }
    Ok(cfg)
}

/// Every `config vsd` section of a package (other section types are not
/// the VSD's and are left alone). A device in two VSDs is an error.
pub fn from_package(package: &Package, file: &Path) -> Result<Vec<VsdConfig>, ConfigError> {
    let r = Reader { file };
    let mut all: Vec<VsdConfig> = Vec::new();
    for s in package.sections_of("vsd") {
        let Some(name) = &s.name else {
            return Err(r.fail(s.pos, "vsd sections need a name: config vsd 'vsd0'".into()));
        };
        let cfg = read(&r, s, name)?;
        for other in &all {
            if let Some(m) = cfg.members.iter().find(|m| other.members.contains(m)) {
                let pos = s.option("member").map_or(s.pos, |o| o.pos);
                return Err(r.fail(
                    pos,
                    format!("vsd {name}: member {m} is already in vsd {}", other.name),
                ));
            }
        }
        all.push(cfg);
    }
    Ok(all)
}

/// Reads `file` and picks the VSD called `name`, or the only one there is.
pub fn load(file: &Path, name: Option<&str>) -> Result<VsdConfig, String> {
    let package = Package::from_path(file).map_err(|e| e.to_string())?;
    let all = from_package(&package, file).map_err(|e| e.to_string())?;
    let names = || {
        all.iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => all.iter().find(|v| v.name == n).cloned().ok_or_else(|| {
            format!(
                "{}: no config vsd '{n}' (there is: {})",
                file.display(),
                names()
            )
        }),
        None if all.len() == 1 => Ok(all[0].clone()),
        None if all.is_empty() => Err(format!(
            "{}: no config vsd section (config vsd 'vsd0' with its members)",
            file.display()
        )),
        None => Err(format!(
            "{}: several vsd sections ({}): name one with --name",
            file.display(),
            names()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<VsdConfig>, String> {
        let file = Path::new("/etc/config/mimm");
        let p = Package::parse_named(text, "mimm", Some(file)).map_err(|e| e.to_string())?;
        from_package(&p, file).map_err(|e| e.to_string())
    }

    #[test]
    fn options_and_defaults() {
        let all = parse(
            "config interface 'wan'\nconfig vsd 'vsd0'\n\tlist member eth1\n\tlist member eth2\n\
             \toption mac_policy by_active\n\toption mac '02:AA:00:00:00:01'\n\toption num_unsol_na 5\n",
        )
        .unwrap();
        let v = &all[0];
        assert_eq!(v.members, ["eth1", "eth2"]);
        assert_eq!(v.mac_policy, MacPolicy::ByActive);
        assert_eq!(v.mac, Some([2, 0xaa, 0, 0, 0, 1]));
        assert_eq!(
            (v.num_grat_arp, v.num_unsol_na, v.switch.announce_count),
            (3, 5, 5)
        );
        assert_eq!(v.socket, Path::new("/var/run/vsd-vsd0.sock"));
        assert_eq!(format_mac(&v.mac.unwrap()), "02:aa:00:00:00:01");
    }

    #[test]
    fn the_shipped_anchored_example_reads() {
        let shipped = include_str!("../../uci/files/mimm");
        let start = shipped
            .find("#config vsd 'vsd0'\n#\toption mode 'anchored'")
            .expect("the anchored example");
        let block: String = shipped[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{}\n", &l[1..]))
            .collect();
        let v = &parse(&block).unwrap()[0];
        let a = v.anchored.as_ref().expect("mode anchored");
        assert_eq!(v.members, ["wwan0", "3g-wan", "wlan0"]);
        assert_eq!(
            (a.anchor.to_string().as_str(), a.spi),
            ("203.0.113.10:434", 1000)
        );
    }

    #[test]
    fn errors_name_the_place() {
        for (text, want) in [
            (
                "config vsd 'vsd0'\n\toption mac 01:00:5e:00:00:01\n",
                "/etc/config/mimm:2:2: vsd vsd0: mac \"01:00:5e:00:00:01\" is not a unicast",
            ),
            (
                "config vsd 'vsd0'\n\tlist member eth1\n\tlist member eth1\n",
                "/etc/config/mimm:3:2: vsd vsd0: member eth1 is listed twice",
            ),
            (
                "config vsd 'vsd0'\n\toption policy x\n",
                "/etc/config/mimm:2:2: vsd vsd0: unknown option \"policy\"",
            ),
            (
                "config vsd 'vsd0'\n\toption mac_policy active\n",
                "/etc/config/mimm:2:2: vsd vsd0: mac_policy \"active\" must be",
            ),
            (
                "config vsd 'vsd0'\n\toption mtu 100\n",
                "/etc/config/mimm:2:2: vsd vsd0: mtu 100 must be 576..65535",
            ),
            (
                "config vsd\n",
                "/etc/config/mimm:1:1: vsd sections need a name",
            ),
            (
                "config vsd 'a'\n\tlist member eth1\nconfig vsd 'b'\n\tlist member eth1\n",
                "/etc/config/mimm:4:2: vsd b: member eth1 is already in vsd a",
            ),
        ] {
            let got = parse(text).unwrap_err();
            assert!(got.starts_with(want), "\n got: {got}\nwant: {want}");
        }
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        let anchored = "config vsd 'vsd0'\n\toption mode anchored\n\toption anchor 203.0.113.10\n\
                        \toption home_agent 10.64.0.1\n\toption spi 1000\n\
                        \toption key 00112233445566778899aabbccddeeff\n";
        for (extra, want) in [
            (
                "\toption mac_policy by_active\n",
                "7:2: vsd vsd0: option mac_policy has no meaning in mode anchored",
            ),
            ("\toption spi 7\n", "7:2: vsd vsd0: spi 7 is reserved"),
            (
                "\toption key 0011\n",
                "7:2: vsd vsd0: key must be at least 32 hex digits",
            ),
            (
                "\toption anchor anchor.example\n",
                "7:2: vsd vsd0: anchor \"anchor.example\" must be an IPv4",
            ),
            (
                "\toption keepalive_ms 5\n",
                "7:2: vsd vsd0: keepalive_ms 5 must be 50..60000",
            ),
            (
                "\toption mark 0xzz\n",
                "7:2: vsd vsd0: mark \"0xzz\" must be a number",
            ),
            (
                "\toption mode tunnel\n",
                "7:2: vsd vsd0: mode \"tunnel\" must be shadow or anchored",
            ),
        ] {
            let got = parse(&format!("{anchored}{extra}")).unwrap_err();
            assert!(got.contains(want), "\n got: {got}\nwant: {want}");
        }
        let got =
            parse("config vsd 'vsd0'\n\toption mode anchored\n\toption anchor 203.0.113.10\n")
                .unwrap_err();
        assert!(
            got.starts_with(
                "/etc/config/mimm:1:1: vsd vsd0: mode anchored needs option home_agent"
            ),
            "{got}"
        );
        let got = parse("config vsd 'vsd0'\n\toption spi 1000\n").unwrap_err();
        assert!(
            got.starts_with(
                "/etc/config/mimm:2:2: vsd vsd0: option spi needs option mode 'anchored'"
            ),
            "{got}"
        );
        let v = &parse(anchored).unwrap()[0];
        let a = v.anchored.as_ref().unwrap();
        assert_eq!(
            (v.mtu, a.anchor.port(), a.lifetime_s, a.keepalive_ms, a.mark),
            (1420, 434, 600, 1000, 0x6d6d)
        );
        assert!(a.home.is_unspecified());
        assert_eq!(parse_mac("02:00:00:00:00:00:00"), None);
        assert_eq!(parse_mac("2:00:00:00:00:00"), None);
    }
}
