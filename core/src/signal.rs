//! Typed signals and the connections made to them.
//!
//! A [`Signal<A>`] is a list of slots (closures taking `&A`). Emitting calls every slot that was
//! connected when the emission started, in connection order. The list is never borrowed while a
//! slot runs, so a slot may do anything: emit again (recursively), connect or disconnect slots,
//! destroy the object that owns the signal (the remaining slots are then skipped), or quit the
//! loop.
//!
//! Slots are `Fn`, not `FnMut`, because a recursive emission re-enters the slot that is running;
//! keep mutable state in a `Cell` or `RefCell`, as gtk-rs does.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::event_loop::{
    install_thread_slot, post_local, remove_thread_slot, thread_slot, LoopHandle,
};
use crate::object::{AsObject, ObjectId};

/// The part of a connection that does not depend on the argument type: whether it is still
/// connected, and how to tell its signal that it went away.
struct SlotControl {
    connected: Cell<bool>,
    signal: RefCell<Option<Weak<dyn Compact>>>,
}

/// Lets a type-erased [`Connection`] ask its signal to drop disconnected slots.
trait Compact {
    fn slot_disconnected(&self);
}

/// Lets the object that owns a signal close it on destruction without knowing its argument
/// type (a weak pointer to the signal is all the object keeps: no allocation of its own).
pub(crate) trait Close {
    /// No more slots, no more emissions; an emission in progress skips its remaining slots.
    fn close(self: Rc<Self>);
}

type OnceSlot<A> = RefCell<Option<Box<dyn FnOnce(&A)>>>;

enum SlotFn<A: 'static> {
    /// Called during the emission. Queued and cross-thread slots are direct slots that post.
    Direct(Box<dyn Fn(&A)>),
    Once(OnceSlot<A>),
}

struct Slot<A: 'static> {
    control: Rc<SlotControl>,
    func: SlotFn<A>,
    /// Set for `connect_unique`: what makes two connections "the same slot".
    key: Option<Box<SlotKey>>,
}

/// The identity of a unique connection: the user's key, and the context object if any (Qt
/// identifies a slot by receiver and member function; a closure has no such identity).
#[derive(PartialEq, Eq)]
struct SlotKey {
    context: Option<ObjectId>,
    name: &'static str,
}

/// Ids of cross-thread connections whose slot lives on the receiving thread.
static NEXT_THREAD_SLOT: AtomicU64 = AtomicU64::new(1);

/// Held by the sending side of a `connect_cross_thread_local` connection: when the
/// connection goes (disconnected, or its signal dropped), the slot is dropped on its own
/// thread.
struct ThreadSlotOwner {
    id: u64,
    target: LoopHandle,
}

impl Drop for ThreadSlotOwner {
    fn drop(&mut self) {
        let id = self.id;
        // An ended loop dropped its slots already.
        let _ = self.target.post(move || remove_thread_slot(id));
    }
}

struct SignalInner<A: 'static> {
    slots: RefCell<Vec<Rc<Slot<A>>>>,
    /// How many emissions of this signal are running (recursion makes it more than one).
    emitting: Cell<u32>,
    /// Disconnected slots still in `slots` because an emission was running.
    dead: Cell<u32>,
    /// Shared with the owning object (`Object::block_signals`), or private to the signal.
    blocked: Rc<Cell<bool>>,
    /// Set when the owning object is destroyed: no more slots, no more emissions.
    closed: Cell<bool>,
}

/// A typed signal, like a Qt signal whose arguments are `A` (use a tuple for several).
///
/// Cloning gives another handle to the same signal. Objects expose their signals through
/// accessors (`timer.timeout()`, `socket.ready_read()`), which return such clones.
///
/// ```
/// use slotnet_core::Signal;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let value_changed: Signal<i32> = Signal::new();
/// let seen = Rc::new(Cell::new(0));
/// let s = seen.clone();
/// let conn = value_changed.connect(move |v| s.set(s.get() + *v));
/// value_changed.emit(2);
/// value_changed.emit(3);
/// conn.disconnect();
/// value_changed.emit(100);
/// assert_eq!(seen.get(), 5);
/// ```
pub struct Signal<A: 'static = ()> {
    inner: Rc<SignalInner<A>>,
}

