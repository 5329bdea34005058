//! Objects: nodes in the loop's arena, with a parent/child tree, names, a `destroyed` signal,
//! deferred deletion and type-erased state for the library types built on them.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::{Rc, Weak};

use mio::Token;

use crate::event_loop::with_loop;
use crate::signal::{Connection, Signal};

/// The identity of an object: an arena slot plus the serial of its occupant, so an id never
/// names a later object that reused the slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ObjectId {
    index: u32,
    serial: u32,
}

/// Error for an operation on a handle whose object has been destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destroyed;

impl fmt::Display for Destroyed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the object has been destroyed")
    }
}

impl std::error::Error for Destroyed {}

pub(crate) struct Node {
    parent: Option<ObjectId>,
    children: Vec<ObjectId>,
    name: String,
    blocked: Rc<Cell<bool>>,
    destroyed: Option<Signal<ObjectId>>,
    /// Closers of the signals this object owns: run on destruction so that an emission in
    /// progress skips its remaining slots and later connects are refused.
    signals: Vec<Weak<dyn crate::signal::Close>>,
    /// Connections made with this object as context (`connect_with`).
    guards: Vec<Connection>,
    io: Vec<Token>,
    data: Option<Rc<dyn Any>>,
    delete_pending: bool,
    dying: bool,
}

struct ArenaSlot {
    serial: u32,
    node: Option<Node>,
}

/// Generational storage of the loop's nodes.
#[derive(Default)]
pub(crate) struct Arena {
    slots: Vec<ArenaSlot>,
    free: Vec<u32>,
    live: usize,
}

impl Arena {
    fn insert(&mut self, node: Node) -> ObjectId {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.serial = slot.serial.wrapping_add(1);
            slot.node = Some(node);
            ObjectId {
                index,
                serial: slot.serial,
            }
        } else {
            let index = self.slots.len() as u32;
            self.slots.push(ArenaSlot {
                serial: 0,
                node: Some(node),
            });
            ObjectId { index, serial: 0 }
        }
    }

    fn get_mut(&mut self, id: ObjectId) -> Option<&mut Node> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.serial != id.serial {
            return None;
        }
        slot.node.as_mut()
    }

    fn remove(&mut self, id: ObjectId) -> Option<Node> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.serial != id.serial {
            return None;
        }
        let node = slot.node.take()?;
        self.free.push(id.index);
        self.live -= 1;
        Some(node)
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }
}

fn with_node<R>(id: ObjectId, f: impl FnOnce(&mut Node) -> R) -> Option<R> {
    with_loop(|l| l.arena.borrow_mut().get_mut(id).map(f)).flatten()
}

pub(crate) fn attach_io(id: ObjectId, token: Token) -> bool {
    with_node(id, |n| n.io.push(token)).is_some()
}

pub(crate) fn detach_io(id: ObjectId, token: Token) {
    with_node(id, |n| n.io.retain(|t| *t != token));
}

/// Anything that is (or wraps) an [`Object`]: library types implement it so they can be used
/// as parents and as connection contexts.
pub trait AsObject {
    /// The underlying object handle.
    fn as_object(&self) -> Object;
}

/// A handle to a node of this thread's object tree (Qt's `QObject*`, with `QPointer` safety).
///
/// Handles are `Copy` and `!Send`. Once the object is destroyed every method reports it
/// (`None`, `false` or [`Destroyed`]) instead of panicking, and never reaches an object that
/// later reused its storage.
///
/// ```
/// use slotnet_core::Object;
///
/// let window = Object::new();
/// let button = Object::with_parent(&window);
/// button.set_object_name("ok");
/// assert_eq!(window.find_child("ok"), Some(button));
/// window.destroy();
/// assert!(!button.is_alive()); // children go with their parent
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Object {
    id: ObjectId,
    _not_send: PhantomData<*const BoundToItsLoopThread>,
}

/// The marker that makes every object handle `!Send` (`Object`, and through it `Timer`,
/// `TcpSocket`, `NetworkReply`, ...): an object belongs to the loop of the thread that
/// created it.
///
/// Moving a handle into another thread's closure fails to compile with "`*const
/// BoundToItsLoopThread` cannot be sent between threads safely"; the notes under it name the
/// handle ("required because it appears within the type `TcpSocket`"). What to write
/// instead: create the object on the thread that uses it (post a `Send` closure there with
/// `LoopHandle::post` or `Thread::run`, or build the slot there with
/// `Signal::connect_cross_thread_local`), and send plain data (a `SocketDescriptor`, bytes,
/// a `String`) between threads, never handles. The guide's threads chapter shows this.
#[derive(Debug)]
pub enum BoundToItsLoopThread {}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("id", &self.id)
            .field("name", &self.object_name().unwrap_or_default())
            .field("alive", &self.is_alive())
            .finish()
    }
}

