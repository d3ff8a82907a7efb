//! A testbed run: builds the namespaces, links and services of a description,
//! runs the emulator, and tears everything down on drop (also on error and on
//! unwinding panics; the CLI adds Ctrl-C and a panic hook).

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mimm_trace::Trace;

use crate::control::{self, Change, Reply, Request, Status};
use crate::description::{Description, Segment};
use crate::emu::engine::{Engine, Running};
use crate::emu::link::{Dir, Link, LinkType};
use crate::emu::player::ReplayStatus;
use crate::emu::services::Services;
use crate::plan::{self, Plan};
use crate::run::{self, RunState};
use crate::tuntap::TunTap;
use crate::{anchored, netns};

pub struct Testbed {
    pub plan: Plan,
    pub description: Description,
    engine: Option<Running>,
    children: Vec<Child>,
    torn_down: bool,
}

impl Testbed {
    /// Builds a testbed with a fresh id. On any error, what was built is removed.
    pub fn up(description: &Description) -> io::Result<Testbed> {
        Testbed::up_with_id(description, &run::new_id()?)
    }

    /// A testbed for the anchored mode: as [`Testbed::up`], plus the core
    /// network ([`crate::anchored`]): every ISP NATs its subscribers and the
    /// `core` namespace, with the anchor's public address, hangs off inet.
    pub fn up_anchored(description: &Description) -> io::Result<Testbed> {
        Testbed::build_run(description, &run::new_id()?, true)
    }

    pub fn up_with_id(description: &Description, id: &str) -> io::Result<Testbed> {
        Testbed::build_run(description, id, false)
    }

