//! Command-line interface: parse, then hand each command to its module.

mod commands;
mod demo;
mod emulate;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use mimm_testbed::{Dir, LinkType};

/// Testbed for mimm: network namespaces, emulated WAN links, a loss meter.
#[derive(Parser, Debug)]
#[command(version, about)]
pub struct Args {
    /// Which testbed (six hex digits); needed only when several are up.
    #[arg(long, global = true)]
    pub id: Option<String>,
    /// Talk to this control socket instead (an `emulate` process); for
    /// status, set and replay.
    #[arg(long, global = true, conflicts_with = "id")]
    pub control: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The whole system in about two minutes: three modems behind the VSD,
    /// mimmd steering it from a real drive trace, a stream and a download
    /// through the router, a live timeline and an HTML report.
    Demo {
        /// Another trace (format v1, two interfaces or more).
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Where to write the report.
        #[arg(long, default_value = "mimm-demo.html")]
        out: PathBuf,
        /// Time scale: 2 plays twice as fast.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
    /// Build a testbed and run its link emulator until Ctrl-C or `down`.
    Up {
        /// TOML description; without it, --links or two ptp links and one ether link.
        file: Option<PathBuf>,
        /// Links as TYPE or NAME:TYPE[:upstream], comma separated (e.g. ptp,ptp,ether).
        #[arg(long, value_delimiter = ',', conflicts_with = "file")]
        links: Vec<String>,
        /// No client namespace behind the router.
        #[arg(long)]
        no_lan: bool,
        /// Return once the testbed is up, leaving it running in the background.
        #[arg(short, long)]
        detach: bool,
    },
    /// Tear a testbed down.
    Down,
    /// Show links, their impairments and counters.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Run a command in one of the testbed's namespaces.
    Exec {
        /// router, ispN, inet, lan or upstream.
        role: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Change a link at run time.
    Set {
        link: String,
        /// rate KBPS|unlimited, delay MS, loss PCT, queue MS, down, up,
        /// blackhole [MS], carrier-off, carrier-on
        what: String,
        value: Option<String>,
        #[arg(long, value_enum, default_value = "both")]
        dir: DirArg,
    },
    /// Drive every link from a trace (format v1) in real time.
    Replay {
        trace: PathBuf,
        /// Time scale: 2 plays twice as fast.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Trace interface to link, e.g. cell=wwan0,wifi=wlan0.
        #[arg(long, value_delimiter = ',')]
        map: Vec<String>,
        /// Start again at the end.
        #[arg(long)]
        repeat: bool,
        /// Return at once instead of following the replay.
        #[arg(short, long)]
        detach: bool,
    },
    /// Loss meter: a paced UDP stream through the router.
    Probe {
        #[arg(long, default_value = "lan")]
        from: String,
        #[arg(long, default_value = "inet")]
        to: String,
        /// Packets per second.
        #[arg(long, default_value_t = 1000)]
        rate: u32,
        /// Seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// UDP payload bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Reflect packets back to measure round-trip time.
        #[arg(long)]
        echo: bool,
        /// Wait this long for late packets after the last one is sent (ms).
        #[arg(long, default_value_t = 1000)]
        drain_ms: u64,
        #[arg(long)]
        json: bool,
    },
    /// Run the link emulator alone between two devices it creates, each
    /// given as DEV (this namespace) or NS:DEV (a named namespace).
    Emulate {
        #[arg(long = "type", value_enum)]
        link_type: TypeArg,
        #[arg(long)]
        near: String,
        #[arg(long)]
        far: String,
        /// kbit/s; unlimited when absent.
        #[arg(long)]
        rate: Option<u64>,
        /// One-way delay, ms.
        #[arg(long, default_value_t = 0.0)]
        delay: f64,
        /// Loss, percent.
        #[arg(long, default_value_t = 0.0)]
        loss: f64,
        /// Queue, ms at the current rate.
        #[arg(long)]
        queue: Option<u64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Drive the link from this trace...
        #[arg(long)]
        trace: Option<PathBuf>,
        /// ...from this interface of it (needed when it has several).
        #[arg(long, requires = "trace")]
        iface: Option<String>,
        #[arg(long, default_value_t = 1.0, requires = "trace")]
        speed: f64,
        #[arg(long, requires = "trace")]
        repeat: bool,
    },
    /// Remove what crashed runs left behind (namespaces mtb-*, their processes
    /// and run directories); live runs are left alone unless --all.
    Cleanup {
        #[arg(long)]
        all: bool,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum TypeArg {
    Ptp,
    Ether,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum DirArg {
    Uplink,
    Downlink,
    Both,
}

impl From<DirArg> for Dir {
    fn from(d: DirArg) -> Dir {
        match d {
            DirArg::Uplink => Dir::Uplink,
            DirArg::Downlink => Dir::Downlink,
            DirArg::Both => Dir::Both,
        }
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let id = args.id.as_deref();
    let target = commands::Target {
        id,
        control: args.control.as_deref(),
    };
    match args.command {
        Command::Demo { trace, out, speed } => demo::demo(demo::DemoArgs { trace, out, speed }),
        Command::Up {
            file,
            links,
            no_lan,
            detach,
        } => up::up(id, file, &links, !no_lan, detach),
        Command::Down => commands::down(id),
        Command::Status { json } => commands::status(&target, json),
        Command::Exec { role, command } => commands::exec(id, &role, &command),
        Command::Set {
            link,
            what,
            value,
            dir,
        } => commands::set(&target, &link, &what, value.as_deref(), dir.into()),
        Command::Replay {
            trace,
            speed,
            map,
            repeat,
            detach,
        } => commands::replay(&target, &trace, speed, &map, repeat, detach),
        Command::Probe {
            from,
            to,
            rate,
            duration,
            size,
            echo,
            drain_ms,
            json,
        } => commands::probe(id, from, to, rate, duration, size, echo, drain_ms, json),
        Command::Emulate {
            link_type,
            near,
            far,
            rate,
            delay,
            loss,
            queue,
            seed,
            trace,
            iface,
            speed,
            repeat,
        } => emulate::emulate(emulate::EmulateArgs {
            link_type: match link_type {
                TypeArg::Ptp => LinkType::Ptp,
                TypeArg::Ether => LinkType::Ether,
            },
            near,
            far,
            rate_kbps: rate,
            delay_ms: delay,
            loss_pct: loss,
            queue_ms: queue,
            seed,
            trace,
            iface,
            speed,
            repeat,
            control: args.control,
        }),
        Command::Cleanup { all } => commands::cleanup(all),
    }
}
