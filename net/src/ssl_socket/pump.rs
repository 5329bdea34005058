//! The TLS pump: one connection's TLS state and byte moving, without sockets or signals.
//!
//! A [`TlsPump`] owns the rustls session ([`TlsSession`]), the ciphertext taken in and not
//! yet accepted by rustls, and the ciphertext produced and not yet handed to the transport.
//! One [`TlsPump::pass`] moves bytes both ways through a [`PumpIo`] (the socket glue in
//! `engine.rs` gives it the TCP socket's buffer and the user's buffers; the unit tests give
//! it byte vectors) and returns what happened as a [`Pass`]: the glue turns that into
//! signals, with no borrow held. Memory stays bounded both ways:
//! - reading: ciphertext is taken only while the plaintext buffer has room, so a slow
//!   reader leaves it where it is (in the transport, whose own limit then stops the kernel
//!   reads);
//! - writing: plaintext is encrypted only while less than [`CIPHER_WRITE_HIGH_WATER`] bytes
//!   of ciphertext wait for the kernel.
//!
//! The certificate check runs inside rustls (`TlsSession::feed`), where the glue's
//! `ssl_errors` slots run: they may end the connection, which [`PumpIo::still_current`]
//! tells the pump, and then it stops at once.

use std::cell::RefMut;
use std::io::{self, IoSlice};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use rustls::AlertDescription;

use crate::error::SocketError;
use crate::ssl::{SessionInfo, TlsSession, VerifyContext};
use crate::write_queue::WriteQueue;

/// Plaintext is encrypted only while less ciphertext than this waits for the kernel.
pub(crate) const CIPHER_WRITE_HIGH_WATER: usize = 256 * 1024;

/// Where a connection's TLS is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsPhase {
    /// The handshake runs; written plaintext waits.
    Handshaking,
    /// The handshake is done: application data flows both ways.
    Encrypted,
    /// Our close_notify is queued: nothing more is encrypted.
    ShuttingDown,
    /// A TLS error ended the session (its alert is the last ciphertext).
    Failed,
}

/// How far the peer's stream got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// More may come.
    Open,
    /// The peer sent close_notify: a clean end.
    CloseNotify,
    /// The transport ended without close_notify.
    Eof,
}

/// The pump's view of the outside: the transport's received ciphertext and queue level,
/// and the user's buffers. Borrows are taken and dropped inside a pass, never across the
/// certificate check (where slots run).
pub(crate) trait PumpIo {
    /// How many more plaintext bytes the reader takes now (`usize::MAX`: no limit).
    fn plaintext_room(&self) -> usize;
    /// The plaintext read buffer, to append to.
    fn plaintext(&self) -> RefMut<'_, BytesMut>;
    /// Moves received ciphertext to the end of `dst` (empty when called).
    fn take_ciphertext(&self, dst: &mut BytesMut);
    /// Ciphertext already handed to the transport and not yet to the kernel.
    fn ciphertext_queued(&self) -> usize;
    /// The plaintext the user wrote and the pump has not encrypted yet.
    fn write_queue(&self) -> RefMut<'_, WriteQueue>;
    /// Whether the user asked to close (close_notify once the write queue is empty).
    fn close_requested(&self) -> bool;
    /// False once a slot (run from the certificate check) ended or replaced the connection.
    fn still_current(&self) -> bool;
}

/// What one pass did, for the glue to report (in this order).
#[derive(Debug, Default)]
pub(crate) struct PumpEvents {
    /// The handshake completed in this pass.
    pub(crate) handshake_done: bool,
    /// What it negotiated (with `handshake_done`).
    pub(crate) session_info: Option<SessionInfo>,
    /// Plaintext bytes added to the read buffer.
    pub(crate) plaintext: usize,
    /// Plaintext bytes taken from the write queue and encrypted.
    pub(crate) written: u64,
    /// The peer sent close_notify.
    pub(crate) close_notify: bool,
    /// The transport ended without close_notify.
    pub(crate) eof: bool,
    /// Our close_notify has been queued: close the transport after it.
    pub(crate) close_transport: bool,
    /// Reading stopped because the plaintext buffer is full.
    pub(crate) read_paused: bool,
    /// Every byte the transport delivered has been decrypted and moved to the read buffer.
    pub(crate) input_exhausted: bool,
}

