//! [`RequestData`]: the body of a scheduled request (Qt's `QByteArray` or `QIODevice*`
//! argument), and the writer a response body can be sent to.

use std::fmt;
use std::io::{Read, Write};

use bytes::Bytes;

/// The body of a request: nothing, bytes, or a reader (Qt's source device) read as the
/// connection drains.
///
/// A reader's length is unknown, so its body is sent chunked unless the request header has
/// a `Content-Length` (which the reader must then match).
pub enum RequestData {
    /// No body.
    Empty,
    /// A body held in memory.
    Bytes(Bytes),
    /// A body read from a device, in pieces, while it is sent.
    Device(Box<dyn Read>),
}

impl RequestData {
    /// A body read from `reader` (Qt's `post(path, QIODevice *data)`).
    pub fn device(reader: impl Read + 'static) -> Self {
        RequestData::Device(Box::new(reader))
    }
}

impl fmt::Debug for RequestData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestData::Empty => f.write_str("Empty"),
            RequestData::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            RequestData::Device(_) => f.write_str("Device(..)"),
        }
    }
}

impl From<()> for RequestData {
    fn from(_: ()) -> Self {
        RequestData::Empty
    }
}

impl From<Bytes> for RequestData {
    fn from(b: Bytes) -> Self {
        RequestData::Bytes(b)
    }
}

impl From<Vec<u8>> for RequestData {
    fn from(b: Vec<u8>) -> Self {
        RequestData::Bytes(b.into())
    }
}

impl From<&[u8]> for RequestData {
    fn from(b: &[u8]) -> Self {
        RequestData::Bytes(Bytes::copy_from_slice(b))
    }
}

impl<const N: usize> From<&[u8; N]> for RequestData {
    fn from(b: &[u8; N]) -> Self {
        RequestData::Bytes(Bytes::copy_from_slice(b))
    }
}

impl From<&str> for RequestData {
    fn from(s: &str) -> Self {
        RequestData::Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for RequestData {
    fn from(s: String) -> Self {
        RequestData::Bytes(s.into())
    }
}

/// Where a response body goes instead of `ready_read` (Qt's destination device).
pub type Destination = Box<dyn Write>;
