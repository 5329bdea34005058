//! The WebSocket client (`slotnet_http::websocket::WebSocket`) against slotnet's own server
//! (text, binary, fragments, frame signals, ping/pong, close both ways, permessage-deflate
//! on and off, wss with the test CA, the manager's cookies) and against a scripted raw TCP
//! server that breaks the protocol.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use slotnet_core::AsObject;
use slotnet_http::server::{HttpServer, HttpServerConfiguration, WebSocketUpgradeResponse};
use slotnet_http::websocket::WebSocket;
use slotnet_http::{NetworkAccessManager, NetworkRequest};
use slotnet_net::SocketError;
use slotnet_testkit::server::TestServer;
use slotnet_testkit::{certs, exec_within, quit};

type Log = Arc<Mutex<Vec<String>>>;
const LIMIT: Duration = Duration::from_secs(30);

/// Accepts every upgrade and echoes; `close-me` makes the server close with 4000 "bye";
/// `ping-me` makes it ping. What the server sees is logged.
fn setup(server: &HttpServer, log: Log) {
    let abstract_server = server.as_abstract();
    server.add_web_socket_upgrade_verifier(&abstract_server.as_object(), |req| {
        if req.path() == "/ws" {
            WebSocketUpgradeResponse::Accept
        } else {
            WebSocketUpgradeResponse::PassToNext
        }
    });
    server.new_web_socket_connection().connect(move |_| {
        while let Some(ws) = abstract_server.next_pending_web_socket_connection() {
            log.lock()
                .unwrap()
                .push(format!("open compressed={}", ws.is_compressed()));
            ws.text_message_received()
                .connect(move |text| match text.as_str() {
                    "close-me" => ws.close(4000, "bye"),
                    "ping-me" => {
                        ws.ping(Bytes::from_static(b"srv"));
                    }
                    _ => {
                        ws.send_text_message(text);
                    }
                });
            ws.binary_message_received().connect(move |data| {
                ws.send_binary_message(data.clone());
            });
            let log = log.clone();
            ws.disconnected().connect(move |_| {
                log.lock().unwrap().push(format!(
                    "closed {} {}",
                    ws.close_code(),
                    ws.close_reason()
                ));
            });
        }
    });
}

fn echo_server() -> (TestServer, Log) {
    let log: Log = Arc::default();
    let l = log.clone();
    let server = TestServer::start(HttpServerConfiguration::default(), move |s| setup(s, l));
    (server, log)
}

/// Waits (with the loop running) for the server's log to contain `entry`.
fn await_log(log: &Log, entry: &str) {
    let ok = slotnet_testkit::run_until(LIMIT, || {
        log.lock().unwrap().iter().any(|e| e.starts_with(entry))
    });
    assert!(ok, "server log {:?} lacks {entry}", log.lock().unwrap());
}

/// Records the client's signals.
fn trace(ws: WebSocket) -> Rc<RefCell<Vec<String>>> {
    let t = Rc::new(RefCell::new(Vec::new()));
    let r = t.clone();
    ws.connected()
        .connect(move |_| r.borrow_mut().push("connected".into()));
    let r = t.clone();
    ws.text_message_received()
        .connect(move |m| r.borrow_mut().push(format!("text {m}")));
    let r = t.clone();
    ws.binary_message_received()
        .connect(move |m| r.borrow_mut().push(format!("binary {}", m.len())));
    let r = t.clone();
    ws.pong().connect(move |(_, p)| {
        r.borrow_mut()
            .push(format!("pong {}", String::from_utf8_lossy(p)))
    });
    let r = t.clone();
    ws.error_occurred()
        .connect(move |e| r.borrow_mut().push(format!("error {e:?}")));
    let r = t.clone();
    ws.disconnected().connect(move |_| {
        r.borrow_mut().push("disconnected".into());
        quit();
    });
    t
}