impl<A: 'static> Clone for Signal<A> {
    fn clone(&self) -> Self {
        Signal {
            inner: self.inner.clone(),
        }
    }
}

impl<A: 'static> Default for Signal<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: 'static> fmt::Debug for Signal<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("receivers", &self.receivers())
            .field("blocked", &self.is_blocked())
            .finish()
    }
}

impl<A: 'static> SignalInner<A> {
    /// Drops disconnected slots. The closures are dropped after the list is released, since
    /// their captures' destructors may touch this signal.
    fn compact(&self) {
        let removed: Vec<Rc<Slot<A>>> = {
            let mut slots = self.slots.borrow_mut();
            let all = std::mem::take(&mut *slots);
            let (keep, removed) = all.into_iter().partition(|s| s.control.connected.get());
            *slots = keep;
            removed
        };
        self.dead.set(0);
        drop(removed);
    }
}

impl<A: 'static> Close for SignalInner<A> {
    fn close(self: Rc<Self>) {
        self.closed.set(true);
        Signal { inner: self }.disconnect_all();
    }
}

impl<A: 'static> Compact for SignalInner<A> {
    fn slot_disconnected(&self) {
        if self.emitting.get() == 0 {
            self.compact();
        } else {
            self.dead.set(self.dead.get() + 1);
        }
    }
}

