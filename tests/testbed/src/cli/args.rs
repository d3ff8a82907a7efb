//! The command line, read with lexopt like every other mimm binary: global
//! options, a command, its words and options in any order; every option
//! given must be one the command takes.

use std::path::PathBuf;
use std::str::FromStr;

use mimm_testbed::{Dir, LinkType};

use super::emulate;

pub const USAGE: &str = "mimm-testbed: network namespaces, emulated WAN links, a loss meter

usage: mimm-testbed [--id ID | --control SOCKET] COMMAND [OPTIONS]

  demo [--trace FILE] [--out mimm-demo.html] [--speed 1] [--shadow]
        the whole system in about two minutes: a PPP link, a raw-IP modem and a
        Wi-Fi client on three ISPs bonded in the anchored VSD behind one home
        address (--shadow: three modems on one segment behind the shadow-MAC VSD),
        mimmd steering it from a real drive trace, a stream and a download through
        the router, a live timeline and an HTML report
  up [FILE | --links TYPE|NAME:TYPE[:upstream],...] [--no-lan] [-d|--detach]
        build a testbed (a TOML description, or links such as ptp,ptp,ether) and
        run its link emulator until Ctrl-C or down
  down                      tear a testbed down
  status [--json]           links, their impairments and counters
  exec ROLE -- COMMAND...   run a command in a namespace: router, ispN, inet, lan, upstream, core
  set LINK WHAT [VALUE] [--dir uplink|downlink|both]
        rate KBPS|unlimited, delay MS, loss PCT, queue MS, down, up,
        blackhole [MS], carrier-off, carrier-on
  replay TRACE [--speed 1] [--map cell=wwan0,...] [--repeat] [-d|--detach]
        drive every link from a trace (format v1) in real time
  probe [--from lan] [--to inet] [--rate 1000] [--duration 10] [--size 64]
        [--echo] [--drain-ms 1000] [--json]
        the loss meter: a paced UDP stream through the router
  emulate --type ptp|ether --near [NS:]DEV --far [NS:]DEV [--rate KBPS] [--delay MS]
        [--loss PCT] [--queue MS] [--seed 1] [--trace FILE [--iface NAME]
        [--speed 1] [--repeat]]
        the link emulator alone between two devices it creates
  cleanup [--all]           remove what crashed runs left (namespaces mtb-*, their
                            processes and run directories); live ones only with --all

--id: which testbed (six hex digits), needed only when several are up.
--control: talk to this control socket instead (an emulate process): status, set, replay.";

pub struct Args {
    pub id: Option<String>,
    pub control: Option<PathBuf>,
    pub command: Command,
}

pub enum Command {
    Demo {
        trace: Option<PathBuf>,
        out: PathBuf,
        speed: f64,
        /// The shadow-MAC demo on one segment instead of the anchored one.
        shadow: bool,
    },
    Up {
        file: Option<PathBuf>,
        links: Vec<String>,
        no_lan: bool,
        detach: bool,
    },
    Down,
    Status {
        json: bool,
    },
    Exec {
        role: String,
        command: Vec<String>,
    },
    Set {
        link: String,
        what: String,
        value: Option<String>,
        dir: Dir,
    },
    Replay {
        trace: PathBuf,
        speed: f64,
        map: Vec<String>,
        repeat: bool,
        detach: bool,
    },
    Probe(ProbeArgs),
    Emulate(emulate::EmulateArgs),
    Cleanup {
        all: bool,
    },
}

pub struct ProbeArgs {
    pub from: String,
    pub to: String,
    pub rate: u32,
    pub duration: f64,
    pub size: usize,
    pub echo: bool,
    pub drain_ms: u64,
    pub json: bool,
}

/// A command's words, options and flags as given, read by name; every
/// option given must be one the command reads.
struct Given {
    command: String,
    words: Vec<String>,
    options: Vec<(String, String)>,
    flags: Vec<String>,
    read: std::cell::RefCell<Vec<String>>,
}

impl Given {
    fn mark(&self, name: &str) {
        self.read.borrow_mut().push(name.to_string());
    }

    fn flag(&self, name: &str) -> bool {
        self.mark(name);
        self.flags.iter().any(|f| f == name)
    }

