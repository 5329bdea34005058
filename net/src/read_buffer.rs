//! The application-side read buffer of a stream socket (TCP, Unix, TLS): the bytes received
//! and not yet read, and the read operations of `AbstractSocket` on them.
//!
//! Each socket keeps one and calls its own `after_consume` after a consuming operation (that
//! is where it resumes reading from the kernel once a full buffer has room again).

use std::cell::{Ref, RefCell, RefMut};

use bytes::{Buf, Bytes, BytesMut};

/// [`ReadBuffer::move_into`] hands its buffer over instead of copying from this size on.
const HANDOVER_MIN: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct ReadBuffer(RefCell<BytesMut>);

impl ReadBuffer {
    pub(crate) fn borrow(&self) -> Ref<'_, BytesMut> {
        self.0.borrow()
    }

    pub(crate) fn borrow_mut(&self) -> RefMut<'_, BytesMut> {
        self.0.borrow_mut()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Gives the buffer's memory back once everything in it was read: an idle connection
    /// then holds none (the next read allocates what it needs; see `SocketCore`'s reads).
    /// An empty buffer that still shares an allocation with bytes handed out (`take`,
    /// `with`) lets go of it too.
    pub(crate) fn release_if_empty(&self) {
        let mut buf = self.0.borrow_mut();
        if buf.is_empty() {
            *buf = BytesMut::new();
        }
    }

    /// The bytes allocated for the buffer (for tests of `release_if_empty`).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.0.borrow().capacity()
    }

    /// Copies up to `out.len()` bytes out, consuming them.
    pub(crate) fn read(&self, out: &mut [u8]) -> usize {
        let mut buf = self.0.borrow_mut();
        let n = out.len().min(buf.len());
        buf.copy_to_slice(&mut out[..n]);
        n
    }

    /// Takes everything.
    pub(crate) fn take_all(&self) -> Vec<u8> {
        Vec::from(std::mem::take(&mut *self.0.borrow_mut()))
    }

    /// Takes up to `max` bytes without copying.
    pub(crate) fn take(&self, max: usize) -> Bytes {
        let mut buf = self.0.borrow_mut();
        let n = max.min(buf.len());
        buf.split_to(n).freeze()
    }

    /// Moves everything into `dst`. Small amounts are copied so that both buffers keep their
    /// allocations (a request/response loop then allocates nothing; handing over a small piece
    /// would make the next kernel read allocate a fresh buffer); large ones into an empty `dst`
    /// are handed over without a copy.
    pub(crate) fn move_into(&self, dst: &mut BytesMut) -> usize {
        let mut buf = self.0.borrow_mut();
        let n = buf.len();
        if dst.is_empty() && n >= HANDOVER_MIN {
            *dst = buf.split();
        } else {
            dst.extend_from_slice(&buf);
            buf.clear();
        }
        n
    }

    /// Runs `f` on the buffer itself with no borrow held (it may call back into the socket).
    /// `still_current` tells afterwards whether the socket still is the same connection (it
    /// was not aborted or reconnected by `f`); if not, the closure's bytes are stale and
    /// dropped. Bytes that arrived while `f` ran (a nested loop) are kept after the closure's.
    pub(crate) fn with(&self, f: &mut dyn FnMut(&mut BytesMut), still_current: impl Fn() -> bool) {
        let mut buf = std::mem::take(&mut *self.0.borrow_mut());
        f(&mut buf);
        if still_current() {
            let mut own = self.0.borrow_mut();
            if !own.is_empty() {
                buf.extend_from_slice(&own);
            }
            *own = buf;
        }
    }

    /// Copies up to `out.len()` bytes without consuming them.
    pub(crate) fn peek(&self, out: &mut [u8]) -> usize {
        let buf = self.0.borrow();
        let n = out.len().min(buf.len());
        out[..n].copy_from_slice(&buf[..n]);
        n
    }

    /// Whether a whole line (ending in `\n`) is buffered.
    pub(crate) fn has_line(&self) -> bool {
        self.0.borrow().contains(&b'\n')
    }

    /// Takes the next line with its `\n` (or everything if there is none), at most `max`
    /// bytes (0: no limit).
    pub(crate) fn take_line(&self, max: usize) -> Vec<u8> {
        let mut buf = self.0.borrow_mut();
        let mut n = buf
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |p| p + 1);
        if max > 0 {
            n = n.min(max);
        }
        buf.split_to(n).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_arriving_during_with_are_kept_after_the_closures() {
        let rb = ReadBuffer::default();
        rb.borrow_mut().extend_from_slice(b"ab");
        rb.with(
            &mut |buf| {
                buf.advance(1);
                // A nested loop delivers more while the closure holds the buffer.
                rb.borrow_mut().extend_from_slice(b"cd");
            },
            || true,
        );
        assert_eq!(&rb.borrow()[..], b"bcd");
        rb.with(&mut |_| {}, || false);
        assert_eq!(
            rb.len(),
            0,
            "a reconnect inside the closure drops the stale bytes"
        );
    }

    #[test]
    fn an_emptied_buffer_gives_its_memory_back() {
        let rb = ReadBuffer::default();
        rb.borrow_mut().reserve(8192);
        rb.borrow_mut().extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        rb.release_if_empty();
        assert!(
            rb.capacity() >= 8192,
            "bytes still unread: the buffer stays"
        );
        // A decoder takes the head out without copying: the empty buffer still shares the
        // allocation with it, and lets go of it.
        let head = rb.take(usize::MAX);
        rb.release_if_empty();
        assert_eq!(rb.capacity(), 0);
        assert_eq!(&head[..], b"GET / HTTP/1.1\r\n\r\n");
        rb.borrow_mut().extend_from_slice(b"next");
        assert_eq!(rb.take_all(), b"next");
    }

    #[test]
    fn lines_and_moves() {
        let rb = ReadBuffer::default();
        rb.borrow_mut().extend_from_slice(b"one\ntwo");
        assert!(rb.has_line());
        assert_eq!(rb.take_line(0), b"one\n");
        assert!(!rb.has_line());
        let mut dst = BytesMut::new();
        assert_eq!(rb.move_into(&mut dst), 3);
        assert_eq!(&dst[..], b"two");
        assert_eq!(rb.len(), 0);
    }
}
