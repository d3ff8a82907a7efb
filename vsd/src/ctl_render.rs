//! `vsd ctl status` as text, read from the answer's JSON as it is: typed
//! parsers of the whole status would cost the router's binary tens of
//! KiB (serde's code per struct, on mips) for a command a person runs.

use serde_json::Value;

/// A field as text: a string as it is, a number or a bool written, `-`
/// for null or absent.
fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        // Null, absent, or a list or object where a figure was expected.
        _ => "-".into(),
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// Milliseconds to a tenth, in integer arithmetic: core's float
/// formatting would cost the mips binary 14 KiB for these few figures.
fn millis(v: &Value, key: &str) -> String {
    v[key].as_f64().map_or("-".into(), |ms| {
        let tenths = (ms.max(0.0) * 10.0).round() as u64;
        format!("{}.{}", tenths / 10, tenths % 10)
    })
}

/// Whole seconds (see [`millis`]).
fn seconds(v: &Value, key: &str) -> u64 {
    v[key].as_f64().map_or(0, |s| s.max(0.0).round() as u64)
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

fn waiting(s: &Value, out: &mut String) {
    for w in list(s, "waiting") {
        let w = w.as_str().unwrap_or("?");
        out.push_str(&format!("{w:<10} waiting for the device to appear\n"));
    }
    let backups: Vec<String> = (list(s, "backups").iter())
        .filter_map(|b| b.as_str().map(str::to_string))
        .collect();
    if !backups.is_empty() {
        out.push_str(&format!("on a carrier loss: {}\n", backups.join(" > ")));
    }
}

pub fn render(s: &Value) -> String {
    if s["anchored"].is_object() {
        return render_anchored(s, &s["anchored"]);
    }
    let on = |b: &Value| {
        if b.as_bool() == Some(true) {
            "on"
        } else {
            "off"
        }
    };
    let mut out = format!(
        "{}  mac {}  mtu {}  policy {}  datapath {}  offloads {}  active {}  switches {}  up {} s\n",
        text(s, "name"),
        text(s, "mac"),
        text(s, "mtu"),
        text(s, "mac_policy"),
        if s["kernel_path"].as_bool() == Some(true) {
            "kernel"
        } else {
            "userspace"
        },
        on(&s["offloads"]),
        s["active"].as_str().unwrap_or("none"),
        count(s, "switches"),
        seconds(s, "uptime_s")
    );
    let row = |cells: [&str; 10]| {
        format!(
            "{:<10} {:<9} {:<17} {:>8} {:>12} {:>14} {:>12} {:>14} {:>9} {:>9}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8],
            cells[9]
        )
    };
    out.push_str(&row([
        "member",
        "state",
        "mac",
        "priority",
        "rx packets",
        "rx bytes",
        "tx packets",
        "tx bytes",
        "rx drop",
        "tx drop",
    ]));
    for m in list(s, "members") {
        let c = &m["counters"];
        let keys = [
            "rx_packets",
            "rx_bytes",
            "tx_packets",
            "tx_bytes",
            "rx_dropped",
            "tx_dropped",
        ];
        let n: Vec<String> = keys.iter().map(|k| count(c, k).to_string()).collect();
        let (name, state, mac, prio) = (
            text(&m, "name"),
            text(&m, "state"),
            text(&m, "mac"),
            text(&m, "priority"),
        );
        out.push_str(&row([
            &name, &state, &mac, &prio, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5],
        ]));
    }
    waiting(s, &mut out);
    out
}

/// Anchored mode: the binding, and each member's path to the anchor.
fn render_anchored(s: &Value, a: &Value) -> String {
    let home = a["home"].as_str().unwrap_or("none yet");
    let mut out = format!(
        "{}  anchored to {}  home {home}  mtu {}  active {}  duplicating to {} ({} sent twice, \
         {} second copies dropped)  switches {}  no-path drops {}  up {} s\n",
        text(s, "name"),
        text(a, "anchor"),
        text(s, "mtu"),
        s["active"].as_str().unwrap_or("none"),
        a["duplicating_to"].as_str().unwrap_or("none"),
        count(a, "sent_twice"),
        count(a, "second_copies"),
        count(s, "switches"),
        count(a, "no_path_drops"),
        seconds(s, "uptime_s")
    );
    let row = |cells: [&str; 10]| {
        format!(
            "{:<10} {:<9} {:<15} {:<12} {:>8} {:>8} {:>11} {:>12} {:>12} {:>9}\n",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8],
            cells[9]
        )
    };
    out.push_str(&row([
        "member",
        "state",
        "care-of",
        "binding",
        "rtt ms",
        "srtt ms",
        "keepalives",
        "sealed",
        "opened",
        "rejected",
    ]));
    for m in list(s, "members") {
        let p = &m["path"];
        if !p.is_object() {
            continue;
        }
        let binding = match (p["bound"].as_bool(), p["binding_left_s"].as_u64()) {
            (Some(true), Some(left)) => format!("{left} s left"),
            _ if p["refused"].is_u64() => format!("refused {}", text(p, "refused")),
            _ if count(p, "asking_tries") > 0 => format!("asking ({})", count(p, "asking_tries")),
            _ => "none".into(),
        };
        // Registered again on the anchor's notice (it was restarted).
        let binding = match count(p, "rebinds") {
            0 => binding,
            n => format!("{binding}, {n} rebound"),
        };
        let t = &p["tunnel"];
        let keepalives = format!(
            "{}/{}",
            count(p, "keepalives_answered"),
            count(p, "keepalives_sent")
        );
        let rejected = (count(t, "rejected") + count(t, "replayed")).to_string();
        out.push_str(&row([
            &text(&m, "name"),
            &text(&m, "state"),
            &text(p, "care_of"),
            &binding,
            &millis(p, "rtt_ms"),
            &millis(p, "srtt_ms"),
            &keepalives,
            &count(t, "sealed").to_string(),
            &count(t, "opened").to_string(),
            &rejected,
        ]));
    }
    waiting(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_bound_again_on_the_anchors_notice_says_so() {
        let status = |rebinds: u64| {
            serde_json::json!({
                "name": "vsd0", "members": [{"name": "wwan0", "state": "active", "path": {
                    "bound": true, "binding_left_s": 590, "rebinds": rebinds, "tunnel": {}
                }}],
                "anchored": {"home": "10.64.0.2"}
            })
        };
        let once = render(&status(1));
        assert!(once.contains("590 s left, 1 rebound"), "{once}");
        let never = render(&status(0));
        assert!(
            never.contains("590 s left") && !never.contains("rebound"),
            "{never}"
        );
    }
}