#[test]
fn echoes_text_binary_and_fragments_then_closes_with_the_clients_code() {
    let (server, log) = echo_server();
    let ws = WebSocket::new();
    ws.set_outgoing_frame_size(1000);
    let t = trace(ws);
    let frames = Rc::new(RefCell::new(Vec::new()));
    let f = frames.clone();
    ws.text_frame_received()
        .connect(move |(text, last)| f.borrow_mut().push((text.len(), *last)));
    let big = Bytes::from((0..5000u32).map(|i| i as u8).collect::<Vec<u8>>());
    let expected = big.clone();
    let r = t.clone();
    ws.binary_message_received().connect(move |data| {
        assert_eq!(*data, expected);
        r.borrow_mut().push("binary matches".into());
        ws.ping(b"hi");
    });
    ws.pong().connect(move |_| ws.close(4001, "done here"));
    ws.connected().connect(move |_| {
        assert_eq!(ws.send_text_message(&"é".repeat(1500)), 3000);
        ws.send_binary_message(big.clone());
    });
    ws.open(&format!("ws://127.0.0.1:{}/ws", server.port));
    assert!(exec_within(LIMIT), "hung: {:?}", t.borrow());
    assert_eq!(
        *t.borrow(),
        vec![
            "connected".to_string(),
            format!("text {}", "é".repeat(1500)),
            "binary 5000".into(),
            "binary matches".into(),
            "pong hi".into(),
            "disconnected".into(),
        ]
    );
    // The server echoed the 3 frames of 1000 bytes as one 3000-byte message in frames of
    // its own: the client saw whole characters per frame and the last flag once.
    assert_eq!(frames.borrow().last().map(|f| f.1), Some(true));
    assert_eq!(frames.borrow().iter().map(|f| f.0).sum::<usize>(), 3000);
    assert_eq!(
        (ws.close_code(), ws.close_reason()),
        (4001, "done here".into())
    );
    await_log(&log, "closed 4001 done here");
    assert!(log
        .lock()
        .unwrap()
        .contains(&"open compressed=false".to_string()));
}

#[test]
fn the_servers_close_and_ping_are_answered() {
    let (server, log) = echo_server();
    let ws = WebSocket::new();
    let t = trace(ws);
    ws.connected().connect(move |_| {
        ws.send_text_message("ping-me");
        ws.send_text_message("close-me");
    });
    ws.open(&format!("ws://127.0.0.1:{}/ws", server.port));
    assert!(exec_within(LIMIT), "hung: {:?}", t.borrow());
    assert_eq!(*t.borrow(), vec!["connected", "disconnected"]);
    assert_eq!((ws.close_code(), ws.close_reason()), (4000, "bye".into()));
    await_log(&log, "closed 4000 bye");
    assert_eq!(ws.error(), None);
}

#[test]
fn permessage_deflate_is_negotiated_and_carries_16_mib_both_ways() {
    let (server, log) = echo_server();
    let ws = WebSocket::new();
    ws.set_compression_enabled(true);
    let t = trace(ws);
    let text: String = (0..(16 << 20) / 8)
        .map(|i| format!("{:07} ", i % 9_999_999))
        .collect();
    let expected = text.clone();
    let r = t.clone();
    ws.text_message_received().connect(move |m| {
        r.borrow_mut().push(format!("same {}", *m == expected));
        ws.close(1000, "");
    });
    ws.connected().connect(move |_| {
        assert!(ws.is_compressed());
        ws.send_text_message(&text);
    });
    ws.open(&format!("ws://127.0.0.1:{}/ws", server.port));
    assert!(exec_within(Duration::from_secs(120)), "hung");
    assert!(
        t.borrow().contains(&"same true".to_string()),
        "{:?}",
        t.borrow()
    );
    await_log(&log, "open compressed=true");
}

#[test]
fn wss_with_the_test_ca_and_ssl_errors_without_it() {
    let log: Log = Arc::default();
    let l = log.clone();
    let server = TestServer::start_tls(HttpServerConfiguration::default(), move |s| setup(s, l));
    // Trusting the test CA: open, echo.
    let ws = WebSocket::new();
    let t = trace(ws);
    ws.set_ssl_configuration(certs::trusting());
    ws.connected().connect(move |_| {
        ws.send_text_message("over tls");
    });
    ws.text_message_received()
        .connect(move |_| ws.close(1000, ""));
    ws.open(&format!("wss://localhost:{}/ws", server.port));
    assert!(exec_within(LIMIT), "hung: {:?}", t.borrow());
    assert!(
        t.borrow().contains(&"text over tls".to_string()),
        "{:?}",
        t.borrow()
    );
    // Without it: ssl_errors, refused unless ignored.
    let ws = WebSocket::new();
    let t = trace(ws);
    let errors = Rc::new(RefCell::new(0));
    let e = errors.clone();
    ws.ssl_errors().connect(move |list| {
        assert!(!list.is_empty());
        *e.borrow_mut() += 1;
    });
    ws.open(&format!("wss://localhost:{}/ws", server.port));
    assert!(exec_within(LIMIT));
    assert_eq!(*errors.borrow(), 1);
    assert!(!t.borrow().contains(&"connected".to_string()));
    assert_eq!(ws.error(), Some(SocketError::SslHandshakeFailedError));
    let ws = WebSocket::new();
    let t = trace(ws);
    ws.ssl_errors().connect(move |_| ws.ignore_ssl_errors());
    ws.connected().connect(move |_| ws.close(1000, ""));
    ws.open(&format!("wss://localhost:{}/ws", server.port));
    assert!(exec_within(LIMIT));
    assert_eq!(t.borrow()[0], "connected");
}

