//! qt-rest-client: a REST client written as a Qt programmer writes one with
//! QNetworkAccessManager (the pattern of Qt's REST API client examples), against a server
//! with httpbin-style routes (`slotnet-serve`): JSON POST, PUT and DELETE, credentials given
//! from the `authenticationRequired` slot, cookies kept by the manager's jar across requests,
//! and a transfer timeout.
//!
//! Usage: `qt-rest-client BASE_URL` (e.g. `http://127.0.0.1:8080`). The requests run one
//! after the other; each prints `METHOD PATH -> STATUS BODY`, or `METHOD PATH -> error NAME:
//! TEXT` when the reply failed. One difference from Qt 6.4: the transfer timeout ends the reply
//! with `TimeoutError` ("Operation timed out"), where Qt aborts it (`OperationCanceledError`,
//! "Operation canceled"), which a program cannot tell from its own `abort()`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::EventLoop;
use slotnet_http::{KnownHeader, NetworkAccessManager, NetworkError, NetworkReply, NetworkRequest};

/// One call of the script.
struct Call {
    method: &'static str,
    path: &'static str,
    json: Option<&'static str>,
    timeout: Option<Duration>,
}

const fn call(method: &'static str, path: &'static str, json: Option<&'static str>) -> Call {
    Call {
        method,
        path,
        json,
        timeout: None,
    }
}

struct RestClient {
    manager: NetworkAccessManager,
    base: String,
    calls: RefCell<VecDeque<Call>>,
    failures: std::cell::Cell<usize>,
}

impl RestClient {
    fn request(&self, path: &str) -> NetworkRequest {
        let mut request = NetworkRequest::from_url_str(&format!("{}{path}", self.base));
        request.set_header(KnownHeader::ContentTypeHeader, "application/json");
        request
    }

    fn send_next(self: &Rc<Self>) {
        let next = self.calls.borrow_mut().pop_front();
        let Some(call) = next else {
            EventLoop::current().quit();
            return;
        };
        let mut request = self.request(call.path);
        request.set_transfer_timeout(call.timeout);
        let body = call.json.unwrap_or_default();
        let reply = match call.method {
            "GET" => self.manager.get(request),
            "POST" => self.manager.post(request, body),
            "PUT" => self.manager.put(request, body),
            "DELETE" => self.manager.delete_resource(request),
            other => self.manager.send_custom_request(request, other, body),
        };
        let me = self.clone();
        reply.finished().connect(move |_| me.finished(&call, reply));
    }

    fn finished(self: &Rc<Self>, call: &Call, reply: NetworkReply) {
        let body = String::from_utf8_lossy(&reply.read_all())
            .trim_end()
            .to_owned();
        if reply.error() == NetworkError::NoError {
            let status = reply.status_code().unwrap_or(0);
            let line = format!("{} {} -> {status} {body}", call.method, call.path);
            println!("{}", line.trim_end());
        } else {
            self.failures.set(self.failures.get() + 1);
            println!(
                "{} {} -> error {}: {}",
                call.method,
                call.path,
                reply.error().name(),
                reply.error_string()
            );
        }
        reply.delete_later();
        let me = self.clone();
        slotnet_core::Timer::single_shot(Duration::ZERO, move || me.send_next());
    }
}

fn main() -> ExitCode {
    let Some(base) = std::env::args().nth(1) else {
        eprintln!("usage: qt-rest-client BASE_URL");
        return ExitCode::from(2);
    };
    let manager = NetworkAccessManager::new();
    // Credentials are given when the server asks, as a login dialog would.
    manager
        .authentication_required()
        .connect(|(_reply, authenticator)| {
            let mut authenticator = authenticator.borrow_mut();
            println!("authenticationRequired realm={}", authenticator.realm());
            authenticator.set_user("alice");
            authenticator.set_password("secret");
        });
    let calls = VecDeque::from([
        call(
            "POST",
            "/echo",
            Some(r#"{"name":"slotnet","kind":"library"}"#),
        ),
        call("PUT", "/echo", Some(r#"{"name":"slotnet","kind":"crate"}"#)),
        call("DELETE", "/echo", None),
        call("GET", "/basic-auth/alice/secret", None),
        // The server sets a cookie and redirects to the page that shows the cookies it got.
        call("GET", "/cookies/set?session=42", None),
        // A later request carries the cookie from the manager's jar.
        call("GET", "/cookies", None),
        Call {
            timeout: Some(Duration::from_millis(300)),
            ..call("GET", "/delay/10000", None)
        },
    ]);
    let client = Rc::new(RestClient {
        manager,
        base: base.trim_end_matches('/').to_owned(),
        calls: RefCell::new(calls),
        failures: std::cell::Cell::new(0),
    });
    let c = client.clone();
    slotnet_core::Timer::single_shot(Duration::ZERO, move || c.send_next());
    EventLoop::current().exec();
    // Only the timed-out call is expected to fail.
    if client.failures.get() == 1 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
