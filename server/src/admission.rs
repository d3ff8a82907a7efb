//! The capacity model behind Handoff Advice.
//!
//! Each network the server knows has a real-time capacity (kbit/s,
//! configured: what its operator can carry for voice and video without
//! degrading them). Its real-time load is the sessions the RTS feed reports
//! there (e.g. a SIP server's calls) plus the real-time sessions mimm
//! clients on it reported. A move of client C to network B is allowed when
//!
//! 1. B is not under an alarm (a Reactive Advice is active for it),
//! 2. B's load plus C's real-time kbit/s stays within B's capacity less the
//!    headroom (default 10 %): the move must not push B's real-time
//!    sessions below what they need, and
//! 3. B's link, as C measured it (its interface report's rate), can carry
//!    C's own real-time sessions: the move must not starve C's sessions.
//!
//! A network without a configured capacity has no admission control (1 and
//! 3 still apply). A denial names the rule and proposes the network with
//! the most room among the others C reported.

/// What the server knows of a network for this decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkLoad {
    pub capacity_kbps: Option<u32>,
    pub load_kbps: u32,
    pub alarmed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(String),
}

/// Whether a client with `client_rt_kbps` of real-time sessions may move
/// to `target`, whose link it measured at `link_kbps` (0: unknown).
pub fn decide(
    target: &NetworkLoad,
    client_rt_kbps: u32,
    link_kbps: u32,
    headroom_pct: u32,
) -> Decision {
    if target.alarmed {
        return Decision::Deny("network under an alarm".into());
    }
    if let Some(capacity) = target.capacity_kbps {
        let usable = u64::from(capacity) * u64::from(100 - headroom_pct.min(100)) / 100;
        let after = u64::from(target.load_kbps) + u64::from(client_rt_kbps);
        if after > usable {
            return Decision::Deny(format!(
                "real-time capacity: {after} kbit/s after the move > {usable} usable of {capacity}"
            ));
        }
    }
    if link_kbps > 0 && client_rt_kbps > link_kbps {
        return Decision::Deny(format!(
            "the link measured {link_kbps} kbit/s, the client's real-time sessions need {client_rt_kbps}"
        ));
    }
    Decision::Allow
}

/// Room left on a network (capacity less headroom less load), for picking
/// an alternative; unknown capacity counts as plenty.
pub fn room(n: &NetworkLoad, headroom_pct: u32) -> i64 {
    if n.alarmed {
        return i64::MIN;
    }
    match n.capacity_kbps {
        Some(c) => {
            i64::from(c) * i64::from(100 - headroom_pct.min(100)) / 100 - i64::from(n.load_kbps)
        }
        None => i64::MAX / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(capacity: Option<u32>, load: u32) -> NetworkLoad {
        NetworkLoad {
            capacity_kbps: capacity,
            load_kbps: load,
            alarmed: false,
        }
    }

    #[test]
    fn the_three_rules() {
        assert_eq!(decide(&net(Some(1000), 800), 100, 0, 10), Decision::Allow);
        assert!(
            matches!(decide(&net(Some(1000), 850), 100, 0, 10), Decision::Deny(r) if r.contains("950 kbit/s after the move > 900"))
        );
        assert_eq!(decide(&net(None, 1_000_000), 100, 0, 10), Decision::Allow);
        assert!(
            matches!(decide(&net(None, 0), 500, 300, 10), Decision::Deny(r) if r.contains("measured 300"))
        );
        let alarmed = NetworkLoad {
            alarmed: true,
            ..net(None, 0)
        };
        assert!(matches!(decide(&alarmed, 0, 0, 10), Decision::Deny(_)));
        assert!(room(&net(Some(1000), 100), 10) > room(&net(Some(1000), 500), 10));
    }
}
