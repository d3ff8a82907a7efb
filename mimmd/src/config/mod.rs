//! `/etc/config/mimm`: the UCI file mimmd runs from. Every error names
//! `file:line:col`, the interface and the option; unknown options and
//! sections are errors too (a typo must not pass silently).
//!
//! ```text
//! config globals 'globals'
//!     option mode 'route'             # route | vsd
//!     option min_dwell_ms '2000'      # see the MM options in README
//!
//! config interface 'wan_lte'          # the section name is the interface name
//!     option device 'wwan0'
//!     option kind 'lte'
//!     option signal_source 'uqmi:/dev/cdc-wdm0'
//!     list probe 'udp:198.51.100.1:7'
//!     option inactive '-116'          # any of the five thresholds; the rest default
//!
//! config server 'server'              # optional
//!     option address '192.0.2.10'     # port 434 unless IP:PORT
//!     option spi '1000'
//!     option key '00112233445566778899aabbccddeeff'
//! ```

mod daemon;
mod mm;
mod server;
pub mod store;

use std::path::{Path, PathBuf};

pub use daemon::{Globals, IfaceDaemon, Mode, ProbeTarget, SignalSource};
use mimm_mm::{Config, Metric};
pub use mimm_uci::ConfigError;
use mimm_uci::{Package, Pos, Reader};
pub use server::ServerConfig;

/// Everything mimmd reads from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MimmConfig {
    pub file: PathBuf,
    pub globals: Globals,
    /// The daemon's side of each interface, in the MM's order.
    pub ifaces: Vec<IfaceDaemon>,
    pub mm: Config,
    /// `config server`, when there is one.
    pub server: Option<ServerConfig>,
    /// Mode vsd: the VSD whose members the interfaces are.
    pub vsd: Option<mimm_vsd::config::VsdConfig>,
}

/// mimmd's sections, read on top of the UCI crate's typed access.
pub(crate) struct Fields<'a>(Reader<'a>);

impl<'a> std::ops::Deref for Fields<'a> {
    type Target = Reader<'a>;

    fn deref(&self) -> &Reader<'a> {
        &self.0
    }
}

/// Reads a mimm UCI file.
pub fn load(path: &Path) -> Result<MimmConfig, String> {
    let package = Package::from_path(path).map_err(|e| e.to_string())?;
    from_package(&package, path).map_err(|e| e.to_string())
}

/// Every option a section of type `kind` may have (none for a type mimmd
/// does not read): what the file is checked against, and what LuCI's form
/// must offer.
pub fn options_of(kind: &str) -> Vec<&'static str> {
    match kind {
        "globals" => [mm::GLOBAL_OPTIONS, daemon::GLOBAL_OPTIONS].concat(),
        "interface" => [mm::IFACE_OPTIONS, daemon::IFACE_OPTIONS].concat(),
        "server" => server::OPTIONS.to_vec(),
        "vsd" => mimm_vsd::config::all_options(),
        _ => Vec::new(),
    }
}

