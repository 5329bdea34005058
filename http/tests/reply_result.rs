//! `NetworkReply::result` and the error types' `std::error::Error` impls: a user's `?` into
//! `Box<dyn Error>` carries Qt's code, the status, the URL and the message.

use std::error::Error;
use std::net::TcpListener;

use slotnet_http::{NetworkAccessManager, NetworkError, NetworkRequest, ReplyError};
use slotnet_testkit::h1::{respond, Next, ScriptedServer};
use slotnet_testkit::reply::run_all;

fn server() -> ScriptedServer {
    ScriptedServer::start(|req, s| {
        match req.target.as_str() {
            "/ok" => respond(s, "200 OK", &[], b"fine"),
            _ => respond(s, "404 Not Found", &[], b"<html>not found</html>"),
        }
        Next::KeepAlive
    })
}

/// What a user writes: fetch a body, `?` on the outcome.
fn fetch(manager: &NetworkAccessManager, url: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let reply = manager.get(NetworkRequest::from_url_str(url));
    run_all(std::slice::from_ref(&reply));
    reply.result()?;
    Ok(reply.read_all())
}

#[test]
fn question_mark_into_box_dyn_error_gives_the_body_or_the_reply_error() {
    let server = server();
    let manager = NetworkAccessManager::new();
    assert_eq!(fetch(&manager, &server.url("/ok")).unwrap(), b"fine");

    let url = server.url("/missing");
    let err = fetch(&manager, &url).unwrap_err();
    let reply_error = err.downcast_ref::<ReplyError>().expect("a ReplyError");
    assert_eq!(reply_error.kind(), NetworkError::ContentNotFoundError);
    assert_eq!(reply_error.status(), Some(404));
    assert_eq!(reply_error.url().map(|u| u.as_str()), Some(url.as_str()));
    assert_eq!(
        reply_error.message(),
        format!("Error transferring {url} - server replied: Not Found")
    );
    // The message names the URL already: Display does not repeat it.
    assert_eq!(
        err.to_string(),
        format!(
            "ContentNotFoundError (HTTP 404): Error transferring {url} - server replied: Not Found"
        )
    );
}

#[test]
fn a_transport_failure_names_the_url_and_has_no_status() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let manager = NetworkAccessManager::new();
    let err = fetch(&manager, &url).unwrap_err();
    let reply_error = err.downcast_ref::<ReplyError>().expect("a ReplyError");
    assert_eq!(reply_error.kind(), NetworkError::ConnectionRefusedError);
    assert_eq!(reply_error.status(), None);
    assert_eq!(
        err.to_string(),
        format!("ConnectionRefusedError: {} ({url})", reply_error.message())
    );
    // The code alone is an error too, and its source-less Display is Qt's name.
    let code: Box<dyn Error> = Box::new(reply_error.kind());
    assert_eq!(code.to_string(), "ConnectionRefusedError");
}

#[test]
fn every_public_error_type_goes_through_question_mark() {
    fn fails(error: impl Error + 'static) -> Result<(), Box<dyn Error>> {
        Err(error)?;
        Ok(())
    }
    fn check(error: impl Error + 'static, display: &str) {
        assert_eq!(fails(error).unwrap_err().to_string(), display);
    }
    check(NetworkError::TimeoutError, "TimeoutError");
    check(
        slotnet_http::legacy::HttpError::HostNotFound,
        "HostNotFound",
    );
    check(
        slotnet_http::net::HostInfoError::HostNotFound,
        "HostNotFound",
    );
    check(
        slotnet_http::net::SocketError::ConnectionRefusedError,
        "Connection refused",
    );
    check(
        slotnet_http::server::WebSocketError::MessageTooBig,
        "message too big",
    );
}
