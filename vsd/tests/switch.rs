//! The VSD's switching core, driven by hand: make-before-break, overlap,
//! autonomous failover, announcements.

use mimm_vsd::switch::{Cause, Output, Switch, SwitchConfig};

fn drain(s: &mut Switch) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn config() -> SwitchConfig {
    SwitchConfig {
        overlap_ms: 200,
        announce_count: 3,
        announce_interval_ms: 100,
    }
}

#[test]
fn the_first_member_with_carrier_becomes_active_and_announces() {
    let mut s = Switch::new(config());
    let a = s.add(0, false, 0);
    let b = s.add(0, true, 0);
    assert_eq!(s.tx(), Some(b));
    assert_eq!(
        drain(&mut s),
        [
            Output::Switched {
                from: None,
                to: b,
                cause: Cause::Initial
            },
            Output::Announce {
                member: b,
                round: 0
            }
        ]
    );
    assert!(!s.accepts(a) && s.accepts(b));
    // Two more rounds, 100 ms apart, then quiet.
    assert_eq!(s.poll_timeout(), Some(100));
    s.handle_timeout(100);
    assert_eq!(
        drain(&mut s),
        [Output::Announce {
            member: b,
            round: 1
        }]
    );
    s.handle_timeout(200);
    assert_eq!(
        drain(&mut s),
        [Output::Announce {
            member: b,
            round: 2
        }]
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn make_before_break_accepts_both_then_only_the_new() {
    let mut s = Switch::new(SwitchConfig {
        announce_count: 1,
        ..config()
    });
    let a = s.add(0, true, 0);
    let b = s.add(0, true, 0);
    drain(&mut s);
    s.prepare(b).unwrap();
    assert_eq!(s.tx(), Some(a), "prepare does not move transmission");
    assert!(s.accepts(a) && s.accepts(b));
    assert_eq!(s.commit(1_000), Ok(b));
    assert_eq!(s.tx(), Some(b));
    assert!(
        s.accepts(a),
        "the old member's in-flight frames still arrive"
    );
    assert_eq!(
        drain(&mut s),
        [
            Output::Switched {
                from: Some(a),
                to: b,
                cause: Cause::Command
            },
            Output::Announce {
                member: b,
                round: 0
            }
        ]
    );
    assert_eq!(s.poll_timeout(), Some(1_200));
    s.handle_timeout(1_199);
    assert!(s.accepts(a));
    s.handle_timeout(1_200);
    assert!(!s.accepts(a) && s.accepts(b));
    assert_eq!(s.commit(1_300), Err("nothing prepared".into()));
}

#[test]
fn carrier_loss_moves_at_once_to_the_prepared_or_best_backup() {
    let mut s = Switch::new(config());
    let a = s.add(5, true, 0);
    let b = s.add(1, true, 0);
    let c = s.add(9, true, 0);
    drain(&mut s);
    assert_eq!(s.tx(), Some(a));
    // Highest priority wins; the dead member's frames are not waited for.
    s.on_carrier(a, false, 50);
    assert_eq!(s.tx(), Some(c));
    assert!(!s.accepts(a));
    assert_eq!(
        drain(&mut s)[0],
        Output::Switched {
            from: Some(a),
            to: c,
            cause: Cause::CarrierLost
        }
    );
    // A prepared member is the control plane's pick and beats priority.
    s.on_carrier(a, true, 60);
    s.prepare(b).unwrap();
    s.on_carrier(c, false, 70);
    assert_eq!(s.tx(), Some(b));
    // No member left with carrier: all down, and the first to come back takes over.
    s.on_carrier(a, false, 80);
    s.on_carrier(b, false, 80);
    assert!(drain(&mut s).contains(&Output::AllDown));
    assert_eq!(s.tx(), None);
    s.on_carrier(c, true, 90);
    assert_eq!(s.tx(), Some(c));
}

#[test]
fn carrier_loss_follows_the_control_planes_backup_order_before_priority() {
    let mut s = Switch::new(config());
    let a = s.add(9, true, 0);
    let b = s.add(5, true, 0);
    let c = s.add(1, true, 0);
    let d = s.add(0, true, 0);
    drain(&mut s);
    assert_eq!(s.tx(), Some(a));
    // mimmd ranks c, then b: the lowest priority first, one switch.
    s.set_backups(vec![c, b]).unwrap();
    s.on_carrier(a, false, 10);
    assert_eq!(s.tx(), Some(c));
    assert_eq!(
        drain(&mut s)[0],
        Output::Switched {
            from: Some(a),
            to: c,
            cause: Cause::CarrierLost
        }
    );
    // The first of the order without carrier is passed over; the active
    // one in it is never its own backup.
    s.on_carrier(a, true, 20);
    s.set_backups(vec![c, a, b]).unwrap();
    s.on_carrier(a, false, 25);
    s.on_carrier(c, false, 30);
    assert_eq!(s.tx(), Some(b));
    // Past the order, priority ranks the rest; a removed member leaves it.
    s.on_carrier(a, true, 40);
    s.remove(a, 45);
    assert_eq!(s.backups(), &[c, b]);
    s.on_carrier(b, false, 50);
    assert_eq!(s.tx(), Some(d));
    // An order naming no member is refused and changes nothing.
    assert!(s.set_backups(vec![d, 77]).is_err());
    assert_eq!(s.backups(), &[c, b]);
}

#[test]
fn commands_on_unknown_or_dead_members_are_refused() {
    let mut s = Switch::new(config());
    let a = s.add(0, true, 0);
    let b = s.add(0, false, 0);
    assert!(s.set_active(b, 1).is_err());
    assert!(s.set_active(7, 1).is_err());
    assert!(s.prepare(a).is_err(), "already active");
    s.prepare(b).unwrap();
    assert!(s.commit(2).is_err(), "no carrier");
    assert_eq!(s.tx(), Some(a));
    // Removing the active member fails over like a carrier loss.
    s.on_carrier(b, true, 3);
    s.remove(a, 4);
    assert_eq!(s.tx(), Some(b));
    assert!(s.set_priority(a, 3).is_err());
}
