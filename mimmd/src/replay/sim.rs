//! The virtual-time harness: trace rows become samples, the decider's actions
//! are answered as a shell would (after configurable delays), and the
//! throughput of whatever interface carries traffic is integrated.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mimm_mm::{
    Action, Averager, Config, Counters, Decider, IfaceId, Input, Millis, MobilityManager, Reason,
    Sample,
};
use mimm_trace::Trace;

use crate::replay::Policy;
use crate::replay::baselines::{Best, Failover, Single};
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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            policy: Policy::Mimm,
            activation_ms: 2_000,
            prepare_ms: 500,
            sample_ms: 1_000,
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
    pub series: Vec<Series>,
    /// `[start, end)` during which an interface carried traffic.
    pub spans: Vec<(Millis, Millis, IfaceId)>,
    pub end_ms: Millis,
    pub summary: Summary,
    /// The MM's own counts (only for the `mimm` policy).
    pub counters: Option<Counters>,
}

/// The state of an interface per the trace's latest row.
#[derive(Debug, Clone, Copy, Default)]
struct LinkNow {
    rate: Option<f64>,
    up: bool,
}

/// Kilobits over `span` ms: (delivered by the primary, by the best link).
fn throughput(links: &[LinkNow], primary: Option<IfaceId>, span: Millis) -> (f64, f64) {
    let rate = |l: &LinkNow| if l.up { l.rate.unwrap_or(0.0) } else { 0.0 };
    let span = span as f64;
    let delivered = primary.map_or(0.0, |p| rate(&links[p.index()]));
    let best = links.iter().map(rate).fold(0.0, f64::max);
    (delivered * span, best * span)
}

