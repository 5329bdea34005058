//! Replies for `data:` and `file:` URLs: no network, same signals as HTTP.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read};
use std::rc::{Rc, Weak};

use slotnet_core::AsObject;

use bytes::Bytes;
use url::Url;

use crate::error::NetworkError;
use crate::reply::{NetworkReply, Operation, ReplyBackend};
use crate::response_headers::ResponseHeaders;

/// Size of the pieces a file is read in, one per loop iteration, so a large file neither
/// blocks the loop for long nor ends up in memory at once.
const FILE_PIECE: usize = 256 * 1024;

/// A decoded `data:` URL (RFC 2397).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DataUrl {
    pub media_type: String,
    pub data: Vec<u8>,
}

/// WHATWG's percent-decode: `%` followed by two hex digits is a byte, anything else stays.
fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// Base64 as data: URLs carry it: ASCII whitespace ignored, padding optional (WHATWG's
/// forgiving-base64), and the URL-safe alphabet accepted too, as Qt's `fromBase64` does.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
    use base64::engine::DecodePaddingMode;
    use base64::Engine as _;
    const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const FORGIVING: GeneralPurpose = GeneralPurpose::new(&STANDARD, CONFIG);
    const FORGIVING_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&URL_SAFE, CONFIG);
    let clean: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    FORGIVING
        .decode(&clean)
        .or_else(|_| FORGIVING_URL_SAFE.decode(&clean))
        .ok()
}

/// Decodes a `data:` URL; `None` if it is malformed.
pub(crate) fn decode_data_url(url: &Url) -> Option<DataUrl> {
    let rest = url.as_str().strip_prefix("data:")?;
    let (meta, payload) = rest.split_once(',')?;
    let (meta, is_base64) = match meta.strip_suffix(";base64") {
        Some(m) => (m, true),
        None => (meta, false),
    };
    let raw = percent_decode(payload);
    let data = if is_base64 { base64_decode(&raw)? } else { raw };
    let media_type = if meta.is_empty() {
        "text/plain;charset=US-ASCII".to_owned()
    } else if meta.starts_with(';') {
        format!("text/plain{meta}")
    } else {
        String::from_utf8_lossy(&percent_decode(meta)).into_owned()
    };
    Some(DataUrl { media_type, data })
}

struct LocalBackend {
    me: Weak<LocalBackend>,
    aborted: Cell<bool>,
    file: RefCell<Option<File>>,
    reply: NetworkReply,
    pumping: Cell<bool>,
}

impl ReplyBackend for LocalBackend {
    fn abort(&self) {
        self.aborted.set(true);
        self.file.borrow_mut().take();
    }
    fn resume_reading(&self) {
        self.schedule_pump();
    }
}

impl LocalBackend {
    fn schedule_pump(&self) {
        let Some(me) = self.me.upgrade() else {
            return;
        };
        if self.pumping.replace(true) {
            return;
        }
        self.reply.as_object().invoke_later(move || me.pump());
    }

    /// Delivers the next piece of the file, or finishes the reply.
    fn pump(&self) {
        self.pumping.set(false);
        let reply = self.reply;
        if self.aborted.get() || reply.is_finished() || !reply.wants_data() {
            // Not wanted now: resume_reading schedules us again when the buffer drains.
            return;
        }
        let piece = match self.file.borrow_mut().as_mut() {
            None => Ok(Vec::new()),
            Some(f) => {
                let mut buf = vec![0u8; FILE_PIECE.min(reply.buffer_room())];
                f.read(&mut buf).map(|n| {
                    buf.truncate(n);
                    buf
                })
            }
        };
        match piece {
            Ok(buf) if buf.is_empty() => {
                self.file.borrow_mut().take();
                reply.finish(NetworkError::NoError, String::new());
            }
            Ok(buf) => {
                reply.deliver_data(Bytes::from(buf));
                self.schedule_pump();
            }
            Err(e) => {
                self.file.borrow_mut().take();
                reply.finish(
                    NetworkError::ProtocolFailure,
                    format!("Read error reading from {}: {e}", url_display(reply)),
                );
            }
        }
    }
}

fn url_display(reply: NetworkReply) -> String {
    reply.url().map(|u| u.to_string()).unwrap_or_default()
}

use crate::manager::fail_later;

