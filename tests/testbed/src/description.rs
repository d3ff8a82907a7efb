//! The testbed description: which WAN links the router has and how they
//! behave. Written as TOML (`mimm-testbed up FILE`) or built in code.
//!
//! ```toml
//! lan = true                 # a client namespace behind the router
//! seed = 1                   # loss decisions are reproducible per seed
//!
//! [[link]]
//! name = "wwan0"             # the router's device name
//! type = "ptp"               # ptp (TUN, raw IP) | ether (TAP, Ethernet)
//! rate_kbps = 20000          # absent = unlimited
//! delay_ms = 40              # one way
//! loss_pct = 0
//!
//! [[link]]
//! name = "wlan0"
//! type = "ether"
//! segment = "upstream"       # isp (own ISP namespace, default) | upstream (shared L2)
//! ```

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::clock::Nanos;
use crate::emu::impair::Params;
use crate::emu::link::LinkType;
use crate::emu::ring::SLOT;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    /// The link ends in its own ISP namespace with its own subnet.
    #[default]
    Isp,
    /// The link ends on the shared `upstream` L2 segment (one subnet, one gateway).
    Upstream,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub link_type: LinkType,
    #[serde(default)]
    pub segment: Segment,
    #[serde(default)]
    pub rate_kbps: Option<u64>,
    #[serde(default)]
    pub delay_ms: f64,
    #[serde(default)]
    pub loss_pct: f64,
    #[serde(default)]
    pub queue_ms: Option<u64>,
    #[serde(default)]
    pub mtu: Option<u16>,
    /// Give the router's device an address (false for future VSD members).
    #[serde(default = "yes")]
    pub address: bool,
}

fn yes() -> bool {
    true
}

impl LinkSpec {
    pub fn new(name: &str, link_type: LinkType) -> LinkSpec {
        LinkSpec {
            name: name.to_string(),
            link_type,
            segment: Segment::Isp,
            rate_kbps: None,
            delay_ms: 0.0,
            loss_pct: 0.0,
            queue_ms: None,
            mtu: None,
            address: true,
        }
    }

    pub fn rate_kbps(mut self, kbps: u64) -> LinkSpec {
        self.rate_kbps = Some(kbps);
        self
    }

    pub fn delay_ms(mut self, ms: f64) -> LinkSpec {
        self.delay_ms = ms;
        self
    }

    pub fn loss_pct(mut self, pct: f64) -> LinkSpec {
        self.loss_pct = pct;
        self
    }

    pub fn upstream(mut self) -> LinkSpec {
        self.segment = Segment::Upstream;
        self
    }

    /// The router's device gets no address (a VSD member).
    pub fn no_address(mut self) -> LinkSpec {
        self.address = false;
        self
    }

    pub fn mtu(&self) -> u16 {
        self.mtu.unwrap_or(1500)
    }

    /// The emulator parameters this link starts with (both directions).
    pub fn params(&self) -> Params {
        let defaults = Params::default();
        Params {
            rate_bps: self.rate_kbps.map(|k| k.saturating_mul(1000)),
            delay: Nanos::from_ms_f64(self.delay_ms),
            loss: self.loss_pct / 100.0,
            queue: self.queue_ms.map_or(defaults.queue, Nanos::from_ms),
            burst_bytes: defaults.burst_bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    #[serde(default = "yes")]
    pub lan: bool,
    #[serde(default = "one")]
    pub seed: u64,
    #[serde(rename = "link")]
    pub links: Vec<LinkSpec>,
}

fn one() -> u64 {
    1
}

impl Default for Description {
    /// Two raw-IP modems and a Wi-Fi client, with a LAN client.
    fn default() -> Description {
        Description {
            lan: true,
            seed: 1,
            links: vec![
                LinkSpec::new("wwan0", LinkType::Ptp),
                LinkSpec::new("wwan1", LinkType::Ptp),
                LinkSpec::new("wlan0", LinkType::Ether),
            ],
        }
    }
}

/// TOML as the file carries it: links keep their spans for error messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDescription {
    #[serde(default = "yes")]
    lan: bool,
    #[serde(default = "one")]
    seed: u64,
    #[serde(rename = "link", default)]
    links: Vec<toml::Spanned<LinkSpec>>,
}

pub const MAX_LINKS: usize = 16;

impl Description {
    /// Links given as `TYPE` or `NAME:TYPE[:upstream]`, e.g. `ptp,ptp,ether`.
    pub fn from_shorthand(items: &[String], lan: bool) -> Result<Description, String> {
        let mut links = Vec::new();
        let (mut ptp, mut ether) = (0, 0);
        for item in items
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|s| !s.is_empty())
        {
            let parts: Vec<&str> = item.split(':').collect();
            let (name, ty, rest) = match parts.as_slice() {
                [ty] => (None, *ty, &[][..]),
                [name, ty, rest @ ..] => (Some(*name), *ty, rest),
                [] => unreachable!("split yields at least one piece"),
            };
            let link_type = match ty {
                "ptp" => LinkType::Ptp,
                "ether" => LinkType::Ether,
                other => return Err(format!("link {item:?}: type {other:?} is not ptp or ether")),
            };
            let default_name = match link_type {
                LinkType::Ptp => format!("wwan{ptp}"),
                LinkType::Ether => format!("wlan{ether}"),
            };
            match link_type {
                LinkType::Ptp => ptp += 1,
                LinkType::Ether => ether += 1,
            }
            let mut spec = LinkSpec::new(name.unwrap_or(&default_name), link_type);
            for option in rest {
                match *option {
                    "upstream" => spec.segment = Segment::Upstream,
                    other => return Err(format!("link {item:?}: unknown option {other:?}")),
                }
            }
            links.push(spec);
        }
        let desc = Description {
            lan,
            seed: 1,
            links,
        };
        desc.check()?;
        Ok(desc)
    }

