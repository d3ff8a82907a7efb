//! Carrying out the Mobility Manager's actions and feeding back their results.

use mio::Interest;
use mio::unix::SourceFd;

use mimm_io::clock;
use mimm_mm::{Action, IfaceId, Input, Reason};

use crate::actions::jobs::{Done, JobKind, Step};
use crate::control::proto::EventKind;
use crate::daemon::{Daemon, JOB_BASE};

impl Daemon {
    pub(super) fn execute_actions(&mut self) {
        while let Some(action) = self.mm.poll_action() {
            match action {
                Action::Switch { from, to, reason } => self.switch(from, to, reason),
                Action::Prepare { iface, reason } => {
                    let hooks = self.cfg.ifaces[iface.index()].pre_handoff.clone();
                    let steps = hooks.into_iter().map(Step::Exec).collect();
                    let from = self.mm.primary();
                    self.start_job(
                        iface.index(),
                        JobKind::Prepare,
                        steps,
                        from,
                        Some(iface),
                        &reason,
                    );
                }
                Action::Activate { iface, reason } => {
                    let steps = self.command(iface.index(), true).into_iter().collect();
                    self.start_job(
                        iface.index(),
                        JobKind::Activate,
                        steps,
                        None,
                        Some(iface),
                        &reason,
                    );
                }
                Action::Deactivate { iface, reason } => {
                    let steps = self.command(iface.index(), false).into_iter().collect();
                    self.start_job(
                        iface.index(),
                        JobKind::Deactivate,
                        steps,
                        None,
                        Some(iface),
                        &reason,
                    );
                }
                Action::RequestAdvice { iface, .. } => self.request_advice(iface),
                Action::Reverted { failed, reason, .. } => {
                    let text = reason.display(&self.cfg.mm).to_string();
                    self.event(EventKind::Error, Some(failed.index()), text);
                }
            }
        }
    }

    /// The up/down command: configured, else netifd's through ubus where
    /// there is ubus, else nothing to run.
    fn command(&self, i: usize, up: bool) -> Option<Step> {
        let d = &self.cfg.ifaces[i];
        let configured = if up { &d.up_cmd } else { &d.down_cmd };
        if let Some(cmd) = configured {
            return Some(Step::Shell(cmd.clone()));
        }
        let verb = if up { "up" } else { "down" };
        ["/bin/ubus", "/sbin/ubus", "/usr/bin/ubus"]
            .iter()
            .find(|p| std::path::Path::new(p).exists())
            .map(|ubus| Step::Shell(format!("{ubus} call network.interface.{} {verb}", d.name)))
    }

    /// The variables every hook and command sees.
    fn env(
        &self,
        from: Option<IfaceId>,
        to: Option<IfaceId>,
        phase: &str,
        reason: &Reason,
    ) -> Vec<(String, String)> {
        let name = |i: Option<IfaceId>| {
            i.map_or(String::new(), |i| self.cfg.ifaces[i.index()].name.clone())
        };
        let device = |i: Option<IfaceId>| {
            i.map_or(String::new(), |i| self.cfg.ifaces[i.index()].device.clone())
        };
        vec![
            ("MIMM_PHASE".into(), phase.into()),
            ("MIMM_FROM".into(), name(from)),
            ("MIMM_FROM_DEVICE".into(), device(from)),
            ("MIMM_TO".into(), name(to)),
            ("MIMM_DEVICE".into(), device(to)),
            ("MIMM_RULE".into(), reason.rule.name().into()),
            (
                "MIMM_REASON".into(),
                reason.display(&self.cfg.mm).to_string(),
            ),
            ("MIMM_MODE".into(), self.mover.name().into()),
        ]
    }

    fn start_job(
        &mut self,
        i: usize,
        kind: JobKind,
        steps: Vec<Step>,
        from: Option<IfaceId>,
        to: Option<IfaceId>,
        reason: &Reason,
    ) {
        let phase = match kind {
            JobKind::Prepare => "pre",
            JobKind::PostHandoff => "post",
            JobKind::Activate => "up",
            JobKind::Deactivate => "down",
        };
        let env = self.env(from, to, phase, reason);
        let count = steps.len();
        if count > 0 {
            self.event(
                job_event(kind),
                Some(i),
                format!("{count} step(s): {}", reason.display(&self.cfg.mm)),
            );
        }
        match self.jobs.start(i, kind, steps, env, clock::now()) {
            Ok((slot, fd)) => {
                let token = mio::Token(JOB_BASE + slot);
                let _ =
                    self.poll
                        .registry()
                        .register(&mut SourceFd(&fd), token, Interest::READABLE);
            }
            Err(done) => self.on_job_done(done),
        }
    }

    pub(super) fn on_job_done(&mut self, done: Done) {
        if !done.ok {
            self.event(
                EventKind::Hook,
                Some(done.iface),
                format!("{} failed: {}", done.kind.name(), done.detail),
            );
        }
        let now = self.ms(clock::now());
        let iface = IfaceId(done.iface as u8);
        let input = match done.kind {
            JobKind::Prepare => Some(Input::Prepared { iface, ok: done.ok }),
            JobKind::Activate => Some(Input::Activated { iface, ok: done.ok }),
            JobKind::PostHandoff | JobKind::Deactivate => None,
        };
        if let Some(input) = input {
            self.mm.handle(now, input);
        }
    }

    /// Points route mode at interface `i`; false if the kernel refused.
    pub(super) fn apply_route(&mut self, i: usize) -> bool {
        let Some(link) = self.ifaces[i].observed.link.clone() else {
            self.event(
                EventKind::Error,
                Some(i),
                "cannot route: the device does not exist".into(),
            );
            return false;
        };
        match self.mover.switch(&self.cfg.ifaces[i], &link) {
            Ok(()) => true,
            Err(e) => {
                self.event(EventKind::Error, Some(i), format!("cannot route: {e}"));
                false
            }
        }
    }

    fn switch(&mut self, from: Option<IfaceId>, to: IfaceId, reason: Reason) {
        let text = reason.display(&self.cfg.mm).to_string();
        let from_name = from.map_or("-".to_string(), |f| self.ifaces[f.index()].name.clone());
        let ok = self.apply_route(to.index());
        let now = self.ms(clock::now());
        self.mm.handle(now, Input::Switched { iface: to, ok });
        if !ok {
            return;
        }
        let to_name = self.ifaces[to.index()].name.clone();
        self.last_handoff = Some(super::Handoff {
            at: clock::now(),
            from: from.map(|f| self.ifaces[f.index()].name.clone()),
            to: to_name.clone(),
            reason: text.clone(),
        });
        self.event(
            EventKind::Switch,
            Some(to.index()),
            format!("{from_name} -> {to_name}: {text}"),
        );
        let hooks = self.cfg.ifaces[to.index()].post_handoff.clone();
        let steps = hooks.into_iter().map(Step::Exec).collect();
        self.start_job(
            to.index(),
            JobKind::PostHandoff,
            steps,
            from,
            Some(to),
            &reason,
        );
    }
}

/// The event a job's start or end is reported as.
fn job_event(kind: JobKind) -> EventKind {
    match kind {
        JobKind::Prepare => EventKind::PreHandoff,
        JobKind::PostHandoff => EventKind::PostHandoff,
        JobKind::Activate => EventKind::Activate,
        JobKind::Deactivate => EventKind::Deactivate,
    }
}
