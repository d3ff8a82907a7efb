//! Anchored vsd mode: selective duplication while the primary
//! deteriorates. When the primary's average is below its `deteriorating`
//! threshold, mimmd asks the VSD to send over a second member too — the
//! one the MM has prepared, else the attached one it scores best — so a
//! loss of the primary in the seconds before the handoff costs nothing;
//! once the primary is back above the threshold, or traffic has moved,
//! duplication stops (it costs the second link's bandwidth).

use mimm_mm::{IfaceId, Threshold};

use super::Daemon;
use crate::actions::Mover;
use crate::control::proto::EventKind;

impl Daemon {
    /// The member to duplicate over now, if any.
    fn duplication_target(&self) -> Option<usize> {
        let primary = self.mm.primary()?.index();
        let view = self.mm.view(IfaceId(primary as u8))?;
        let deteriorating = self.cfg.mm.ifaces[primary]
            .thresholds
            .get(Threshold::Deteriorating)?;
        if view.average.is_none_or(|avg| avg >= deteriorating) {
            return None;
        }
        let others = (0..self.ifaces.len())
            .filter(|&i| i != primary)
            .filter_map(|i| {
                let v = self.mm.view(IfaceId(i as u8))?;
                v.attached.then_some((i, v))
            });
        let prepared = others.clone().find(|(_, v)| v.prepared).map(|(i, _)| i);
        prepared.or_else(|| {
            others
                .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
                .map(|(i, _)| i)
        })
    }

    /// Tells the VSD when the member to duplicate over changes (each
    /// sample: averages move only then).
    pub(super) fn follow_duplication(&mut self) {
        let Mover::Vsd(vsd) = &self.mover else { return };
        if !vsd.anchored {
            return;
        }
        let target = self.duplication_target();
        if self.duplicating == Some(target) {
            return;
        }
        let device = target.map(|i| self.ifaces[i].device.clone());
        match vsd.duplicate(device.clone()) {
            Ok(()) => {
                let first = self.duplicating.is_none();
                self.duplicating = Some(target);
                if first && target.is_none() {
                    return;
                }
                let detail = match &device {
                    Some(d) => format!("primary deteriorating: duplicating over {d} too"),
                    None => "duplication off".into(),
                };
                self.event(EventKind::Path, target, detail);
            }
            // A VSD that does not answer is reported by follow_vsd, once.
            Err(e) => tracing::debug!("vsd {}: duplicate: {e}", vsd.name),
        }
    }
}