    /// Parses a TOML description; errors name file:line:col.
    pub fn parse(text: &str, file: &Path) -> Result<Description, String> {
        let raw: RawDescription = toml::from_str(text)
            .map_err(|e| format!("{}: {}", file.display(), e.to_string().trim_end()))?;
        let spans: Vec<Range<usize>> = raw.links.iter().map(|l| l.span()).collect();
        let desc = Description {
            lan: raw.lan,
            seed: raw.seed,
            links: raw.links.into_iter().map(|l| l.into_inner()).collect(),
        };
        desc.validate().map_err(|(index, e)| match index {
            Some(i) => {
                let (line, col) = line_col(text, spans[i].start);
                format!(
                    "{}:{line}:{col}: link {}: {e}",
                    file.display(),
                    desc.links[i].name
                )
            }
            None => format!("{}: {e}", file.display()),
        })?;
        Ok(desc)
    }

    pub fn from_path(path: &Path) -> Result<Description, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Description::parse(&text, path)
    }

    /// [`Description::validate`] with the link named in the message.
    pub fn check(&self) -> Result<(), String> {
        self.validate().map_err(|(index, e)| match index {
            Some(i) => format!("link {}: {e}", self.links[i].name),
            None => e,
        })
    }

    /// Checks everything the file format cannot; the error says which link.
    pub fn validate(&self) -> Result<(), (Option<usize>, String)> {
        if self.links.is_empty() {
            return Err((None, "at least one [[link]] is needed".into()));
        }
        if self.links.len() > MAX_LINKS {
            return Err((
                None,
                format!("at most {MAX_LINKS} links, not {}", self.links.len()),
            ));
        }
        for (i, link) in self.links.iter().enumerate() {
            let fail = |e: String| Err((Some(i), e));
            let name_ok = !link.name.is_empty()
                && link.name.len() < 16
                && link
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !name_ok {
                return fail("name: 1 to 15 letters, digits, '_', '-' or '.'".into());
            }
            if ["lo", "lan0"].contains(&link.name.as_str()) {
                return fail(format!("name: {} is used by the testbed itself", link.name));
            }
            if self.links[..i].iter().any(|l| l.name == link.name) {
                return fail("name: used by an earlier link".into());
            }
            if link.segment == Segment::Upstream && link.link_type != LinkType::Ether {
                return fail("segment: only ether links can share the upstream segment".into());
            }
            if !(0.0..=60_000.0).contains(&link.delay_ms) {
                return fail(format!("delay_ms: {} must be 0..=60000", link.delay_ms));
            }
            if !(0.0..=100.0).contains(&link.loss_pct) {
                return fail(format!("loss_pct: {} must be 0..=100", link.loss_pct));
            }
            if link.queue_ms.is_some_and(|q| !(1..=60_000).contains(&q)) {
                return fail("queue_ms: must be 1..=60000".into());
            }
            let max_mtu = (SLOT - 14) as u16;
            if !(68..=max_mtu).contains(&link.mtu()) {
                return fail(format!("mtu: {} must be 68..={max_mtu}", link.mtu()));
            }
        }
        Ok(())
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults() {
        let d = Description::parse(
            "[[link]]\nname = \"wwan0\"\ntype = \"ptp\"\nrate_kbps = 20000\ndelay_ms = 40\n",
            Path::new("bed.toml"),
        )
        .unwrap();
        assert!(d.lan);
        assert_eq!(d.links[0].params().rate_bps, Some(20_000_000));
        assert_eq!(d.links[0].segment, Segment::Isp);
    }

    #[test]
    fn errors_name_file_line_col_link_and_field() {
        let text = "lan = false\n\n[[link]]\nname = \"a\"\ntype = \"ptp\"\n\n[[link]]\nname = \"b\"\ntype = \"ptp\"\nloss_pct = 150\n";
        let e = Description::parse(text, Path::new("bed.toml")).unwrap_err();
        assert!(e.starts_with("bed.toml:7:1: link b: loss_pct: 150"), "{e}");
        let e = Description::parse(
            "[[link]]\nname = \"a\"\ntype = \"ppp\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.starts_with("x.toml: TOML parse error at line 3"), "{e}");
        let e = Description::parse(
            "[[link]]\nname=\"a\"\ntype=\"ptp\"\nrate=1\n",
            Path::new("x"),
        )
        .unwrap_err();
        assert!(e.contains("unknown field `rate`"), "{e}");
        let e = Description::parse("lan = true\n", Path::new("x")).unwrap_err();
        assert!(e.contains("at least one [[link]]"), "{e}");
        let e = Description::parse(
            "[[link]]\nname=\"w\"\ntype=\"ptp\"\nsegment=\"upstream\"\n",
            Path::new("x"),
        )
        .unwrap_err();
        assert!(e.contains("x:1:1: link w: segment"), "{e}");
    }

    #[test]
    fn shorthand_names_links_by_type() {
        let d = Description::from_shorthand(&["ptp,ptp,ether".into()], true).unwrap();
        let names: Vec<&str> = d.links.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["wwan0", "wwan1", "wlan0"]);
        assert_eq!(d, Description::default());
        let d = Description::from_shorthand(
            &["a:ether:upstream".into(), "b:ether:upstream".into()],
            false,
        )
        .unwrap();
        assert_eq!(d.links[1].segment, Segment::Upstream);
        assert!(Description::from_shorthand(&["x:ptp:upstream".into()], true).is_err());
        assert!(Description::from_shorthand(&["ppp".into()], true).is_err());
        assert!(Description::from_shorthand(&["a:ptp,a:ptp".into()], true).is_err());
    }
}
