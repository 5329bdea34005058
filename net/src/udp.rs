//! `UdpSocket`, Qt's `QUdpSocket`: datagrams on the event loop.
//!
//! There is no user-space receive queue: datagrams stay in the kernel until read, so a slow
//! reader costs no memory here (the kernel drops what its buffer cannot hold, as UDP does).
//! `ready_read` follows Qt's read notifier: it is emitted when datagrams arrive, and again
//! after a slot that read some while more are still waiting; a slot that reads nothing is
//! not called again until a new datagram arrives.
//!
//! Readiness comes edge-triggered from mio: a reader that stops before the kernel queue is
//! empty gets its next `ready_read` from a posted re-check, not from a new edge.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use mio::Interest;
use slotnet_core::{AsObject, EventLoop, IoRegistration, Object, Ready, Signal};

use crate::error::{SocketError, SocketState};

/// The largest UDP payload over IPv4 (65,535 minus the IP and UDP headers).
pub const MAX_DATAGRAM_SIZE: usize = 65_507;

struct Io {
    socket: mio::net::UdpSocket,
    reg: IoRegistration,
}

struct UdpCore {
    obj: Object,
    io: RefCell<Option<Io>>,
    state: Cell<SocketState>,
    peer: Cell<Option<SocketAddr>>,
    error: Cell<Option<SocketError>>,
    error_string: RefCell<String>,
    /// A `ready_read` emission is running (Qt does not emit it recursively).
    in_ready_read: Cell<bool>,
    /// Datagrams read by the user since the last `ready_read` began.
    reads: Cell<u64>,
    recheck_posted: Cell<bool>,
    ready_read: Signal<()>,
    error_occurred: Signal<SocketError>,
    state_changed: Signal<SocketState>,
}

impl Drop for UdpCore {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.get_mut().take() {
            let _ = io.reg.deregister(&mut io.socket);
        }
    }
}

/// A UDP socket on the event loop (Qt's `QUdpSocket`).
///
/// A `Copy` handle to an [`Object`]; destroying the object closes the socket. Bind it
/// ([`UdpSocket::bind`]) to receive; [`UdpSocket::write_datagram`] binds an unbound socket to
/// an ephemeral port first, as Qt does. [`UdpSocket::connect_to_addr`] fixes the peer: then
/// [`UdpSocket::write`] sends to it, only its datagrams are received, and the ICMP errors
/// the kernel reports for it (a closed port) surface as `ConnectionRefusedError`.
///
/// ```
/// use slotnet_core::EventLoop;
/// use slotnet_net::UdpSocket;
/// use std::net::Ipv4Addr;
///
/// let receiver = UdpSocket::new();
/// assert!(receiver.bind(Ipv4Addr::LOCALHOST.into(), 0));
/// receiver.ready_read().connect(move |_| {
///     let mut buf = [0u8; 64];
///     while let Some((n, from)) = receiver.read_datagram(&mut buf) {
///         assert_eq!(&buf[..n], b"hello");
///         assert!(from.ip().is_loopback());
///         EventLoop::current().quit();
///     }
/// });
/// let sender = UdpSocket::new();
/// sender.write_datagram(b"hello", receiver.local_socket_addr().unwrap());
/// EventLoop::current().exec();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpSocket {
    obj: Object,
}

impl AsObject for UdpSocket {
    fn as_object(&self) -> Object {
        self.obj
    }
}

impl Default for UdpSocket {
    fn default() -> Self {
        UdpSocket::new()
    }
}

impl UdpSocket {
    /// A new unbound socket.
    pub fn new() -> UdpSocket {
        UdpSocket::create(None)
    }

    /// A new unbound socket owned by `parent`.
    pub fn with_parent<P: AsObject>(parent: &P) -> UdpSocket {
        UdpSocket::create(Some(parent.as_object()))
    }

