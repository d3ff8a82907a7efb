//! One picture of a replay: per interface its raw and averaged metric, the
//! five thresholds, when it carried traffic, and every handoff with its
//! reason (hover a mark for the full text).

use std::fmt::Write as _;

use mimm_mm::{Metric, Millis, Threshold};

use crate::replay::sim::Replay;

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 140.0;
const TOP: f64 = 50.0;
const PANEL: f64 = 190.0;
const GAP: f64 = 30.0;
const BOTTOM: f64 = 60.0;

const THRESHOLD_COLORS: [(Threshold, &str); 5] = [
    (Threshold::Available, "#999999"),
    (Threshold::Inactive, "#d62728"),
    (Threshold::Deteriorating, "#ff7f0e"),
    (Threshold::Active, "#2ca02c"),
    (Threshold::Stable, "#1f77b4"),
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One interface's plot area. Rates span decades, so they are drawn on a
/// log scale (values below 1 kbit/s sit on the floor); other metrics linear.
struct Panel {
    top: f64,
    min: f64,
    max: f64,
    log: bool,
}

impl Panel {
    fn scale(&self, v: f64) -> f64 {
        if self.log { v.max(1.0).log10() } else { v }
    }

    fn y(&self, v: f64) -> f64 {
        let span = (self.max - self.min).max(1e-9);
        self.top + PANEL - (self.scale(v) - self.min) / span * PANEL
    }
}

/// Label positions at least `gap` apart, keeping their order.
fn spread(mut ys: Vec<(f64, usize)>, gap: f64) -> Vec<(f64, usize)> {
    ys.sort_by(|a, b| a.0.total_cmp(&b.0));
    for i in 1..ys.len() {
        if ys[i].0 < ys[i - 1].0 + gap {
            ys[i].0 = ys[i - 1].0 + gap;
        }
    }
    ys
}

fn x(t: Millis, end: Millis) -> f64 {
    LEFT + t as f64 / end.max(1) as f64 * (WIDTH - LEFT - RIGHT)
}

/// Polylines of `(t, value)` points, broken where the value is unknown.
fn polylines(
    points: impl Iterator<Item = (Millis, Option<f64>)>,
    end: Millis,
    panel: &Panel,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for (t, v) in points {
        match v {
            Some(v) => {
                let _ = write!(current, "{:.1},{:.1} ", x(t, end), panel.y(v));
            }
            None if !current.is_empty() => lines.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

pub fn to_svg(replay: &Replay, trace_name: &str) -> String {
    let cfg = &replay.config;
    let end = replay.end_ms.max(1);
    let n = cfg.ifaces.len();
    let height = TOP + n as f64 * (PANEL + GAP) + BOTTOM;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let m = &replay.summary;
    let ratio = m
        .ratio
        .map_or(String::new(), |r| format!(", delivered/oracle {r:.3}"));
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{} — policy {}: {} handoffs, {} ping-pongs{ratio}</text>",
        escape(trace_name),
        replay.policy,
        m.handoffs,
        m.ping_pongs
    );
    for (i, iface) in cfg.ifaces.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL + GAP);
        let series = &replay.series[i];
        let log = iface.metric == Metric::RateKbps;
        let mut panel = Panel {
            top,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            log,
        };
        let values = series
            .points
            .iter()
            .flat_map(|&(_, raw, avg)| [raw, avg])
            .chain(
                THRESHOLD_COLORS
                    .iter()
                    .map(|(w, _)| iface.thresholds.get(*w)),
            )
            .flatten();
        for v in values {
            let v = panel.scale(v);
            panel.min = panel.min.min(v);
            panel.max = panel.max.max(v);
        }
        let pad = ((panel.max - panel.min) * 0.05).max(if log { 0.05 } else { 1.0 });
        panel.min -= pad;
        panel.max += pad;
        let _ = writeln!(
            svg,
            "<g class=\"iface\" id=\"iface-{}\">\n<text x=\"{LEFT}\" y=\"{:.1}\" font-weight=\"bold\">{} ({}, {})</text>",
            escape(&iface.name),
            top - 6.0,
            escape(&iface.name),
            iface.kind,
            iface.metric
        );
        // When this interface carried traffic.
        for &(start, stop, id) in &replay.spans {
            if id.index() == i {
                let _ = writeln!(
                    svg,
                    "<rect class=\"primary\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{PANEL}\" fill=\"#2ca02c\" fill-opacity=\"0.12\"/>",
                    x(start, end),
                    x(stop, end) - x(start, end)
                );
            }
        }
        let _ = writeln!(
            svg,
            "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{PANEL}\" fill=\"none\" stroke=\"#444\"/>",
            WIDTH - LEFT - RIGHT
        );
        let mut labels = Vec::new();
        for (k, (which, color)) in THRESHOLD_COLORS.iter().enumerate() {
            if let Some(v) = iface.thresholds.get(*which) {
                let y = panel.y(v);
                labels.push((y + 4.0, k));
                let _ = writeln!(
                    svg,
                    "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-dasharray=\"6,4\"/>",
                    WIDTH - RIGHT
                );
            }
        }
        for (y, k) in spread(labels, 12.0) {
            let (which, color) = THRESHOLD_COLORS[k];
            let v = iface.thresholds.get(which).unwrap_or_default();
            let _ = writeln!(
                svg,
                "<text class=\"threshold-label\" x=\"{:.1}\" y=\"{y:.1}\" fill=\"{color}\">{which} {v}</text>",
                WIDTH - RIGHT + 4.0
            );
        }
        for (class, color, width, pick) in [
            ("raw", "#888888", 1.0, 0usize),
            ("average", "#1f3fb4", 2.2, 1usize),
        ] {
            let points = series
                .points
                .iter()
                .map(|&(t, raw, avg)| (t, if pick == 0 { raw } else { avg }));
            for line in polylines(points, end, &panel) {
                let _ = writeln!(
                    svg,
                    "<polyline class=\"{class}\" points=\"{line}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\"/>"
                );
            }
        }
        // Axis labels: decades on a log scale, the extremes otherwise.
        let ticks: Vec<f64> = if log {
            let (a, b) = (panel.min.ceil() as i32, panel.max.floor() as i32);
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            vec![panel.min + pad, panel.max - pad]
        };
        for v in ticks {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>",
                LEFT - 6.0,
                panel.y(v) + 4.0
            );
        }
        svg.push_str("</g>\n");
    }
    // Handoff marks across every panel, with the reason on hover.
    let bottom = TOP + n as f64 * (PANEL + GAP) - GAP;
    let mut last_label = f64::NEG_INFINITY;
    let mut row = 0;
    for s in &replay.switches {
        let xs = x(s.t_ms, end);
        // Marks close together get their labels on alternating rows.
        row = if xs - last_label < 45.0 {
            (row + 1) % 3
        } else {
            0
        };
        last_label = xs;
        let to = &cfg.ifaces[s.to.index()].name;
        let reason = s.reason.display(cfg).to_string();
        let _ = writeln!(
            svg,
            "<g class=\"handoff\"><title>{:.3} s: {}</title>\
             <line x1=\"{xs:.1}\" y1=\"{:.1}\" x2=\"{xs:.1}\" y2=\"{bottom:.1}\" stroke=\"#d62728\" stroke-width=\"1.5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\" font-size=\"11\">→{}</text></g>",
            s.t_ms as f64 / 1000.0,
            escape(&reason),
            TOP - 2.0,
            xs + 2.0,
            TOP + 10.0 + 11.0 * row as f64,
            escape(to)
        );
    }
    // Preparations: a diamond atop the prepared interface's panel.
    for prep in &replay.preparations {
        let xs = x(prep.t_ms, end);
        let top = TOP + prep.iface.index() as f64 * (PANEL + GAP);
        let _ = writeln!(
            svg,
            "<g class=\"prepare\"><title>{:.3} s: prepare {}: {}</title>\
             <path d=\"M{xs:.1} {:.1} l5 5 l-5 5 l-5 -5 z\" fill=\"#ff7f0e\"/></g>",
            prep.t_ms as f64 / 1000.0,
            escape(&cfg.ifaces[prep.iface.index()].name),
            escape(&prep.reason.display(cfg).to_string()),
            top + 2.0
        );
    }
    // Time axis and legend.
    let axis_y = bottom + 18.0;
    // Round steps, at most a dozen ticks.
    let step = [
        1u64, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200,
    ]
    .into_iter()
    .map(|s| s * 1000)
    .find(|s| end / s <= 12)
    .unwrap_or(end.max(1));
    for t in (0..=end).step_by(step as usize) {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{axis_y:.1}\" text-anchor=\"middle\">{:.0} s</text>",
            x(t, end),
            t as f64 / 1000.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\">grey: raw sample · blue: average · dashed: thresholds · green: carrying traffic · orange: prepared ahead · red: handoff (hover for the reason)</text>",
        axis_y + 22.0
    );
    svg.push_str("</svg>\n");
    svg
}