impl AsObject for Object {
    fn as_object(&self) -> Object {
        *self
    }
}

impl Default for Object {
    fn default() -> Self {
        Object::new()
    }
}

impl Object {
    fn create(parent: Option<Object>, data: Option<Rc<dyn Any>>) -> Object {
        let node = Node {
            parent: None,
            children: Vec::new(),
            name: String::new(),
            blocked: Rc::new(Cell::new(false)),
            destroyed: None,
            signals: Vec::new(),
            guards: Vec::new(),
            io: Vec::new(),
            data,
            delete_pending: false,
            dying: false,
        };
        let id = with_loop(|l| l.arena.borrow_mut().insert(node))
            .expect("slotnet: no event loop on a thread that is shutting down");
        let obj = Object {
            id,
            _not_send: PhantomData,
        };
        if let Some(parent) = parent {
            // A destroyed parent leaves the new object without one, like Qt with a null parent.
            let _ = obj.set_parent(Some(parent));
        }
        obj
    }

    /// A new object without parent.
    pub fn new() -> Object {
        Object::create(None, None)
    }

    /// A new object owned by `parent` (destroyed with it).
    pub fn with_parent<P: AsObject>(parent: &P) -> Object {
        Object::create(Some(parent.as_object()), None)
    }

    /// A new object carrying `data`, for library types that keep their state in the tree
    /// (retrieve it with [`Object::data`]). The data is dropped when the object is destroyed.
    pub fn with_data<T: Any>(data: Rc<T>, parent: Option<Object>) -> Object {
        Object::create(parent, Some(data))
    }

    /// The handle for `id`, if that object is still alive on this thread.
    pub fn from_id(id: ObjectId) -> Option<Object> {
        let obj = Object {
            id,
            _not_send: PhantomData,
        };
        obj.is_alive().then_some(obj)
    }

    /// This object's identity.
    pub fn id(&self) -> ObjectId {
        self.id
    }

    /// Whether the object still exists (and is not being destroyed).
    pub fn is_alive(&self) -> bool {
        with_node(self.id, |n| !n.dying).unwrap_or(false)
    }

    /// The state attached with [`Object::with_data`] or [`Object::set_data`], if it has type `T`.
    pub fn data<T: Any>(&self) -> Option<Rc<T>> {
        let data = with_node(self.id, |n| n.data.clone()).flatten()?;
        data.downcast::<T>().ok()
    }

    /// Attaches state to the object, replacing (and dropping) what was there.
    pub fn set_data<T: Any>(&self, data: Rc<T>) -> Result<(), Destroyed> {
        let old = with_node(self.id, |n| n.data.replace(data)).ok_or(Destroyed)?;
        drop(old);
        Ok(())
    }

    /// The parent, if any.
    pub fn parent(&self) -> Option<Object> {
        with_node(self.id, |n| n.parent)
            .flatten()
            .and_then(Object::from_id)
    }

    /// The children, in the order they were added.
    pub fn children(&self) -> Vec<Object> {
        let ids = with_node(self.id, |n| n.children.clone()).unwrap_or_default();
        ids.into_iter().filter_map(Object::from_id).collect()
    }

    /// Moves the object under `parent` (or makes it top-level with `None`). Fails if either
    /// object is destroyed, or if `parent` is this object or one of its descendants.
    pub fn set_parent<P: AsObject>(&self, parent: Option<P>) -> Result<(), Destroyed> {
        let parent = parent.map(|p| p.as_object());
        if !self.is_alive() {
            return Err(Destroyed);
        }
        if let Some(p) = parent {
            if !p.is_alive() {
                return Err(Destroyed);
            }
            // Refuse cycles: walk up from the new parent.
            let mut cursor = Some(p);
            while let Some(c) = cursor {
                if c == *self {
                    return Err(Destroyed);
                }
                cursor = c.parent();
            }
        }
        let old = with_node(self.id, |n| {
            std::mem::replace(&mut n.parent, parent.map(|p| p.id))
        })
        .flatten();
        if let Some(old) = old {
            with_node(old, |n| n.children.retain(|c| *c != self.id));
        }
        if let Some(p) = parent {
            with_node(p.id, |n| n.children.push(self.id));
        }
        Ok(())
    }

    /// The object's name (Qt's `objectName`).
    pub fn object_name(&self) -> Option<String> {
        with_node(self.id, |n| n.name.clone())
    }

    /// Sets the object's name.
    pub fn set_object_name(&self, name: &str) -> bool {
        with_node(self.id, |n| {
            n.name.clear();
            n.name.push_str(name)
        })
        .is_some()
    }

