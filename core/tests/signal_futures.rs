//! Signals as futures and streams (Qt's `QtFuture::connect`): `Signal::next` and
//! `Signal::stream`, their end when the object is destroyed, and the stream's overflow rule.

use std::pin::Pin;
use std::task::Context;
use std::time::Duration;

use futures_core::Stream;
use slotnet_core::{spawn_local, EventLoop, Object, Timer};

mod common;
use common::hang_guard;

/// Polls a stream to its end through the `futures_core::Stream` trait only.
async fn collect<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) =
        std::future::poll_fn(|cx: &mut Context<'_>| Pin::new(&mut stream).poll_next(cx)).await
    {
        items.push(item);
    }
    items
}

#[test]
fn next_resolves_with_the_next_emissions_argument() {
    let lp = EventLoop::current();
    let owner = Object::new();
    let changed = owner.new_signal::<String>();
    let c = changed.clone();
    Timer::single_shot(Duration::from_millis(1), move || {
        c.emit("first".into());
        c.emit("second".into());
    });
    let _guard = hang_guard();
    assert_eq!(lp.block_on(changed.next()), Some("first".to_string()));
    // The future disconnected itself once it had its value.
    assert_eq!(changed.receivers(), 0);
}

#[test]
fn next_counts_an_emission_made_before_it_is_first_polled() {
    let lp = EventLoop::current();
    let signal = Object::new().new_signal::<u8>();
    let next = signal.next();
    signal.emit(9);
    assert_eq!(lp.block_on(next), Some(9));
}

#[test]
fn next_ends_with_none_when_the_signals_object_is_destroyed() {
    let lp = EventLoop::current();
    let owner = Object::new();
    let signal = owner.new_signal::<u8>();
    Timer::single_shot(Duration::from_millis(1), move || {
        owner.destroy();
    });
    let _guard = hang_guard();
    assert_eq!(lp.block_on(signal.next()), None);
    // Already destroyed: ready at once.
    assert_eq!(lp.block_on(signal.next()), None);
}

#[test]
fn dropping_an_unfinished_next_disconnects_it() {
    let signal = Object::new().new_signal::<u8>();
    let next = signal.next();
    assert_eq!(signal.receivers(), 1);
    drop(next);
    assert_eq!(signal.receivers(), 0);
}

#[test]
fn a_stream_yields_every_emission_in_order_and_ends_with_its_object() {
    let lp = EventLoop::current();
    let owner = Object::new();
    let progress = owner.new_signal::<u32>();
    let stream = progress.stream();
    // Emitted from the loop, one per iteration, while a spawned task consumes the stream.
    let consumer = spawn_local(collect(stream));
    let ticker = Timer::new();
    let (p, t) = (progress.clone(), ticker);
    let sent = std::rc::Rc::new(std::cell::Cell::new(0u32));
    ticker.timeout().connect(move |_| {
        sent.set(sent.get() + 1);
        p.emit(sent.get());
        if sent.get() == 200 {
            t.stop();
            owner.destroy();
        }
    });
    ticker.start_interval(Duration::ZERO);
    let _guard = hang_guard();
    let seen = lp.block_on(consumer).unwrap();
    assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    assert_eq!(progress.receivers(), 0);
}

#[test]
fn a_full_stream_drops_the_oldest_emission_and_counts_it() {
    let lp = EventLoop::current();
    let owner = Object::new();
    let signal = owner.new_signal::<u32>();
    let mut stream = signal.stream_with_capacity(3);
    for n in 1..=5 {
        signal.emit(n);
    }
    assert_eq!(stream.buffered(), 3);
    assert_eq!(stream.missed(), 2);
    assert_eq!(lp.block_on(stream.next()), Some(3));
    owner.destroy();
    assert_eq!(lp.block_on(collect(stream)), [4, 5]);
}

#[test]
fn dropping_a_stream_disconnects_it() {
    let signal = Object::new().new_signal::<()>();
    let stream = signal.stream();
    assert_eq!(signal.receivers(), 1);
    drop(stream);
    assert_eq!(signal.receivers(), 0);
    // Emitting after the drop is harmless.
    signal.emit(());
}

#[test]
fn a_stream_of_a_plain_signal_ends_when_its_last_handle_is_dropped() {
    let lp = EventLoop::current();
    let signal = slotnet_core::Signal::<u8>::new();
    let stream = signal.stream();
    signal.emit(1);
    drop(signal);
    assert_eq!(lp.block_on(collect(stream)), [1]);
}