/// How a pass ended.
#[derive(Debug)]
pub(crate) enum Pass {
    /// Bytes moved; report these events.
    Done(PumpEvents),
    /// TLS failed: its alert is in the output; report `code` and close after it.
    Failed {
        code: SocketError,
        error: rustls::Error,
    },
    /// A slot ended the connection during the pass: drop the pump, report nothing.
    Stale,
}

/// One connection's TLS session and its ciphertext buffers (see the module doc).
pub(crate) struct TlsPump {
    session: TlsSession,
    phase: TlsPhase,
    read_end: ReadEnd,
    /// Ciphertext taken from the transport, not yet accepted by rustls.
    cipher_in: BytesMut,
    /// Ciphertext produced by rustls, for the transport.
    cipher_out: BytesMut,
}

impl TlsPump {
    /// A pump over a new session (client or server, before its first flight).
    pub(crate) fn new(mut session: TlsSession) -> TlsPump {
        // The pump bounds what it encrypts (CIPHER_WRITE_HIGH_WATER), so rustls need not.
        session.set_buffer_limit(None);
        TlsPump {
            session,
            phase: TlsPhase::Handshaking,
            read_end: ReadEnd::Open,
            cipher_in: BytesMut::new(),
            cipher_out: BytesMut::new(),
        }
    }

    /// Where the session is (the unit tests watch it; the glue keeps its own `encrypted`,
    /// readable while a pass has the pump out).
    #[cfg(test)]
    pub(crate) fn phase(&self) -> TlsPhase {
        self.phase
    }

    /// How far the peer's stream got.
    #[cfg(test)]
    pub(crate) fn read_end(&self) -> ReadEnd {
        self.read_end
    }

    /// The session's certificate verification context (shared with it).
    pub(crate) fn verify_context(&self) -> &VerifyContext {
        self.session.verify_context()
    }

    /// Ciphertext taken from the transport that rustls has not accepted yet.
    pub(crate) fn buffered_ciphertext(&self) -> usize {
        self.cipher_in.len()
    }

    /// The ciphertext produced so far, for the transport (`None` if there is none).
    pub(crate) fn take_output(&mut self) -> Option<Bytes> {
        (!self.cipher_out.is_empty()).then(|| self.cipher_out.split().freeze())
    }

    /// Moves bytes: ciphertext in → plaintext to the read buffer (while it has room), the
    /// write queue → ciphertext out (once encrypted, below the high-water mark), and
    /// close_notify when asked. Whatever happens, what rustls produced (after a failure:
    /// its alert) is left for [`Self::take_output`].
    pub(crate) fn pass(&mut self, io: &dyn PumpIo) -> Pass {
        let was_handshaking = self.session.is_handshaking();
        let mut ev = PumpEvents::default();
        let mut result = self.take_input(io, &mut ev);
        if result.is_ok() && io.still_current() {
            result = self.give_output(io, &mut ev);
        }
        if !io.still_current() {
            return Pass::Stale;
        }
        move_ciphertext(&mut self.session, &mut self.cipher_out);
        if let Err(error) = result {
            self.phase = TlsPhase::Failed;
            return Pass::Failed {
                code: classify(&error, was_handshaking),
                error,
            };
        }
        if was_handshaking && !self.session.is_handshaking() {
            ev.handshake_done = true;
            ev.session_info = self.session.session_info();
            if self.phase == TlsPhase::Handshaking {
                self.phase = TlsPhase::Encrypted;
            }
        }
        if ev.close_notify {
            self.read_end = ReadEnd::CloseNotify;
        } else if ev.eof {
            self.read_end = ReadEnd::Eof;
        }
        Pass::Done(ev)
    }

    /// Feeds ciphertext (from `cipher_in`, refilled from the transport) to the session and
    /// moves the plaintext to the read buffer while it has room.
    fn take_input(&mut self, io: &dyn PumpIo, ev: &mut PumpEvents) -> Result<(), rustls::Error> {
        loop {
            let room = io.plaintext_room();
            let drained = if room > 0 {
                self.drain_plaintext(io, room, ev)
            } else {
                0
            };
            if ev.close_notify || ev.eof {
                return Ok(());
            }
            if io.plaintext_room() == 0 {
                ev.read_paused = true;
                return Ok(());
            }
            if self.cipher_in.is_empty() {
                // Zero-copy when `cipher_in` is empty; the transport then reads on.
                io.take_ciphertext(&mut self.cipher_in);
                if self.cipher_in.is_empty() {
                    ev.input_exhausted = true;
                    return Ok(());
                }
            }
            // Certificate verification (and the `ssl_errors` slots) may run in here.
            let fed = self.session.feed(&self.cipher_in)?;
            if !io.still_current() {
                return Ok(());
            }
            self.cipher_in.advance(fed);
            if fed == 0 && drained == 0 && self.drain_plaintext(io, room, ev) == 0 {
                // rustls takes nothing more and has nothing to give: wait for a read.
                return Ok(());
            }
        }
    }

