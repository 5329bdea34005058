//! [`HttpServerResponse`]: a complete response built before it is sent.

use std::cell::OnceCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::mime::mime_type_for_path;
use super::pacing::ReaderWaker;

/// The body of an [`HttpServerResponse`].
pub enum ResponseBody {
    /// Bytes in memory.
    Bytes(Bytes),
    /// `len` bytes of an open file starting at `offset`, read in pieces as the client takes
    /// them (a large file never sits in memory).
    File {
        /// The open file.
        file: File,
        /// Where the body starts in the file.
        offset: u64,
        /// How many bytes are sent.
        len: u64,
    },
    /// Bytes pulled from a reader as the client takes them: exactly `len` bytes
    /// (`Content-Length`), or until the reader's end when `len` is `None` (chunked, one chunk
    /// per `read`). The reader runs on the loop's thread: it must not block. A reader with
    /// nothing to give yet returns [`ErrorKind::WouldBlock`](io::ErrorKind::WouldBlock): the
    /// server waits, without polling, until the response's
    /// [`reader_waker`](HttpServerResponse::reader_waker) is woken, then reads again. Any
    /// other error ends the body (see [`HttpServerResponder::send_response`]).
    ///
    /// [`HttpServerResponder::send_response`]: super::HttpServerResponder::send_response
    Reader {
        /// The source.
        reader: Box<dyn Read>,
        /// The exact length, if known.
        len: Option<u64>,
    },
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResponseBody::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            ResponseBody::File { offset, len, .. } => f
                .debug_struct("File")
                .field("offset", offset)
                .field("len", len)
                .finish(),
            ResponseBody::Reader { len, .. } => f.debug_struct("Reader").field("len", len).finish(),
        }
    }
}