    /// The first descendant (depth-first, children in order) named `name`, like Qt's
    /// `findChild` with the default recursive option.
    pub fn find_child(&self, name: &str) -> Option<Object> {
        for child in self.children() {
            if child.object_name().as_deref() == Some(name) {
                return Some(child);
            }
            if let Some(found) = child.find_child(name) {
                return Some(found);
            }
        }
        None
    }

    /// Blocks or unblocks every signal this object owns; returns the previous state.
    pub fn block_signals(&self, block: bool) -> bool {
        with_node(self.id, |n| n.blocked.replace(block)).unwrap_or(false)
    }

    /// Whether the object's signals are blocked.
    pub fn signals_blocked(&self) -> bool {
        with_node(self.id, |n| n.blocked.get()).unwrap_or(false)
    }

    /// Creates a signal owned by this object: blocked with it, closed when it is destroyed.
    /// On a destroyed object the signal is closed from the start (connects are refused).
    pub fn new_signal<A: 'static>(&self) -> Signal<A> {
        let flag = with_node(self.id, |n| n.blocked.clone());
        match flag {
            Some(flag) => {
                let signal = Signal::with_block_flag(flag);
                let closer = signal.closer();
                with_node(self.id, |n| n.signals.push(closer));
                signal
            }
            None => Signal::closed(),
        }
    }

    /// The `destroyed(ObjectId)` signal, emitted at the start of destruction, before the
    /// children go. A closed signal if the object is already destroyed.
    pub fn destroyed(&self) -> Signal<ObjectId> {
        if let Some(Some(sig)) = with_node(self.id, |n| n.destroyed.clone()) {
            return sig;
        }
        if !self.is_alive() {
            return Signal::closed();
        }
        // Not closed by `signals`: it must stay connected until it has been emitted.
        let sig = Signal::new();
        with_node(self.id, |n| n.destroyed = Some(sig.clone()));
        sig
    }

    pub(crate) fn guard_connection(&self, conn: Connection) -> bool {
        with_node(self.id, |n| {
            if n.dying {
                false
            } else {
                n.guards.retain(|c| c.is_connected());
                n.guards.push(conn);
                true
            }
        })
        .unwrap_or(false)
    }

    /// Schedules destruction for when control returns to the event loop (at the nesting level
    /// this was called from, or an outer one). Called outside any `exec()` (from `main`, before
    /// the loop starts), the object is destroyed once a loop runs, as in Qt. Safe to call more
    /// than once and from inside the object's own slots.
    pub fn delete_later(&self) {
        let first = with_node(self.id, |n| !std::mem::replace(&mut n.delete_pending, true));
        if first == Some(true) {
            with_loop(|l| l.defer_delete(self.id));
        }
    }

    /// Runs `f` on a later loop iteration if the object is still alive then.
    pub fn invoke_later<F: FnOnce() + 'static>(&self, f: F) {
        let me = *self;
        crate::EventLoop::current().post(move || {
            if me.is_alive() {
                f()
            }
        });
    }

    /// Destroys the object now: emits `destroyed`, destroys the children, closes the object's
    /// signals (an emission in progress skips its remaining slots), drops connections made with
    /// it as context, its I/O registrations and its data. Returns `false` if it was already
    /// destroyed.
    pub fn destroy(&self) -> bool {
        let started = with_node(self.id, |n| !std::mem::replace(&mut n.dying, true));
        if started != Some(true) {
            return false;
        }
        let destroyed = with_node(self.id, |n| n.destroyed.take()).flatten();
        if let Some(sig) = destroyed {
            sig.emit(self.id);
            sig.disconnect_all();
        }
        // Children may be added by the slots above; take the list afterwards.
        loop {
            let child = with_node(self.id, |n| n.children.pop()).flatten();
            match child {
                Some(child) => {
                    let child = Object {
                        id: child,
                        _not_send: PhantomData,
                    };
                    with_node(child.id, |n| n.parent = None);
                    child.destroy();
                }
                None => break,
            }
        }
        let parent = with_node(self.id, |n| n.parent.take()).flatten();
        if let Some(parent) = parent {
            with_node(parent, |n| n.children.retain(|c| *c != self.id));
        }
        let removed = with_loop(|l| {
            let node = l.arena.borrow_mut().remove(self.id)?;
            let handlers: Vec<_> = {
                let mut io = l.io.borrow_mut();
                node.io.iter().filter_map(|t| io.remove(*t)).collect()
            };
            Some((node, handlers))
        })
        .flatten();
        if let Some((node, handlers)) = removed {
            for signal in &node.signals {
                if let Some(signal) = signal.upgrade() {
                    signal.close();
                }
            }
            for conn in &node.guards {
                conn.disconnect();
            }
            // Dropped outside every borrow: their destructors may use the loop.
            drop(handlers);
            drop(node);
        }
        true
    }
}
