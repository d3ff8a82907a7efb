//! What the advisor receives: replies to its requests (Handoff Advice, a
//! refusal, a code-133 resynchronisation) and the server's pushed Reactive
//! Advice, which it acknowledges.

use mimm_proto::message::{self, Builder, OneKey};
use mimm_proto::mimm::{self as msg, Message};
use mimm_proto::registration::{Header, ReplyHeader, RequestHeader, code};
use mimm_proto::replay;

use super::{Advisor, Event, MAX_DATAGRAM, MAX_RESYNC, Now, Purpose, SEEN_PUSHES};

impl Advisor {
    /// A datagram from the socket. Its source address is not checked: on
    /// the way back through an operator's NAT the server may appear under
    /// another address; the authenticator and the Identification are what
    /// make a message believed.
    pub fn handle_datagram(&mut self, now: Now, bytes: &[u8]) {
        let Ok((header, _)) = Header::parse(bytes) else {
            self.counters.dropped += 1;
            return;
        };
        let keys = OneKey {
            spi: self.s.spi,
            algorithm: self.s.algorithm,
            key: &self.s.key,
        };
        let reg = match message::parse(bytes, self.s.vendor, &keys) {
            Ok(reg) => reg,
            Err(_) => {
                // An unsigned refusal (the server could not authenticate
                // us) is news for the log, but changes nothing here.
                match header {
                    Header::Reply(h) if h.code != code::ACCEPTED && self.answered(&h).is_some() => {
                        self.counters.refused += 1;
                        self.events.push(Event::Refused { code: h.code });
                    }
                    _ => self.counters.dropped += 1,
                }
                return;
            }
        };
        match header {
            Header::Reply(h) => self.on_reply(now, &h, &reg),
            Header::Request(h) => self.on_push(now, &h, &reg),
        }
    }

    /// The outstanding request a reply answers. Replies echo the request's
    /// Identification, except that a code-133 one (and an unsigned refusal
    /// of a server that could not check ours) may carry the server's time
    /// in the high 32 bits: only the low 32 are compared for those.
    fn answered(&self, h: &ReplyHeader) -> Option<usize> {
        let mask = if h.code == code::ACCEPTED {
            u64::MAX
        } else {
            0xffff_ffff
        };
        let id = h.identification & mask;
        self.outstanding
            .iter()
            .position(|o| o.ids.iter().any(|i| *i & mask == id))
    }

    fn on_reply(&mut self, now: Now, h: &ReplyHeader, reg: &message::Registration) {
        let Some(k) = self.answered(h) else {
            self.counters.dropped += 1;
            return;
        };
        if h.code == code::IDENTIFICATION_MISMATCH {
            let mut o = self.outstanding.remove(k);
            let ours = replay::seconds(now.id);
            let offset = replay::seconds(h.identification).wrapping_sub(ours) as i32;
            o.resyncs += 1;
            if o.resyncs > MAX_RESYNC {
                self.counters.refused += 1;
                self.events.push(Event::Refused { code: h.code });
                return;
            }
            if offset != self.offset_s {
                self.offset_s = offset;
                self.counters.resyncs += 1;
                self.events.push(Event::Resynchronised { offset_s: offset });
            }
            // Our Identifications may have run ahead of the server's clock.
            self.last_id = 0;
            self.transmit(now, &mut o);
            self.outstanding.push(o);
            return;
        }
        let o = self.outstanding.remove(k);
        if h.code != code::ACCEPTED {
            self.counters.refused += 1;
            self.events.push(Event::Refused { code: h.code });
            return;
        }
        let Purpose::Handoff { iface, .. } = o.purpose else {
            return;
        };
        // A plain home agent answers without advice: no answer, so the
        // Mobility Manager goes ahead after its timeout.
        for item in &reg.mimm {
            if let Ok(Message::HandoffAdvice(a)) = item.message() {
                self.counters.answers += 1;
                self.events.push(Event::Answer {
                    iface,
                    verdict: a.verdict,
                    reason: a.reason.to_string(),
                    alternative: a.alternative.map(str::to_string),
                });
                return;
            }
        }
    }

    /// A request the server pushed: Reactive Advice, answered with an Ack.
    fn on_push(&mut self, now: Now, h: &RequestHeader, reg: &message::Registration) {
        let advice: Vec<msg::ReactiveAdvice> = reg
            .mimm
            .iter()
            .filter_map(|i| match i.message() {
                Ok(Message::ReactiveAdvice(a)) => Some(a),
                _ => None,
            })
            .collect();
        let verdict = self
            .guard
            .check(h.identification, self.server_clock(now), self.s.window_s);
        match verdict {
            replay::Verdict::Fresh => {}
            // The server retransmits the same datagram until it hears the
            // Ack: acknowledge again what was already acted on, nothing more.
            // (Remembered by Identification, not advice id: a restarted
            // server numbers its advice from 1 again.)
            replay::Verdict::Replayed if self.seen_pushes.contains(&h.identification) => {}
            _ => {
                self.counters.dropped += 1;
                return;
            }
        }
        if verdict == replay::Verdict::Fresh {
            if self.seen_pushes.len() == SEEN_PUSHES {
                self.seen_pushes.remove(0);
            }
            self.seen_pushes.push(h.identification);
        }
        for a in advice.iter().filter(|_| verdict == replay::Verdict::Fresh) {
            self.counters.advice += 1;
            self.events.push(Event::Avoid {
                network: a.network.to_string(),
                reason: a.reason.to_string(),
                expiry_s: a.expiry_s,
                alternative: a.alternative.map(str::to_string),
            });
        }
        let reply = Header::Reply(h.reply(code::ACCEPTED));
        let mut buf = [0u8; MAX_DATAGRAM];
        let built = Builder::new(&mut buf, &reply, self.s.vendor).and_then(|mut b| {
            for a in &advice {
                b.mimm(&Message::Ack { id: a.id })?;
            }
            b.sign(self.s.spi, self.s.algorithm, &self.s.key)
        });
        if let Ok(bytes) = built {
            self.counters.acks += advice.len() as u64;
            self.out.push(bytes.to_vec());
        }
    }
}