    fn create(parent: Option<Object>) -> UdpSocket {
        let obj = Object::with_data(Rc::new(()), parent);
        let core = Rc::new(UdpCore {
            obj,
            io: RefCell::new(None),
            state: Cell::new(SocketState::Unconnected),
            peer: Cell::new(None),
            error: Cell::new(None),
            error_string: RefCell::new(String::new()),
            in_ready_read: Cell::new(false),
            reads: Cell::new(0),
            recheck_posted: Cell::new(false),
            ready_read: obj.new_signal(),
            error_occurred: obj.new_signal(),
            state_changed: obj.new_signal(),
        });
        // Cannot fail: the object was just created.
        let _ = obj.set_data(core);
        UdpSocket { obj }
    }

    fn core(&self) -> Option<Rc<UdpCore>> {
        self.obj.data::<UdpCore>()
    }

    /// The object behind this handle.
    pub fn object(&self) -> Object {
        self.obj
    }

    /// Binds to `address` and `port` (0: an ephemeral port) and starts watching for
    /// datagrams: the state becomes `Bound`. Returns false (with the error set and
    /// `error_occurred` emitted) when the address is taken or not local, or the socket is
    /// bound already.
    pub fn bind(&self, address: IpAddr, port: u16) -> bool {
        self.bind_addr(SocketAddr::new(address, port))
    }

