//! qt-http-server: Qt's "Simple HTTP Server" example (examples/httpserver/simple) ported to
//! slotnet, with a WebSocket echo on `/ws` (Qt's QAbstractHttpServer upgrade verifier plus
//! `newWebSocketConnection`).
//!
//! Qt's `route("/query/", ...)` (a trailing slash standing for an argument) is written with an
//! explicit `<arg>`; the handlers answer what Qt's do. It listens on 127.0.0.1 (`--port N`,
//! default any free port) and prints Qt's line: `Running on http://127.0.0.1:PORT/ (Press
//! CTRL+C to quit)`.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use http::header::{AUTHORIZATION, SERVER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use slotnet_core::{AsObject, EventLoop};
use slotnet_http::server::{
    HttpServer, HttpServerRequest, HttpServerResponder, WebSocket, WebSocketUpgradeResponse,
};
use slotnet_net::TcpServer;

type Req<'a> = &'a HttpServerRequest;
type Resp = HttpServerResponder;

/// Qt's `host(request)`: the Host header.
fn host(request: Req) -> String {
    request.value("host").unwrap_or_default().to_owned()
}

fn text(resp: Resp, body: String) {
    resp.write_data(StatusCode::OK, "text/plain", body);
}

/// The example's routes. Each `route` result is checked: a typo in a pattern stops the
/// program at start-up instead of serving 404s.
fn add_routes(server: &HttpServer) {
    server
        .route("/", Method::GET, |_: Req, r: Resp| {
            text(r, "Hello world".into())
        })
        .expect("valid route");
    server
        .route("/query", Method::GET, |req: Req, r: Resp| {
            text(r, format!("{}/query/", host(req)))
        })
        .expect("valid route");
    server
        .route("/query/<arg>", Method::GET, |id: i32, req: Req, r: Resp| {
            text(r, format!("{}/query/{id}", host(req)))
        })
        .expect("valid route");
    server
        .route(
            "/query/<arg>/log",
            Method::GET,
            |id: i32, req: Req, r: Resp| text(r, format!("{}/query/{id}/log", host(req))),
        )
        .expect("valid route");
    server
        .route(
            "/query/<arg>/log/<arg>",
            Method::GET,
            |id: i32, threshold: f32, req: Req, r: Resp| {
                text(r, format!("{}/query/{id}/log/{threshold}", host(req)))
            },
        )
        .expect("valid route");
    server
        .route("/user/<arg>", Method::GET, |id: i32, _: Req, r: Resp| {
            text(r, format!("User {id}"))
        })
        .expect("valid route");
    server
        .route(
            "/user/<arg>/detail",
            Method::GET,
            |id: i32, _: Req, r: Resp| text(r, format!("User {id} detail")),
        )
        .expect("valid route");
    server
        .route(
            "/user/<arg>/detail/<arg>",
            Method::GET,
            |id: i32, year: i32, _: Req, r: Resp| {
                text(r, format!("User {id} detail year - {year}"))
            },
        )
        .expect("valid route");
    server
        .route("/json/", Method::GET, |_: Req, r: Resp| {
            r.write_json(StatusCode::OK, r#"{"key1":"1","key2":"2","key3":"3"}"#)
        })
        .expect("valid route");
    server
        .route("/remote_address", Method::GET, |req: Req, r: Resp| {
            let address = req.remote_address().map(|a| a.to_string());
            text(r, address.unwrap_or_default())
        })
        .expect("valid route");
    // Basic authentication (RFC 7617), as the example: Aladdin / open sesame.
    server
        .route("/auth", Method::GET, |req: Req, r: Resp| {
            if req.value(AUTHORIZATION.as_str()) == Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") {
                return text(r, "Success".into());
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Simple example\", charset=\"UTF-8\""),
            );
            r.write(StatusCode::UNAUTHORIZED, headers, Vec::new());
        })
        .expect("valid route");
    server.after_request(|_, _, headers| {
        headers.insert(SERVER, HeaderValue::from_static("Qt HTTP Server"));
    });
}

/// Echoes every text and binary message back.
fn echo(socket: WebSocket) {
    socket
        .text_message_received()
        .connect(move |message: &String| {
            socket.send_text_message(message);
        });
    socket.binary_message_received().connect(move |data| {
        socket.send_binary_message(data.clone());
    });
    socket
        .disconnected()
        .connect(move |_| socket.as_object().delete_later());
}

fn main() -> ExitCode {
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|p| p.parse().ok())) {
            ("--port", Some(p)) => port = p,
            _ => {
                eprintln!("usage: qt-http-server [--port N]");
                return ExitCode::from(2);
            }
        }
    }
    let server = HttpServer::new();
    add_routes(&server);
    let context = server.as_object();
    server.add_web_socket_upgrade_verifier(&context, |req: &HttpServerRequest| match req.path() {
        "/ws" => WebSocketUpgradeResponse::Accept,
        _ => WebSocketUpgradeResponse::PassToNext,
    });
    let abstract_server = server.as_abstract();
    server.new_web_socket_connection().connect(move |_| {
        while let Some(socket) = abstract_server.next_pending_web_socket_connection() {
            echo(socket);
        }
    });
    let tcp = TcpServer::new();
    if !tcp.listen(Ipv4Addr::LOCALHOST, port) || !server.bind(&tcp) {
        eprintln!("Server failed to listen on a port.");
        return ExitCode::FAILURE;
    }
    println!(
        "Running on http://127.0.0.1:{}/ (Press CTRL+C to quit)",
        tcp.server_port()
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    EventLoop::current().exec();
    ExitCode::SUCCESS
}
