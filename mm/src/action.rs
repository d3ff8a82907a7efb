//! What the MM asks its shell to do.

use serde::{Deserialize, Serialize};

use crate::IfaceId;
use crate::reason::Reason;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Bring an interface up (dial PPP, attach a modem); answer with
    /// [`crate::Input::Activated`].
    Activate { iface: IfaceId, reason: Reason },
    /// Take a standby-able interface down to save power or money.
    Deactivate { iface: IfaceId, reason: Reason },
    /// Run the interface's pre-handoff functions (DHCP, authentication, VPN,
    /// registration) so the switch itself is instant; answer with
    /// [`crate::Input::Prepared`].
    Prepare { iface: IfaceId, reason: Reason },
    /// Ask the server whether moving to `iface` is advisable; answer with
    /// [`crate::Advice::Handoff`].
    RequestAdvice { iface: IfaceId, reason: Reason },
    /// Move traffic to `to` (VSD switch or routes), then run its post-handoff
    /// functions; answer with [`crate::Input::Switched`].
    Switch {
        from: Option<IfaceId>,
        to: IfaceId,
        reason: Reason,
    },
    /// The switch to `failed` did not happen (answered `Switched { ok:
    /// false }`): traffic is still on `back` (none after a failed first
    /// choice), `failed` waits `retry_after_ms`. Nothing to do but say so.
    Reverted {
        failed: IfaceId,
        back: Option<IfaceId>,
        reason: Reason,
    },
}

impl Action {
    pub fn reason(&self) -> &Reason {
        match self {
            Action::Activate { reason, .. }
            | Action::Deactivate { reason, .. }
            | Action::Prepare { reason, .. }
            | Action::RequestAdvice { reason, .. }
            | Action::Switch { reason, .. }
            | Action::Reverted { reason, .. } => reason,
        }
    }
}
