//! The virtual-time harness: trace rows become samples, the decider's actions
//! are answered as a shell would (after configurable delays), and the
//! throughput of whatever interface carries traffic is integrated.
//!
//! Causal, as the Interface Monitor is: signal, round-trip time, loss and
//! carrier are readings of an instant and reach the decider at their row's
//! time; a rate is a measurement over an interval and reaches it only when
//! the interval ends. Every sampling period each interface reports the mean
//! rate the trace gave it over the period just ended (its down time counted
//! as zero), so a decision made on a rate acts on the intervals after it,
//! never on the one it measured.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mimm_mm::{
    Action, Averager, Config, Counters, Decider, IfaceId, Input, Millis, MobilityManager, Reason,
    Sample,
};
use mimm_trace::Trace;

use crate::replay::Policy;
use crate::replay::baselines::{Best, Failover, Hysteresis, HysteresisRule, Single};
use crate::replay::summary::{Summary, summarize};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub policy: Policy,
    /// How long bringing an interface up takes (answer to Activate).
    pub activation_ms: Millis,
    /// How long the pre-handoff functions take (answer to Prepare).
    pub prepare_ms: Millis,
    /// The Interface Monitor's sampling period: every interface's current
    /// state (its latest row, which holds until the next) is sampled this
    /// often, besides at each of its rows.
    pub sample_ms: Millis,
    /// The hysteresis baseline's window and gain.
    pub hysteresis: HysteresisRule,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            policy: Policy::Mimm,
            activation_ms: 2_000,
            prepare_ms: 500,
            sample_ms: 1_000,
            hysteresis: HysteresisRule::default(),
        }
    }
}

/// One handoff (or the first choice, `from: None`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Switch {
    pub t_ms: Millis,
    pub from: Option<IfaceId>,
    pub to: IfaceId,
    pub reason: Reason,
}

/// A candidate brought up ahead of need: the MM asked for its pre-handoff
/// functions (make-before-break).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preparation {
    pub t_ms: Millis,
    pub iface: IfaceId,
    pub reason: Reason,
}

/// One interface's metric over time, raw and averaged, for the picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub points: Vec<(Millis, Option<f64>, Option<f64>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub policy: Policy,
    pub config: Config,
    pub switches: Vec<Switch>,
    /// Every `Prepare` asked for (only interfaces with `pre_handoff` get one).
    pub preparations: Vec<Preparation>,
    pub series: Vec<Series>,
    /// `[start, end)` during which an interface carried traffic.
    pub spans: Vec<(Millis, Millis, IfaceId)>,
    pub end_ms: Millis,
    pub summary: Summary,
    /// Kilobits delivered by the interface in use, and by the best link at
    /// every instant (the summary's averages, unrounded, times the length).
    pub delivered_kbit: f64,
    pub oracle_kbit: f64,
    /// The MM's own counts (only for the `mimm` policy).
    pub counters: Option<Counters>,
}

/// The state of an interface per the trace's latest row.
#[derive(Debug, Clone, Copy, Default)]
struct LinkNow {
    rate: Option<f64>,
    up: bool,
}

/// What a rate meter has counted on one interface since its last report.
#[derive(Debug, Clone, Copy, Default)]
struct Meter {
    kilobits: f64,
    /// Milliseconds of the period with a known rate (down time included
    /// once the interface has had a rate: a link that is down delivers 0).
    known_ms: Millis,
    has_rate: bool,
}

impl Meter {
    fn count(&mut self, link: &LinkNow, span: Millis) {
        match (link.up, link.rate) {
            (true, Some(rate)) => {
                self.has_rate = true;
                self.kilobits += rate * span as f64;
                self.known_ms += span;
            }
            (false, _) if self.has_rate => self.known_ms += span,
            _ => {}
        }
    }

    /// The mean rate over the period just ended, and a fresh period.
    fn report(&mut self) -> Option<f64> {
        let rate = (self.known_ms > 0).then(|| self.kilobits / self.known_ms as f64);
        self.kilobits = 0.0;
        self.known_ms = 0;
        rate
    }
}

/// Kilobits over `span` ms: (delivered by the primary, by the best link).
fn throughput(links: &[LinkNow], primary: Option<IfaceId>, span: Millis) -> (f64, f64) {
    let rate = |l: &LinkNow| if l.up { l.rate.unwrap_or(0.0) } else { 0.0 };
    let span = span as f64;
    let delivered = primary.map_or(0.0, |p| rate(&links[p.index()]));
    let best = links.iter().map(rate).fold(0.0, f64::max);
    (delivered * span, best * span)
}

fn decider(cfg: &Config, options: &Options) -> Result<Box<dyn Decider>, String> {
    Ok(match options.policy {
        Policy::Mimm => Box::new(MobilityManager::new(cfg.clone()).map_err(|e| e.to_string())?),
        Policy::Best => Box::new(Best::new(cfg.clone())),
        Policy::Single => Box::new(Single::new(cfg.clone())),
        Policy::Failover => Box::new(Failover::new(cfg.clone())),
        Policy::Hysteresis => Box::new(Hysteresis::new(cfg.clone(), options.hysteresis)),
    })
}

