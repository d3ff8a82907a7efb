//! Preallocated packet storage for one direction of a link.
//!
//! Packets move strictly in order through two stages that share one ring:
//! `[head, mid)` have left the rate shaper and wait out their delay;
//! `[mid, tail)` wait in the shaper's queue. Devices read straight into the next
//! free slot and write straight from the oldest, so no packet is copied or
//! allocated on the data path.

use crate::clock::Nanos;

/// Bytes per slot: a 1500-byte MTU frame with its Ethernet header fits with room.
pub const SLOT: usize = 2048;

#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    pub len: u16,
    pub arrival: Nanos,
    /// When the packet leaves the delay line; set when it leaves the shaper.
    pub deliver: Nanos,
}

pub struct Ring {
    data: Box<[u8]>,
    meta: Box<[Meta]>,
    head: usize,
    mid: usize,
    tail: usize,
}

impl Ring {
    /// A ring of `slots` packets. Memory is zero-filled lazily by the kernel, so
    /// unused slots cost address space, not RSS.
    pub fn new(slots: usize) -> Ring {
        let slots = slots.max(2);
        Ring {
            data: vec![0u8; slots * SLOT].into_boxed_slice(),
            meta: vec![Meta::default(); slots].into_boxed_slice(),
            head: 0,
            mid: 0,
            tail: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.meta.len()
    }

    fn slot(&self, index: usize) -> usize {
        index % self.capacity()
    }

    pub fn is_full(&self) -> bool {
        self.tail - self.head == self.capacity()
    }

    /// Packets waiting in the shaper queue.
    pub fn queued(&self) -> usize {
        self.tail - self.mid
    }

    /// Packets in the delay line.
    pub fn in_flight(&self) -> usize {
        self.mid - self.head
    }

    /// The next free slot to read a packet into, if there is room.
    pub fn free_slot(&mut self) -> Option<&mut [u8]> {
        if self.is_full() {
            return None;
        }
        let at = self.slot(self.tail) * SLOT;
        Some(&mut self.data[at..at + SLOT])
    }

    /// Keeps the packet just read into [`Ring::free_slot`] at the queue's tail.
    pub fn push(&mut self, len: usize, arrival: Nanos) {
        debug_assert!(!self.is_full() && len <= SLOT);
        let slot = self.slot(self.tail);
        self.meta[slot] = Meta {
            len: len as u16,
            arrival,
            deliver: Nanos::MAX,
        };
        self.tail += 1;
    }

    /// The oldest packet still in the shaper queue.
    pub fn queue_head(&self) -> Option<Meta> {
        (self.mid < self.tail).then(|| self.meta[self.slot(self.mid)])
    }

    /// Moves the queue's head into the delay line, due at `deliver`.
    pub fn depart(&mut self, deliver: Nanos) {
        debug_assert!(self.mid < self.tail);
        let slot = self.slot(self.mid);
        self.meta[slot].deliver = deliver;
        self.mid += 1;
    }

    /// The oldest packet in the delay line, with its bytes.
    pub fn flight_head(&self) -> Option<(Meta, &[u8])> {
        if self.head == self.mid {
            return None;
        }
        let slot = self.slot(self.head);
        let meta = self.meta[slot];
        let at = slot * SLOT;
        Some((meta, &self.data[at..at + meta.len as usize]))
    }

    /// Forgets the delay line's oldest packet (delivered or dropped).
    pub fn pop(&mut self) {
        debug_assert!(self.head < self.mid);
        self.head += 1;
        self.rebase();
    }

    /// Drops everything; returns how many packets were dropped.
    pub fn clear(&mut self) -> usize {
        let dropped = self.tail - self.head;
        self.head = self.tail;
        self.mid = self.tail;
        self.rebase();
        dropped
    }

    // Indices only grow; fold them back so they never overflow.
    fn rebase(&mut self) {
        let cap = self.capacity();
        if self.head >= cap {
            let base = self.head - self.head % cap;
            self.head -= base;
            self.mid -= base;
            self.tail -= base;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(ring: &mut Ring, byte: u8, len: usize) -> bool {
        match ring.free_slot() {
            Some(slot) => {
                slot[..len].fill(byte);
                ring.push(len, Nanos(byte as u64));
                true
            }
            None => false,
        }
    }

    #[test]
    fn fifo_through_both_stages_and_wraps() {
        let mut ring = Ring::new(4);
        for round in 0..10u8 {
            assert!(put(&mut ring, round, 10 + round as usize));
            assert!(put(&mut ring, round + 100, 20));
            assert_eq!(ring.queued(), 2);
            ring.depart(Nanos(5));
            assert_eq!(ring.in_flight(), 1);
            let (meta, bytes) = ring.flight_head().unwrap();
            assert_eq!(meta.deliver, Nanos(5));
            assert_eq!(bytes.len(), 10 + round as usize);
            assert!(bytes.iter().all(|&b| b == round));
            ring.pop();
            ring.depart(Nanos(6));
            let (_, bytes) = ring.flight_head().unwrap();
            assert!(bytes.iter().all(|&b| b == round + 100));
            ring.pop();
            assert!(ring.flight_head().is_none());
        }
    }

    #[test]
    fn full_ring_refuses_and_clear_empties() {
        let mut ring = Ring::new(3);
        assert!(put(&mut ring, 1, 1));
        assert!(put(&mut ring, 2, 1));
        assert!(put(&mut ring, 3, 1));
        assert!(!put(&mut ring, 4, 1));
        ring.depart(Nanos(1));
        assert_eq!(ring.clear(), 3);
        assert!(ring.queue_head().is_none() && ring.flight_head().is_none());
        assert!(put(&mut ring, 5, 1));
    }
}
