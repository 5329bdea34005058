//! Recording what happened, for assertions on signal order and counts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// A shared event log for asserting signal order: clone it into each slot, push a name per
/// emission, compare [`Log::entries`] with the expected sequence.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    /// Appends `entry`.
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    /// The entries so far, in order.
    pub fn entries(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    /// Whether some entry equals `entry`.
    pub fn contains(&self, entry: &str) -> bool {
        self.0.borrow().iter().any(|e| e == entry)
    }

    /// How many entries equal `entry`.
    pub fn count(&self, entry: &str) -> usize {
        self.0.borrow().iter().filter(|e| *e == entry).count()
    }
}

/// Counts emissions (clone it into a slot, [`Counter::bump`] there).
#[derive(Clone, Default)]
pub struct Counter(Rc<Cell<usize>>);

impl Counter {
    /// Adds one.
    pub fn bump(&self) {
        self.0.set(self.0.get() + 1);
    }

    /// The count so far.
    pub fn get(&self) -> usize {
        self.0.get()
    }
}