/// The trace's sampling step: the most common gap between one interface's
/// rows (1 s when there is none). The last row holds for one step.
fn step_ms(trace: &Trace, names: &[&str]) -> Millis {
    let mut gaps: Vec<Millis> = Vec::new();
    for name in names {
        let times: Vec<Millis> = trace.rows_of(name).map(|r| r.t_ms).collect();
        gaps.extend(times.windows(2).map(|w| w[1] - w[0]).filter(|&g| g > 0));
    }
    gaps.sort_unstable();
    let mut best = (1_000, 0usize);
    let mut i = 0;
    while i < gaps.len() {
        let j = gaps[i..].iter().take_while(|&&g| g == gaps[i]).count();
        if j > best.1 {
            best = (gaps[i], j);
        }
        i += j;
    }
    best.0
}

/// An answer the harness owes the decider, due at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Activated,
    Prepared,
}

/// The harness's state while it replays.
struct Sim<'a> {
    trace: &'a Trace,
    cfg: &'a Config,
    options: Options,
    names: Vec<&'a str>,
    decider: Box<dyn Decider>,
    end: Millis,
    /// The next trace row to take.
    row: usize,
    links: Vec<LinkNow>,
    meters: Vec<Meter>,
    /// Each interface's latest row's instantaneous readings (no rate), and
    /// when they were last given to the decider (`None`: a row arrived that
    /// it has not seen yet).
    held: Vec<Option<Sample>>,
    fed: Vec<Option<Millis>>,
    next_tick: Millis,
    /// Answers owed, in time order (the sequence keeps ties in order).
    pending: BinaryHeap<Reverse<(Millis, u64, usize, Due)>>,
    seq: u64,
    averagers: Vec<Averager>,
    series: Vec<Series>,
    switches: Vec<Switch>,
    preparations: Vec<Preparation>,
    spans: Vec<(Millis, Millis, IfaceId)>,
    /// Kilobits delivered by the primary and by the best link so far, up to
    /// `last_t`.
    delivered: f64,
    oracle: f64,
    last_t: Millis,
}