    /// Moves up to `room` decrypted bytes into the read buffer; notes close_notify and end
    /// of file. Returns how many bytes it moved.
    fn drain_plaintext(&mut self, io: &dyn PumpIo, room: usize, ev: &mut PumpEvents) -> usize {
        let mut buf = io.plaintext();
        let mut moved = 0;
        // One record's plaintext per call, appended as is; the call after the last one
        // tells whether the stream ended (close_notify) or merely has nothing more yet.
        while moved < room {
            match self.session.read_plaintext_into(&mut buf, room - moved) {
                Ok(0) => {
                    ev.close_notify = true;
                    break;
                }
                Ok(n) => moved += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    ev.eof = true;
                    break;
                }
            }
        }
        ev.plaintext += moved;
        moved
    }

    /// Encrypts queued plaintext (once the handshake is done) while the ciphertext waiting
    /// for the kernel stays under the high-water mark; queues close_notify when asked.
    fn give_output(&mut self, io: &dyn PumpIo, ev: &mut PumpEvents) -> Result<(), rustls::Error> {
        let tls = &mut self.session;
        if !tls.is_handshaking() && self.phase != TlsPhase::ShuttingDown {
            let queued_below = io.ciphertext_queued();
            let mut queue = io.write_queue();
            while !queue.is_empty() {
                let in_flight = queued_below + self.cipher_out.len();
                if in_flight >= CIPHER_WRITE_HIGH_WATER {
                    break;
                }
                let budget = CIPHER_WRITE_HIGH_WATER - in_flight;
                let n = queue
                    .write_with(|slices| encrypt_slices(tls, slices, budget))
                    .map_err(|e| rustls::Error::General(e.to_string()))?;
                ev.written += n as u64;
                // rustls taking 0 bytes means its buffer is full ("would block").
                if move_ciphertext(tls, &mut self.cipher_out) == 0 && n == 0 {
                    break;
                }
            }
        }
        if io.close_requested()
            && self.phase != TlsPhase::ShuttingDown
            && io.write_queue().is_empty()
        {
            tls.send_close_notify();
            self.phase = TlsPhase::ShuttingDown;
            ev.close_transport = true;
        }
        Ok(())
    }
}

