//! What the advisor sends: reports, Request Handoff, and their
//! retransmissions, each a signed registration with a fresh Identification.

use std::net::Ipv4Addr;

use mimm_proto::message::{self, Builder};
use mimm_proto::mimm::{self as msg, IfaceReport, Message, Report};
use mimm_proto::registration::{Flags, Header, RequestHeader};

use super::{Advisor, LinkReport, MAX_DATAGRAM, Millis, Now, Outstanding, Purpose, essentials};

impl Advisor {
    /// Whether [`Advisor::update`] would send a report now: something the
    /// server must know changed (which is primary, attached, network) or
    /// the period is up. Lets the caller look up addresses only then.
    pub fn wants_report(&self, now: Now, links: &[LinkReport]) -> bool {
        now.mono >= self.next_report
            || links.len() != self.reported.len()
            || links.iter().zip(&self.reported).any(|(l, r)| {
                (&l.name, &l.network, l.attached, l.primary) != (&r.0, &r.1, r.2, r.3)
            })
    }

    /// Reports the links when [`Advisor::wants_report`].
    pub fn update(&mut self, now: Now, links: &[LinkReport]) {
        if !self.wants_report(now, links) {
            return;
        }
        self.reported = essentials(links);
        self.next_report = now.mono.saturating_add(self.s.report_ms);
        // A newer report replaces one still waiting.
        self.outstanding
            .retain(|o| !matches!(o.purpose, Purpose::Report));
        self.counters.reports += 1;
        self.start(now, Purpose::Report, links, self.s.report_ms);
    }

    /// Asks whether traffic may move to interface `iface` (its entry in
    /// `links`); the answer comes as [`Event::Answer`], or never.
    pub fn request_handoff(&mut self, now: Now, iface: usize, links: &[LinkReport]) {
        let care_of = links
            .get(iface)
            .map_or(Ipv4Addr::UNSPECIFIED, |l| l.address);
        self.outstanding
            .retain(|o| !matches!(o.purpose, Purpose::Handoff { iface: i, .. } if i == iface));
        self.counters.handoff_requests += 1;
        self.reported = essentials(links);
        let purpose = Purpose::Handoff { iface, care_of };
        self.start(now, purpose, links, self.s.answer_timeout_ms);
    }

    fn start(&mut self, now: Now, purpose: Purpose, links: &[LinkReport], lifetime: Millis) {
        let mut o = Outstanding {
            purpose,
            ids: Vec::new(),
            links: links.to_vec(),
            next_at: 0,
            interval: self.s.retransmit_ms,
            deadline: now.mono.saturating_add(lifetime),
            resyncs: 0,
        };
        self.transmit(now, &mut o);
        o.next_at = now.mono.saturating_add(o.interval);
        self.outstanding.push(o);
    }

    /// Builds and queues one transmission of `o` with a fresh Identification.
    pub(super) fn transmit(&mut self, now: Now, o: &mut Outstanding) {
        let id = self.next_id(now);
        self.sequence = self.sequence.wrapping_add(1);
        let primary = o.links.iter().find(|l| l.primary);
        let header = Header::Request(RequestHeader {
            flags: Flags(0),
            // Seconds; the server keeps what a report says this long.
            lifetime: (self.s.report_ms.saturating_mul(3) / 1000).min(65_534) as u16,
            home_address: Ipv4Addr::UNSPECIFIED,
            home_agent: match self.s.server.ip() {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
            },
            care_of: primary.map_or(Ipv4Addr::UNSPECIFIED, |l| l.address),
            identification: id,
        });
        let report = Message::Report(Report {
            sequence: self.sequence,
            sessions: self
                .s
                .sessions
                .iter()
                .copied()
                .take(msg::MAX_SESSIONS)
                .collect(),
        });
        let mut buf = [0u8; MAX_DATAGRAM];
        let built = Builder::new(&mut buf, &header, self.s.vendor).and_then(|mut b| {
            b.mimm(&report)?;
            // The message's vendor extensions are bounded: the report, the
            // request and at most MAX_VENDOR - 2 interfaces.
            for l in o.links.iter().take(message::MAX_VENDOR - 2) {
                b.mimm(&Message::IfaceReport(IfaceReport {
                    name: &l.name,
                    kind: l.kind,
                    network: &l.network,
                    metric_x100: l.metric_x100,
                    rate_kbps: l.rate_kbps,
                    load_pct: 0,
                    attached: l.attached,
                    primary: l.primary,
                }))?;
            }
            if let Purpose::Handoff { iface, care_of } = o.purpose {
                let target = o.links.get(iface);
                b.mimm(&Message::RequestHandoff(msg::RequestHandoff {
                    target_network: target.map_or("", |l| &l.network),
                    target_iface: target.map_or("", |l| &l.name),
                    care_of,
                }))?;
            }
            b.sign(self.s.spi, self.s.algorithm, &self.s.key)
        });
        match built {
            Ok(bytes) => {
                o.ids.push(id);
                self.out.push(bytes.to_vec());
            }
            Err(e) => tracing::warn!("server: cannot build a request: {e}"),
        }
    }

    /// Retransmits unanswered requests (backing off) and drops expired ones.
    pub fn handle_timeout(&mut self, now: Now) {
        let mut outstanding = std::mem::take(&mut self.outstanding);
        outstanding.retain_mut(|o| {
            if now.mono >= o.deadline {
                if matches!(o.purpose, Purpose::Handoff { .. }) {
                    self.counters.unanswered += 1;
                }
                return false;
            }
            if now.mono >= o.next_at {
                self.counters.retransmissions += 1;
                self.transmit(now, o);
                o.interval = o.interval.saturating_mul(2);
                o.next_at = now.mono.saturating_add(o.interval);
            }
            true
        });
        // Requests started meanwhile (none today) stay after the old ones.
        outstanding.append(&mut self.outstanding);
        self.outstanding = outstanding;
    }
}
