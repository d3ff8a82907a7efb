//! The demo's results: a text summary (handoffs, what each cost, the
//! download) and an HTML page with an SVG timeline.

use std::fmt::Write;

use mimm_testbed::probe::stats::StreamReport;
use mimm_trace::Trace;

/// The window around a handoff its cost is read in, seconds.
const COST_BEFORE_S: f64 = 0.2;
const COST_AFTER_S: f64 = 1.0;
/// What the gap column says when the stream had no hole there: none of
/// two sending intervals (2 ms at 1 kHz) or more.
pub const NO_HOLE: &str = "<2";

fn gap_label(gap_ms: f64) -> String {
    if gap_ms > 0.0 {
        format!("{gap_ms:.1}")
    } else {
        NO_HOLE.into()
    }
}

#[derive(Debug, Clone)]
pub struct Handoff {
    /// Seconds from the start of the stream.
    pub t_s: f64,
    /// mimmd or vsd.
    pub who: &'static str,
    pub detail: String,
}

pub struct Summary {
    /// Trace interface, kbit/s per second of the run.
    rates: Vec<(String, Vec<f64>)>,
    handoffs: Vec<(Handoff, f64, u64)>,
    /// TCP download, Mbit/s per second.
    download: Vec<f64>,
    lost_per_s: Vec<u64>,
    sent: u64,
    lost: u64,
    seconds: usize,
}