    /// [`UdpSocket::bind`] with a socket address.
    pub fn bind_addr(&self, addr: SocketAddr) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if core.io.borrow().is_some() {
            core.report(
                SocketError::OperationError,
                "the socket is already bound".into(),
            );
            return false;
        }
        match core.open(addr) {
            Ok(()) => {
                core.set_state(SocketState::Bound);
                true
            }
            Err(e) => {
                core.report(SocketError::from_io(&e), e.to_string());
                false
            }
        }
    }

    /// Fixes the peer (Qt's `connectToHost` on a UDP socket, with an address): binds an
    /// ephemeral port first if needed, then only `peer`'s datagrams are received and
    /// [`UdpSocket::write`] sends to it. The state becomes `Connected` and
    /// `state_changed(Connected)` is emitted; no handshake happens (UDP has none).
    pub fn connect_to_addr(&self, peer: SocketAddr) -> bool {
        let Some(core) = self.core() else {
            return false;
        };
        if core.io.borrow().is_none() {
            let any = unspecified_for(peer);
            if let Err(e) = core.open(any) {
                core.report(SocketError::from_io(&e), e.to_string());
                return false;
            }
        }
        let result = match core.io.borrow().as_ref() {
            Some(io) => io.socket.connect(peer),
            None => Err(io::Error::other("the socket is closed")),
        };
        match result {
            Ok(()) => {
                core.peer.set(Some(peer));
                core.set_state(SocketState::Connected);
                true
            }
            Err(e) => {
                core.report(SocketError::from_io(&e), e.to_string());
                false
            }
        }
    }

    /// Closes the socket: the state becomes `Unconnected` (`state_changed` is emitted if it
    /// was not). The handle may be bound again.
    pub fn close(&self) {
        if let Some(core) = self.core() {
            if let Some(mut io) = core.io.borrow_mut().take() {
                let _ = io.reg.deregister(&mut io.socket);
            }
            core.peer.set(None);
            core.set_state(SocketState::Unconnected);
        }
    }

    /// The socket's state: `Unconnected`, `Bound` or `Connected`.
    pub fn state(&self) -> SocketState {
        self.core()
            .map_or(SocketState::Unconnected, |c| c.state.get())
    }

    /// The bound address and port.
    pub fn local_socket_addr(&self) -> Option<SocketAddr> {
        let core = self.core()?;
        let io = core.io.borrow();
        io.as_ref().and_then(|io| io.socket.local_addr().ok())
    }

    /// The bound address.
    pub fn local_address(&self) -> Option<IpAddr> {
        self.local_socket_addr().map(|a| a.ip())
    }

    /// The bound port (0 when unbound).
    pub fn local_port(&self) -> u16 {
        self.local_socket_addr().map_or(0, |a| a.port())
    }

    /// The peer set by [`UdpSocket::connect_to_addr`].
    pub fn peer_socket_addr(&self) -> Option<SocketAddr> {
        self.core().and_then(|c| c.peer.get())
    }

    /// Emitted when datagrams have arrived (see the module docs for when it repeats).
    pub fn ready_read(&self) -> Signal<()> {
        self.core()
            .map_or_else(Signal::closed, |c| c.ready_read.clone())
    }

    /// Emitted with the error code when an operation fails.
    pub fn error_occurred(&self) -> Signal<SocketError> {
        self.core()
            .map_or_else(Signal::closed, |c| c.error_occurred.clone())
    }

    /// Emitted when the state changes.
    pub fn state_changed(&self) -> Signal<SocketState> {
        self.core()
            .map_or_else(Signal::closed, |c| c.state_changed.clone())
    }

    /// The last error (`None` before any).
    pub fn error(&self) -> Option<SocketError> {
        self.core().and_then(|c| c.error.get())
    }

    /// The last error's text.
    pub fn error_string(&self) -> String {
        let Some(core) = self.core() else {
            return String::new();
        };
        let text = core.error_string.borrow();
        match core.error.get() {
            None => String::new(),
            Some(code) if text.is_empty() => code.description().to_owned(),
            Some(_) => text.clone(),
        }
    }

    /// Whether at least one datagram is waiting to be read.
    pub fn has_pending_datagrams(&self) -> bool {
        self.pending_datagram_size().is_some()
    }

    /// The size of the next waiting datagram (`None`: none is waiting; Qt returns -1).
    /// An empty datagram has size 0.
    pub fn pending_datagram_size(&self) -> Option<usize> {
        let core = self.core()?;
        let io = core.io.borrow();
        let io = io.as_ref()?;
        peek_size(&io.socket).ok().flatten()
    }

    /// Reads the next datagram into `buf`: its length and sender, or `None` when none is
    /// waiting or reading failed (then the error is set and `error_occurred` emitted; a
    /// refused earlier datagram of a connected socket is `ConnectionRefusedError`). A
    /// datagram longer than `buf` is cut to its length, the rest discarded, as in Qt.
    pub fn read_datagram(&self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let core = self.core()?;
        let result = {
            let io = core.io.borrow();
            let io = io.as_ref()?;
            io.socket.recv_from(buf)
        };
        match result {
            Ok(got) => {
                core.reads.set(core.reads.get() + 1);
                Some(got)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.read_datagram(buf),
            Err(e) => {
                core.report(SocketError::from_io(&e), e.to_string());
                None
            }
        }
    }

    /// Reads the next datagram whole (Qt's `receiveDatagram`): its bytes and sender.
    pub fn receive_datagram(&self) -> Option<(Vec<u8>, SocketAddr)> {
        let size = self.pending_datagram_size()?;
        let mut data = vec![0u8; size];
        let (n, from) = self.read_datagram(&mut data)?;
        data.truncate(n);
        Some((data, from))
    }

    /// Sends `data` as one datagram to `to`: the number of bytes sent, or `None` with the
    /// error set and `error_occurred` emitted (`DatagramTooLargeError` over the system's
    /// limit, `ConnectionRefusedError` when an earlier datagram of a connected socket was
    /// refused). An unbound socket is bound to an ephemeral port first. A full kernel buffer
    /// is `TemporaryError` without a signal, as in Qt (UDP does not queue: try again later).
    pub fn write_datagram(&self, data: &[u8], to: SocketAddr) -> Option<usize> {
        let core = self.core()?;
        if core.io.borrow().is_none() {
            if let Err(e) = core.open(unspecified_for(to)) {
                core.report(SocketError::from_io(&e), e.to_string());
                return None;
            }
            core.set_state(SocketState::Bound);
        }
        let result = {
            let io = core.io.borrow();
            let io = io.as_ref()?;
            if core.peer.get().is_some() {
                io.socket.send(data)
            } else {
                io.socket.send_to(data, to)
            }
        };
        core.after_send(result)
    }

    /// Sends `data` to the peer of a connected socket ([`UdpSocket::connect_to_addr`]);
    /// `None` with `OperationError` when it is not connected.
    pub fn write(&self, data: &[u8]) -> Option<usize> {
        let core = self.core()?;
        let Some(peer) = core.peer.get() else {
            core.report(
                SocketError::OperationError,
                "the UDP socket is not connected".into(),
            );
            return None;
        };
        self.write_datagram(data, peer)
    }

    /// Reads up to `out.len()` datagrams with one system call (`recvmmsg` on Linux, a loop of
    /// reads elsewhere): each buffer gets one datagram (cut to its length), and `out[i]`
    /// its length and sender. Returns how many were read (0: none waiting, or an error,
    /// which is set and emitted). For protocol engines that drain the socket (QUIC).
    pub fn read_datagrams(&self, bufs: &mut [&mut [u8]], out: &mut [(usize, SocketAddr)]) -> usize {
        let Some(core) = self.core() else {
            return 0;
        };
        let result = {
            let io = core.io.borrow();
            let Some(io) = io.as_ref() else {
                return 0;
            };
            batch::recv_many(&io.socket, bufs, out)
        };
        match result {
            Ok(n) => {
                core.reads.set(core.reads.get() + n as u64);
                n
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                core.report(SocketError::from_io(&e), e.to_string());
                0
            }
        }
    }
}

