//! The answers a connection owes, in request order.
//!
//! HTTP/1.1 answers pipelined requests in the order they arrived, whatever order the handlers
//! answer in. Each request gets a slot with a sequence number; only the front slot writes to
//! the socket, the others buffer their output until every earlier answer is complete.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::rc::Rc;

use bytes::BytesMut;

use super::pacing::{Pacing, ReaderWaker};
use crate::h1::Framing;

/// Where a pulled body comes from.
pub(crate) enum Source {
    /// A file, read at an offset that advances.
    File { file: File, offset: u64 },
    /// Any reader; a reader that returns `WouldBlock` is read again once `waker` is woken.
    Reader {
        reader: Box<dyn Read>,
        waker: ReaderWaker,
    },
}

impl Drop for Source {
    fn drop(&mut self) {
        // A task waiting for the reader's wake-up ends now instead of whenever (if ever)
        // the producer wakes it.
        if let Source::Reader { waker, .. } = self {
            waker.wake();
        }
    }
}

/// A body read in pieces as the client takes them (files, readers).
pub(crate) struct Pump {
    pub(crate) source: Source,
    /// The framing the head announced.
    pub(crate) framing: Framing,
    /// Bytes still owed for a `Content-Length` body.
    pub(crate) remaining: u64,
    /// The reader returned `WouldBlock`: a task waits for its waker.
    pub(crate) parked: bool,
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("framing", &self.framing)
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// One request's answer.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Output produced while an earlier answer was incomplete.
    pub(crate) buffered: BytesMut,
    /// A pulled body that goes out (after `buffered`) once this is the front slot.
    pub(crate) pump: Option<Pump>,
    /// The handler finished the answer (`pump` may still be sending).
    pub(crate) done: bool,
    /// The connection closes once this answer is out.
    pub(crate) close: bool,
    /// A pushed body's backpressure (`write_begin` was called for this answer).
    pub(crate) pacing: Option<Rc<Pacing>>,
}

/// The slots of one connection.
#[derive(Debug, Default)]
pub(crate) struct Pipeline {
    slots: VecDeque<Slot>,
    /// Sequence number of `slots[0]`.
    front: u64,
}

impl Pipeline {
    /// Opens a slot for the next request; returns its sequence number.
    pub(crate) fn push(&mut self) -> u64 {
        // Room for one answer at first: most connections owe one at a time, and a
        // `VecDeque`'s first push would make room for four, held as long as the connection.
        if self.slots.capacity() == 0 {
            self.slots.reserve_exact(1);
        }
        self.slots.push_back(Slot::default());
        self.front + self.slots.len() as u64 - 1
    }

    /// Number of answers owed.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether every answer went out.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether `seq` is the answer currently allowed to write to the socket.
    pub(crate) fn is_front(&self, seq: u64) -> bool {
        seq == self.front && !self.slots.is_empty()
    }

    /// The slot of `seq`, if it is still owed.
    pub(crate) fn get_mut(&mut self, seq: u64) -> Option<&mut Slot> {
        let index = seq.checked_sub(self.front)?;
        self.slots.get_mut(usize::try_from(index).ok()?)
    }

    /// The slots, front first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter()
    }

    /// The front slot.
    pub(crate) fn front_mut(&mut self) -> Option<&mut Slot> {
        self.slots.front_mut()
    }

    /// Removes the front slot; the next one becomes the front.
    pub(crate) fn pop_front(&mut self) -> Option<Slot> {
        let slot = self.slots.pop_front()?;
        self.front += 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_follow_the_front() {
        let mut p = Pipeline::default();
        let a = p.push();
        let b = p.push();
        assert!(p.is_front(a) && !p.is_front(b));
        p.get_mut(b).unwrap().done = true;
        assert!(p.pop_front().is_some());
        assert!(p.is_front(b));
        assert!(p.get_mut(a).is_none());
        assert!(p.get_mut(b).unwrap().done);
        assert!(p.pop_front().is_some());
        assert!(p.is_empty() && !p.is_front(b));
        let c = p.push();
        assert_eq!(c, b + 1);
        assert!(p.is_front(c));
    }
}
