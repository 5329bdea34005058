//! Request bodies: none, bytes, or a reader streamed in pieces.

use std::fmt;
use std::io::{self, Read};

use bytes::Bytes;

/// The body sent with a request.
#[derive(Default)]
pub enum RequestBody {
    /// No body.
    #[default]
    Empty,
    /// A body held in memory (it can be sent again after a redirect or a 401).
    Bytes(Bytes),
    /// A body read in pieces; `size` is sent as Content-Length when known, otherwise the body
    /// is sent chunked. It cannot be sent again (a 401 then ends in ContentReSendError).
    Reader {
        /// The source.
        reader: Box<dyn Read>,
        /// Its length, if known.
        size: Option<u64>,
    },
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestBody::Empty => f.write_str("Empty"),
            RequestBody::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            RequestBody::Reader { size, .. } => write!(f, "Reader(size: {size:?})"),
        }
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(v: Vec<u8>) -> Self {
        RequestBody::Bytes(v.into())
    }
}
impl From<&'static [u8]> for RequestBody {
    fn from(v: &'static [u8]) -> Self {
        RequestBody::Bytes(Bytes::from_static(v))
    }
}
impl From<&'static str> for RequestBody {
    fn from(v: &'static str) -> Self {
        RequestBody::Bytes(Bytes::from_static(v.as_bytes()))
    }
}
impl From<String> for RequestBody {
    fn from(v: String) -> Self {
        RequestBody::Bytes(v.into())
    }
}
impl From<Bytes> for RequestBody {
    fn from(v: Bytes) -> Self {
        RequestBody::Bytes(v)
    }
}

impl RequestBody {
    /// A body streamed from `reader`, of `size` bytes if known.
    pub fn from_reader<R: Read + 'static>(reader: R, size: Option<u64>) -> Self {
        RequestBody::Reader {
            reader: Box::new(reader),
            size,
        }
    }

    /// Whether there is a body at all.
    pub fn is_empty(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Bytes(b) => b.is_empty(),
            RequestBody::Reader { size, .. } => *size == Some(0),
        }
    }

    /// The length, if known.
    pub fn size(&self) -> Option<u64> {
        match self {
            RequestBody::Empty => Some(0),
            RequestBody::Bytes(b) => Some(b.len() as u64),
            RequestBody::Reader { size, .. } => *size,
        }
    }

    /// Whether the body can be produced again from the start.
    pub fn is_replayable(&self) -> bool {
        !matches!(self, RequestBody::Reader { .. })
    }

    /// A copy for a resend, if replayable.
    pub fn replay(&self) -> Option<RequestBody> {
        match self {
            RequestBody::Empty => Some(RequestBody::Empty),
            RequestBody::Bytes(b) => Some(RequestBody::Bytes(b.clone())),
            RequestBody::Reader { .. } => None,
        }
    }

    /// Reads the next piece (at most `max` bytes); `Ok(None)` at the end.
    pub fn next_piece(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        match self {
            RequestBody::Empty => Ok(None),
            RequestBody::Bytes(b) => {
                if b.is_empty() {
                    return Ok(None);
                }
                let n = b.len().min(max);
                Ok(Some(b.split_to(n)))
            }
            RequestBody::Reader { reader, .. } => {
                let mut buf = vec![0u8; max.min(256 * 1024)];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => return Ok(None),
                        Ok(n) => {
                            buf.truncate(n);
                            return Ok(Some(buf.into()));
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
}
