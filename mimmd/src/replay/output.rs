//! The replay as text (a timeline and a summary) and as one JSON object.

use std::fmt::Write as _;

use serde::Serialize;

use mimm_mm::{Counters, IfaceId};

use crate::replay::sim::Replay;
use crate::replay::summary::Summary;

fn name(replay: &Replay, id: IfaceId) -> &str {
    replay
        .config
        .ifaces
        .get(id.index())
        .map_or("?", |i| i.name.as_str())
}

pub fn to_text(replay: &Replay, trace_name: &str) -> String {
    let cfg = &replay.config;
    let ifaces: Vec<String> = cfg
        .ifaces
        .iter()
        .map(|i| format!("{} {} {}", i.name, i.kind, i.metric))
        .collect();
    let mut out = format!(
        "replay {trace_name}, policy {}: {:.1} s, interfaces {}\n",
        replay.policy,
        replay.end_ms as f64 / 1000.0,
        ifaces.join(", ")
    );
    let _ = writeln!(out, "{:>9}  {:<21}  reason", "t (s)", "from -> to");
    for s in &replay.switches {
        let from = s.from.map_or("-", |f| name(replay, f));
        let _ = writeln!(
            out,
            "{:>9.3}  {:<21}  {}",
            s.t_ms as f64 / 1000.0,
            format!("{from} -> {}", name(replay, s.to)),
            s.reason.display(cfg)
        );
    }
    let m = &replay.summary;
    let times: Vec<String> = m
        .seconds_by_iface
        .iter()
        .map(|(n, s)| format!("{n} {s:.1} s"))
        .collect();
    let _ = writeln!(
        out,
        "handoffs {}, ping-pongs {}; time on {}",
        m.handoffs,
        m.ping_pongs,
        times.join(", ")
    );
    if let (Some(d), Some(o), Some(r)) = (m.delivered_kbps_avg, m.oracle_kbps_avg, m.ratio) {
        let _ = writeln!(
            out,
            "delivered {d:.1} kbit/s, oracle {o:.1} kbit/s, ratio {r:.4}"
        );
    }
    if let Some(c) = replay.counters {
        let _ = writeln!(
            out,
            "mm: emergencies {}, forced {}, prepared ahead {}, held by dwell {}, held by hold-down {}, standby off {}, failures {}",
            c.emergencies,
            c.forced,
            c.prepared_ahead,
            c.held_by_dwell,
            c.held_by_hold_down,
            c.standby_off,
            c.failures
        );
    }
    out
}

#[derive(Serialize)]
struct JsonIface<'a> {
    name: &'a str,
    kind: &'a str,
    metric: &'a str,
}

#[derive(Serialize)]
struct JsonSwitch<'a> {
    t_ms: u64,
    from: Option<&'a str>,
    to: &'a str,
    rule: &'a str,
    reason: String,
    value: Option<f64>,
    threshold: Option<f64>,
}

#[derive(Serialize)]
struct JsonReplay<'a> {
    trace: &'a str,
    policy: &'a str,
    duration_ms: u64,
    interfaces: Vec<JsonIface<'a>>,
    timeline: Vec<JsonSwitch<'a>>,
    summary: &'a Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    counters: Option<Counters>,
}

pub fn to_json(replay: &Replay, trace_name: &str) -> String {
    let cfg = &replay.config;
    let doc = JsonReplay {
        trace: trace_name,
        policy: replay.policy.name(),
        duration_ms: replay.end_ms,
        interfaces: cfg
            .ifaces
            .iter()
            .map(|i| JsonIface {
                name: &i.name,
                kind: i.kind.name(),
                metric: i.metric.name(),
            })
            .collect(),
        timeline: replay
            .switches
            .iter()
            .map(|s| JsonSwitch {
                t_ms: s.t_ms,
                from: s.from.map(|f| name(replay, f)),
                to: name(replay, s.to),
                rule: s.reason.rule.name(),
                reason: s.reason.display(cfg).to_string(),
                value: s.reason.value,
                threshold: s.reason.threshold.map(|(_, v)| v),
            })
            .collect(),
        summary: &replay.summary,
        counters: replay.counters,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
