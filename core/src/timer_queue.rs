//! The loop's timer queue: a binary heap of deadlines over a slab of timer entries.
//!
//! Arming and firing cost O(log n). Stopping a timer removes its entry from the slab and leaves
//! its heap entry behind, to be skipped when it comes up. Re-arming a timer to a *later*
//! deadline (the common case: an inactivity timeout pushed back on every read) only updates
//! the entry: when the old heap entry comes up early it is pushed again with the new deadline,
//! so a timeout re-armed a million times leaves no garbage in the heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use slab::Slab;

use crate::object::ObjectId;

/// What happens when a timer entry fires.
pub(crate) enum TimerAction {
    /// A `Timer::single_shot` closure, run once.
    Once(Box<dyn FnOnce()>),
    /// A `Timer` object: emit its `timeout` signal (and re-arm it if it repeats).
    Node(ObjectId),
}

struct Entry {
    generation: u64,
    deadline: Instant,
    action: Option<TimerAction>,
}

/// A key that stays unique across slab slot reuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: usize,
    generation: u64,
}

#[derive(Default)]
pub(crate) struct TimerQueue {
    entries: Slab<Entry>,
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    next_generation: u64,
}

impl TimerQueue {
    pub(crate) fn arm(&mut self, deadline: Instant, action: TimerAction) -> TimerKey {
        self.next_generation += 1;
        let generation = self.next_generation;
        let index = self.entries.insert(Entry {
            generation,
            deadline,
            action: Some(action),
        });
        self.heap.push(Reverse((deadline, generation, index)));
        TimerKey { index, generation }
    }

    fn entry(&self, key: TimerKey) -> Option<&Entry> {
        self.entries
            .get(key.index)
            .filter(|e| e.generation == key.generation)
    }

    /// Moves an armed timer's deadline. Returns a new key when the timer had to be re-armed
    /// (an earlier deadline), the same key otherwise; `None` if the key is stale.
    pub(crate) fn rearm(&mut self, key: TimerKey, deadline: Instant) -> Option<TimerKey> {
        let current = self.entry(key)?.deadline;
        if deadline >= current {
            self.entries[key.index].deadline = deadline;
            return Some(key);
        }
        let action = self.cancel(key)?;
        Some(self.arm(deadline, action))
    }

    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<TimerAction> {
        self.entry(key)?;
        self.entries.remove(key.index).action
    }

    pub(crate) fn deadline(&self, key: TimerKey) -> Option<Instant> {
        self.entry(key).map(|e| e.deadline)
    }

    /// The earliest live deadline, discarding stale heap entries on the way.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, generation, index))) = self.heap.peek() {
            match self.entries.get(index) {
                Some(e) if e.generation == generation => {
                    if e.deadline > at {
                        // Pushed back: re-queue at its real deadline.
                        self.heap.pop();
                        self.heap.push(Reverse((e.deadline, generation, index)));
                        continue;
                    }
                    return Some(at);
                }
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// Takes the next timer due at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(TimerKey, TimerAction)> {
        let at = self.next_deadline()?;
        if at > now {
            return None;
        }
        let Reverse((_, generation, index)) = self.heap.pop()?;
        let mut entry = self.entries.remove(index);
        let action = entry.action.take()?;
        Some((TimerKey { index, generation }, action))
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn once() -> TimerAction {
        TimerAction::Once(Box::new(|| {}))
    }

    #[test]
    fn fires_in_deadline_then_arming_order() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let a = q.arm(t0 + Duration::from_millis(5), once());
        let b = q.arm(t0 + Duration::from_millis(1), once());
        let c = q.arm(t0 + Duration::from_millis(1), once());
        let late = t0 + Duration::from_millis(10);
        let order: Vec<TimerKey> = std::iter::from_fn(|| q.pop_due(late).map(|(k, _)| k)).collect();
        assert_eq!(order, vec![b, c, a]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn pushed_back_deadline_is_honoured_without_garbage() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let mut k = q.arm(t0 + Duration::from_millis(1), once());
        for i in 2..1000u64 {
            k = q.rearm(k, t0 + Duration::from_millis(i)).unwrap();
        }
        assert_eq!(q.heap.len(), 1);
        assert!(q.pop_due(t0 + Duration::from_millis(500)).is_none());
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(999)));
        assert!(q.pop_due(t0 + Duration::from_millis(999)).is_some());
    }

    #[test]
    fn cancelled_and_stale_keys_are_ignored() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let k = q.arm(t0, once());
        assert!(q.cancel(k).is_some());
        assert!(q.cancel(k).is_none());
        let k2 = q.arm(t0, once());
        // k2 may reuse k's slab slot; the old key must not reach it.
        assert!(q.rearm(k, t0).is_none());
        assert_eq!(q.deadline(k2), Some(t0));
        assert_eq!(q.next_deadline(), Some(t0));
    }

    #[test]
    fn earlier_rearm_moves_the_deadline_forward() {
        let mut q = TimerQueue::default();
        let t0 = Instant::now();
        let k = q.arm(t0 + Duration::from_millis(100), once());
        let k = q.rearm(k, t0 + Duration::from_millis(1)).unwrap();
        assert_eq!(q.deadline(k), Some(t0 + Duration::from_millis(1)));
        assert!(q.pop_due(t0 + Duration::from_millis(2)).is_some());
        assert!(q.pop_due(t0 + Duration::from_secs(1)).is_none());
    }
}