#[test]
fn the_managers_cookies_go_with_the_handshake() {
    let log: Log = Arc::default();
    let server_log = log.clone();
    let server = TestServer::start(HttpServerConfiguration::default(), move |server| {
        let l = server_log.clone();
        server.add_web_socket_upgrade_verifier(&server.as_abstract().as_object(), move |req| {
            l.lock()
                .unwrap()
                .push(format!("cookie {}", req.value("cookie").unwrap_or("-")));
            WebSocketUpgradeResponse::Accept
        });
    });
    let manager = NetworkAccessManager::new();
    let url = url::Url::parse(&format!("http://127.0.0.1:{}/", server.port)).unwrap();
    manager.cookie_jar().borrow_mut().set_cookies_from_url(
        slotnet_http::cookies::NetworkCookie::parse_cookies("session=abc"),
        &url,
    );
    let ws = WebSocket::new();
    ws.set_network_access_manager(&manager);
    let t = trace(ws);
    ws.connected().connect(move |_| ws.abort());
    let mut request = NetworkRequest::from_url_str(&format!("ws://127.0.0.1:{}/ws", server.port));
    request.set_raw_header("X-Extra", "yes");
    ws.open_request(request);
    assert!(exec_within(LIMIT), "{:?}", t.borrow());
    await_log(&log, "cookie session=abc");
}

/// A raw TCP server that answers the handshake correctly, then sends `frames`; returns its
/// port and what the client sent after the handshake.
fn scripted_server(frames: Vec<u8>) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .trim()
            .to_owned();
        let accept = {
            let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(key.as_bytes());
            ctx.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
        };
        write!(
            s,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .unwrap();
        s.write_all(&frames).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        rest
    });
    (port, thread)
}

/// The close code in the first frame of `bytes` (a masked client frame).
fn client_close_code(bytes: &[u8]) -> u16 {
    assert!(bytes.len() >= 8, "no close frame: {bytes:?}");
    assert_eq!(bytes[0], 0x88, "a close frame");
    assert!(bytes[1] & 0x80 != 0, "masked");
    let mask = &bytes[2..6];
    u16::from_be_bytes([bytes[6] ^ mask[0], bytes[7] ^ mask[1]])
}

#[test]
fn every_protocol_violation_by_the_server_closes_with_its_code_and_an_error() {
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("masked frame", vec![0x81, 0x81, 1, 2, 3, 4, b'x' ^ 1], 1002),
        ("reserved opcode", vec![0x83, 0x00], 1002),
        ("RSV1 without deflate", vec![0xc1, 0x01, b'x'], 1002),
        ("invalid UTF-8", vec![0x81, 0x02, 0xc3, 0x28], 1007),
        (
            "oversized ping",
            [vec![0x89, 126, 0, 126], vec![0; 126]].concat(),
            1002,
        ),
        ("fragmented ping", vec![0x09, 0x00], 1002),
        ("continuation first", vec![0x80, 0x01, b'x'], 1002),
        ("close code 1005", vec![0x88, 0x02, 0x03, 0xed], 1002),
        ("close code 999", vec![0x88, 0x02, 0x03, 0xe7], 1002),
        (
            "too big",
            [vec![0x82, 126, 0x04, 0x00], vec![0; 1024]].concat(),
            1009,
        ),
    ];
    for (what, frames, code) in cases {
        let (port, server) = scripted_server(frames);
        let ws = WebSocket::new();
        ws.set_max_allowed_incoming_message_size(1000);
        let t = trace(ws);
        ws.open(&format!("ws://127.0.0.1:{port}/"));
        assert!(exec_within(LIMIT), "{what}: hung {:?}", t.borrow());
        assert_eq!(
            *t.borrow(),
            vec!["connected", "error UnknownSocketError", "disconnected"],
            "{what}"
        );
        assert_eq!(ws.close_code(), code, "{what}: {}", ws.error_string());
        let sent = server.join().unwrap();
        assert_eq!(client_close_code(&sent), code, "{what}");
    }
}

#[test]
fn a_refused_handshake_is_an_error_and_bad_urls_too() {
    let (server, _) = echo_server();
    let ws = WebSocket::new();
    let t = trace(ws);
    // Not upgraded: answered by the missing handler.
    ws.open(&format!("ws://127.0.0.1:{}/nope", server.port));
    assert!(exec_within(LIMIT));
    assert_eq!(
        *t.borrow(),
        vec!["error ConnectionRefusedError", "disconnected"]
    );
    let ws = WebSocket::new();
    let t = Rc::new(RefCell::new(Vec::new()));
    let r = t.clone();
    ws.error_occurred().connect(move |e| {
        r.borrow_mut().push(format!("{e:?}"));
        quit();
    });
    ws.open("http://127.0.0.1:1/");
    assert!(exec_within(LIMIT));
    assert_eq!(*t.borrow(), vec!["UnsupportedSocketOperationError"]);
}