    fn value<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.mark(name);
        match self.options.iter().rev().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, v)) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{}: --{name} {v:?} is not valid", self.command)),
        }
    }

    fn or<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        Ok(self.value(name)?.unwrap_or(default))
    }

    fn needed<T: FromStr>(&self, name: &str) -> Result<T, String> {
        self.value(name)?
            .ok_or_else(|| format!("{}: --{name} is needed", self.command))
    }

    /// A comma-separated list, every time the option is given.
    fn list(&self, name: &str) -> Vec<String> {
        self.mark(name);
        (self.options.iter())
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(',').map(str::to_string))
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn word(&self, i: usize, what: &str) -> Result<String, String> {
        self.words
            .get(i)
            .cloned()
            .ok_or_else(|| format!("{}: {what} is needed\n\n{USAGE}", self.command))
    }

    /// After the command read what it takes: anything else given is an error.
    fn done<T>(&self, command: T, words: usize) -> Result<T, String> {
        let read = self.read.borrow();
        let unread = (self.options.iter().map(|(n, _)| n))
            .chain(self.flags.iter())
            .find(|n| !read.contains(n));
        if let Some(name) = unread {
            return Err(format!("{}: no option --{name}\n\n{USAGE}", self.command));
        }
        if let Some(extra) = self.words.get(words) {
            return Err(format!("{}: unexpected {extra:?}\n\n{USAGE}", self.command));
        }
        Ok(command)
    }
}

/// Options that take no value, and those that take one (which commands
/// take which is checked by [`Given::done`]).
const FLAGS: &[&str] = &[
    "no-lan", "detach", "json", "repeat", "echo", "all", "shadow",
];
const VALUED: &[&str] = &[
    "trace", "out", "speed", "links", "dir", "map", "from", "to", "rate", "duration", "size",
    "drain-ms", "type", "near", "far", "delay", "loss", "queue", "seed", "iface",
];

/// Reads the command line: global options, then the command and its own,
/// in any order (as `--id` may come after the command).
pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    let err = |e: lexopt::Error| format!("{e}\n\n{USAGE}");
    let (mut id, mut control) = (None, None);
    let mut command: Option<String> = None;
    let mut given = Given {
        command: String::new(),
        words: Vec::new(),
        options: Vec::new(),
        flags: Vec::new(),
        read: Default::default(),
    };
    while let Some(arg) = parser.next().map_err(err)? {
        match arg {
            Long("help") | Short('h') => return Err(USAGE.into()),
            Long("version") => return Err(format!("mimm-testbed {}", env!("CARGO_PKG_VERSION"))),
            Long("id") => id = Some(parser.value().map_err(err)?.string().map_err(err)?),
            Long("control") => control = Some(PathBuf::from(parser.value().map_err(err)?)),
            Short('d') => given.flags.push("detach".into()),
            Long(name) if FLAGS.contains(&name) => given.flags.push(name.into()),
            Long(name) if VALUED.contains(&name) => {
                let name = name.to_string();
                let value = parser.value().map_err(err)?.string().map_err(err)?;
                given.options.push((name, value));
            }
            Value(v) if command.is_none() => command = Some(v.string().map_err(err)?),
            Value(v) => given.words.push(v.string().map_err(err)?),
            Short(_) | Long(_) => return Err(format!("{}\n\n{USAGE}", arg.unexpected())),
        }
    }
    if id.is_some() && control.is_some() {
        return Err("--id and --control cannot be used together".into());
    }
    let command = command.ok_or_else(|| USAGE.to_string())?;
    given.command = command;
    Ok(Args {
        id,
        control: control.clone(),
        command: read_command(&given, control)?,
    })
}

fn read_command(g: &Given, control: Option<PathBuf>) -> Result<Command, String> {
    match g.command.as_str() {
        "demo" => g.done(
            Command::Demo {
                trace: g.value("trace")?,
                out: g.or("out", PathBuf::from("mimm-demo.html"))?,
                speed: g.or("speed", 1.0)?,
                shadow: g.flag("shadow"),
            },
            0,
        ),
        "up" => {
            let (file, links) = (g.words.first().map(PathBuf::from), g.list("links"));
            if file.is_some() && !links.is_empty() {
                return Err("up: a FILE or --links, not both".into());
            }
            let (no_lan, detach) = (g.flag("no-lan"), g.flag("detach"));
            g.done(
                Command::Up {
                    file,
                    links,
                    no_lan,
                    detach,
                },
                1,
            )
        }
        "down" => g.done(Command::Down, 0),
        "status" => g.done(
            Command::Status {
                json: g.flag("json"),
            },
            0,
        ),
        "exec" => {
            let role = g.word(0, "a ROLE")?;
            let command = g.words[1..].to_vec();
            if command.is_empty() {
                return Err(format!("exec: a command is needed after --\n\n{USAGE}"));
            }
            g.done(Command::Exec { role, command }, g.words.len())
        }
        "set" => {
            let dir = match g.or("dir", "both".to_string())?.as_str() {
                "uplink" => Dir::Uplink,
                "downlink" => Dir::Downlink,
                "both" => Dir::Both,
                other => return Err(format!("set: --dir {other:?}: uplink, downlink or both")),
            };
            let (link, what) = (g.word(0, "a LINK")?, g.word(1, "WHAT to change")?);
            let value = g.words.get(2).cloned();
            g.done(
                Command::Set {
                    link,
                    what,
                    value,
                    dir,
                },
                3,
            )
        }
        "replay" => g.done(
            Command::Replay {
                trace: g.word(0, "a TRACE")?.into(),
                speed: g.or("speed", 1.0)?,
                map: g.list("map"),
                repeat: g.flag("repeat"),
                detach: g.flag("detach"),
            },
            1,
        ),
        "probe" => g.done(
            Command::Probe(ProbeArgs {
                from: g.or("from", "lan".to_string())?,
                to: g.or("to", "inet".to_string())?,
                rate: g.or("rate", 1000)?,
                duration: g.or("duration", 10.0)?,
                size: g.or("size", 64)?,
                echo: g.flag("echo"),
                drain_ms: g.or("drain-ms", 1000)?,
                json: g.flag("json"),
            }),
            0,
        ),
        "emulate" => g.done(Command::Emulate(emulate_args(g, control)?), 0),
        "cleanup" => g.done(Command::Cleanup { all: g.flag("all") }, 0),
        other => Err(format!("no command {other:?}\n\n{USAGE}")),
    }
}