impl ResponseBody {
    /// The body's length in bytes, if known in advance.
    pub fn len(&self) -> Option<u64> {
        match self {
            ResponseBody::Bytes(b) => Some(b.len() as u64),
            ResponseBody::File { len, .. } => Some(*len),
            ResponseBody::Reader { len, .. } => *len,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// A response built in full before it is sent (Qt's `QHttpServerResponse`), sent with
/// [`HttpServerResponder::send_response`](super::HttpServerResponder::send_response).
///
/// ```
/// use slotnet_http::server::HttpServerResponse;
/// use http::StatusCode;
///
/// let mut response = HttpServerResponse::json(r#"{"ok":true}"#);
/// response.set_header("x-request-id", "42");
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
#[derive(Debug)]
pub struct HttpServerResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: ResponseBody,
    /// Wakes a reader body that returned `WouldBlock` (made when first asked for).
    reader_waker: OnceCell<ReaderWaker>,
}

impl HttpServerResponse {
    /// A response with `status`, no header fields and an empty body.
    pub fn new(status: StatusCode) -> Self {
        HttpServerResponse {
            status,
            headers: HeaderMap::new(),
            body: ResponseBody::Bytes(Bytes::new()),
            reader_waker: OnceCell::new(),
        }
    }

    /// A response with `status` and `body` of type `mime_type`.
    pub fn with_body(status: StatusCode, mime_type: &str, body: impl Into<Bytes>) -> Self {
        let mut response = HttpServerResponse::new(status);
        response.set_header(CONTENT_TYPE, mime_type);
        response.body = ResponseBody::Bytes(body.into());
        response
    }

    /// A 200 response with a `text/plain; charset=utf-8` body.
    pub fn text(body: impl Into<String>) -> Self {
        Self::with_body(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            Bytes::from(body.into()),
        )
    }

    /// A 200 response whose body is `json`, an already serialised JSON document, with
    /// `Content-Type: application/json`.
    pub fn json(json: impl Into<String>) -> Self {
        Self::with_body(StatusCode::OK, "application/json", Bytes::from(json.into()))
    }

    /// A 200 response with the content of the file at `path`, its `Content-Type` guessed from
    /// the extension. As Qt's `fromFile`, a file that cannot be opened gives a 404 response.
    /// The file is read while it is sent, not here.
    pub fn from_file(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        match Self::try_from_file(path) {
            Ok(response) => response,
            Err(_) => HttpServerResponse::new(StatusCode::NOT_FOUND),
        }
    }

    /// Like [`HttpServerResponse::from_file`], reporting why the file cannot be served (it
    /// is missing, unreadable, or not a regular file).
    pub fn try_from_file(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        let mut response = Self::from_file_part(file, 0, meta.len());
        response.set_header(CONTENT_TYPE, mime_type_for_path(path));
        Ok(response)
    }

    /// A 200 response sending `len` bytes of `file` from `offset` (set the status to 206 and
    /// add `Content-Range` for a range request). No `Content-Type` is set.
    pub fn from_file_part(file: File, offset: u64, len: u64) -> Self {
        HttpServerResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: ResponseBody::File { file, offset, len },
            reader_waker: OnceCell::new(),
        }
    }

    /// A response with `status` whose body is pulled from `reader` while it is sent (see
    /// [`ResponseBody::Reader`]); `len` is its exact length if known.
    ///
    /// The reader may be fed by another thread: it returns `WouldBlock` while it has nothing,
    /// and the producer calls [`reader_waker`](Self::reader_waker)`().wake()` after each
    /// piece (and after the end). Where Qt's `write(QIODevice *)` needs a device that is
    /// already complete or signals `readyRead` on the server's thread, this takes any
    /// producer.
    ///
    /// ```
    /// use http::StatusCode;
    /// use slotnet_http::server::HttpServerResponse;
    /// use std::io::{self, Read};
    /// use std::sync::mpsc::{channel, Receiver, TryRecvError};
    ///
    /// /// Reads what another thread sends; `WouldBlock` while nothing is there yet.
    /// struct ChannelReader(Receiver<Vec<u8>>, Vec<u8>);
    ///
    /// impl Read for ChannelReader {
    ///     fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    ///         if self.1.is_empty() {
    ///             self.1 = match self.0.try_recv() {
    ///                 Ok(piece) => piece,
    ///                 Err(TryRecvError::Empty) => return Err(io::ErrorKind::WouldBlock.into()),
    ///                 Err(TryRecvError::Disconnected) => return Ok(0), // the end
    ///             };
    ///         }
    ///         let n = buf.len().min(self.1.len());
    ///         buf[..n].copy_from_slice(&self.1[..n]);
    ///         self.1.drain(..n);
    ///         Ok(n)
    ///     }
    /// }
    ///
    /// let (tx, rx) = channel();
    /// let response = HttpServerResponse::from_reader(
    ///     StatusCode::OK, "text/plain", ChannelReader(rx, Vec::new()), None);
    /// let waker = response.reader_waker().expect("a reader body");
    /// std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         // A send error means the client went away: the server dropped the reader.
    ///         if tx.send(format!("line {i}\n").into_bytes()).is_err() {
    ///             break;
    ///         }
    ///         waker.wake();
    ///     }
    ///     drop(tx); // the end of the body...
    ///     waker.wake(); // ...is news too
    /// });
    /// // responder.send_response(response);
    /// ```
    pub fn from_reader<R: Read + 'static>(
        status: StatusCode,
        mime_type: &str,
        reader: R,
        len: Option<u64>,
    ) -> Self {
        let mut response = HttpServerResponse::new(status);
        response.set_header(CONTENT_TYPE, mime_type);
        response.body = ResponseBody::Reader {
            reader: Box::new(reader),
            len,
        };
        response
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Changes the status code.
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header fields, to change them.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// Sets header `name` to `value`, replacing earlier values. A value that is not a valid
    /// header value (control characters) is ignored; returns whether it was set.
    pub fn set_header<N, V>(&mut self, name: N, value: V) -> bool
    where
        N: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
                true
            }
            _ => false,
        }
    }

    /// Adds a value for header `name`, keeping earlier ones (e.g. several `Set-Cookie`).
    pub fn add_header<N, V>(&mut self, name: N, value: V) -> bool
    where
        N: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
                true
            }
            _ => false,
        }
    }

    /// The waker of a reader body (`None` for other bodies): call
    /// [`wake`](ReaderWaker::wake) on it, from any thread, when a reader that returned
    /// `WouldBlock` has something to give. Every call returns the same waker.
    pub fn reader_waker(&self) -> Option<ReaderWaker> {
        match self.body {
            ResponseBody::Reader { .. } => {
                Some(self.reader_waker.get_or_init(ReaderWaker::new).clone())
            }
            _ => None,
        }
    }

    /// The body.
    pub fn body(&self) -> &ResponseBody {
        &self.body
    }

    /// The body bytes, for a body in memory (`None` for a file).
    pub fn data(&self) -> Option<&Bytes> {
        match &self.body {
            ResponseBody::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Replaces the body (the `Content-Type` is left as it is).
    pub fn set_body(&mut self, body: ResponseBody) {
        self.body = body;
    }

    /// The `Content-Type`, if set.
    pub fn mime_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// The parts, with the reader body's waker (made now if nobody asked for it).
    pub(crate) fn into_parts(self) -> (StatusCode, HeaderMap, ResponseBody, ReaderWaker) {
        let waker = self.reader_waker.into_inner().unwrap_or_default();
        (self.status, self.headers, self.body, waker)
    }
}

impl From<StatusCode> for HttpServerResponse {
    fn from(status: StatusCode) -> Self {
        HttpServerResponse::new(status)
    }
}