/// The configuration in a parsed package; `file` names the place in errors.
pub fn from_package(package: &Package, file: &Path) -> Result<MimmConfig, ConfigError> {
    let reader = Fields(Reader { file });
    let known_globals = options_of("globals");
    let known_iface = options_of("interface");
    let mut globals_sections = package.sections_of("globals");
    let globals_section = globals_sections.next();
    if let Some(extra) = globals_sections.next() {
        return Err(reader.fail(extra.pos, "only one globals section".into()));
    }
    if let Some(g) = globals_section {
        reader.check_known(g, &known_globals, "globals")?;
    }
    let default_averaging = match globals_section {
        Some(g) => reader.averaging(g, "globals")?,
        None => None,
    };
    let mut mm_ifaces = Vec::new();
    let mut ifaces = Vec::new();
    let mut server = None;
    for s in &package.sections {
        match s.kind.as_str() {
            "interface" => {
                let Some(name) = &s.name else {
                    return Err(reader.fail(
                        s.pos,
                        "interface sections need a name (config interface 'NAME')".into(),
                    ));
                };
                reader.check_known(s, &known_iface, &format!("interface {name}"))?;
                let daemon = reader.daemon_interface(s, name)?;
                // Without a signal source, the probes are the measure.
                let metric = if daemon.signal_source.is_none() {
                    Metric::Quality
                } else {
                    Metric::SignalDbm
                };
                mm_ifaces.push(reader.mm_interface(s, name, metric, default_averaging)?);
                ifaces.push(daemon);
            }
            "server" => {
                if server.is_some() {
                    return Err(reader.fail(s.pos, "only one server section".into()));
                }
                reader.check_known(s, &options_of("server"), "server")?;
                server = Some(reader.server(s)?);
            }
            // The VSD's own; checked below with the VSD's rules.
            "globals" | "vsd" => {}
            other => {
                return Err(reader.fail(
                    s.pos,
                    format!("unknown section type {other:?} (interface, globals, server or vsd)"),
                ));
            }
        }
    }
    let mut mm = Config::new(mm_ifaces);
    let mut globals = Globals::default();
    if let Some(g) = globals_section {
        reader.mm_globals(g, &mut mm)?;
        globals = reader.daemon_globals(g)?;
        let asks = g.option("consult_server").filter(|_| mm.consult_server);
        if let Some(opt) = asks.filter(|_| !server.as_ref().is_some_and(|s| s.enabled)) {
            return Err(reader.fail(
                opt.pos,
                "globals: consult_server needs an enabled config server section".into(),
            ));
        }
    }
    if let Err(e) = mm.validate() {
        // The option at fault where the file sets it, else its section.
        let section = match e.iface.as_deref() {
            Some(name) => package.section(name),
            None => globals_section,
        };
        let pos = section.map_or(Pos { line: 1, col: 1 }, |s| {
            s.option(e.field).map_or(s.pos, |o| o.pos)
        });
        return Err(reader.fail(pos, e.to_string()));
    }
    let shared = ifaces
        .iter()
        .enumerate()
        .find(|(i, d)| ifaces[..*i].iter().any(|o| o.device == d.device));
    if let Some((_, d)) = shared {
        let pos = package.section(&d.name).map_or(Pos::default(), |s| s.pos);
        return Err(reader.fail(
            pos,
            format!(
                "interface {}: device {} is used by another interface",
                d.name, d.device
            ),
        ));
    }
    let vsds = mimm_vsd::config::from_package(package, file)?;
    let vsd = match globals.mode {
        Mode::Route => None,
        Mode::Vsd => Some(pick_vsd(&reader, package, &globals, vsds, &ifaces)?),
    };
    let mut preferred = ifaces.iter().filter(|d| d.preferred).skip(1);
    if let Some(d) = preferred.next() {
        let pos = package
            .section(&d.name)
            .and_then(|s| s.option("preferred"))
            .map_or(Pos::default(), |o| o.pos);
        return Err(reader.fail(
            pos,
            format!("interface {}: only one interface may be preferred", d.name),
        ));
    }
    Ok(MimmConfig {
        file: file.to_path_buf(),
        globals,
        ifaces,
        mm,
        server,
        vsd,
    })
}

/// Mode vsd: the VSD named in globals (or the only one), with every
/// interface's device among its members.
fn pick_vsd(
    reader: &Reader,
    package: &Package,
    globals: &Globals,
    vsds: Vec<mimm_vsd::config::VsdConfig>,
    ifaces: &[IfaceDaemon],
) -> Result<mimm_vsd::config::VsdConfig, ConfigError> {
    let at = |name: &str, option: &str| {
        let section = match name {
            // Often anonymous (`config globals`).
            "globals" => package.sections_of("globals").next(),
            _ => package.section(name),
        };
        section
            .map(|s| s.option(option).map_or(s.pos, |o| o.pos))
            .unwrap_or(Pos { line: 1, col: 1 })
    };
    let names = vsds
        .iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let vsd = match &globals.vsd {
        Some(n) => vsds.iter().find(|v| &v.name == n).cloned().ok_or_else(|| {
            reader.fail(
                at("globals", "vsd"),
                format!("globals: no config vsd '{n}' (there is: {names})"),
            )
        })?,
        None if vsds.len() == 1 => vsds[0].clone(),
        None => {
            let what = if vsds.is_empty() {
                "mode vsd needs a config vsd section with the interfaces' devices as members"
                    .to_string()
            } else {
                format!("several vsd sections ({names}): name one with option vsd")
            };
            return Err(reader.fail(at("globals", "mode"), format!("globals: {what}")));
        }
    };
    for d in ifaces {
        if !vsd.members.contains(&d.device) {
            return Err(reader.fail(
                at(&d.name, "device"),
                format!(
                    "interface {}: device {} is not a member of vsd {} (members: {}); in mode vsd every interface is one",
                    d.name,
                    d.device,
                    vsd.name,
                    vsd.members.join(", ")
                ),
            ));
        }
    }
    Ok(vsd)
}