fn emulate_args(g: &Given, control: Option<PathBuf>) -> Result<emulate::EmulateArgs, String> {
    let link_type = match g.needed::<String>("type")?.as_str() {
        "ptp" => LinkType::Ptp,
        "ether" => LinkType::Ether,
        other => return Err(format!("emulate: --type {other:?}: ptp or ether")),
    };
    let trace: Option<PathBuf> = g.value("trace")?;
    let iface = g.value("iface")?;
    let (speed, repeat) = (g.or("speed", 1.0)?, g.flag("repeat"));
    if trace.is_none() && (iface.is_some() || repeat || speed != 1.0) {
        return Err("emulate: --iface, --speed and --repeat go with --trace".into());
    }
    Ok(emulate::EmulateArgs {
        link_type,
        near: g.needed("near")?,
        far: g.needed("far")?,
        rate_kbps: g.value("rate")?,
        delay_ms: g.or("delay", 0.0)?,
        loss_pct: g.or("loss", 0.0)?,
        queue_ms: g.value("queue")?,
        seed: g.or("seed", 1)?,
        trace,
        iface,
        speed,
        repeat,
        control,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> Result<Args, String> {
        parse(line.split_whitespace().map(std::ffi::OsString::from))
    }

    #[test]
    fn commands_read_as_the_usage_says() {
        let a = parsed("exec router -- ip -o link show --id").unwrap();
        match a.command {
            Command::Exec { role, command } => {
                assert_eq!(role, "router");
                assert_eq!(command, ["ip", "-o", "link", "show", "--id"]);
            }
            _ => panic!("not exec"),
        }
        // Global options go anywhere, as before.
        let a = parsed("status --json --id 0a0b0c").unwrap();
        assert_eq!(a.id.as_deref(), Some("0a0b0c"));
        assert!(matches!(a.command, Command::Status { json: true }));
        let a = parsed("up -d --links ptp,ether --links wlan1:ether --no-lan").unwrap();
        match a.command {
            Command::Up {
                file: None,
                links,
                no_lan: true,
                detach: true,
            } => assert_eq!(links, ["ptp", "ether", "wlan1:ether"]),
            _ => panic!("not up"),
        }
        let a = parsed("set wlan0 rate 500 --dir uplink").unwrap();
        assert!(matches!(
            a.command,
            Command::Set {
                dir: Dir::Uplink,
                ..
            }
        ));
        let a = parsed("probe --rate 200 --duration 2.5 --echo").unwrap();
        assert!(matches!(
            a.command,
            Command::Probe(ProbeArgs {
                rate: 200,
                echo: true,
                ..
            })
        ));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let refused = |line: &str| parsed(line).err().unwrap_or_default();
        assert!(refused("up f.toml --links ptp").contains("a FILE or --links, not both"));
        assert!(refused("down --json").starts_with("down: no option --json"));
        assert!(refused("status --bogus").contains("invalid option '--bogus'"));
        assert!(refused("exec router").contains("a command is needed after --"));
        assert!(refused("set wlan0 rate 5 --dir sideways").contains("uplink, downlink or both"));
        assert!(refused("probe --rate fast").contains("--rate \"fast\" is not valid"));
        assert!(refused("emulate --type ptp --near a").contains("--far is needed"));
        assert!(
            refused("emulate --type ptp --near a --far b --repeat").contains("go with --trace")
        );
        assert!(refused("--id 1 --control /x status").contains("cannot be used together"));
        assert!(refused("fly").starts_with("no command \"fly\""));
        assert!(refused("replay").contains("a TRACE is needed"));
        assert!(refused("down now").contains("unexpected \"now\""));
    }
}
