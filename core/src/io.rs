//! Readiness registrations: how sockets (in slotnet-net) hear from the reactor.

use std::fmt;
use std::io;
use std::rc::Rc;

use mio::{Interest, Token};
use slab::Slab;

use crate::event_loop::with_loop;
use crate::object::ObjectId;

/// What a source became ready for, as reported by one poll.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Ready(u8);

impl Ready {
    const READABLE: u8 = 1;
    const WRITABLE: u8 = 2;
    const READ_CLOSED: u8 = 4;
    const WRITE_CLOSED: u8 = 8;
    const ERROR: u8 = 16;

    pub(crate) fn from_event(e: &mio::event::Event) -> Ready {
        let mut bits = 0;
        if e.is_readable() {
            bits |= Self::READABLE;
        }
        if e.is_writable() {
            bits |= Self::WRITABLE;
        }
        if e.is_read_closed() {
            bits |= Self::READ_CLOSED;
        }
        if e.is_write_closed() {
            bits |= Self::WRITE_CLOSED;
        }
        if e.is_error() {
            bits |= Self::ERROR;
        }
        Ready(bits)
    }

    /// Readiness with every flag set: handlers use it to force a read and write attempt.
    pub fn all() -> Ready {
        Ready(31)
    }

    /// Data (or a pending accept, or EOF) can be read.
    pub fn is_readable(self) -> bool {
        self.0 & Self::READABLE != 0
    }
    /// Data can be written.
    pub fn is_writable(self) -> bool {
        self.0 & Self::WRITABLE != 0
    }
    /// The peer closed its writing half (reads will hit EOF once drained).
    pub fn is_read_closed(self) -> bool {
        self.0 & Self::READ_CLOSED != 0
    }
    /// Writing can no longer succeed.
    pub fn is_write_closed(self) -> bool {
        self.0 & Self::WRITE_CLOSED != 0
    }
    /// The source has a pending error (read it with `take_error`).
    pub fn is_error(self) -> bool {
        self.0 & Self::ERROR != 0
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READABLE, "READABLE"),
            (Self::WRITABLE, "WRITABLE"),
            (Self::READ_CLOSED, "READ_CLOSED"),
            (Self::WRITE_CLOSED, "WRITE_CLOSED"),
            (Self::ERROR, "ERROR"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        write!(f, "Ready({})", set.join("|"))
    }
}

pub(crate) type IoHandler = Rc<dyn Fn(Ready)>;

struct IoEntry {
    generation: u32,
    owner: Option<ObjectId>,
    handler: IoHandler,
}

/// Handlers by token; a token packs the slab index and a generation so that an event for a
/// closed source never reaches a newer registration that reused the slot.
#[derive(Default)]
pub(crate) struct IoTable {
    entries: Slab<IoEntry>,
    next_generation: u32,
}

impl IoTable {
    pub(crate) fn insert(&mut self, owner: Option<ObjectId>, handler: IoHandler) -> Token {
        self.next_generation = self.next_generation.wrapping_add(1);
        let generation = self.next_generation;
        let index = self.entries.insert(IoEntry {
            generation,
            owner,
            handler,
        });
        Token(((generation as usize) << 32) | index)
    }

    fn find(&self, token: Token) -> Option<&IoEntry> {
        let index = token.0 & 0xffff_ffff;
        let generation = (token.0 >> 32) as u32;
        self.entries
            .get(index)
            .filter(|e| e.generation == generation)
    }

    pub(crate) fn handler(&self, token: Token) -> Option<IoHandler> {
        self.find(token).map(|e| e.handler.clone())
    }

    pub(crate) fn remove(&mut self, token: Token) -> Option<IoHandler> {
        self.find(token)?;
        Some(self.entries.remove(token.0 & 0xffff_ffff).handler)
    }

    pub(crate) fn owner(&self, token: Token) -> Option<ObjectId> {
        self.find(token).and_then(|e| e.owner)
    }
}

/// A source registered with [`crate::EventLoop::register_io`].
///
/// Deregister it before closing the source; a registration whose owner object is destroyed is
/// removed with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoRegistration {
    token: Token,
}

impl IoRegistration {
    pub(crate) fn new(token: Token) -> Self {
        IoRegistration { token }
    }

    /// The mio token this registration uses.
    pub fn token(&self) -> Token {
        self.token
    }

    /// Whether the handler is still installed.
    pub fn is_registered(&self) -> bool {
        with_loop(|l| l.io.borrow().find(self.token).is_some()).unwrap_or(false)
    }

    /// Changes the interest set.
    pub fn reregister<S: mio::event::Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<()> {
        with_loop(|l| l.registry().reregister(source, self.token, interest))
            .unwrap_or_else(|| Err(io::Error::other("event loop is gone")))
    }

    /// Stops watching the source and drops the handler.
    pub fn deregister<S: mio::event::Source + ?Sized>(&self, source: &mut S) -> io::Result<()> {
        let handler = with_loop(|l| {
            let owner = l.io.borrow().owner(self.token);
            if let Some(owner) = owner {
                crate::object::detach_io(owner, self.token);
            }
            let handler = l.io.borrow_mut().remove(self.token);
            (handler, l.registry().deregister(source))
        });
        match handler {
            // The handler (and whatever it captured) is dropped here, outside any borrow.
            Some((_handler, result)) => result,
            None => Ok(()),
        }
    }
}
