//! Selective duplication at the router: while mimmd says the active path
//! deteriorates (`{"cmd":"duplicate","member":"wlan0"}`), every uplink
//! packet also goes over that second path, numbered (see
//! `mimm_tunnel::duplicate`), and its keepalives ask the anchor to send
//! downlink over it too; the first copy of each number wins both ways.
//! Off otherwise: it costs a second path's bandwidth and a second seal.

use mimm_tunnel::duplicate::{DupFilter, DupNumbers, ID_LEN};
use mimm_tunnel::packet::{FLAG_DUPLICATE, SEALED_HEADER};

use super::datapath::INNER_AT;
use super::engine::{BUF_LEN, Engine};

#[derive(Default)]
pub struct Duplication {
    /// The second path, while duplicating.
    pub to: Option<usize>,
    pub numbers: DupNumbers,
    /// Downlink's second copies.
    pub filter: DupFilter,
    /// The second copy is sealed here (the first is sealed in place).
    pub buf: Vec<u8>,
    /// Uplink packets sent twice.
    pub sent_twice: u64,
}

impl Engine {
    /// The path to duplicate to with `tx` active: the one asked for, while
    /// it is usable and not `tx` itself.
    pub(super) fn duplicating_to(&self, tx: usize) -> Option<usize> {
        let second = self.dup.to.filter(|&s| s != tx)?;
        let usable = self.paths.get(second)?.as_ref()?.usable();
        usable.then_some(second)
    }

    /// Numbers the packet at `buf[INNER_AT..][..len]`, copies it and seals
    /// one copy for each path.
    pub(super) fn uplink_duplicated(&mut self, tx: usize, second: usize, len: usize) {
        let numbered = SEALED_HEADER..INNER_AT + len;
        self.dup
            .numbers
            .stamp(&mut self.buf[SEALED_HEADER..INNER_AT]);
        if self.dup.buf.len() < BUF_LEN {
            self.dup.buf = vec![0u8; BUF_LEN];
        }
        self.dup.buf[numbered.clone()].copy_from_slice(&self.buf[numbered]);
        let flags = FLAG_DUPLICATE;
        let first = self.send_sealed(tx, 0, ID_LEN + len, flags);
        std::mem::swap(&mut self.buf, &mut self.dup.buf);
        let second = self.send_sealed(second, 0, ID_LEN + len, flags);
        std::mem::swap(&mut self.buf, &mut self.dup.buf);
        if !first && !second {
            self.no_path_drops += 1;
        }
        self.dup.sent_twice += 1;
    }
}