/// Starts a `data:` reply: metadata, body and finish on the next iterations.
pub(crate) fn start_data(reply: NetworkReply, url: &Url, operation: Operation) {
    let Some(decoded) = decode_data_url(url) else {
        fail_later(
            reply,
            NetworkError::ProtocolFailure,
            format!("Invalid URI: {url}"),
        );
        return;
    };
    if !matches!(
        operation,
        Operation::GetOperation | Operation::HeadOperation
    ) {
        fail_later(
            reply,
            NetworkError::ProtocolInvalidOperationError,
            "Operation not supported on data URLs".into(),
        );
        return;
    }
    reply.as_object().invoke_later(move || {
        if reply.is_finished() {
            return; // aborted before its turn
        }
        let len = decoded.data.len() as u64;
        let headers = ResponseHeaders::from_pairs([
            ("Content-Type", decoded.media_type.as_str()),
            ("Content-Length", &len.to_string()),
        ]);
        reply.deliver_head(200, "OK", headers, Some(len), None);
        if operation == Operation::GetOperation {
            reply.deliver_data(Bytes::from(decoded.data));
        }
        reply.finish(NetworkError::NoError, String::new());
    });
}

/// Starts a `file:` reply (GET or HEAD): the file is read in pieces from the loop.
pub(crate) fn start_file(reply: NetworkReply, url: &Url, operation: Operation) {
    if !matches!(
        operation,
        Operation::GetOperation | Operation::HeadOperation
    ) {
        fail_later(
            reply,
            NetworkError::ProtocolInvalidOperationError,
            format!("Operation not supported on {url}"),
        );
        return;
    }
    let Ok(path) = url.to_file_path() else {
        fail_later(
            reply,
            NetworkError::ProtocolInvalidOperationError,
            format!("Request for opening non-local file {url}"),
        );
        return;
    };
    let opened = File::open(&path).and_then(|f| {
        let meta = f.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        Ok((f, meta.len()))
    });
    let (file, len) = match opened {
        Ok(x) => x,
        Err(e) => {
            let error = match e.kind() {
                io::ErrorKind::NotFound => NetworkError::ContentNotFoundError,
                io::ErrorKind::PermissionDenied => NetworkError::ContentAccessDenied,
                io::ErrorKind::IsADirectory => NetworkError::ContentOperationNotPermittedError,
                _ => NetworkError::ProtocolFailure,
            };
            let message = if error == NetworkError::ContentOperationNotPermittedError {
                format!("Cannot open {url}: Path is a directory")
            } else {
                format!("Error opening {url}: {e}")
            };
            fail_later(reply, error, message);
            return;
        }
    };
    let backend = Rc::new_cyclic(|me| LocalBackend {
        me: me.clone(),
        aborted: Cell::new(false),
        file: RefCell::new((operation == Operation::GetOperation).then_some(file)),
        reply,
        pumping: Cell::new(true),
    });
    reply.set_backend(Some(backend.clone()));
    reply.as_object().invoke_later(move || {
        if reply.is_finished() {
            return;
        }
        let headers = ResponseHeaders::from_pairs([("Content-Length", &*len.to_string())]);
        reply.deliver_head(200, "OK", headers, Some(len), None);
        backend.pump();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_decode() {
        let u = |s: &str| decode_data_url(&Url::parse(s).unwrap());
        assert_eq!(
            u("data:,A%20brief%20note").unwrap(),
            DataUrl {
                media_type: "text/plain;charset=US-ASCII".into(),
                data: b"A brief note".to_vec()
            }
        );
        let d = u("data:text/html;base64,PGI+aGk8L2I+").unwrap();
        assert_eq!(d.media_type, "text/html");
        assert_eq!(d.data, b"<b>hi</b>");
        assert_eq!(
            u("data:;charset=utf-8,x").unwrap().media_type,
            "text/plain;charset=utf-8"
        );
        assert!(u("data:text/plain;base64,@@@@").is_none());
        assert!(u("data:no-comma").is_none());
    }

    #[test]
    fn a_percent_sign_before_a_signed_number_stays_literal() {
        // `u8::from_str_radix` accepts a leading `+`: `%+1` used to decode to byte 0x01.
        // WHATWG's percent-decode (and Qt) keep `%` not followed by two hex digits.
        let u = |s: &str| decode_data_url(&Url::parse(s).unwrap());
        assert_eq!(u("data:,%+1x").unwrap().data, b"%+1x");
        assert_eq!(u("data:,%-1%+f%41").unwrap().data, b"%-1%+fA");
    }

    #[test]
    fn base64_variants() {
        assert_eq!(base64_decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode(b"aGVs bG8h").unwrap(), b"hello!");
        assert!(base64_decode(b"a").is_none());
    }
}
