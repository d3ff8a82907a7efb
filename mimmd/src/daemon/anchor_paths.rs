//! Anchored vsd mode: each member's path metric is what the VSD's
//! keepalives to the anchor measure (round trip, loss, whether it is
//! usable), for backups as much as for the active member, where the
//! probes could only measure the active one through the VSD. Read once
//! per sample from the VSD's status.

use mimm_vsd::control::MemberPath;

use super::Daemon;
use crate::actions::Mover;
use crate::monitor::probe::PathStats;

/// A member's path as the MM's sample takes it, and what status shows.
fn path_stats(m: &MemberPath, home: Option<std::net::Ipv4Addr>) -> (PathStats, String) {
    let reachable = m.state != "down";
    let Some(p) = &m.path else {
        return (
            PathStats {
                reachable,
                rtt_ms: None,
                loss_pct: 100.0,
            },
            "no path".into(),
        );
    };
    let stats = PathStats {
        reachable,
        rtt_ms: p.srtt_ms,
        loss_pct: p.loss_pct,
    };
    let home = home.map_or("none yet".into(), |h| h.to_string());
    let care_of = p.care_of.map_or("-".into(), |c| c.to_string());
    let binding = match (p.bound, p.binding_left_s) {
        (true, Some(left)) => format!("home {home} via care-of {care_of}, {left} s left"),
        _ => format!("home {home}, care-of {care_of} not bound"),
    };
    (stats, binding)
}

impl Daemon {
    /// Takes each member's path from the VSD; a change of reachability is
    /// acted on as the probes' would be.
    pub(super) fn read_anchor_paths(&mut self) {
        let Mover::Vsd(vsd) = &self.mover else { return };
        if !vsd.anchored {
            return;
        }
        let Ok(Some((home, members))) = vsd.anchored_paths() else {
            // The VSD's silence is reported by follow_vsd; paths keep their last.
            return;
        };
        for i in 0..self.ifaces.len() {
            let Some(m) = members.iter().find(|m| m.name == self.ifaces[i].device) else {
                continue;
            };
            let (stats, binding) = path_stats(m, home);
            let rt = &mut self.ifaces[i];
            let before = rt.anchor_path.map(|p| p.reachable);
            rt.anchor_path = Some(stats);
            rt.observed.path = Some(stats);
            rt.binding = Some(binding);
            if before.is_some_and(|b| b != stats.reachable) {
                self.on_path(i, stats.reachable);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mimm_vsd::control::PathOfStatus;

    #[test]
    fn a_members_path_becomes_its_sample_and_its_binding_line() {
        let m = MemberPath {
            name: "wwan0".into(),
            state: "backup".into(),
            path: Some(PathOfStatus {
                care_of: Some("10.1.0.2".parse().unwrap()),
                bound: true,
                binding_left_s: Some(412),
                srtt_ms: Some(10.3),
                loss_pct: 12.5,
            }),
        };
        let (stats, binding) = path_stats(&m, Some("10.64.0.2".parse().unwrap()));
        assert_eq!(
            stats,
            PathStats {
                reachable: true,
                rtt_ms: Some(10.3),
                loss_pct: 12.5
            }
        );
        assert_eq!(binding, "home 10.64.0.2 via care-of 10.1.0.2, 412 s left");
        let down = MemberPath {
            state: "down".into(),
            path: None,
            ..m
        };
        let (stats, binding) = path_stats(&down, None);
        assert!(!stats.reachable && stats.loss_pct == 100.0);
        assert_eq!(binding, "no path");
    }
}