/// The unspecified address of `peer`'s family (binding for a first send).
fn unspecified_for(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
        SocketAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
    }
}

/// The size of the next datagram without taking it: `MSG_PEEK | MSG_TRUNC` returns the full
/// length on Linux; elsewhere a peek into a buffer of the largest size.
fn peek_size(socket: &mio::net::UdpSocket) -> io::Result<Option<usize>> {
    #[cfg(target_os = "linux")]
    {
        let mut byte = 0u8;
        loop {
            // SAFETY: a valid one-byte buffer; MSG_TRUNC makes recv report the datagram's
            // real length while writing at most one byte.
            let n = unsafe {
                libc::recv(
                    socket.as_raw_fd(),
                    (&mut byte as *mut u8).cast(),
                    1,
                    libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(err),
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut buf = vec![0u8; MAX_DATAGRAM_SIZE];
        match socket.peek_from(&mut buf) {
            Ok((n, _)) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl UdpCore {
    fn get(obj: Object) -> Option<Rc<UdpCore>> {
        obj.data::<UdpCore>()
    }

    /// Opens a socket bound to `addr` and registers it with the loop.
    fn open(&self, addr: SocketAddr) -> io::Result<()> {
        let mut socket = mio::net::UdpSocket::bind(addr)?;
        let obj = self.obj;
        let reg = EventLoop::current().register_io(
            &mut socket,
            Interest::READABLE,
            Some(obj),
            move |ready| {
                if let Some(core) = UdpCore::get(obj) {
                    core.on_ready(ready);
                }
            },
        )?;
        *self.io.borrow_mut() = Some(Io { socket, reg });
        Ok(())
    }

    fn set_state(&self, state: SocketState) {
        if self.state.replace(state) != state {
            self.state_changed.emit(state);
        }
    }

    fn report(&self, code: SocketError, message: String) {
        self.error.set(Some(code));
        *self.error_string.borrow_mut() = message;
        self.error_occurred.emit(code);
    }

    fn after_send(&self, result: io::Result<usize>) -> Option<usize> {
        match result {
            Ok(n) => Some(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.error.set(Some(SocketError::TemporaryError));
                *self.error_string.borrow_mut() = e.to_string();
                None
            }
            Err(e) => {
                self.report(SocketError::from_io(&e), e.to_string());
                None
            }
        }
    }

    fn on_ready(&self, ready: Ready) {
        if ready.is_error() {
            // An ICMP error for a connected socket (port unreachable): SO_ERROR holds it.
            let err = {
                let io = self.io.borrow();
                io.as_ref()
                    .and_then(|io| io.socket.take_error().ok().flatten())
            };
            if let Some(e) = err {
                self.report(SocketError::from_io(&e), e.to_string());
                if !self.obj.is_alive() {
                    return;
                }
            }
        }
        if ready.is_readable() {
            self.emit_ready_read();
        }
    }

    /// Emits `ready_read` (not recursively); if the slot read datagrams and more wait, a
    /// re-check is posted, since the kernel gives no new edge for datagrams already queued.
    fn emit_ready_read(&self) {
        if self.in_ready_read.get() {
            return;
        }
        self.in_ready_read.set(true);
        self.reads.set(0);
        self.ready_read.emit(());
        self.in_ready_read.set(false);
        if self.reads.get() == 0 || !self.obj.is_alive() || self.recheck_posted.get() {
            return;
        }
        let waiting = {
            let io = self.io.borrow();
            io.as_ref()
                .is_some_and(|io| matches!(peek_size(&io.socket), Ok(Some(_))))
        };
        if waiting {
            self.recheck_posted.set(true);
            let obj = self.obj;
            EventLoop::current().post(move || {
                if let Some(core) = UdpCore::get(obj) {
                    core.recheck_posted.set(false);
                    core.emit_ready_read();
                }
            });
        }
    }
}

/// Reading several datagrams per system call.
mod batch {
    use std::io;
    use std::net::SocketAddr;

    /// Reads up to `min(bufs.len(), out.len())` datagrams with one `recvmmsg`.
    #[cfg(target_os = "linux")]
    pub(super) fn recv_many(
        socket: &mio::net::UdpSocket,
        bufs: &mut [&mut [u8]],
        out: &mut [(usize, SocketAddr)],
    ) -> io::Result<usize> {
        use std::mem::MaybeUninit;
        use std::os::fd::AsRawFd;

        const MAX_BATCH: usize = 32;
        let count = bufs.len().min(out.len()).min(MAX_BATCH);
        if count == 0 {
            return Ok(0);
        }
        // SAFETY: all-zero is a valid value for these plain C structs.
        let mut addrs: [libc::sockaddr_storage; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [MaybeUninit<libc::iovec>; MAX_BATCH] =
            [const { MaybeUninit::uninit() }; MAX_BATCH];
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..count {
            iovs[i].write(libc::iovec {
                iov_base: bufs[i].as_mut_ptr().cast(),
                iov_len: bufs[i].len(),
            });
            let hdr = &mut msgs[i].msg_hdr;
            hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_iov = iovs[i].as_mut_ptr();
            hdr.msg_iovlen = 1;
        }
        let n = loop {
            // SAFETY: `msgs[..count]` point at live iovecs over the caller's buffers and at
            // live address storage; the kernel writes within those lengths.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    count as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                break n as usize;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        };
        for i in 0..n {
            let len = (msgs[i].msg_len as usize).min(bufs[i].len());
            let Some(from) = sockaddr_to_std(&addrs[i]) else {
                return Err(io::Error::other("recvmmsg: unknown address family"));
            };
            out[i] = (len, from);
        }
        Ok(n)
    }

    #[cfg(target_os = "linux")]
    fn sockaddr_to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
        match storage.ss_family as libc::c_int {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let a = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(
                    SocketAddrV6::new(
                        ip,
                        u16::from_be(a.sin6_port),
                        a.sin6_flowinfo,
                        a.sin6_scope_id,
                    )
                    .into(),
                )
            }
            _ => None,
        }
    }

    /// One read per datagram where `recvmmsg` is not available.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn recv_many(
        socket: &mio::net::UdpSocket,
        bufs: &mut [&mut [u8]],
        out: &mut [(usize, SocketAddr)],
    ) -> io::Result<usize> {
        let mut n = 0;
        while n < bufs.len().min(out.len()) {
            match socket.recv_from(bufs[n]) {
                Ok(got) => {
                    out[n] = got;
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}
