//! Cleartext HTTP/2 with prior knowledge (`h2c`): telling an HTTP/2 client from an HTTP/1.1
//! one by the first bytes of a plain connection.
//!
//! An HTTP/2 client opens with the connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`
//! (RFC 9113, 3.4). No HTTP/1.1 request starts like that, and most differ at once (`G`, `H`,
//! `POST` at its second byte), so the decision usually takes the first read. The bytes may
//! arrive split anywhere, though: while everything received is a strict prefix of the
//! preface the [`Sniffer`] waits for more. It never consumes a byte; whichever connection
//! type takes over reads the socket from its first byte.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Instant;

use slotnet_core::{Connection as SlotConnection, Timer};
use slotnet_net::AbstractSocket;

use super::abstract_server::ServerCore;
use super::request::ConnectionInfo;

/// The HTTP/2 client connection preface.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// Everything so far is a strict prefix of the preface (or nothing arrived yet).
    NeedMore,
    /// The whole preface: an HTTP/2 client.
    Http2,
    /// Anything else: HTTP/1.x (or garbage, which the HTTP/1.1 parser answers).
    Http1,
}

/// Classifies the first bytes received on a connection.
pub(crate) fn sniff(received: &[u8]) -> Sniff {
    let n = received.len().min(PREFACE.len());
    if received[..n] != PREFACE[..n] {
        Sniff::Http1
    } else if n == PREFACE.len() {
        Sniff::Http2
    } else {
        Sniff::NeedMore
    }
}

/// Classifies the bytes buffered on `socket` without consuming them.
pub(crate) fn sniff_socket(socket: &dyn AbstractSocket) -> Sniff {
    let mut head = [0u8; PREFACE.len()];
    let n = socket.peek(&mut head);
    sniff(&head[..n])
}

/// A plain connection whose first bytes have not decided its protocol yet.
///
/// Holds the socket until they do, then hands it to the server
/// ([`ServerCore::promote`]). A client that sends nothing (or stalls inside the preface) is
/// closed after the keep-alive timeout, as an idle HTTP/1.1 connection would be.
pub(crate) struct Sniffer {
    weak: Weak<Sniffer>,
    id: u64,
    server: Weak<ServerCore>,
    socket: RefCell<Option<Box<dyn AbstractSocket>>>,
    info: ConnectionInfo,
    timer: Timer,
    slots: RefCell<Vec<SlotConnection>>,
    /// When the connection was taken (it has sent nothing useful since).
    since: Instant,
}

impl Sniffer {
    /// Watches `socket` (connected, nothing decided yet) for server `server`.
    pub(crate) fn start(
        server: &Rc<ServerCore>,
        id: u64,
        socket: Box<dyn AbstractSocket>,
        info: ConnectionInfo,
    ) -> Rc<Sniffer> {
        let timer = Timer::with_parent(&socket.as_object());
        timer.set_single_shot(true);
        let sniffer = Rc::new_cyclic(|weak: &Weak<Sniffer>| Sniffer {
            weak: weak.clone(),
            id,
            server: Rc::downgrade(server),
            socket: RefCell::new(None),
            info,
            timer,
            slots: RefCell::new(Vec::new()),
            since: Instant::now(),
        });
        let mut slots = Vec::with_capacity(3);
        let weak = sniffer.weak.clone();
        slots.push(socket.ready_read().connect(move |_| {
            if let Some(s) = weak.upgrade() {
                s.check(false);
            }
        }));
        let weak = sniffer.weak.clone();
        slots.push(socket.read_channel_finished().connect(move |_| {
            if let Some(s) = weak.upgrade() {
                s.check(true);
            }
        }));
        let weak = sniffer.weak.clone();
        slots.push(socket.disconnected().connect(move |_| {
            if let Some(s) = weak.upgrade() {
                s.close();
            }
        }));
        let weak = sniffer.weak.clone();
        sniffer.timer.timeout().connect(move |_| {
            if let Some(s) = weak.upgrade() {
                s.close();
            }
        });
        *sniffer.slots.borrow_mut() = slots;
        *sniffer.socket.borrow_mut() = Some(socket);
        sniffer
            .timer
            .start_interval(server.config().keep_alive_timeout);
        sniffer
    }

    /// Since when the connection has been waiting for its first bytes (it is idle: see
    /// [`ServerCore::reclaim_idle`]).
    pub(crate) fn idle_since(&self) -> Instant {
        self.since
    }

    /// Decides if the buffered bytes allow it; `eof`: the client sent all it will send.
    pub(crate) fn check(&self, eof: bool) {
        let verdict = match self.socket.borrow().as_ref() {
            Some(socket) => sniff_socket(socket.as_ref()),
            None => return,
        };
        match verdict {
            Sniff::NeedMore if eof => self.close(),
            Sniff::NeedMore => {}
            Sniff::Http1 | Sniff::Http2 => {
                let Some(socket) = self.release() else {
                    return;
                };
                match self.server.upgrade() {
                    Some(server) => {
                        server.promote(self.id, socket, self.info, verdict == Sniff::Http2)
                    }
                    None => socket.abort(),
                }
            }
        }
    }

    /// Takes the socket back from the watch (slots and timer gone).
    fn release(&self) -> Option<Box<dyn AbstractSocket>> {
        let socket = self.socket.borrow_mut().take()?;
        for slot in self.slots.borrow_mut().drain(..) {
            slot.disconnect();
        }
        self.timer.destroy();
        Some(socket)
    }

    /// Closes the connection (nothing is owed to a client that has not asked anything).
    pub(crate) fn close(&self) {
        let Some(socket) = self.release() else {
            return;
        };
        socket.abort();
        socket.as_object().delete_later();
        if let Some(server) = self.server.upgrade() {
            server.connection_closed(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_recognised_even_split() {
        assert_eq!(sniff(b""), Sniff::NeedMore);
        for cut in 1..PREFACE.len() {
            assert_eq!(sniff(&PREFACE[..cut]), Sniff::NeedMore, "cut at {cut}");
        }
        assert_eq!(sniff(PREFACE), Sniff::Http2);
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
        assert_eq!(sniff(&more), Sniff::Http2);
    }

    #[test]
    fn http1_requests_are_told_apart_at_their_first_difference() {
        assert_eq!(sniff(b"G"), Sniff::Http1);
        assert_eq!(sniff(b"PO"), Sniff::Http1);
        assert_eq!(sniff(b"PRI / HTTP/1.1\r\n"), Sniff::Http1);
        assert_eq!(sniff(b"PRI * HTTP/1.1\r\n\r\n"), Sniff::Http1);
    }
}
