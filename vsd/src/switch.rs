//! Which member carries traffic: the VSD's decision core, sans-IO. The loop
//! asks it, per frame, where to send ([`Switch::tx`]) and whether to accept
//! ([`Switch::accepts`]); feeds it carrier changes and control commands with
//! the time; and carries out what it asks ([`Output`]) when
//! [`Switch::poll_timeout`] comes due.
//!
//! Make-before-break: `prepare(m)` accepts frames from `m` as well as from
//! the active member; `commit` moves transmission to `m` and keeps accepting
//! from the old one for `overlap_ms` (its in-flight frames), then drops them.
//! Carrier loss on the active member moves to the best backup at once,
//! without waiting for the control plane: traffic survives a slow, restarting
//! or dead mimmd. The best backup is the control plane's: the prepared
//! member, else the first with carrier in the order it last gave
//! ([`Switch::set_backups`], mimmd's ranking), else by priority; so a loss
//! costs one switch, straight to where mimmd would have moved traffic.

use std::collections::VecDeque;

pub use mimm_io::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchConfig {
    /// How long frames from the member just left are still accepted.
    pub overlap_ms: Millis,
    /// Rounds of announcements (gratuitous ARP and/or unsolicited NA) after
    /// a switch...
    pub announce_count: u32,
    /// ...and their spacing.
    pub announce_interval_ms: Millis,
}

impl Default for SwitchConfig {
    fn default() -> SwitchConfig {
        SwitchConfig {
            overlap_ms: 200,
            announce_count: 3,
            announce_interval_ms: 200,
        }
    }
}

/// Why the active member changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The first member with carrier became active.
    Initial,
    /// `commit` or `set-active` from the control socket.
    Command,
    /// The active member lost carrier (or was removed): the VSD moved by itself.
    CarrierLost,
}

impl Cause {
    pub fn name(self) -> &'static str {
        match self {
            Cause::Initial => "initial",
            Cause::Command => "command",
            Cause::CarrierLost => "carrier lost",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Switched {
        from: Option<usize>,
        to: usize,
        cause: Cause,
    },
    /// Send round `round` (0, 1, ...) of announcements on `member`.
    Announce { member: usize, round: u32 },
    /// No member can carry traffic.
    AllDown,
}

#[derive(Debug, Clone)]
struct Member {
    priority: i32,
    carrier: bool,
}

#[derive(Debug)]
pub struct Switch {
    cfg: SwitchConfig,
    /// Members by id; `None` for a removed one (ids are never reused while
    /// the loop may still hold them).
    members: Vec<Option<Member>>,
    active: Option<usize>,
    /// `prepare`d, accepted for receive before the commit.
    prepared: Option<usize>,
    /// The member just left and until when its frames are accepted.
    leaving: Option<(usize, Millis)>,
    /// The member being announced on, the next round and its time.
    announcing: Option<(usize, u32, Millis)>,
    /// The control plane's order of backups, best first (the ones it
    /// leaves out rank after, by priority).
    backups: Vec<usize>,
    outputs: VecDeque<Output>,
}

impl Switch {
    pub fn new(cfg: SwitchConfig) -> Switch {
        Switch {
            cfg,
            members: Vec::new(),
            active: None,
            prepared: None,
            leaving: None,
            announcing: None,
            backups: Vec::new(),
            outputs: VecDeque::new(),
        }
    }

    fn member(&self, id: usize) -> Option<&Member> {
        self.members.get(id).and_then(Option::as_ref)
    }

    /// Adds a member; it becomes active if none is and it has carrier.
    pub fn add(&mut self, priority: i32, carrier: bool, now: Millis) -> usize {
        self.members.push(Some(Member { priority, carrier }));
        let id = self.members.len() - 1;
        if self.active.is_none() && carrier {
            self.switch_to(id, Cause::Initial, now);
        }
        id
    }

    pub fn remove(&mut self, id: usize, now: Millis) {
        if let Some(slot) = self.members.get_mut(id) {
            *slot = None;
        }
        if self.prepared == Some(id) {
            self.prepared = None;
        }
        if self.leaving.is_some_and(|(m, _)| m == id) {
            self.leaving = None;
        }
        self.backups.retain(|&b| b != id);
        if self.active == Some(id) {
            self.active = None;
            self.fail_over(Some(id), now);
        }
    }

    /// New timings (a reload); an overlap or announcement under way keeps
    /// the deadlines it has.
    pub fn set_config(&mut self, cfg: SwitchConfig) {
        self.cfg = cfg;
    }

    /// Member `id`'s priority, as the switch ranks backups by it.
    pub fn priority(&self, id: usize) -> Option<i32> {
        self.member(id).map(|m| m.priority)
    }

    /// Member `id`'s carrier, as the switch last heard it.
    pub fn carrier(&self, id: usize) -> Option<bool> {
        self.member(id).map(|m| m.carrier)
    }

    pub fn set_priority(&mut self, id: usize, priority: i32) -> Result<(), String> {
        match self.members.get_mut(id).and_then(Option::as_mut) {
            Some(m) => {
                m.priority = priority;
                Ok(())
            }
            None => Err(format!("no member {id}")),
        }
    }

