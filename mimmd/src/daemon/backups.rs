//! Vsd mode: the VSD's own failover goes where the MM would go. The VSD
//! moves by itself the moment its active member loses carrier (mimmd may
//! be slow, restarting or dead); told the MM's fallback order, it moves
//! once, straight to the member mimmd would have chosen, instead of to
//! its highest priority and then again when mimmd's ranking disagrees.
//! Sent whenever the order changes; the VSD keeps the last one it got.

use super::Daemon;
use crate::actions::Mover;

impl Daemon {
    /// Tells the VSD the MM's fallback order when it changed (or the VSD
    /// has not been told since it was followed again).
    pub(super) fn follow_backups(&mut self) {
        let Mover::Vsd(vsd) = &self.mover else { return };
        // A VSD not followed now is down or restarting: told once it is.
        if !self.vsd_events.following() {
            return;
        }
        let order: Vec<usize> = (self.mm.fallback_order().iter())
            .map(|i| i.index())
            .collect();
        if self.backups_told.as_ref() == Some(&order) {
            return;
        }
        let devices = order
            .iter()
            .map(|&i| self.ifaces[i].device.clone())
            .collect();
        match vsd.backups(devices) {
            Ok(()) => self.backups_told = Some(order),
            // A VSD that does not answer is reported by follow_vsd, once;
            // the order goes again with the next change or sample.
            Err(e) => tracing::debug!("vsd {}: backups: {e}", vsd.name),
        }
    }
}
