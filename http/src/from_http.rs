//! Requests from the `http` crate's types: [`NetworkRequest`]'s `TryFrom<&http::request::Parts>`
//! (URL and headers) and [`NetworkAccessManager::send_http_request`] (method and body too).
//!
//! A `NetworkRequest`, like Qt's `QNetworkRequest`, has no method and no body: the manager's
//! call picks them (`get`, `post`, `send_custom_request`). So there is no
//! `TryFrom<http::Request<B>> for NetworkRequest`, which would have to drop both silently;
//! the head converts, and a whole `http::Request` goes through the manager.

use std::fmt;

use bytes::Bytes;
use http::request::Parts;
use http::Method;
use url::Url;

use crate::manager::NetworkAccessManager;
use crate::reply::NetworkReply;
use crate::request::NetworkRequest;

/// Why an `http` request could not become a slotnet request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpRequestError {
    /// The URI has no scheme or no host (`/path` alone): the manager needs an absolute URL.
    RelativeUri(String),
    /// The URI did not parse as a URL.
    InvalidUrl(String, url::ParseError),
    /// A header value is not UTF-8 text (slotnet's request headers are strings, as Qt's).
    NonUtf8Header(String),
}

impl fmt::Display for HttpRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpRequestError::RelativeUri(uri) => {
                write!(
                    f,
                    "the request URI {uri:?} is not absolute (scheme and host)"
                )
            }
            HttpRequestError::InvalidUrl(uri, e) => write!(f, "invalid request URL {uri:?}: {e}"),
            HttpRequestError::NonUtf8Header(name) => {
                write!(f, "the value of request header {name} is not UTF-8")
            }
        }
    }
}

impl std::error::Error for HttpRequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpRequestError::InvalidUrl(_, e) => Some(e),
            _ => None,
        }
    }
}

impl TryFrom<&Parts> for NetworkRequest {
    type Error = HttpRequestError;

    /// The URL (absolute URIs only) and the headers of an `http` request head. A repeated
    /// header becomes one, its values joined with `", "` (`"; "` for `Cookie`), since
    /// [`NetworkRequest::set_raw_header`] keeps one value per name as Qt does. The method,
    /// the version and the extensions are not part of a `NetworkRequest`.
    fn try_from(head: &Parts) -> Result<Self, HttpRequestError> {
        let uri = head.uri.to_string();
        if head.uri.scheme().is_none() || head.uri.authority().is_none() {
            return Err(HttpRequestError::RelativeUri(uri));
        }
        let url = Url::parse(&uri).map_err(|e| HttpRequestError::InvalidUrl(uri, e))?;
        let mut request = NetworkRequest::new(url);
        for name in head.headers.keys() {
            let separator = if name == http::header::COOKIE {
                "; "
            } else {
                ", "
            };
            let mut joined = String::new();
            for value in head.headers.get_all(name) {
                let text = std::str::from_utf8(value.as_bytes())
                    .map_err(|_| HttpRequestError::NonUtf8Header(name.to_string()))?;
                if !joined.is_empty() {
                    joined.push_str(separator);
                }
                joined.push_str(text);
            }
            request.set_raw_header(name.as_str(), joined);
        }
        Ok(request)
    }
}

impl NetworkAccessManager {
    /// Sends an `http` crate request: its method, URL, headers and byte body. The method
    /// picks the call Qt code would make: [`get`](Self::get), [`head`](Self::head),
    /// [`post`](Self::post), [`put`](Self::put), [`delete_resource`](Self::delete_resource)
    /// (GET, HEAD and DELETE with an empty body), otherwise
    /// [`send_custom_request`](Self::send_custom_request). Fails without sending when the
    /// URI is not absolute or a header value is not UTF-8.
    pub fn send_http_request<B: Into<Bytes>>(
        &self,
        request: http::Request<B>,
    ) -> Result<NetworkReply, HttpRequestError> {
        let (head, body) = request.into_parts();
        let network_request = NetworkRequest::try_from(&head)?;
        let body: Bytes = body.into();
        let method = &head.method;
        Ok(if *method == Method::GET && body.is_empty() {
            self.get(network_request)
        } else if *method == Method::HEAD && body.is_empty() {
            self.head(network_request)
        } else if *method == Method::DELETE && body.is_empty() {
            self.delete_resource(network_request)
        } else if *method == Method::POST {
            self.post(network_request, body)
        } else if *method == Method::PUT {
            self.put(network_request, body)
        } else {
            self.send_custom_request(network_request, method.as_str(), body)
        })
    }
}