fn decider(cfg: &Config, policy: Policy) -> Result<Box<dyn Decider>, String> {
    Ok(match policy {
        Policy::Mimm => Box::new(MobilityManager::new(cfg.clone()).map_err(|e| e.to_string())?),
        Policy::Best => Box::new(Best::new(cfg.clone())),
        Policy::Single => Box::new(Single::new(cfg.clone())),
        Policy::Failover => Box::new(Failover::new(cfg.clone())),
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

/// Replays `trace` through the chosen decider. The trace's interfaces are
/// matched to the configuration by name; rows of other interfaces are ignored.
pub fn run(trace: &Trace, cfg: &Config, options: Options) -> Result<Replay, String> {
    cfg.validate().map_err(|e| e.to_string())?;
    let mut decider = decider(cfg, options.policy)?;
    let n = cfg.ifaces.len();
    let names: Vec<&str> = cfg.ifaces.iter().map(|i| i.name.as_str()).collect();
    if !trace.ifaces().iter().any(|t| names.contains(t)) {
        return Err(format!(
            "no interface of the trace ({}) is configured ({})",
            trace.ifaces().join(", "),
            names.join(", ")
        ));
    }
    let has_rate = trace
        .rows
        .iter()
        .any(|r| r.rate_kbps.is_some() && names.contains(&r.iface.as_str()));
    let end = trace.duration_ms() + step_ms(trace, &names);
    let mut averagers: Vec<Averager> = cfg
        .ifaces
        .iter()
        .map(|i| Averager::new(i.averaging))
        .collect();
    let mut series = vec![Series::default(); n];
    let mut links = vec![
        LinkNow {
            rate: None,
            up: true
        };
        n
    ];
    let mut pending: BinaryHeap<Reverse<(Millis, u64, usize, u8)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut switches = Vec::new();
    let mut spans: Vec<(Millis, Millis, IfaceId)> = Vec::new();
    let mut delivered = 0.0f64;
    let mut oracle = 0.0f64;
    let mut last_t: Millis = 0;
    let mut row = 0usize;
    let sample_ms = options.sample_ms.max(1);
    // Each interface's latest row, and when it was last given to the decider
    // (`None`: a row arrived that it has not seen yet).
    let mut held: Vec<Option<Sample>> = vec![None; n];
    let mut fed: Vec<Option<Millis>> = vec![None; n];
    let mut next_tick: Millis = trace.rows.first().map_or(0, |r| r.t_ms);
    loop {
        let next_row = trace.rows.get(row).map(|r| r.t_ms);
        let next_ack = pending.peek().map(|Reverse((t, ..))| *t);
        let next_timeout = decider.poll_timeout().filter(|&t| t < end);
        let next_sample = Some(next_tick).filter(|&t| t < end && held.iter().any(Option::is_some));
        let Some(now) = [next_row, next_ack, next_timeout, next_sample]
            .into_iter()
            .flatten()
            .min()
        else {
            break;
        };
        // Throughput between the last event and this one.
        let (d, o) = throughput(&links, decider.primary(), now.saturating_sub(last_t));
        delivered += d;
        oracle += o;
        last_t = now;
        while let Some(r) = trace.rows.get(row).filter(|r| r.t_ms == now) {
            row += 1;
            let Some(i) = names.iter().position(|n| *n == r.iface) else {
                continue;
            };
            let up = r.up.unwrap_or(true);
            links[i] = LinkNow {
                rate: r.rate_kbps,
                up,
            };
            held[i] = Some(Sample {
                signal_dbm: r.signal_dbm,
                rate_kbps: r.rate_kbps,
                rtt_ms: r.rtt_ms,
                loss_pct: r.loss_pct,
                carrier: Some(up),
                reachable: None,
            });
            fed[i] = None;
        }
        // Every interface with news, or due for its periodic sample.
        let tick = now >= next_tick;
        if tick {
            next_tick = now - now % sample_ms + sample_ms;
        }
        for i in 0..n {
            let Some(sample) = held[i] else { continue };
            if fed[i] == Some(now) || (fed[i].is_some() && !tick) {
                continue;
            }
            fed[i] = Some(now);
            let up = sample.carrier.unwrap_or(true);
            let raw = cfg.ifaces[i].metric.value(&sample).filter(|_| up);
            if !up {
                averagers[i].reset();
            }
            let avg = raw.map(|v| averagers[i].push(v)).or(averagers[i].value());
            series[i].points.push((now, raw, avg));
            decider.handle(
                now,
                Input::Sample {
                    iface: IfaceId(i as u8),
                    sample,
                },
            );
        }
        while let Some(Reverse((_, _, i, kind))) =
            pending.peek().copied().filter(|Reverse((t, ..))| *t == now)
        {
            pending.pop();
            let iface = IfaceId(i as u8);
            let up = links[i].up;
            let input = match kind {
                0 => Input::Activated { iface, ok: up },
                _ => Input::Prepared { iface, ok: up },
            };
            decider.handle(now, input);
        }
        if decider.poll_timeout().is_some_and(|t| t <= now) {
            decider.handle_timeout(now);
        }
        while let Some(action) = decider.poll_action() {
            match action {
                Action::Activate { iface, .. } => {
                    seq += 1;
                    pending.push(Reverse((
                        now + options.activation_ms,
                        seq,
                        iface.index(),
                        0,
                    )));
                }
                Action::Prepare { iface, .. } => {
                    seq += 1;
                    pending.push(Reverse((now + options.prepare_ms, seq, iface.index(), 1)));
                }
                Action::RequestAdvice { iface, .. } => {
                    // No server in a replay: every handoff is allowed.
                    decider.handle(
                        now,
                        Input::Advice(mimm_mm::Advice::Handoff {
                            iface,
                            verdict: mimm_mm::Verdict::Allow,
                        }),
                    );
                }
                // The replay answers every switch ok: none is reverted.
                Action::Deactivate { .. } | Action::Reverted { .. } => {}
                Action::Switch { from, to, reason } => {
                    switches.push(Switch {
                        t_ms: now,
                        from,
                        to,
                        reason,
                    });
                    if let Some(last) = spans.last_mut() {
                        last.1 = now;
                    }
                    spans.push((now, end, to));
                    decider.handle(
                        now,
                        Input::Switched {
                            iface: to,
                            ok: true,
                        },
                    );
                }
            }
        }
    }
    let (d, o) = throughput(&links, decider.primary(), end.saturating_sub(last_t));
    delivered += d;
    oracle += o;
    spans.retain(|(s, e, _)| e > s);
    let rates = has_rate.then_some((delivered / end as f64, oracle / end as f64));
    let summary = summarize(cfg, &switches, &spans, rates);
    let counters = decider.counters();
    Ok(Replay {
        policy: options.policy,
        config: cfg.clone(),
        switches,
        series,
        spans,
        end_ms: end,
        summary,
        counters,
    })
}