impl<A: 'static> Signal<A> {
    /// A signal with no slots, blocked only through [`Signal::set_blocked`].
    pub fn new() -> Self {
        Self::with_block_flag(Rc::new(Cell::new(false)))
    }

    /// A signal whose blocked state is the given flag, normally an object's (see
    /// `Object::block_signals`), so that blocking the object blocks all its signals.
    pub fn with_block_flag(blocked: Rc<Cell<bool>>) -> Self {
        Signal {
            inner: Rc::new(SignalInner {
                slots: RefCell::new(Vec::new()),
                emitting: Cell::new(0),
                dead: Cell::new(0),
                blocked,
                closed: Cell::new(false),
            }),
        }
    }

    /// A signal that refuses connections and never emits: what an accessor of a destroyed
    /// object returns. `connect` on it gives an already disconnected [`Connection`].
    pub fn closed() -> Self {
        let signal = Self::new();
        signal.inner.closed.set(true);
        signal
    }

    /// Whether the signal was closed (its owner destroyed).
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }

    /// A weak handle the owning object uses to close this signal on destruction.
    pub(crate) fn closer(&self) -> Weak<dyn Close> {
        let weak: Weak<SignalInner<A>> = Rc::downgrade(&self.inner);
        weak
    }

    fn add(&self, func: SlotFn<A>) -> Connection {
        self.add_with(|_| func)
    }

    fn add_with(&self, make: impl FnOnce(&Rc<SlotControl>) -> SlotFn<A>) -> Connection {
        self.add_keyed(None, make)
    }

    fn add_keyed(
        &self,
        key: Option<Box<SlotKey>>,
        make: impl FnOnce(&Rc<SlotControl>) -> SlotFn<A>,
    ) -> Connection {
        let control = Rc::new(SlotControl {
            connected: Cell::new(!self.inner.closed.get()),
            signal: RefCell::new(None),
        });
        if self.inner.closed.get() {
            return Connection { control };
        }
        let weak: Weak<SignalInner<A>> = Rc::downgrade(&self.inner);
        let weak: Weak<dyn Compact> = weak;
        *control.signal.borrow_mut() = Some(weak);
        let func = make(&control);
        self.inner.slots.borrow_mut().push(Rc::new(Slot {
            control: control.clone(),
            func,
            key,
        }));
        Connection { control }
    }

    /// Connects a slot, called directly (synchronously) on every emission.
    pub fn connect<F: Fn(&A) + 'static>(&self, slot: F) -> Connection {
        self.add(SlotFn::Direct(Box::new(slot)))
    }

    /// Connects a slot that runs on the next emission only, then disconnects itself
    /// (Qt's `Qt::SingleShotConnection`).
    pub fn connect_once<F: FnOnce(&A) + 'static>(&self, slot: F) -> Connection {
        self.add(SlotFn::Once(RefCell::new(Some(Box::new(slot)))))
    }

    /// Connects a slot that is disconnected when `context` is destroyed, like the context
    /// object of Qt's `connect(sender, signal, context, functor)`. Connecting to an already
    /// destroyed context returns a connection that is already disconnected.
    pub fn connect_with<C: AsObject, F: Fn(&A) + 'static>(
        &self,
        context: &C,
        slot: F,
    ) -> Connection {
        let conn = self.connect(slot);
        if !context.as_object().guard_connection(conn.clone()) {
            conn.disconnect();
        }
        conn
    }

    /// Connects a slot that runs from the event loop on a later iteration rather than during
    /// the emission (Qt's `Qt::QueuedConnection`); the arguments are cloned. A slot disconnected
    /// before its turn is not called.
    pub fn connect_queued<F: Fn(&A) + 'static>(&self, slot: F) -> Connection
    where
        A: Clone,
    {
        let slot = Rc::new(slot);
        self.add_with(|control| {
            let control = Rc::downgrade(control);
            SlotFn::Direct(Box::new(move |args: &A| {
                let slot = slot.clone();
                let control = control.clone();
                let args = args.clone();
                post_local(Box::new(move || {
                    if control.upgrade().is_some_and(|c| c.connected.get()) {
                        slot(&args)
                    }
                }));
            }))
        })
    }

    /// Connects a slot that runs on another thread's loop, reached through its [`LoopHandle`]:
    /// every emission clones the arguments and posts the call there (Qt's queued connection to
    /// an object living in another thread). Emissions after that loop has ended are dropped.
    pub fn connect_cross_thread<F>(&self, target: &LoopHandle, slot: F) -> Connection
    where
        A: Clone + Send,
        F: Fn(A) + Send + Sync + 'static,
    {
        let slot = Arc::new(slot);
        let target = target.clone();
        self.add(SlotFn::Direct(Box::new(move |args: &A| {
            let slot = slot.clone();
            let args = args.clone();
            // A loop that has ended cannot take the call; that is not the emitter's error.
            let _ = target.post(move || slot(args));
        })))
    }

    /// Connects a slot that runs on another thread's loop and is *built* there: `make_slot`
    /// (which must be `Send`) is sent to the target loop and called there once, and the slot
    /// it returns stays on that thread for the connection's lifetime, so it need not be
    /// `Send` or `Sync`: it may capture `Rc`s, `Cell`s and handles of objects living on that
    /// thread (a socket, a timer). Every emission clones the arguments and posts the call
    /// (Qt's queued connection to an object living in another thread). The slot is dropped
    /// on its thread when the connection is disconnected or the signal goes away; emissions
    /// after the target loop has ended are dropped. If that loop has already ended, the
    /// returned connection is disconnected.
    ///
    /// ```
    /// use slotnet_core::{EventLoop, Signal, Thread};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let worker = Thread::start().unwrap();
    /// let main_loop = EventLoop::current().handle();
    /// let job: Signal<u32> = Signal::new();
    /// job.connect_cross_thread_local(worker.handle(), move || {
    ///     // Runs on the worker: this state is !Send and never leaves it.
    ///     let total = Rc::new(Cell::new(0));
    ///     move |n: u32| {
    ///         total.set(total.get() + n);
    ///         if total.get() == 6 {
    ///             main_loop.exit(6).unwrap();
    ///         }
    ///     }
    /// });
    /// for n in 1..=3 {
    ///     job.emit(n);
    /// }
    /// assert_eq!(EventLoop::current().exec(), 6);
    /// ```
    pub fn connect_cross_thread_local<M, F>(&self, target: &LoopHandle, make_slot: M) -> Connection
    where
        A: Clone + Send,
        M: FnOnce() -> F + Send + 'static,
        F: Fn(A) + 'static,
    {
        let id = NEXT_THREAD_SLOT.fetch_add(1, Ordering::Relaxed);
        // Posts from one thread run in order: the slot exists before the first call arrives.
        let installed = target.post(move || {
            let slot: Rc<dyn Fn(A)> = Rc::new(make_slot());
            install_thread_slot(id, Box::new(slot));
        });
        let owner = ThreadSlotOwner {
            id,
            target: target.clone(),
        };
        let conn = self.add(SlotFn::Direct(Box::new(move |args: &A| {
            let args = args.clone();
            let id = owner.id;
            let _ = owner.target.post(move || {
                if let Some(slot) = thread_slot::<Rc<dyn Fn(A)>>(id) {
                    slot(args)
                }
            });
        })));
        if installed.is_err() {
            conn.disconnect();
        }
        conn
    }

    /// Connects `slot` unless a slot connected under the same `key` is still connected:
    /// Qt's `Qt::UniqueConnection`. Returns `None` (and drops `slot`) in that case, as Qt
    /// returns an invalid connection.
    ///
    /// Qt recognises "the same slot" by receiver and member function, and cannot for a lambda.
    /// A Rust closure has no identity either (two closures from the same line capturing
    /// different state share a type; the same logic may be written twice), so the caller
    /// names the slot: `key` says what the slot is for ("update-progress"), like Qt's member
    /// function name. [`Signal::connect_unique_with`] adds the receiver (a context object).
    ///
    /// ```
    /// use slotnet_core::Signal;
    ///
    /// let ready: Signal<()> = Signal::new();
    /// assert!(ready.connect_unique("log", |_| println!("ready")).is_some());
    /// assert!(ready.connect_unique("log", |_| println!("ready")).is_none());
    /// assert_eq!(ready.receivers(), 1);
    /// ```
    pub fn connect_unique<F: Fn(&A) + 'static>(
        &self,
        key: &'static str,
        slot: F,
    ) -> Option<Connection> {
        self.connect_keyed(None, key, slot)
    }

    /// [`Signal::connect_unique`] bound to a context object, as Qt's unique connection to a
    /// receiver's member: the identity is (`context`, `key`), so the same key may be connected
    /// once per context; the connection is dropped with the context, as `connect_with`.
    pub fn connect_unique_with<C: AsObject, F: Fn(&A) + 'static>(
        &self,
        context: &C,
        key: &'static str,
        slot: F,
    ) -> Option<Connection> {
        let context = context.as_object();
        let conn = self.connect_keyed(Some(context.id()), key, slot)?;
        if !context.guard_connection(conn.clone()) {
            conn.disconnect();
        }
        Some(conn)
    }

    fn connect_keyed<F: Fn(&A) + 'static>(
        &self,
        context: Option<ObjectId>,
        name: &'static str,
        slot: F,
    ) -> Option<Connection> {
        let key = SlotKey { context, name };
        let taken = self
            .inner
            .slots
            .borrow()
            .iter()
            .any(|s| s.control.connected.get() && s.key.as_deref().is_some_and(|k| *k == key));
        if taken {
            return None;
        }
        Some(self.add_keyed(Some(Box::new(key)), |_| SlotFn::Direct(Box::new(slot))))
    }

    /// Calls the connected slots with `args`, in connection order. Slots connected during the
    /// emission are not called by it; slots disconnected during it are skipped. Does nothing
    /// while the signal is blocked.
    pub fn emit(&self, args: A) {
        self.emit_ref(&args)
    }

    /// Like [`Signal::emit`], borrowing the arguments.
    pub fn emit_ref(&self, args: &A) {
        let inner = &*self.inner;
        if inner.blocked.get() {
            return;
        }
        let count = inner.slots.borrow().len();
        if count == 0 {
            return;
        }
        // Keep the signal alive even if a slot drops the last other handle to it.
        let _keep = self.inner.clone();
        inner.emitting.set(inner.emitting.get() + 1);
        let _guard = EmitGuard(inner);
        for index in 0..count {
            let slot: *const Slot<A> = match inner.slots.borrow().get(index) {
                Some(slot) => Rc::as_ptr(slot),
                None => break,
            };
            // SAFETY: while `emitting > 0` nothing removes entries from `slots` (disconnects
            // only mark them; compaction waits for the outermost emission to end, see
            // `EmitGuard`), and `_keep` keeps the list itself alive, so the `Rc<Slot>` at
            // `index` (whose heap address does not move when the Vec grows) outlives this use.
            let slot = unsafe { &*slot };
            if !slot.control.connected.get() {
                continue;
            }
            match &slot.func {
                SlotFn::Direct(f) => f(args),
                SlotFn::Once(cell) => {
                    let f = cell.borrow_mut().take();
                    Connection {
                        control: slot.control.clone(),
                    }
                    .disconnect();
                    if let Some(f) = f {
                        f(args);
                    }
                }
            }
        }
    }

    /// Disconnects every slot.
    pub fn disconnect_all(&self) {
        let count = {
            let slots = self.inner.slots.borrow();
            for slot in slots.iter() {
                slot.control.connected.set(false);
            }
            slots.len()
        };
        if count == 0 {
            return;
        }
        if self.inner.emitting.get() == 0 {
            self.inner.compact();
        } else {
            self.inner.dead.set(count as u32);
        }
    }

    /// Number of connected slots (Qt's `receivers`).
    pub fn receivers(&self) -> usize {
        let slots = self.inner.slots.borrow();
        slots.iter().filter(|s| s.control.connected.get()).count()
    }

    /// Whether any slot is connected; a cheap check before building costly arguments.
    pub fn is_connected(&self) -> bool {
        self.receivers() > 0
    }

    /// Blocks or unblocks the signal; returns the previous state. For a signal that belongs to
    /// an object this is the object's `block_signals` flag, shared by all its signals.
    pub fn set_blocked(&self, blocked: bool) -> bool {
        self.inner.blocked.replace(blocked)
    }

    /// Whether emissions are currently ignored.
    pub fn is_blocked(&self) -> bool {
        self.inner.blocked.get()
    }
}

