//! Serving the control socket from the loop.

use mimm_io::clock;
use mimm_io::control::Request as Incoming;
use mimm_mm::{IfaceId, Input};

use crate::control::proto::{
    EventKind, IfaceStatus, LastHandoff, Reply, Request, Response, Status,
};
use crate::daemon::Daemon;

impl Daemon {
    pub(super) fn on_request(&mut self, incoming: Incoming) {
        let Incoming { mut client, line } = incoming;
        let request = match serde_json::from_slice::<Request>(&line) {
            Ok(r) => r,
            Err(e) => {
                client.answer(&Response::Error(format!("bad request: {e}")));
                return;
            }
        };
        if let Request::Events { follow, samples } = request {
            if self.followers.replay(&mut client) && follow {
                if let Err(mut refused) = self.followers.follow(client, samples) {
                    let full = format!("{} clients follow already", self.followers.len());
                    refused.answer(&Response::Error(full));
                }
            }
            return;
        }
        let response = match self.handle(request) {
            Ok(reply) => Response::Ok(reply),
            Err(e) => Response::Error(e),
        };
        client.answer(&response);
    }

    fn iface_id(&self, name: &str) -> Result<IfaceId, String> {
        self.cfg.mm.iface_id(name).ok_or_else(|| {
            let names: Vec<&str> = self.ifaces.iter().map(|rt| rt.name.as_str()).collect();
            format!("no interface {name:?} (interfaces: {})", names.join(", "))
        })
    }

    fn handle(&mut self, request: Request) -> Result<Reply, String> {
        let now = self.ms(clock::now());
        match request {
            Request::Status => Ok(Reply::Status(Box::new(self.status()))),
            Request::Recent => Ok(Reply::Recent(Box::new(self.recent.snapshot()))),
            Request::Prefer { iface } => {
                let id = iface.as_deref().map(|n| self.iface_id(n)).transpose()?;
                self.event(
                    EventKind::Prefer,
                    id.map(|i| i.index()),
                    format!("preference set to {}", iface.as_deref().unwrap_or("none")),
                );
                self.runtime_prefer = Some(iface);
                self.mm.handle(now, Input::Prefer { iface: id });
                Ok(Reply::Done)
            }
            Request::Handoff { iface } => {
                let id = self.iface_id(&iface)?;
                self.mm.handle(now, Input::Handoff { iface: id });
                Ok(Reply::Done)
            }
            Request::Reload => self.reload().map(|()| Reply::Done),
            Request::Netifd {
                action,
                iface,
                device,
            } => self.on_netifd(&action, &iface, device.as_deref()),
            Request::Events { .. } => Ok(Reply::Done),
        }
    }

    /// netifd said an interface went up or down. Interfaces mimmd does not
    /// manage (lan, loopback) are none of its business and answered `done`.
    fn on_netifd(
        &mut self,
        action: &str,
        iface: &str,
        device: Option<&str>,
    ) -> Result<Reply, String> {
        let up = match action {
            "ifup" | "ifupdate" => true,
            "ifdown" => false,
            other => {
                return Err(format!(
                    "netifd action {other:?} for {iface}: expected ifup, ifupdate or ifdown"
                ));
            }
        };
        let Some(i) = self.ifaces.iter().position(|rt| rt.name == iface) else {
            tracing::debug!("netifd {action} {iface}: not a mimm interface");
            return Ok(Reply::Done);
        };
        if let Some(d) = device.filter(|d| !d.is_empty() && *d != self.ifaces[i].device) {
            let configured = self.ifaces[i].device.clone();
            self.event(
                EventKind::Error,
                Some(i),
                format!("netifd names device {d} for {iface}; /etc/config/mimm says {configured}"),
            );
        }
        let before = self.ifaces[i].observed.attached();
        self.ifaces[i].observed.netifd_up = Some(up);
        self.event(EventKind::Netifd, Some(i), format!("netifd {action}"));
        if before != self.ifaces[i].observed.attached() || up {
            // At once, not at the next sample: an ifdown of the primary is an
            // emergency; an ifup makes the interface a candidate now.
            self.feed(i);
        }
        Ok(Reply::Done)
    }

    fn status(&self) -> Status {
        let now = clock::now();
        let primary = self.mm.primary().map(|p| p.index());
        let interfaces = self
            .ifaces
            .iter()
            .enumerate()
            .map(|(i, rt)| {
                let view = self.mm.view(IfaceId(i as u8));
                let link = rt.observed.link.as_ref();
                let path = rt.observed.path;
                let enabled = self.cfg.mm.ifaces[i].enabled;
                let state = if Some(i) == primary {
                    "primary"
                } else if !enabled {
                    "disabled"
                } else if link.is_none() {
                    "absent"
                } else if !rt.observed.attached() {
                    "down"
                } else if path.is_some_and(|p| !p.reachable) {
                    "unreachable"
                } else {
                    "standby"
                };
                IfaceStatus {
                    name: rt.name.clone(),
                    device: rt.device.clone(),
                    state: state.into(),
                    exists: link.is_some(),
                    up: link.is_some_and(|l| l.up),
                    carrier: link.is_some_and(|l| l.carrier),
                    netifd_up: rt.observed.netifd_up,
                    reachable: path.map(|p| p.reachable),
                    rtt_ms: path
                        .and_then(|p| p.rtt_ms)
                        .map(|r| (r * 100.0).round() / 100.0),
                    loss_pct: path.map(|p| p.loss_pct),
                    signal_dbm: rt.observed.signal_dbm,
                    rate_kbps: rt.observed.rate_kbps,
                    metric: self.cfg.mm.ifaces[i].metric.name().into(),
                    raw: view
                        .and_then(|v| v.raw)
                        .map(|a| (a * 100.0).round() / 100.0),
                    thresholds: self.cfg.mm.ifaces[i].thresholds,
                    average: view
                        .and_then(|v| v.average)
                        .map(|a| (a * 100.0).round() / 100.0),
                    score: view.map_or(0.0, |v| (v.score * 100.0).round() / 100.0),
                    sources: rt.sources_status(),
                    binding: rt.binding.clone(),
                }
            })
            .collect();
        Status {
            primary: primary.map(|p| self.ifaces[p].name.clone()),
            primary_for_s: self
                .mm
                .primary_since()
                .map(|since| (self.ms(now).saturating_sub(since) as f64 / 100.0).round() / 10.0),
            preferred: self
                .mm
                .preferred()
                .map(|p| self.ifaces[p.index()].name.clone()),
            mode: self.mover.name().into(),
            config: self.cfg.file.display().to_string(),
            uptime_s: (now.saturating_sub(self.start).0 as f64 / 1e9 * 10.0).round() / 10.0,
            interfaces,
            last_handoff: self.last_handoff.as_ref().map(|h| LastHandoff {
                ago_s: (now.saturating_sub(h.at).0 as f64 / 1e8).round() / 10.0,
                from: h.from.clone(),
                to: h.to.clone(),
                reason: h.reason.clone(),
            }),
            counters: self.mm.counters(),
            server: self.server_status(),
        }
    }
}