    fn build_run(description: &Description, id: &str, core: bool) -> io::Result<Testbed> {
        description
            .check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if !netns::is_root() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the testbed needs root (network namespaces, TUN/TAP)",
            ));
        }
        // The state file comes first, so `cleanup` can find a half-built run.
        RunState::new(id, description).with_core(core).save()?;
        let mut bed = Testbed {
            plan: Plan::new(id, description).with_core(core),
            description: description.clone(),
            engine: None,
            children: Vec::new(),
            torn_down: false,
        };
        bed.build()?;
        Ok(bed)
    }

    pub fn id(&self) -> &str {
        &self.plan.id
    }

    /// The namespace name of a role (`router`, `isp1`, `inet`, `lan`, `upstream`).
    pub fn ns(&self, role: &str) -> String {
        self.plan.ns(role)
    }

    fn build(&mut self) -> io::Result<()> {
        for role in self.plan.roles() {
            netns::add(&self.plan.ns(&role))?;
        }
        self.configure_sysctls()?;
        self.create_veths()?;
        let links = self.create_links()?;
        self.configure_addresses()?;
        if self.plan.lan {
            self.configure_nat()?;
        }
        if self.plan.core {
            self.configure_core()?;
        }
        let services = {
            let _inet = netns::enter(&self.ns("inet"))?;
            Services::bind()?
        };
        let engine = Engine::new(
            self.id(),
            links,
            Some(services),
            &run::control_socket(self.id()),
        )?;
        self.engine = Some(engine.spawn(&format!("emu-{}", self.id()))?);
        self.start_iperf3()?;
        Ok(())
    }

    fn configure_sysctls(&self) -> io::Result<()> {
        for role in self.plan.roles() {
            let _in = netns::enter(&self.ns(&role))?;
            // An anchored testbed's inet carries the ISPs' traffic to the
            // anchor in core and the anchor's back out.
            let forward = match role.as_str() {
                "inet" => self.plan.core,
                "lan" => false,
                _ => true,
            };
            netns::sysctl("net/ipv4/ip_forward", if forward { "1" } else { "0" })?;
            // Policy routing and handoffs make paths asymmetric on purpose.
            netns::sysctl("net/ipv4/conf/all/rp_filter", "0")?;
            netns::sysctl("net/ipv4/conf/default/rp_filter", "0")?;
        }
        Ok(())
    }

    fn create_veths(&self) -> io::Result<()> {
        let inet = self.ns("inet");
        for role in self.plan.isp_roles() {
            let cmd = format!("link add core type veth peer name {role} netns {inet}");
            netns::ip_batch(&self.ns(&role), &[cmd])?;
        }
        if self.plan.has_upstream() {
            let cmds = [
                format!("link add core type veth peer name upstream netns {inet}"),
                "link add br0 type bridge".to_string(),
            ];
            netns::ip_batch(&self.ns("upstream"), &cmds)?;
        }
        if self.plan.lan {
            let cmd = format!(
                "link add {} type veth peer name {} netns {}",
                plan::ROUTER_LAN_DEV,
                plan::LAN_DEV,
                self.ns("lan")
            );
            netns::ip_batch(&self.ns("router"), &[cmd])?;
        }
        Ok(())
    }

    /// Opens both devices of every link, each inside its own namespace.
    fn create_links(&self) -> io::Result<Vec<Link>> {
        let mut links = Vec::new();
        for (spec, lp) in self.description.links.iter().zip(&self.plan.links) {
            let kind = spec.link_type.dev_kind();
            let near = {
                let _in = netns::enter(&self.ns("router"))?;
                TunTap::open(&spec.name, kind)?
            };
            let far = {
                let _in = netns::enter(&self.ns(&lp.far_role))?;
                TunTap::open(&lp.far_dev, kind)?
            };
            let seed =
                self.description.seed ^ (lp.number as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            links.push(Link::new(
                &spec.name,
                spec.link_type,
                near,
                far,
                spec.params(),
                seed,
            ));
        }
        Ok(links)
    }

    fn configure_addresses(&self) -> io::Result<()> {
        let mut router = Vec::new();
        let mut default_set = false;
        for (spec, lp) in self.description.links.iter().zip(&self.plan.links) {
            let dev = &lp.name;
            router.push(format!("link set dev {dev} mtu {} up", spec.mtu()));
            let Some(addr) = lp.router_addr else { continue };
            router.push(match lp.link_type {
                LinkType::Ptp => format!("addr add {addr} peer {}/32 dev {dev}", lp.gateway),
                LinkType::Ether => format!("addr add {addr}/24 dev {dev}"),
            });
            let via = lp.route_via();
            router.push(format!("route add default {via} table {}", lp.table));
            router.push(format!(
                "rule add from {addr} lookup {} pref {}",
                lp.table,
                1000 + lp.number as u32
            ));
            router.push(format!(
                "rule add oif {dev} lookup {} pref {}",
                lp.table,
                1100 + lp.number as u32
            ));
            if !default_set {
                router.push(format!("route add default {via}"));
                default_set = true;
            }
        }
        if self.plan.lan {
            router.push(format!("link set {} up", plan::ROUTER_LAN_DEV));
            router.push(format!(
                "addr add {}/24 dev {}",
                plan::ROUTER_LAN_ADDR,
                plan::ROUTER_LAN_DEV
            ));
            let lan = [
                format!("link set {} up", plan::LAN_DEV),
                format!("addr add {}/24 dev {}", plan::LAN_ADDR, plan::LAN_DEV),
                format!("route add default via {}", plan::ROUTER_LAN_ADDR),
            ];
            netns::ip_batch(&self.ns("lan"), &lan)?;
        }
        netns::ip_batch(&self.ns("router"), &router)?;

        let mut inet = vec![format!("addr add {}/32 dev lo", plan::INET_ADDR)];
        for (spec, lp) in self.description.links.iter().zip(&self.plan.links) {
            if lp.segment != Segment::Isp {
                continue;
            }
            let k = Plan::isp_number(&lp.far_role).expect("isp role");
            let gw = lp.gateway;
            let isp = [
                format!("link set dev access mtu {} up", spec.mtu()),
                match lp.link_type {
                    LinkType::Ptp => {
                        format!("addr add {gw} peer 10.{}.0.2/32 dev access", lp.number)
                    }
                    LinkType::Ether => format!("addr add {gw}/24 dev access"),
                },
                "link set core up".into(),
                format!("addr add 172.16.{k}.1/30 dev core"),
                format!("route add default via 172.16.{k}.2"),
            ];
            netns::ip_batch(&self.ns(&lp.far_role), &isp)?;
            inet.push(format!("link set {} up", lp.far_role));
            inet.push(format!("addr add 172.16.{k}.2/30 dev {}", lp.far_role));
            inet.push(format!(
                "route add 10.{}.0.0/24 via 172.16.{k}.1",
                lp.number
            ));
        }
        if self.plan.has_upstream() {
            let mut up = vec![
                "link set br0 up".to_string(),
                format!("addr add {}/24 dev br0", plan::UPSTREAM_GW),
                "link set core up".into(),
                "addr add 172.16.200.1/30 dev core".into(),
                "route add default via 172.16.200.2".into(),
            ];
            for (spec, lp) in self.description.links.iter().zip(&self.plan.links) {
                if lp.segment == Segment::Upstream {
                    up.push(format!("link set {} master br0", lp.far_dev));
                    up.push(format!("link set {} mtu {} up", lp.far_dev, spec.mtu()));
                }
            }
            netns::ip_batch(&self.ns("upstream"), &up)?;
            inet.push("link set upstream up".into());
            inet.push("addr add 172.16.200.2/30 dev upstream".into());
            inet.push("route add 10.200.0.0/24 via 172.16.200.1".into());
        }
        netns::ip_batch(&self.ns("inet"), &inet)
    }

    /// Masquerades LAN traffic out of every WAN device, as an OpenWrt router does.
    fn configure_nat(&self) -> io::Result<()> {
        let rules = format!(
            "table ip mimm_testbed {{\n chain postrouting {{\n  type nat hook postrouting priority srcnat; policy accept;\n  ip saddr 192.168.1.0/24 oifname != \"{}\" masquerade\n }}\n}}\n",
            plan::ROUTER_LAN_DEV
        );
        netns::nft(&self.ns("router"), &rules)
            .map_err(|e| io::Error::other(format!("router NAT: {e}")))
    }

    /// The anchored testbed's core: `core` behind inet, every ISP NATing.
    fn configure_core(&self) -> io::Result<()> {
        netns::ip_batch(&self.ns("core"), &[anchored::veth(&self.ns("inet"))])?;
        netns::ip_batch(&self.ns("core"), &anchored::core_commands())?;
        netns::ip_batch(&self.ns("inet"), &anchored::inet_commands())?;
        let mut carriers = self.plan.isp_roles();
        if self.plan.has_upstream() {
            carriers.push("upstream".into());
        }
        for role in carriers {
            netns::nft(&self.ns(&role), anchored::ISP_NAT)?;
        }
        Ok(())
    }

    fn start_iperf3(&mut self) -> io::Result<()> {
        let log = std::fs::File::create(run::run_dir(self.id()).join("iperf3.log"))?;
        let mut cmd = self.command("inet", "iperf3");
        cmd.args(["-s", "-B", &plan::INET_ADDR.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; it makes iperf3 die with its owner.
        unsafe {
            cmd.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                    .map_err(io::Error::from)
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start iperf3 in inet: {e}")))?;
        let pid = child.id();
        self.children.push(child);
        // Ready when it listens on 5201 (0x1451) in inet's TCP table.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let listening = ["tcp", "tcp6"].iter().any(|t| {
                std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).is_ok_and(|s| {
                    s.lines()
                        .any(|l| l.contains(":1451 ") && l.contains(" 0A "))
                })
            });
            if listening {
                return Ok(());
            }
            if let Some(child) = self.children.last_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(io::Error::other(format!("iperf3 -s exited: {status}")));
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(io::Error::other("iperf3 -s did not listen within 5 s"))
    }

    /// A command that runs `program` inside a role's namespace.
    pub fn command(&self, role: &str, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(role), program]);
        cmd
    }

    /// Runs a command inside a role's namespace and collects its output.
    pub fn exec(&self, role: &str, args: &[&str]) -> io::Result<Output> {
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
        self.command(role, program)
            .args(rest)
            .stdin(Stdio::null())
            .output()
    }

    /// Gives the router's VSD `dev` the VSD's address on the upstream
    /// segment and sends everything through it.
    pub fn route_through_vsd(&self, dev: &str) -> Result<(), String> {
        let addr = format!("{}/24", plan::VSD_ADDR);
        let gateway = plan::UPSTREAM_GW.to_string();
        let commands: [&[&str]; 2] = [
            &["ip", "addr", "replace", &addr, "dev", dev],
            &[
                "ip", "route", "replace", "default", "via", &gateway, "dev", dev,
            ],
        ];
        for args in commands {
            let out = self
                .exec("router", args)
                .map_err(|e| format!("{args:?}: {e}"))?;
            if !out.status.success() {
                let why = String::from_utf8_lossy(&out.stderr);
                return Err(format!("{args:?}: {}", why.trim()));
            }
        }
        Ok(())
    }

    pub fn client(&self) -> Client {
        Client::new(self.id())
    }

    pub fn set(&self, link: &str, change: Change) -> io::Result<()> {
        self.client().set(link, change, Dir::Both)
    }

    pub fn status(&self) -> io::Result<Status> {
        self.client().status()
    }

    /// Readable once the emulator stopped (a `shutdown` request, or a
    /// failure), so a supervisor can sleep on it.
    pub fn stopped_fd(&self) -> BorrowedFd<'_> {
        self.engine
            .as_ref()
            .expect("built testbeds have an emulator")
            .stopped_fd()
    }

    /// Tears down now, reporting the emulator's error if it failed.
    pub fn down(mut self) -> io::Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> io::Result<()> {
        if self.torn_down {
            return Ok(());
        }
        self.torn_down = true;
        let mut result = Ok(());
        if let Some(engine) = self.engine.take() {
            result = engine.stop();
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        run::remove(self.id());
        result
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("mimm-testbed {}: {e}", self.plan.id);
        }
    }
}

