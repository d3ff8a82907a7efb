//! Registrations end to end: signed requests with a UDP Tunnel Request out
//! of each client's socket, a window of them in flight, each reply judged
//! (signed with that client's key, to its request, accepted, with a UDP
//! Tunnel Reply; the keys derived). Renewals are the same requests again:
//! each is a binding update at the anchor (new keys).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::client::Verdict;
use crate::fleet::Fleet;

/// A request unanswered this long is counted lost and sent again.
const LOST_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub bound: u64,
    pub refused: u64,
    pub bad: u64,
    pub lost: u64,
}

/// What to register: `clients` once each (`until` is `None`), or round
/// and round until `until` (renewals); `window` requests in flight; no
/// later than `give_up` in any case (an anchor that does not answer).
pub struct Plan {
    pub clients: Range<usize>,
    pub until: Option<Instant>,
    pub window: usize,
    pub give_up: Instant,
}

struct Run {
    queue: VecDeque<usize>,
    next: usize,
    in_flight: usize,
    tally: Tally,
    checked: Instant,
}

impl Run {
    /// The next client to register, if any is left to.
    fn next(&mut self, plan: &Plan) -> Option<usize> {
        if let Some(i) = self.queue.pop_front() {
            return Some(i);
        }
        let range = &plan.clients;
        let i = match plan.until {
            Some(t) if Instant::now() < t => self.next % range.len().max(1),
            Some(_) => return None,
            None if self.next < range.len() => self.next,
            None => return None,
        };
        self.next += 1;
        Some(range.start + i)
    }
}

/// Registrations per `plan` to the anchor at `to`: what came back and how
/// long it took.
pub fn run(fleet: &mut Fleet, to: SocketAddr, plan: Plan) -> (Tally, Duration) {
    let start = Instant::now();
    let mut run = Run {
        queue: VecDeque::new(),
        next: 0,
        in_flight: 0,
        tally: Tally::default(),
        checked: start,
    };
    let mut out = [0u8; 512];
    loop {
        // At most one look at each client per turn: with every one still
        // waiting for its reply, the window waits too.
        for _ in 0..fleet.clients.len() {
            if run.in_flight >= plan.window {
                break;
            }
            let Some(client) = run.next(&plan).and_then(|i| fleet.clients.get_mut(i)) else {
                break;
            };
            if client.asking.is_some() {
                continue;
            }
            if let Some(len) = client.registration(&mut out) {
                client.send(&out[..len], to);
                run.in_flight += 1;
            }
        }
        if run.in_flight == 0 || Instant::now() > plan.give_up {
            return (run.tally, start.elapsed());
        }
        let tally = &mut run.tally;
        let mut answered = 0;
        fleet.receive(Duration::from_millis(1), |client, bytes| {
            if client.asking.is_none() {
                tally.bad += 1;
                return;
            }
            match client.on_reply(bytes) {
                Verdict::Bound => tally.bound += 1,
                Verdict::Refused(_) => tally.refused += 1,
                Verdict::Bad => {
                    tally.bad += 1;
                    return;
                }
            }
            answered += 1;
        });
        run.in_flight -= answered;
        expire_lost(fleet, &mut run);
    }
}

/// Every so often: requests unanswered for [`LOST_AFTER`] are counted
/// lost and queued again.
fn expire_lost(fleet: &mut Fleet, run: &mut Run) {
    if run.checked.elapsed() < Duration::from_millis(100) {
        return;
    }
    run.checked = Instant::now();
    for (i, client) in fleet.clients.iter_mut().enumerate() {
        if client
            .asking
            .is_some_and(|(_, at)| at.elapsed() > LOST_AFTER)
        {
            client.asking = None;
            run.tally.lost += 1;
            run.in_flight -= 1;
            run.queue.push_back(i);
        }
    }
}