    /// The member's carrier changed.
    pub fn on_carrier(&mut self, id: usize, carrier: bool, now: Millis) {
        let Some(m) = self.members.get_mut(id).and_then(Option::as_mut) else {
            return;
        };
        if m.carrier == carrier {
            return;
        }
        m.carrier = carrier;
        match (carrier, self.active) {
            (false, Some(a)) if a == id => self.fail_over(Some(id), now),
            (true, None) => self.switch_to(id, Cause::Initial, now),
            _ => {}
        }
    }

    /// Where a carrier loss moves traffic, best first (`ids`: members, as
    /// the control plane ranks them now); replaces the order given before.
    pub fn set_backups(&mut self, ids: Vec<usize>) -> Result<(), String> {
        if let Some(bad) = ids.iter().find(|&&id| self.member(id).is_none()) {
            return Err(format!("no member {bad}"));
        }
        self.backups = ids;
        Ok(())
    }

    /// The order [`Self::set_backups`] gave.
    pub fn backups(&self) -> &[usize] {
        &self.backups
    }

    /// The best member with carrier other than `except`: the first of the
    /// control plane's order, else highest priority, then lowest id (the
    /// configuration's order).
    fn best_backup(&self, except: Option<usize>) -> Option<usize> {
        let usable = |id: usize| Some(id) != except && self.member(id).is_some_and(|m| m.carrier);
        if let Some(&first) = self.backups.iter().find(|&&id| usable(id)) {
            return Some(first);
        }
        self.members
            .iter()
            .enumerate()
            .filter(|(i, m)| Some(*i) != except && m.as_ref().is_some_and(|m| m.carrier))
            .max_by_key(|(i, m)| {
                (
                    m.as_ref().map_or(i32::MIN, |m| m.priority),
                    std::cmp::Reverse(*i),
                )
            })
            .map(|(i, _)| i)
    }

    fn fail_over(&mut self, from: Option<usize>, now: Millis) {
        // A prepared member with carrier is the control plane's choice: take it.
        let target = self
            .prepared
            .filter(|&p| Some(p) != from && self.member(p).is_some_and(|m| m.carrier))
            .or_else(|| self.best_backup(from));
        match target {
            Some(t) => {
                self.active = from;
                self.switch_to(t, Cause::CarrierLost, now);
                // The dead member's frames are not waited for.
                self.leaving = None;
            }
            None => {
                self.active = None;
                self.outputs.push_back(Output::AllDown);
            }
        }
    }

    fn switch_to(&mut self, to: usize, cause: Cause, now: Millis) {
        let from = self.active;
        if from == Some(to) {
            return;
        }
        self.leaving = from.map(|f| (f, now.saturating_add(self.cfg.overlap_ms)));
        self.active = Some(to);
        if self.prepared == Some(to) {
            self.prepared = None;
        }
        self.outputs.push_back(Output::Switched { from, to, cause });
        self.announcing = None;
        if self.cfg.announce_count > 0 {
            self.outputs.push_back(Output::Announce {
                member: to,
                round: 0,
            });
            self.announcing = (self.cfg.announce_count > 1).then_some((
                to,
                1,
                now.saturating_add(self.cfg.announce_interval_ms),
            ));
        }
    }

    /// Start accepting frames from `id` too (make-before-break).
    pub fn prepare(&mut self, id: usize) -> Result<(), String> {
        match self.member(id) {
            None => Err(format!("no member {id}")),
            Some(_) if self.active == Some(id) => Err("already active".into()),
            Some(_) => {
                self.prepared = Some(id);
                Ok(())
            }
        }
    }

    /// Move transmission to the prepared member.
    pub fn commit(&mut self, now: Millis) -> Result<usize, String> {
        let p = self.prepared.ok_or("nothing prepared")?;
        if !self.member(p).is_some_and(|m| m.carrier) {
            return Err("the prepared member has no carrier".into());
        }
        self.switch_to(p, Cause::Command, now);
        Ok(p)
    }

    /// Switch to `id` now (prepare and commit in one).
    pub fn set_active(&mut self, id: usize, now: Millis) -> Result<(), String> {
        match self.member(id) {
            None => Err(format!("no member {id}")),
            Some(m) if !m.carrier => Err("the member has no carrier".into()),
            Some(_) => {
                self.switch_to(id, Cause::Command, now);
                Ok(())
            }
        }
    }

    /// Where frames from the TAP go.
    pub fn tx(&self) -> Option<usize> {
        self.active
    }

    /// Whether frames received on `id` go up the TAP.
    pub fn accepts(&self, id: usize) -> bool {
        self.active == Some(id)
            || self.prepared == Some(id)
            || self.leaving.is_some_and(|(m, _)| m == id)
    }

    pub fn active(&self) -> Option<usize> {
        self.active
    }

    pub fn prepared(&self) -> Option<usize> {
        self.prepared
    }

    pub fn handle_timeout(&mut self, now: Millis) {
        if self.leaving.is_some_and(|(_, until)| now >= until) {
            self.leaving = None;
        }
        if let Some((m, round, at)) = self.announcing {
            if now >= at {
                self.outputs
                    .push_back(Output::Announce { member: m, round });
                let next = round + 1;
                self.announcing = (next < self.cfg.announce_count).then_some((
                    m,
                    next,
                    now.saturating_add(self.cfg.announce_interval_ms),
                ));
            }
        }
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        [
            self.leaving.map(|(_, t)| t),
            self.announcing.map(|(_, _, t)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}
