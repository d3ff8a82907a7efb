//! `emulate`: the link emulator on its own, between two devices it creates
//! (in the current namespace or named ones), outside any testbed.

use std::path::{Path, PathBuf};
use std::process::Command;

use mimm_testbed::clock;
use mimm_testbed::description::LinkSpec;
use mimm_testbed::emu::engine::Engine;
use mimm_testbed::emu::link::Link;
use mimm_testbed::tuntap::TunTap;
use mimm_testbed::{LinkType, netns};
use mimm_trace::Trace;

use mimm_io::signals::{Signals, Wake};

/// What `emulate` was asked for.
pub struct EmulateArgs {
    pub link_type: LinkType,
    pub near: String,
    pub far: String,
    pub rate_kbps: Option<u64>,
    pub delay_ms: f64,
    pub loss_pct: f64,
    pub queue_ms: Option<u64>,
    pub seed: u64,
    pub trace: Option<PathBuf>,
    pub iface: Option<String>,
    pub speed: f64,
    pub repeat: bool,
    pub control: Option<PathBuf>,
}

/// `NS:DEV` or `DEV` (current namespace).
fn split_end(end: &str) -> (Option<&str>, &str) {
    match end.split_once(':') {
        Some((ns, dev)) => (Some(ns), dev),
        None => (None, end),
    }
}

fn open_end(end: &str, link_type: LinkType) -> Result<TunTap, String> {
    let (ns, dev) = split_end(end);
    let _in = ns
        .map(netns::enter)
        .transpose()
        .map_err(|e| format!("{end}: {e}"))?;
    let device = TunTap::open(dev, link_type.dev_kind()).map_err(|e| format!("{end}: {e}"))?;
    let mut ip = Command::new("ip");
    ip.args(["link", "set", "dev", dev, "up"]);
    netns::run(&mut ip).map_err(|e| format!("{end}: {e}"))?;
    Ok(device)
}

pub fn emulate(args: EmulateArgs) -> Result<(), String> {
    if !netns::is_root() {
        return Err("emulate needs root (TUN/TAP)".into());
    }
    let (_, near_dev) = split_end(&args.near);
    let mut spec = LinkSpec::new(near_dev, args.link_type)
        .delay_ms(args.delay_ms)
        .loss_pct(args.loss_pct);
    spec.rate_kbps = args.rate_kbps;
    spec.queue_ms = args.queue_ms;
    let check = mimm_testbed::Description {
        lan: false,
        seed: args.seed,
        links: vec![spec.clone()],
    };
    check
        .validate()
        .map_err(|(_, e)| format!("link {near_dev}: {e}"))?;
    let trace = match &args.trace {
        Some(path) => Some(Trace::from_path(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let signals = Signals::block()?;
    let near = open_end(&args.near, args.link_type)?;
    let far = open_end(&args.far, args.link_type)?;
    let link = Link::new(
        near_dev,
        args.link_type,
        near,
        far,
        spec.params(),
        args.seed,
    );
    let control = args.control.clone().unwrap_or_else(|| {
        Path::new(mimm_testbed::run::RUN_ROOT).join(format!("emulate-{}.sock", std::process::id()))
    });
    if let Some(dir) = control.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut engine =
        Engine::new("emulate", vec![link], None, &control).map_err(|e| e.to_string())?;
    if let (Some(trace), Some(path)) = (&trace, &args.trace) {
        let iface = match &args.iface {
            Some(i) => i.clone(),
            None => match trace.ifaces().as_slice() {
                [only] => only.to_string(),
                many => {
                    return Err(format!(
                        "{}: the trace has interfaces {}; choose one with --iface",
                        path.display(),
                        many.join(", ")
                    ));
                }
            },
        };
        let map = [(iface, near_dev.to_string())];
        let name = path.display().to_string();
        engine.replay(&name, trace, &map, args.speed, args.repeat, clock::now())?;
    }
    let running = engine.spawn("emulate").map_err(|e| e.to_string())?;
    let kind = match args.link_type {
        LinkType::Ptp => "ptp",
        LinkType::Ether => "ether",
    };
    println!(
        "emulating {} <-> {} ({kind}); control socket {}; Ctrl-C ends it",
        args.near,
        args.far,
        control.display()
    );
    if let Wake::Signal(signal) = signals.wait(None, Some(running.stopped_fd())) {
        eprintln!("signal {signal}: stopping");
    }
    let result = running.stop().map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&control);
    result
}
