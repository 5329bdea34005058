//! Futures and streams from signals, as Qt 6's `QtFuture::connect`: [`Signal::next`] resolves
//! with the next emission's argument, [`Signal::stream`] yields every emission.
//!
//! Both connect to the signal when they are created (not when first polled), so an emission
//! between creating and awaiting them is not missed, and both end when the signal goes away:
//! its object is destroyed (the signal closes and drops its slots) or its last handle is
//! dropped. Dropping the future or stream disconnects it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::signal::{Connection, Signal};

/// How many emissions [`Signal::stream`] keeps for a consumer that has not caught up.
pub const DEFAULT_STREAM_CAPACITY: usize = 64;

/// What the slot leaves for the future or stream to take.
struct Inbox<A> {
    items: VecDeque<A>,
    capacity: usize,
    /// The slot is gone: the signal was closed or dropped (or, for `next`, it fired).
    ended: bool,
    /// Emissions dropped because the buffer was full.
    missed: u64,
    waker: Option<Waker>,
}

impl<A> Inbox<A> {
    fn new(capacity: usize) -> Rc<RefCell<Inbox<A>>> {
        Rc::new(RefCell::new(Inbox {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            ended: false,
            missed: 0,
            waker: None,
        }))
    }

    /// Takes the next item, or says the end, or keeps `cx`'s waker for later.
    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<A>> {
        if let Some(item) = self.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            self.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Lives in the slot: puts emissions in the inbox, and marks its end when the slot is dropped
/// (the signal closed or went away, or the connection was cut).
struct Feeder<A> {
    inbox: Rc<RefCell<Inbox<A>>>,
}

impl<A> Feeder<A> {
    fn push(&self, item: A) {
        let waker = {
            let mut inbox = self.inbox.borrow_mut();
            if inbox.items.len() >= inbox.capacity {
                inbox.items.pop_front();
                inbox.missed += 1;
            }
            inbox.items.push_back(item);
            inbox.waker.take()
        };
        // Woken outside the borrow: a waker may poll at once (a future that is not on the
        // loop's executor).
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<A> Drop for Feeder<A> {
    fn drop(&mut self) {
        let waker = match self.inbox.try_borrow_mut() {
            Ok(mut inbox) => {
                inbox.ended = true;
                inbox.waker.take()
            }
            Err(_) => None,
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The future of [`Signal::next`]: the next emission's argument, or `None` if the signal
/// goes away first (its object destroyed). Dropping it disconnects it.
#[must_use = "a future does nothing unless awaited"]
pub struct SignalNext<A> {
    inbox: Rc<RefCell<Inbox<A>>>,
    connection: Connection,
}

impl<A> fmt::Debug for SignalNext<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalNext")
            .field("connected", &self.connection.is_connected())
            .finish()
    }
}

impl<A> Future for SignalNext<A> {
    type Output = Option<A>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<A>> {
        self.inbox.borrow_mut().poll_item(cx)
    }
}

impl<A> Drop for SignalNext<A> {
    fn drop(&mut self) {
        self.connection.disconnect();
    }
}

/// The stream of [`Signal::stream`]: every emission's argument, in order, until the signal
/// goes away (its object destroyed), then `None`. Dropping it disconnects it.
///
/// **Overflow rule:** it keeps at most `capacity` emissions that were not taken yet; when a
/// new one arrives at a full buffer, the *oldest* is dropped (a consumer that falls behind
/// sees the most recent values, as a progress display wants) and [`SignalStream::missed`]
/// counts it. Memory stays bounded whatever the emitter does.
#[must_use = "a stream does nothing unless polled"]
pub struct SignalStream<A> {
    inbox: Rc<RefCell<Inbox<A>>>,
    connection: Connection,
}

impl<A> fmt::Debug for SignalStream<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inbox = self.inbox.borrow();
        f.debug_struct("SignalStream")
            .field("buffered", &inbox.items.len())
            .field("capacity", &inbox.capacity)
            .field("missed", &inbox.missed)
            .field("ended", &inbox.ended)
            .finish()
    }
}

impl<A> SignalStream<A> {
    /// How many emissions were dropped so far because the buffer was full (see the overflow
    /// rule at [`SignalStream`]).
    pub fn missed(&self) -> u64 {
        self.inbox.borrow().missed
    }

    /// How many emissions wait to be taken.
    pub fn buffered(&self) -> usize {
        self.inbox.borrow().items.len()
    }

    /// The next emission: `None` once the signal went away and the buffer is empty. The same
    /// as `StreamExt::next` without pulling in a futures crate.
    // The name `StreamExt::next` has; this is a stream, not an iterator.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> impl Future<Output = Option<A>> + '_ {
        std::future::poll_fn(move |cx| self.inbox.borrow_mut().poll_item(cx))
    }
}

impl<A> futures_core::Stream for SignalStream<A> {
    type Item = A;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<A>> {
        self.inbox.borrow_mut().poll_item(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let inbox = self.inbox.borrow();
        (inbox.items.len(), inbox.ended.then_some(inbox.items.len()))
    }
}

impl<A> futures_core::FusedStream for SignalStream<A> {
    fn is_terminated(&self) -> bool {
        let inbox = self.inbox.borrow();
        inbox.ended && inbox.items.is_empty()
    }
}

impl<A> Drop for SignalStream<A> {
    fn drop(&mut self) {
        self.connection.disconnect();
    }
}

impl<A: Clone + 'static> Signal<A> {
    /// A future of the next emission's argument (cloned), as Qt's
    /// `QtFuture::connect(sender, &Sender::signal)`: connected now, so an emission before the
    /// first poll counts; `None` if the signal goes away first (its object is destroyed).
    ///
    /// ```
    /// use slotnet_core::{EventLoop, Object, Timer};
    /// use std::time::Duration;
    ///
    /// let owner = Object::new();
    /// let ready = owner.new_signal::<u32>();
    /// let r = ready.clone();
    /// Timer::single_shot(Duration::from_millis(1), move || r.emit(7));
    /// assert_eq!(EventLoop::current().block_on(ready.next()), Some(7));
    /// ```
    pub fn next(&self) -> SignalNext<A> {
        let inbox = Inbox::new(1);
        let feeder = Feeder {
            inbox: inbox.clone(),
        };
        // A closed signal (its object is gone) drops the slot at once, and the feeder with it:
        // the future is then ready with `None`.
        let connection = self.connect_once(move |args: &A| feeder.push(args.clone()));
        SignalNext { inbox, connection }
    }

    /// A stream of every emission's argument (cloned), buffering at most
    /// [`DEFAULT_STREAM_CAPACITY`] of them (see the overflow rule at [`SignalStream`]); it
    /// ends when the signal goes away (its object is destroyed).
    ///
    /// ```
    /// use slotnet_core::{EventLoop, Object};
    ///
    /// let owner = Object::new();
    /// let progress = owner.new_signal::<u32>();
    /// let mut updates = progress.stream();
    /// progress.emit(1);
    /// progress.emit(2);
    /// owner.destroy();
    /// let seen = EventLoop::current().block_on(async move {
    ///     let mut seen = Vec::new();
    ///     while let Some(n) = updates.next().await {
    ///         seen.push(n);
    ///     }
    ///     seen
    /// });
    /// assert_eq!(seen, [1, 2]);
    /// ```
    pub fn stream(&self) -> SignalStream<A> {
        self.stream_with_capacity(DEFAULT_STREAM_CAPACITY)
    }

    /// [`Signal::stream`] keeping at most `capacity` emissions (at least 1).
    pub fn stream_with_capacity(&self, capacity: usize) -> SignalStream<A> {
        let inbox = Inbox::new(capacity);
        let feeder = Feeder {
            inbox: inbox.clone(),
        };
        let connection = self.connect(move |args: &A| feeder.push(args.clone()));
        SignalStream { inbox, connection }
    }
}
