//! The socket's write buffer: a queue of byte chunks written with one vectored call.
//!
//! Small writes are coalesced into a tail buffer (one copy, fewer iovecs); large `Bytes` are
//! queued as they are, without copying, which is what an HTTP engine sending a body wants.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes, BytesMut};

use crate::sys::MAX_IOV;

/// Chunks at least this long are queued as they are rather than copied into the tail.
const COPY_LIMIT: usize = 4096;

#[derive(Default)]
pub(crate) struct WriteQueue {
    /// Queued chunks, oldest first; all of them come before `tail`.
    chunks: VecDeque<Bytes>,
    /// The newest bytes, where small writes are appended.
    tail: BytesMut,
    len: usize,
}

impl WriteQueue {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn push_slice(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        self.len += data.len();
    }

    pub(crate) fn push_bytes(&mut self, data: Bytes) {
        if data.len() < COPY_LIMIT {
            self.push_slice(&data);
            return;
        }
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.len += data.len();
        self.chunks.push_back(data);
    }

    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.tail.clear();
        self.len = 0;
    }

    /// One vectored write of the queue's head through `write`; drops what it wrote.
    pub(crate) fn write_with(
        &mut self,
        write: impl FnOnce(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let n = {
            // On the stack: this runs for every flush of every connection.
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut count = 0;
            for chunk in self.chunks.iter().take(MAX_IOV - 1) {
                slices[count] = IoSlice::new(chunk);
                count += 1;
            }
            // The tail comes after every chunk: only with them all in this call.
            if !self.tail.is_empty() && count == self.chunks.len() {
                slices[count] = IoSlice::new(&self.tail);
                count += 1;
            }
            write(&slices[..count])?
        };
        self.consume(n);
        Ok(n)
    }

    fn consume(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) if front.len() <= n => {
                    n -= front.len();
                    self.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    return;
                }
                None => {
                    self.tail.advance(n);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a writer that takes at most `limit` bytes per call would receive.
    fn drain(queue: &mut WriteQueue, limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !queue.is_empty() {
            queue
                .write_with(|slices| {
                    let mut taken = 0;
                    for s in slices {
                        let n = s.len().min(limit - taken);
                        out.extend_from_slice(&s[..n]);
                        taken += n;
                        if taken == limit {
                            break;
                        }
                    }
                    Ok(taken)
                })
                .unwrap();
        }
        out
    }

    #[test]
    fn keeps_order_across_small_and_large_chunks() {
        let mut q = WriteQueue::default();
        let big: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        q.push_slice(b"head ");
        q.push_bytes(Bytes::from(big.clone()));
        q.push_bytes(Bytes::from_static(b" small"));
        q.push_slice(b" tail");
        assert_eq!(q.len(), 5 + 10_000 + 6 + 5);
        let out = drain(&mut q, 777);
        let mut expected = b"head ".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b" small tail");
        assert_eq!(out, expected);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn many_chunks_take_several_writes() {
        let mut q = WriteQueue::default();
        let mut expected = Vec::new();
        for i in 0..200u32 {
            let chunk = vec![i as u8; COPY_LIMIT];
            expected.extend_from_slice(&chunk);
            q.push_bytes(Bytes::from(chunk));
        }
        // A small write after them lands in the tail, which must still come last.
        q.push_slice(b"end");
        expected.extend_from_slice(b"end");
        assert_eq!(drain(&mut q, usize::MAX), expected);
    }
}
