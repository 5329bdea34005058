//! Serving HTTP/2 connections on the loop: the h2 server handshake and accept loop run as a
//! [`spawn_local`] task per connection; each request goes to a handler that answers with h2's
//! `SendResponse` (typically from a task of its own, with [`send_body`] for flow control).
//!
//! ```no_run
//! use bytes::Bytes;
//! use slotnet_core::EventLoop;
//! use slotnet_http::core::spawn_local;
//! use slotnet_http::h2::server::{send_body, serve_connection};
//! use slotnet_http::h2::Http2Configuration;
//! use slotnet_net::TcpServer;
//! use std::net::Ipv4Addr;
//!
//! let server = TcpServer::new();
//! server.listen(Ipv4Addr::LOCALHOST, 8080);
//! server.new_connection().connect(move |_| {
//!     while let Some(socket) = server.next_pending_connection() {
//!         serve_connection(socket, &Http2Configuration::default(), |_request, mut respond| {
//!             spawn_local(async move {
//!                 let response = http::Response::new(());
//!                 if let Ok(mut body) = respond.send_response(response, false) {
//!                     let _ = send_body(&mut body, Bytes::from_static(b"hello"), true).await;
//!                 }
//!             });
//!         });
//!     }
//! });
//! EventLoop::current().exec();
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::Poll;

use ::h2::server::SendResponse;
use ::h2::{Reason, RecvStream, SendStream};
use bytes::{Bytes, BytesMut};
use http::Request;
use slotnet_net::async_io::SocketIo;
use slotnet_net::AbstractSocket;

use super::io::CheckedIo;
use super::precheck::FramePrecheck;
use super::Http2Configuration;
use crate::server::HttpServerConfiguration;
use slotnet_core::{spawn_local, AbortHandle};

/// Header blocks up to this size are checked for HPACK errors before h2 reads them.
const PRECHECKED_BLOCK: usize = 256 * 1024;

/// Requests from the application to a served connection's task.
#[derive(Default)]
struct Control {
    graceful: Cell<bool>,
    closed: Cell<bool>,
}

/// A connection being served by [`serve_connection`].
#[derive(Clone)]
pub struct ServerConnection {
    task: AbortHandle,
    control: Rc<Control>,
    socket: Rc<dyn AbstractSocket>,
}

impl fmt::Debug for ServerConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConnection")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl ServerConnection {
    /// Sends GOAWAY: streams already received are still served, new ones are refused, and
    /// the connection closes once they are done.
    pub fn graceful_shutdown(&self) {
        self.control.graceful.set(true);
        self.task.wake();
    }

    /// Drops the connection at once (no GOAWAY): the client sees it die.
    pub fn abort(&self) {
        self.control.closed.set(true);
        self.task.abort();
        self.socket.abort();
    }

    /// Whether the connection is over.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// The connection's socket.
    pub fn socket(&self) -> &Rc<dyn AbstractSocket> {
        &self.socket
    }
}

/// Serves HTTP/2 on a connected `socket` (cleartext prior knowledge, or TLS that negotiated
/// "h2"): every request is handed to `handler` with the means to answer it. The client's
/// frames pass the [`precheck`](super::precheck) first, and the rapid-reset guards of
/// [`HttpServerConfiguration`]'s defaults apply (h2's pending-accept and local-error reset
/// limits, and the [`ResetGuard`](super::io::ResetGuard): a client resetting more than 200
/// streams in 10 s gets GOAWAY(ENHANCE_YOUR_CALM)), built exactly as the
/// [`AbstractHttpServer`](crate::server::AbstractHttpServer)'s HTTP/2 connections are. The
/// socket is deleted (`delete_later`) when the connection ends.
pub fn serve_connection<S, H>(
    socket: S,
    config: &Http2Configuration,
    handler: H,
) -> ServerConnection
where
    S: AbstractSocket + 'static,
    H: Fn(Request<RecvStream>, SendResponse<Bytes>) + 'static,
{
    let socket: Rc<dyn AbstractSocket> = Rc::new(socket);
    let control = Rc::new(Control::default());
    let settings = HttpServerConfiguration {
        http2: config.clone(),
        ..HttpServerConfiguration::default()
    };
    let builder = settings.h2_builder();
    let resets = settings.reset_guard();
    let precheck = FramePrecheck::new(config.max_frame_size(), PRECHECKED_BLOCK);
    let (sock, ctl) = (socket.clone(), control.clone());
    let task = spawn_local(async move {
        let (io, verdict) = CheckedIo::new(SocketIo::new(sock.clone()), precheck, resets);
        if let Ok(mut conn) = builder.handshake::<CheckedIo, Bytes>(io).await {
            let mut shutting_down = false;
            poll_fn(|cx| loop {
                if let Some(reason) = verdict.take() {
                    conn.abrupt_shutdown(reason);
                }
                if ctl.graceful.get() && !shutting_down {
                    shutting_down = true;
                    conn.graceful_shutdown();
                }
                match conn.poll_accept(cx) {
                    // Read in the same bytes as a reset past the limit: refused.
                    Poll::Ready(Some(Ok((_, mut respond)))) if verdict.get().is_some() => {
                        respond.send_reset(Reason::REFUSED_STREAM);
                    }
                    Poll::Ready(Some(Ok((request, respond)))) => handler(request, respond),
                    Poll::Ready(Some(Err(_))) | Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            })
            .await;
        }
        ctl.closed.set(true);
        sock.disconnect_from_host();
        sock.as_object().delete_later();
    })
    .abort_handle();
    ServerConnection {
        task,
        control,
        socket,
    }
}

/// Sends `data` on `stream` as the peer's flow-control window allows (never buffering more
/// than the window in h2), with END_STREAM on the last frame when `end_of_stream`.
pub async fn send_body(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    end_of_stream: bool,
) -> Result<(), ::h2::Error> {
    if data.is_empty() {
        if end_of_stream {
            stream.send_data(Bytes::new(), true)?;
        }
        return Ok(());
    }
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let capacity = poll_fn(|cx| {
            if stream.capacity() > 0 {
                return Poll::Ready(Ok(stream.capacity()));
            }
            match stream.poll_capacity(cx) {
                Poll::Ready(Some(Ok(_))) => Poll::Ready(Ok(stream.capacity())),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Err(e)),
                Poll::Ready(None) => Poll::Ready(Err(::h2::Error::from(Reason::STREAM_CLOSED))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
        if capacity == 0 {
            continue;
        }
        let chunk = data.split_to(capacity.min(data.len()));
        stream.send_data(chunk, end_of_stream && data.is_empty())?;
    }
    Ok(())
}

/// Reads a whole request (or response) body, releasing flow-control capacity as it goes.
/// Fails with `InvalidData` past `limit` bytes.
pub async fn read_body(body: &mut RecvStream, limit: usize) -> io::Result<Bytes> {
    let mut out = BytesMut::new();
    while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
        let chunk = chunk.map_err(io::Error::other)?;
        let _ = body.flow_control().release_capacity(chunk.len());
        if out.len() + chunk.len() > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the body is larger than the limit",
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
