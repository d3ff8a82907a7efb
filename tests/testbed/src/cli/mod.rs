//! Command-line interface: parse, then hand each command to its module.

mod args;
mod commands;
mod demo;
mod emulate;
mod up;

pub use args::{Args, Command, USAGE, parse};

pub fn run(args: Args) -> Result<(), String> {
    let id = args.id.as_deref();
    let target = commands::Target {
        id,
        control: args.control.as_deref(),
    };
    match args.command {
        Command::Demo {
            trace,
            out,
            speed,
            shadow,
        } => demo::demo(demo::DemoArgs {
            trace,
            out,
            speed,
            variant: match shadow {
                true => demo::Variant::Shadow,
                false => demo::Variant::Anchored,
            },
        }),
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
        } => commands::set(&target, &link, &what, value.as_deref(), dir),
        Command::Replay {
            trace,
            speed,
            map,
            repeat,
            detach,
        } => commands::replay(&target, &trace, speed, &map, repeat, detach),
        Command::Probe(p) => commands::probe(
            id, p.from, p.to, p.rate, p.duration, p.size, p.echo, p.drain_ms, p.json,
        ),
        Command::Emulate(e) => emulate::emulate(e),
        Command::Cleanup { all } => commands::cleanup(all),
    }
}