struct EmitGuard<'a, A: 'static>(&'a SignalInner<A>);

impl<A: 'static> Drop for EmitGuard<'_, A> {
    fn drop(&mut self) {
        let inner = self.0;
        let depth = inner.emitting.get() - 1;
        inner.emitting.set(depth);
        if depth == 0 && inner.dead.get() > 0 {
            inner.compact();
        }
    }
}

/// One slot's connection to a signal (Qt's `QMetaObject::Connection`).
///
/// Dropping a `Connection` does not disconnect it: call [`Connection::disconnect`]. Clones refer
/// to the same connection.
#[derive(Clone)]
pub struct Connection {
    control: Rc<SlotControl>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("connected", &self.is_connected())
            .finish()
    }
}

impl Connection {
    /// Disconnects the slot. Returns whether it was still connected. Safe to call from inside
    /// the slot itself and more than once.
    pub fn disconnect(&self) -> bool {
        if !self.control.connected.replace(false) {
            return false;
        }
        let signal = self.control.signal.borrow_mut().take();
        if let Some(signal) = signal.and_then(|w| w.upgrade()) {
            signal.slot_disconnected();
        }
        true
    }

    /// Whether the slot is still connected.
    pub fn is_connected(&self) -> bool {
        self.control.connected.get()
    }
}

/// A signal of an object that is created on first use: an object with many signals (a
/// network reply has a dozen) pays only for those somebody connects to. Emitting a signal
/// nobody asked for costs one check.
pub struct LazySignal<A: 'static> {
    owner: crate::Object,
    cell: std::cell::OnceCell<Signal<A>>,
}

impl<A: 'static> fmt::Debug for LazySignal<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazySignal")
            .field("created", &self.cell.get().is_some())
            .finish()
    }
}

impl<A: 'static> LazySignal<A> {
    /// A signal of `owner`, not created yet.
    pub fn new(owner: crate::Object) -> Self {
        LazySignal {
            owner,
            cell: std::cell::OnceCell::new(),
        }
    }

    /// The signal (created now if needed, as `owner.new_signal()`).
    pub fn get(&self) -> Signal<A> {
        self.cell.get_or_init(|| self.owner.new_signal()).clone()
    }

    /// Emits if the signal exists (nobody can be connected otherwise).
    pub fn emit(&self, args: A) {
        if let Some(signal) = self.cell.get() {
            signal.emit(args);
        }
    }
}