/// Hands plaintext slices to rustls, at most `budget` bytes; returns how many it took. An
/// error after some bytes were taken is left for the next call, so none are counted twice.
fn encrypt_slices(
    tls: &mut TlsSession,
    slices: &[IoSlice<'_>],
    budget: usize,
) -> io::Result<usize> {
    let mut total = 0;
    for slice in slices {
        if total >= budget {
            break;
        }
        let part = &slice[..slice.len().min(budget - total)];
        let n = match tls.write_plaintext(part) {
            Ok(n) => n,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        if n < part.len() {
            break;
        }
    }
    Ok(total)
}

/// Appends the session's pending ciphertext to `out`; returns how many bytes.
fn move_ciphertext(tls: &mut TlsSession, out: &mut BytesMut) -> usize {
    let start = out.len();
    let mut writer = out.writer();
    while tls.wants_write() {
        match tls.write_tls(&mut writer) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    writer.into_inner().len() - start
}

/// The socket error for a TLS failure: any failure before the handshake completed is
/// `SslHandshakeFailedError`, and so is a handshake-related alert the peer sends right after
/// (TLS 1.3 lets a client finish before the server has checked its certificate); anything
/// else later is `SslInternalError`.
fn classify(error: &rustls::Error, during_handshake: bool) -> SocketError {
    if during_handshake {
        return SocketError::SslHandshakeFailedError;
    }
    match error {
        rustls::Error::AlertReceived(alert) if is_handshake_alert(*alert) => {
            SocketError::SslHandshakeFailedError
        }
        _ => SocketError::SslInternalError,
    }
}

fn is_handshake_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::HandshakeFailure
            | AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied
            | AlertDescription::CertificateRequired
            | AlertDescription::InsufficientSecurity
            | AlertDescription::NoApplicationProtocol
    )
}

#[cfg(test)]
mod tests {
    //! Two pumps, a client and a server, driven against each other in memory: real TLS
    //! handshakes with the test PKI, no sockets and no loop.

    use std::cell::{Cell, RefCell};

    use super::*;
    use crate::ssl::test_certs::{self, TestIdentity};

    /// One side's outside world: ciphertext from the peer, the user's buffers.
    #[derive(Default)]
    struct Side {
        received: RefCell<BytesMut>,
        plaintext: RefCell<BytesMut>,
        queue: RefCell<WriteQueue>,
        /// Read buffer limit (0: none).
        limit: Cell<usize>,
        close: Cell<bool>,
    }

    impl PumpIo for Side {
        fn plaintext_room(&self) -> usize {
            match self.limit.get() {
                0 => usize::MAX,
                limit => limit.saturating_sub(self.plaintext.borrow().len()),
            }
        }
        fn plaintext(&self) -> RefMut<'_, BytesMut> {
            self.plaintext.borrow_mut()
        }
        fn take_ciphertext(&self, dst: &mut BytesMut) {
            dst.extend_from_slice(&self.received.borrow_mut().split());
        }
        fn ciphertext_queued(&self) -> usize {
            0
        }
        fn write_queue(&self) -> RefMut<'_, WriteQueue> {
            self.queue.borrow_mut()
        }
        fn close_requested(&self) -> bool {
            self.close.get()
        }
        fn still_current(&self) -> bool {
            true
        }
    }

    /// What a side's passes reported, summed up.
    #[derive(Default, Debug)]
    struct Seen {
        handshake_done: bool,
        plaintext: usize,
        written: u64,
        close_notify: bool,
        close_transport: bool,
        read_paused: bool,
        failure: Option<SocketError>,
    }

    struct Peer {
        pump: TlsPump,
        side: Side,
        seen: Seen,
    }

    impl Peer {
        fn client(trusting: SslConfiguration) -> Peer {
            let session = TlsSession::client(&trusting, "localhost").expect("client session");
            Peer::new(session)
        }

        fn server(identity: &TestIdentity) -> Peer {
            let session = TlsSession::server(&identity.configuration()).expect("server session");
            Peer::new(session)
        }

        fn new(session: TlsSession) -> Peer {
            Peer {
                pump: TlsPump::new(session),
                side: Side::default(),
                seen: Seen::default(),
            }
        }

        /// One pass; returns the ciphertext it produced.
        fn step(&mut self) -> Option<Bytes> {
            match self.pump.pass(&self.side) {
                Pass::Done(ev) => {
                    self.seen.handshake_done |= ev.handshake_done;
                    self.seen.plaintext += ev.plaintext;
                    self.seen.written += ev.written;
                    self.seen.close_notify |= ev.close_notify;
                    self.seen.close_transport |= ev.close_transport;
                    self.seen.read_paused |= ev.read_paused;
                }
                Pass::Failed { code, .. } => self.seen.failure = Some(code),
                Pass::Stale => panic!("the test's connection is always current"),
            }
            self.pump.take_output()
        }

        fn write(&self, data: &[u8]) {
            self.side.queue.borrow_mut().push_slice(data);
        }
    }

    use crate::ssl::SslConfiguration;

    /// Passes on both sides, each one's output carried to the other, until nothing moves.
    fn run(a: &mut Peer, b: &mut Peer) {
        for _ in 0..1000 {
            let mut moved = false;
            if let Some(out) = a.step() {
                b.side.received.borrow_mut().extend_from_slice(&out);
                moved = true;
            }
            if let Some(out) = b.step() {
                a.side.received.borrow_mut().extend_from_slice(&out);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the pumps never settled");
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn connected() -> (Peer, Peer) {
        let mut client = Peer::client(test_certs::client_configuration());
        let mut server = Peer::server(&test_certs::pki().server);
        run(&mut client, &mut server);
        assert!(client.seen.handshake_done && server.seen.handshake_done);
        (client, server)
    }

    #[test]
    fn the_handshake_completes_and_data_flows_both_ways() {
        let mut client = Peer::client(test_certs::client_configuration());
        let mut server = Peer::server(&test_certs::pki().server);
        // Written before the handshake: held back until it is done.
        client.write(b"early request");
        let hello = client.step().expect("no ClientHello");
        server.side.received.borrow_mut().extend_from_slice(&hello);
        assert_eq!(client.seen.written, 0);
        assert_eq!(client.pump.phase(), TlsPhase::Handshaking);

        run(&mut client, &mut server);
        assert!(client.seen.handshake_done && server.seen.handshake_done);
        assert_eq!(client.pump.phase(), TlsPhase::Encrypted);
        assert_eq!(server.pump.phase(), TlsPhase::Encrypted);
        assert_eq!(client.seen.written, 13);
        assert_eq!(&server.side.plaintext.borrow()[..], b"early request");
        assert_eq!(server.seen.plaintext, 13);

        server.write(b"response");
        run(&mut client, &mut server);
        assert_eq!(&client.side.plaintext.borrow()[..], b"response");
        assert_eq!(client.pump.read_end(), ReadEnd::Open);
    }

    #[test]
    fn a_full_read_buffer_pauses_reading_and_keeps_the_rest_as_ciphertext() {
        let (mut client, mut server) = connected();
        server.side.limit.set(100);
        // More than rustls keeps decrypted (16 KiB): the rest must wait as ciphertext.
        let sent = pattern(200_000);
        client.write(&sent);
        run(&mut client, &mut server);
        assert_eq!(server.side.plaintext.borrow().len(), 100);
        assert!(server.seen.read_paused);
        let waiting = server.pump.buffered_ciphertext() + server.side.received.borrow().len();
        assert!(waiting > 100_000, "only {waiting} bytes of ciphertext wait");

        // The reader takes what it has and lifts the limit: the rest arrives.
        let mut got = server.side.plaintext.borrow_mut().split().to_vec();
        server.side.limit.set(0);
        server.step();
        got.extend_from_slice(&server.side.plaintext.borrow());
        assert_eq!(got, sent);
    }

    #[test]
    fn close_notify_ends_the_peers_stream_cleanly() {
        let (mut client, mut server) = connected();
        client.write(b"last words");
        client.side.close.set(true);
        run(&mut client, &mut server);
        assert!(client.seen.close_transport);
        assert_eq!(client.pump.phase(), TlsPhase::ShuttingDown);
        assert!(server.seen.close_notify);
        assert_eq!(server.pump.read_end(), ReadEnd::CloseNotify);
        // The data went out before the close_notify.
        assert_eq!(&server.side.plaintext.borrow()[..], b"last words");
        // Nothing more is encrypted after it.
        client.write(b"too late");
        client.step();
        assert_eq!(client.seen.written, 10);
    }

    #[test]
    fn an_untrusted_certificate_fails_the_handshake_on_both_sides() {
        let mut client = Peer::client(test_certs::client_configuration());
        let mut server = Peer::server(&test_certs::pki().self_signed);
        let asked = Rc::new(Cell::new(0));
        let count = asked.clone();
        client
            .pump
            .verify_context()
            .set_ssl_errors_hook(move |errors| {
                assert!(!errors.is_empty());
                count.set(count.get() + 1);
                false // not ignored
            });
        run(&mut client, &mut server);
        assert_eq!(asked.get(), 1);
        assert_eq!(
            client.seen.failure,
            Some(SocketError::SslHandshakeFailedError)
        );
        assert_eq!(client.pump.phase(), TlsPhase::Failed);
        // The client's alert reached the server, which fails too; neither finished.
        assert_eq!(
            server.seen.failure,
            Some(SocketError::SslHandshakeFailedError)
        );
        assert!(!client.seen.handshake_done);
        assert!(!server.seen.handshake_done);
    }

    #[test]
    fn encryption_stops_at_the_high_water_mark_until_the_output_is_taken() {
        let (mut client, mut server) = connected();
        let sent = pattern(1 << 20);
        client.write(&sent);
        // One pass with nothing handed on: it encrypts about the mark, not the whole queue.
        let out = client.pump.pass(&client.side);
        let Pass::Done(ev) = out else {
            panic!("pass failed: {out:?}");
        };
        let first = client.pump.take_output().expect("ciphertext");
        assert!(first.len() >= CIPHER_WRITE_HIGH_WATER);
        assert!(first.len() < CIPHER_WRITE_HIGH_WATER + 32 * 1024);
        assert!((ev.written as usize) < sent.len());
        assert_eq!(
            client.side.queue.borrow().len(),
            sent.len() - ev.written as usize
        );
        // Once it is taken, the rest follows.
        server.side.received.borrow_mut().extend_from_slice(&first);
        run(&mut client, &mut server);
        assert_eq!(&server.side.plaintext.borrow()[..], &sent[..]);
    }

    use std::rc::Rc;
}
