//! The reply's status and headers as the `http` crate's types, for code that already speaks
//! them (hyper, reqwest, axum). Built on demand from the reply's own fields, which stay the
//! fast path ([`NetworkReply::raw_header`], [`NetworkReply::status_code`]).

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use super::NetworkReply;

impl NetworkReply {
    /// The HTTP status as an [`http::StatusCode`], if a response arrived (the same number as
    /// [`status_code`](Self::status_code)).
    pub fn status(&self) -> Option<StatusCode> {
        self.status_code()
            .and_then(|code| StatusCode::from_u16(code).ok())
    }

    /// The response headers as an [`http::HeaderMap`], every field as received (repeated
    /// fields stay separate values, unlike [`raw_header`](Self::raw_header), which joins them
    /// as Qt does). Built anew at each call; a field whose name or value `http` rejects (a
    /// name with a space, a value with a control character) is left out.
    pub fn headers(&self) -> HeaderMap {
        let Some(state) = self.state() else {
            return HeaderMap::new();
        };
        let headers = state.headers.borrow();
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers.iter() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}