impl<'a> Sim<'a> {
    fn new(trace: &'a Trace, cfg: &'a Config, options: Options) -> Result<Sim<'a>, String> {
        cfg.validate().map_err(|e| e.to_string())?;
        let decider = decider(cfg, &options)?;
        let n = cfg.ifaces.len();
        let names: Vec<&str> = cfg.ifaces.iter().map(|i| i.name.as_str()).collect();
        if !trace.ifaces().iter().any(|t| names.contains(t)) {
            return Err(format!(
                "no interface of the trace ({}) is configured ({})",
                trace.ifaces().join(", "),
                names.join(", ")
            ));
        }
        let end = trace.duration_ms() + step_ms(trace, &names);
        let up = LinkNow {
            rate: None,
            up: true,
        };
        Ok(Sim {
            trace,
            cfg,
            options,
            names,
            decider,
            end,
            row: 0,
            links: vec![up; n],
            meters: vec![Meter::default(); n],
            held: vec![None; n],
            fed: vec![None; n],
            next_tick: trace.rows.first().map_or(0, |r| r.t_ms),
            pending: BinaryHeap::new(),
            seq: 0,
            averagers: cfg
                .ifaces
                .iter()
                .map(|i| Averager::new(i.averaging))
                .collect(),
            series: vec![Series::default(); n],
            switches: Vec::new(),
            preparations: Vec::new(),
            spans: Vec::new(),
            delivered: 0.0,
            oracle: 0.0,
            last_t: 0,
        })
    }

    /// The next time anything happens: a row, an answer, a timer, a sample.
    fn next_event(&self) -> Option<Millis> {
        let next_row = self.trace.rows.get(self.row).map(|r| r.t_ms);
        let next_answer = self.pending.peek().map(|Reverse((t, ..))| *t);
        let next_timeout = self.decider.poll_timeout().filter(|&t| t < self.end);
        let next_sample =
            Some(self.next_tick).filter(|&t| t < self.end && self.held.iter().any(Option::is_some));
        [next_row, next_answer, next_timeout, next_sample]
            .into_iter()
            .flatten()
            .min()
    }

    /// Credits the throughput between the last event and `now`.
    fn account(&mut self, now: Millis) {
        let span = now.saturating_sub(self.last_t);
        let (d, o) = throughput(&self.links, self.decider.primary(), span);
        self.delivered += d;
        self.oracle += o;
        self.last_t = now;
        for (meter, link) in self.meters.iter_mut().zip(&self.links) {
            meter.count(link, span);
        }
    }

    /// The rows of `now`: each interface's link and held sample.
    fn take_rows(&mut self, now: Millis) {
        while let Some(r) = self.trace.rows.get(self.row).filter(|r| r.t_ms == now) {
            self.row += 1;
            let Some(i) = self.names.iter().position(|n| *n == r.iface) else {
                continue;
            };
            let up = r.up.unwrap_or(true);
            self.links[i] = LinkNow {
                rate: r.rate_kbps,
                up,
            };
            self.held[i] = Some(Sample {
                signal_dbm: r.signal_dbm,
                rate_kbps: None,
                rtt_ms: r.rtt_ms,
                loss_pct: r.loss_pct,
                carrier: Some(up),
                reachable: None,
            });
            self.fed[i] = None;
        }
    }

    /// Every interface with news, or due for its periodic sample; the
    /// periodic one carries the rate measured over the period just ended.
    fn feed_samples(&mut self, now: Millis) {
        let tick = now >= self.next_tick;
        if tick {
            let period = self.options.sample_ms.max(1);
            self.next_tick = now - now % period + period;
        }
        for i in 0..self.held.len() {
            let Some(mut sample) = self.held[i] else {
                continue;
            };
            if self.fed[i] == Some(now) || (self.fed[i].is_some() && !tick) {
                continue;
            }
            self.fed[i] = Some(now);
            if tick {
                sample.rate_kbps = self.meters[i].report();
            }
            let up = sample.carrier.unwrap_or(true);
            let raw = self.cfg.ifaces[i].metric.value(&sample).filter(|_| up);
            let averager = &mut self.averagers[i];
            if !up {
                averager.reset();
            }
            let avg = raw.map(|v| averager.push(v)).or(averager.value());
            self.series[i].points.push((now, raw, avg));
            let iface = IfaceId(i as u8);
            self.decider.handle(now, Input::Sample { iface, sample });
        }
    }

    /// The answers due at `now`: an activation or preparation succeeds if
    /// the link is up by then.
    fn answer(&mut self, now: Millis) {
        while let Some(Reverse((_, _, i, due))) = self
            .pending
            .peek()
            .copied()
            .filter(|Reverse((t, ..))| *t == now)
        {
            self.pending.pop();
            let (iface, ok) = (IfaceId(i as u8), self.links[i].up);
            let input = match due {
                Due::Activated => Input::Activated { iface, ok },
                Due::Prepared => Input::Prepared { iface, ok },
            };
            self.decider.handle(now, input);
        }
    }

    fn owe(&mut self, at: Millis, iface: IfaceId, due: Due) {
        self.seq += 1;
        self.pending
            .push(Reverse((at, self.seq, iface.index(), due)));
    }

    /// Carries out what the decider asked, as a shell would.
    fn act(&mut self, now: Millis) {
        while let Some(action) = self.decider.poll_action() {
            match action {
                Action::Activate { iface, .. } => {
                    self.owe(now + self.options.activation_ms, iface, Due::Activated)
                }
                Action::Prepare { iface, reason } => {
                    self.preparations.push(Preparation {
                        t_ms: now,
                        iface,
                        reason,
                    });
                    self.owe(now + self.options.prepare_ms, iface, Due::Prepared)
                }
                Action::RequestAdvice { iface, .. } => {
                    // No server in a replay: every handoff is allowed.
                    let verdict = mimm_mm::Verdict::Allow;
                    let advice = mimm_mm::Advice::Handoff { iface, verdict };
                    self.decider.handle(now, Input::Advice(advice));
                }
                // The replay answers every switch ok: none is reverted.
                Action::Deactivate { .. } | Action::Reverted { .. } => {}
                Action::Switch { from, to, reason } => {
                    self.switches.push(Switch {
                        t_ms: now,
                        from,
                        to,
                        reason,
                    });
                    if let Some(last) = self.spans.last_mut() {
                        last.1 = now;
                    }
                    self.spans.push((now, self.end, to));
                    let switched = Input::Switched {
                        iface: to,
                        ok: true,
                    };
                    self.decider.handle(now, switched);
                }
            }
        }
    }

    fn step(&mut self, now: Millis) {
        self.account(now);
        self.take_rows(now);
        self.feed_samples(now);
        self.answer(now);
        if self.decider.poll_timeout().is_some_and(|t| t <= now) {
            self.decider.handle_timeout(now);
        }
        self.act(now);
    }

    fn finish(mut self) -> Replay {
        self.account(self.end);
        self.spans.retain(|(s, e, _)| e > s);
        let names = &self.names;
        let has_rate = (self.trace.rows.iter())
            .any(|r| r.rate_kbps.is_some() && names.contains(&r.iface.as_str()));
        let end = self.end as f64;
        let rates = has_rate.then_some((self.delivered / end, self.oracle / end));
        let summary = summarize(self.cfg, &self.switches, &self.spans, rates);
        Replay {
            policy: self.options.policy,
            config: self.cfg.clone(),
            counters: self.decider.counters(),
            switches: self.switches,
            preparations: self.preparations,
            series: self.series,
            spans: self.spans,
            end_ms: self.end,
            summary,
            delivered_kbit: self.delivered / 1000.0,
            oracle_kbit: self.oracle / 1000.0,
        }
    }
}

/// Replays `trace` through the chosen decider. The trace's interfaces are
/// matched to the configuration by name; rows of other interfaces are ignored.
pub fn run(trace: &Trace, cfg: &Config, options: Options) -> Result<Replay, String> {
    let mut sim = Sim::new(trace, cfg, options)?;
    while let Some(now) = sim.next_event() {
        sim.step(now);
    }
    Ok(sim.finish())
}