impl Summary {
    pub fn new(
        trace: &Trace,
        ifaces: &[(String, String)],
        handoffs: &[Handoff],
        stream: &StreamReport,
        iperf: &serde_json::Value,
    ) -> Summary {
        let seconds = stream.timeline.len().max(1);
        let rates = ifaces
            .iter()
            .map(|(name, _)| {
                let per_s = (0..seconds)
                    .map(|s| {
                        trace
                            .state_at(name, s as u64 * 1000)
                            .and_then(|r| r.rate_kbps)
                            .unwrap_or(0.0)
                    })
                    .collect();
                (name.clone(), per_s)
            })
            .collect();
        // What each handoff cost: the longest hole in the stream around it
        // and the packets due then that never arrived.
        let handoffs = handoffs
            .iter()
            .map(|h| {
                let (from, to) = (h.t_s - COST_BEFORE_S, h.t_s + COST_AFTER_S);
                let gap = stream.longest_gap_between(from, to);
                (h.clone(), gap, stream.lost_between(from, to))
            })
            .collect();
        let download = iperf["intervals"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["sum"]["bits_per_second"].as_f64().unwrap_or(0.0) / 1e6)
                    .collect()
            })
            .unwrap_or_default();
        Summary {
            rates,
            handoffs,
            download,
            lost_per_s: stream.timeline.iter().map(|s| s.lost).collect(),
            sent: stream.sent,
            lost: stream.lost,
            seconds,
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = format!(
            "\nhandoffs (gap: longest hole in the 1 kHz stream from {COST_BEFORE_S} s before to {COST_AFTER_S} s after, {NO_HOLE} ms: none; lost: packets sent then that never arrived)\n",
        );
        let _ = writeln!(
            out,
            "{:>7}  {:<5} {:>8} {:>5}  what",
            "t (s)", "who", "gap ms", "lost"
        );
        for (h, gap, lost) in &self.handoffs {
            let gap = gap_label(*gap);
            let _ = writeln!(
                out,
                "{:>7.1}  {:<5} {gap:>8} {lost:>5}  {}",
                h.t_s, h.who, h.detail
            );
        }
        let mean = if self.download.is_empty() {
            0.0
        } else {
            self.download.iter().sum::<f64>() / self.download.len() as f64
        };
        let _ = writeln!(
            out,
            "\nstream: {} sent, {} lost ({:.3} %); TCP download: {mean:.1} Mbit/s on average",
            self.sent,
            self.lost,
            if self.sent > 0 {
                self.lost as f64 * 100.0 / self.sent as f64
            } else {
                0.0
            }
        );
        out
    }

    pub fn to_html(&self) -> String {
        let (w, h, left, top) = (1000.0, 420.0, 60.0, 20.0);
        let plot_w = w - left - 20.0;
        let x = |t: f64| left + t / self.seconds as f64 * plot_w;
        let max_rate = self
            .rates
            .iter()
            .flat_map(|(_, r)| r.iter())
            .chain(
                self.download
                    .iter()
                    .map(|m| m * 1000.0)
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .fold(1.0_f64, |a, b| a.max(*b));
        let rate_h = 260.0;
        let y = |kbps: f64| top + rate_h - kbps / max_rate * rate_h;
        let colors = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"];
        let mut svg = format!(
            "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' font-family='sans-serif' font-size='12'>\n"
        );
        let _ = writeln!(
            svg,
            "<rect x='{left}' y='{top}' width='{plot_w}' height='{rate_h}' fill='none' stroke='#ccc'/>"
        );
        for (i, (name, rates)) in self.rates.iter().enumerate() {
            let color = colors[i % colors.len()];
            let points: Vec<String> = rates
                .iter()
                .enumerate()
                .map(|(t, r)| format!("{:.1},{:.1}", x(t as f64), y(*r)))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline fill='none' stroke='{color}' stroke-width='1.5' points='{}'><title>{name}: link rate (trace)</title></polyline>",
                points.join(" ")
            );
            let _ = writeln!(
                svg,
                "<text x='{}' y='{}' fill='{color}'>{name} (link rate)</text>",
                left + 10.0,
                top + 15.0 + 15.0 * i as f64
            );
        }
        let points: Vec<String> = self
            .download
            .iter()
            .enumerate()
            .map(|(t, m)| format!("{:.1},{:.1}", x(t as f64 + 0.5), y(m * 1000.0)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill='none' stroke='#d62728' stroke-width='2.5' points='{}'><title>TCP download through the router</title></polyline>",
            points.join(" ")
        );
        let _ = writeln!(
            svg,
            "<text x='{}' y='{}' fill='#d62728'>TCP download (Mbit/s x 1000 = kbit/s)</text>",
            left + 10.0,
            top + 15.0 + 15.0 * self.rates.len() as f64
        );
        let _ = writeln!(
            svg,
            "<text x='5' y='{}'>{:.0}</text><text x='5' y='{}'>kbit/s</text>",
            top + 10.0,
            max_rate,
            top + 25.0
        );
        // Lost packets per second, below.
        let loss_top = top + rate_h + 30.0;
        let max_lost = self.lost_per_s.iter().copied().max().unwrap_or(0).max(10) as f64;
        let _ = writeln!(svg, "<text x='5' y='{}'>lost/s</text>", loss_top + 10.0);
        for (t, lost) in self.lost_per_s.iter().enumerate() {
            if *lost > 0 {
                let bar = *lost as f64 / max_lost * 60.0;
                let _ = writeln!(
                    svg,
                    "<rect x='{:.1}' y='{:.1}' width='{:.1}' height='{bar:.1}' fill='#ff7f0e'><title>{t} s: {lost} lost</title></rect>",
                    x(t as f64),
                    loss_top + 60.0 - bar,
                    plot_w / self.seconds as f64
                );
            }
        }
        for (h, gap, lost) in &self.handoffs {
            let color = if h.who == "vsd" { "#000" } else { "#555" };
            let _ = writeln!(
                svg,
                "<line x1='{0:.1}' x2='{0:.1}' y1='{top}' y2='{1:.1}' stroke='{color}' stroke-dasharray='4 3'><title>{2:.1} s {3}: {4} (gap {gap:.1} ms, lost {lost})</title></line>",
                x(h.t_s),
                loss_top + 60.0,
                h.t_s,
                h.who,
                escape(&h.detail)
            );
        }
        for t in (0..=self.seconds).step_by(10) {
            let _ = writeln!(
                svg,
                "<text x='{:.1}' y='{}' text-anchor='middle'>{t} s</text>",
                x(t as f64),
                h - 5.0
            );
        }
        svg.push_str("</svg>\n");
        let rows: String = self
            .handoffs
            .iter()
            .map(|(h, gap, lost)| {
                format!(
                    "<tr><td>{:.1}</td><td>{}</td><td>{}</td><td>{lost}</td><td>{}</td></tr>\n",
                    h.t_s,
                    h.who,
                    escape(&gap_label(*gap)),
                    escape(&h.detail)
                )
            })
            .collect();
        format!(
            "<!doctype html>\n<html><head><meta charset='utf-8'><title>mimm demo</title>\
             <style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;text-align:left}}</style></head><body>\n\
             <h1>mimm demo</h1>\n<p>Links follow a real drive trace; dashed lines are handoffs (hover for the reason).</p>\n\
             {svg}<h2>Handoffs</h2>\n<table><tr><th>t (s)</th><th>who</th><th>gap ms</th><th>lost</th><th>what</th></tr>\n{rows}</table>\n\
             <pre>{}</pre>\n</body></html>\n",
            escape(&self.to_text())
        )
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}