/// Steers a running testbed through its control socket, from any process.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// The client of testbed `id`.
    pub fn new(id: &str) -> Client {
        Client::at(&run::control_socket(id))
    }

    /// The client of any emulator's control socket.
    pub fn at(socket: &std::path::Path) -> Client {
        Client {
            socket: socket.to_path_buf(),
        }
    }

    pub fn call(&self, request: &Request) -> io::Result<Reply> {
        control::call(&self.socket, request)
    }

    pub fn set(&self, link: &str, change: Change, dir: Dir) -> io::Result<()> {
        self.call(&Request::Set {
            link: link.to_string(),
            change,
            dir,
        })
        .map(|_| ())
    }

    pub fn status(&self) -> io::Result<Status> {
        match self.call(&Request::Status)? {
            Reply::Status(status) => Ok(*status),
            other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
        }
    }

    /// Starts replaying a trace onto the links; returns at once.
    pub fn replay(
        &self,
        name: &str,
        trace: &Trace,
        map: &[(String, String)],
        speed: f64,
        repeat: bool,
    ) -> io::Result<ReplayStatus> {
        let request = Request::Replay {
            name: name.to_string(),
            csv: trace.to_csv(),
            map: map.to_vec(),
            speed,
            repeat,
        };
        match self.call(&request)? {
            Reply::Replaying(status) => Ok(status),
            other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
        }
    }

    pub fn stop_replay(&self) -> io::Result<()> {
        self.call(&Request::StopReplay).map(|_| ())
    }

    pub fn shutdown(&self) -> io::Result<()> {
        self.call(&Request::Shutdown).map(|_| ())
    }
}
