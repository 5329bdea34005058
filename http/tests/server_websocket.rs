//! WebSocket upgrades of the server, against tungstenite's blocking client on loopback.

use std::cell::Cell;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use slotnet_core::{AsObject, Timer};
use slotnet_http::server::{
    AbstractHttpServer, HttpServerConfiguration, HttpServerRequest, WebSocket,
    WebSocketUpgradeResponse,
};
use slotnet_testkit::server::{assert_closed, read_response, TestServer};
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::{Error, Message};

type Client = tungstenite::WebSocket<TcpStream>;
type Log = Arc<Mutex<Vec<String>>>;

thread_local! {
    /// The server of the loop thread this runs on (for `TestServer::run`).
    static SERVER: Cell<Option<AbstractHttpServer>> = const { Cell::new(None) };
}

/// A server whose `/ws` upgrades are accepted (`/ws?max=N` sets the message limit), `/deny`
/// upgrades denied, others passed on. Accepted sockets echo; the text `close-me` makes the
/// server close with 4000 "bye", `ping-me` makes it ping, `push-me` makes it send `pushed`
/// every 20 ms; pongs are reported as text. What
/// the server sees is logged.
fn ws_server() -> (TestServer, Log) {
    ws_server_with(HttpServerConfiguration::default())
}

/// [`ws_server`] with `config`.
fn ws_server_with(config: HttpServerConfiguration) -> (TestServer, Log) {
    let log: Log = Arc::default();
    let server_log = log.clone();
    let server = TestServer::start(config, move |server| {
        let abstract_server = server.as_abstract();
        SERVER.with(|s| s.set(Some(abstract_server)));
        server.add_web_socket_upgrade_verifier(
            &abstract_server.as_object(),
            |req: &HttpServerRequest| match req.path() {
                "/deny" => WebSocketUpgradeResponse::Deny,
                _ => WebSocketUpgradeResponse::PassToNext,
            },
        );
        server.add_web_socket_upgrade_verifier(
            &abstract_server.as_object(),
            |req: &HttpServerRequest| match req.path() {
                "/ws" => WebSocketUpgradeResponse::Accept,
                // Never asked: the first verifier decided.
                "/deny" => WebSocketUpgradeResponse::Accept,
                _ => WebSocketUpgradeResponse::PassToNext,
            },
        );
        server.new_web_socket_connection().connect(move |_| {
            while let Some(ws) = abstract_server.next_pending_web_socket_connection() {
                serve(ws, server_log.clone());
            }
            assert!(!abstract_server.has_pending_web_socket_connections());
        });
    });
    (server, log)
}

fn serve(ws: WebSocket, log: Log) {
    let url = ws.request_url().expect("request url");
    if let Some(max) = url.query_pairs().find(|(k, _)| k == "max") {
        ws.set_max_allowed_incoming_message_size(max.1.parse().unwrap());
    }
    log.lock().unwrap().push(format!(
        "open {} {}",
        url.path(),
        ws.peer_address().is_some_and(|a| a.is_loopback())
    ));
    ws.text_message_received()
        .connect(move |text: &String| match text.as_str() {
            "close-me" => ws.close(4000, "bye"),
            "destroy-me" => {
                assert!(ws.destroy());
            }
            "ping-me" => {
                assert!(ws.ping(Bytes::from_static(b"srv")));
            }
            "push-me" => {
                // From now on only the server sends: a message every 20 ms.
                let timer = Timer::with_parent(&ws.as_object());
                timer.timeout().connect(move |_| {
                    ws.send_text_message("pushed");
                });
                timer.start_interval(Duration::from_millis(20));
            }
            _ => {
                ws.send_text_message(text);
            }
        });
    ws.binary_message_received().connect(move |data: &Bytes| {
        ws.send_binary_message(data.clone());
    });
    ws.pong().connect(move |data: &Bytes| {
        ws.send_text_message(&format!("pong:{}", String::from_utf8_lossy(data)));
    });
    let error_log = log.clone();
    ws.error_occurred()
        .connect(move |e| error_log.lock().unwrap().push(format!("error {e:?}")));
    ws.disconnected().connect(move |_| {
        log.lock()
            .unwrap()
            .push(format!("closed {} {}", ws.close_code(), ws.close_reason()));
    });
}

fn connect(server: &TestServer, path: &str) -> Result<Client, Box<Error>> {
    let stream = server.connect();
    let url = format!("ws://127.0.0.1:{}{path}", server.port);
    match tungstenite::client(url.as_str(), stream) {
        Ok((ws, _)) => Ok(ws),
        Err(HandshakeError::Failure(e)) => Err(Box::new(e)),
        Err(HandshakeError::Interrupted(_)) => panic!("blocking handshake interrupted"),
    }
}

fn open(server: &TestServer, path: &str) -> Client {
    connect(server, path).unwrap_or_else(|e| panic!("handshake failed: {e}"))
}

/// Reads until the server closes the TCP connection; returns the close frame's code.
fn read_until_closed(client: &mut Client) -> Option<u16> {
    let mut code = None;
    loop {
        match client.read() {
            Ok(Message::Close(frame)) => code = frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(Error::ConnectionClosed) => return code,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

/// Waits until the server logged `entry`.
fn await_log(log: &Log, entry: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !log.lock().unwrap().iter().any(|e| e == entry) {
        assert!(
            Instant::now() < deadline,
            "no {entry:?} in {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn echoes_text_and_binary_and_reassembles_fragments() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws");
    client.send(Message::text("héllo")).unwrap();
    assert_eq!(client.read().unwrap(), Message::text("héllo"));
    let blob: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    client.send(Message::binary(blob.clone())).unwrap();
    assert_eq!(client.read().unwrap(), Message::binary(blob));

    for (part, opcode, fin) in [
        ("frag", OpCode::Data(Data::Text), false),
        ("men", OpCode::Data(Data::Continue), false),
        ("ted", OpCode::Data(Data::Continue), true),
    ] {
        client
            .write(Message::Frame(Frame::message(part, opcode, fin)))
            .unwrap();
        if !fin {
            // A ping between fragments is answered at once.
            client
                .write(Message::Ping(Bytes::from_static(b"mid")))
                .unwrap();
        }
    }
    client.flush().unwrap();
    let mut pongs = 0;
    loop {
        match client.read().unwrap() {
            Message::Pong(p) => {
                assert_eq!(p, Bytes::from_static(b"mid"));
                pongs += 1;
            }
            m => {
                assert_eq!(m, Message::text("fragmented"));
                break;
            }
        }
    }
    assert_eq!(pongs, 2);
    await_log(&log, "open /ws true");
}

#[test]
fn server_ping_reports_the_pong() {
    let (server, _) = ws_server();
    let mut client = open(&server, "/ws");
    client.send(Message::text("ping-me")).unwrap();
    // The client answers the ping while reading; the server reports the pong as text.
    loop {
        match client.read().unwrap() {
            Message::Ping(p) => assert_eq!(p, Bytes::from_static(b"srv")),
            m => {
                assert_eq!(m, Message::text("pong:srv"));
                break;
            }
        }
    }
}

#[test]
fn client_initiated_close_handshake() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws");
    client
        .close(Some(tungstenite::protocol::CloseFrame {
            code: 1000u16.into(),
            reason: "done".into(),
        }))
        .unwrap();
    assert_eq!(read_until_closed(&mut client), Some(1000));
    await_log(&log, "closed 1000 done");
}

#[test]
fn server_initiated_close_handshake() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws");
    client.send(Message::text("close-me")).unwrap();
    match client.read().unwrap() {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 4000);
            assert_eq!(frame.reason.as_str(), "bye");
        }
        m => panic!("expected a close frame, got {m:?}"),
    }
    // The client's reply completes the handshake; the server then closes the connection.
    assert_eq!(read_until_closed(&mut client), None);
    await_log(&log, "closed 4000 bye");
}

#[test]
fn oversized_message_closes_with_1009() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws?max=1024");
    client.send(Message::binary(vec![7u8; 1024])).unwrap();
    assert_eq!(client.read().unwrap(), Message::binary(vec![7u8; 1024]));
    client.send(Message::binary(vec![7u8; 2000])).unwrap();
    assert_eq!(read_until_closed(&mut client), Some(1009));
    await_log(&log, "error MessageTooBig");
    await_log(&log, "closed 1009 ");
}

#[test]
fn invalid_utf8_closes_with_1007() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws");
    let frame = Frame::message(vec![b'a', 0xff, 0xfe], OpCode::Data(Data::Text), true);
    client.send(Message::Frame(frame)).unwrap();
    assert_eq!(read_until_closed(&mut client), Some(1007));
    await_log(&log, "error InvalidUtf8");
}

#[test]
fn unmasked_frame_closes_with_1002() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws");
    // Clients must mask their frames (RFC 6455, 5.1).
    client
        .get_mut()
        .write_all(&[0x81, 0x02, b'h', b'i'])
        .unwrap();
    assert_eq!(read_until_closed(&mut client), Some(1002));
    await_log(&log, "error Protocol");
}

#[test]
fn denied_and_unverified_upgrades_are_refused_and_http_goes_on() {
    let (server, log) = ws_server();
    for (path, status) in [("/deny", 403), ("/elsewhere", 404)] {
        let Err(error) = connect(&server, path) else {
            panic!("{path}: upgrade accepted");
        };
        match *error {
            Error::Http(resp) => assert_eq!(resp.status().as_u16(), status, "{path}"),
            e => panic!("{path}: unexpected error {e}"),
        }
    }
    // An upgrade request without a valid key is plain HTTP for the handler.
    let mut s = server.connect();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..2 {
        let resp = read_response(&mut r, false);
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"hello"[..]));
    }
    server.assert_serves_fresh_client();
    assert!(!log.lock().unwrap().iter().any(|e| e.starts_with("open")));
}

#[test]
fn destroying_the_socket_aborts_the_connection() {
    let (server, _) = ws_server();
    let mut client = open(&server, "/ws");
    client.send(Message::text("destroy-me")).unwrap();
    assert!(client.read().is_err());
    server.assert_serves_fresh_client();
}

#[test]
fn shutdown_closes_web_sockets_with_1001() {
    let (server, log) = ws_server();
    let mut client = open(&server, "/ws");
    client.send(Message::text("x")).unwrap();
    assert_eq!(client.read().unwrap(), Message::text("x"));
    server.run(|| SERVER.with(|s| s.get().expect("server").shutdown()));
    assert_eq!(read_until_closed(&mut client), Some(1001));
    await_log(&log, "closed 1001 server shutting down");
}

#[test]
fn an_accepted_upgrade_runs_the_after_request_hooks_once_with_101() {
    let log: Log = Arc::default();
    let server_log = log.clone();
    let server = TestServer::start(HttpServerConfiguration::default(), move |server| {
        let abstract_server = server.as_abstract();
        server.add_web_socket_upgrade_verifier(
            &abstract_server.as_object(),
            |req: &HttpServerRequest| match req.path() {
                "/ws" => WebSocketUpgradeResponse::Accept,
                _ => WebSocketUpgradeResponse::PassToNext,
            },
        );
        let hook_log = server_log.clone();
        server.after_request(move |req, status, headers| {
            hook_log
                .lock()
                .unwrap()
                .push(format!("hook {} {}", req.path(), status.as_u16()));
            headers.insert("x-hook", http::HeaderValue::from_static("seen"));
            // A hook that rewrites statuses cannot turn an accepted handshake into
            // something else: the verifier decided.
            *status = http::StatusCode::GONE;
        });
        server.new_web_socket_connection().connect(move |_| {
            while let Some(ws) = abstract_server.next_pending_web_socket_connection() {
                serve(ws, server_log.clone());
            }
        });
    });
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    let (mut client, response) =
        tungstenite::client(url.as_str(), server.connect()).expect("the handshake succeeds");
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.headers().get("x-hook").map(|v| v.as_bytes()),
        Some(&b"seen"[..]),
        "headers a hook adds go out with the 101"
    );
    client.send(Message::text("hi")).unwrap();
    assert_eq!(client.read().unwrap(), Message::text("hi"));
    client
        .close(Some(tungstenite::protocol::CloseFrame {
            code: 1000u16.into(),
            reason: "done".into(),
        }))
        .unwrap();
    assert_eq!(read_until_closed(&mut client), Some(1000));
    await_log(&log, "closed 1000 done");
    let hooks: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("hook"))
        .cloned()
        .collect();
    assert_eq!(hooks, ["hook /ws 101"]);
}

/// A server whose WebSocket idle and message timeouts are `idle` and `message`.
fn ws_server_timeouts(idle: Duration, message: Duration) -> (TestServer, Log) {
    ws_server_with(HttpServerConfiguration {
        web_socket_idle_timeout: idle,
        web_socket_message_timeout: message,
        ..HttpServerConfiguration::default()
    })
}

#[test]
fn a_silent_peer_is_pinged_then_closed_with_1001_after_the_idle_timeout() {
    let (server, log) = ws_server_timeouts(Duration::from_millis(400), Duration::from_secs(30));
    let mut client = open(&server, "/ws");
    // Raw bytes: tungstenite would answer the ping.
    let raw = client.get_mut();
    let mut seen = Vec::new();
    let _ = std::io::Read::read_to_end(raw, &mut seen);
    // An empty ping, then a close frame with 1001 (0x03e9).
    assert!(seen.starts_with(&[0x89, 0x00]), "{seen:?}");
    assert!(seen[2..].starts_with(&[0x88]), "{seen:?}");
    assert_eq!(&seen[4..6], &[0x03, 0xe9], "{seen:?}");
    await_log(&log, "error Timeout");
}

#[test]
fn a_peer_answering_pings_stays_open_past_the_idle_timeout() {
    let (server, log) = ws_server_timeouts(Duration::from_millis(300), Duration::from_secs(30));
    let mut client = open(&server, "/ws");
    client
        .get_mut()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        match client.read() {
            // tungstenite queues the pong and sends it on the next read.
            Ok(Message::Ping(_)) => pings += 1,
            // The test server reports the pongs it gets.
            Ok(Message::Text(t)) if t.as_str() == "pong:" => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("closed: {e}"),
        }
    }
    assert!(pings >= 2, "{pings} pings");
    client
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.send(Message::text("still here")).unwrap();
    loop {
        match client.read().unwrap() {
            Message::Ping(_) => {}
            Message::Text(t) if t.as_str() == "pong:" => {}
            Message::Text(t) => {
                assert_eq!(t.as_str(), "still here");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(!log.lock().unwrap().iter().any(|e| e == "error Timeout"));
}

#[test]
fn a_message_left_unfinished_is_failed_with_1008_after_the_message_timeout() {
    let (server, log) = ws_server_timeouts(Duration::from_secs(60), Duration::from_millis(400));
    let mut client = open(&server, "/ws");
    // The first fragment of a binary message (FIN clear, masked, 4 bytes), then pings
    // (allowed between fragments), never the rest.
    client
        .get_mut()
        .write_all(&[0x02, 0x84, 1, 2, 3, 4, 0, 0, 0, 0])
        .unwrap();
    for _ in 0..3 {
        client
            .get_mut()
            .write_all(&[0x89, 0x80, 1, 2, 3, 4])
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(read_until_closed(&mut client), Some(1008));
    await_log(&log, "error Timeout");
}

#[test]
fn an_idle_web_socket_makes_room_for_a_new_client_at_max_connections() {
    let (server, log) = ws_server_with(HttpServerConfiguration {
        max_connections: 1,
        ..HttpServerConfiguration::default()
    });
    let mut client = open(&server, "/ws");
    await_log(&log, "open /ws true");
    // The only slot is the WebSocket's: a plain HTTP client takes it.
    server.assert_serves_fresh_client();
    client
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(client.read().is_err(), "the WebSocket was not closed");
}

#[test]
fn a_web_socket_the_server_keeps_sending_on_is_not_taken_for_idle_at_max_connections() {
    let (server, log) = ws_server_with(HttpServerConfiguration {
        max_connections: 3,
        ..HttpServerConfiguration::default()
    });
    // The oldest: a WebSocket where only the server sends, read by its client.
    let mut pusher = open(&server, "/ws");
    pusher.send(Message::text("push-me")).unwrap();
    assert_eq!(pusher.read().unwrap(), Message::text("pushed"));
    let received = Arc::new(AtomicUsize::new(0));
    let count = received.clone();
    let reader = std::thread::spawn(move || {
        while let Ok(message) = pusher.read() {
            assert_eq!(message, Message::text("pushed"));
            count.fetch_add(1, Ordering::Relaxed);
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    // Then a WebSocket where nobody says anything, and an idle keep-alive connection.
    let mut idle_ws = open(&server, "/ws");
    idle_ws
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut keep_alive = BufReader::new(server.connect());
    keep_alive
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut keep_alive, false).status, 200);
    // A newcomer busy with a large download (not read beyond its first bytes) takes the
    // idle keep-alive connection's slot.
    let mut busy = server.connect();
    busy.write_all(b"GET /bytes/32000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut status_line = [0; 12];
    busy.read_exact(&mut status_line).unwrap();
    assert_eq!(&status_line, b"HTTP/1.1 200");
    assert_closed(&mut keep_alive);
    // The next one takes the idle WebSocket's slot, not the one the server is sending on
    // (idle by its input alone, and the older of the two).
    server.assert_serves_fresh_client();
    assert!(idle_ws.read().is_err(), "the idle WebSocket was not closed");
    let before = received.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !reader.is_finished() && received.load(Ordering::Relaxed) > before,
        "the WebSocket the server sends on was closed: {:?}",
        log.lock().unwrap()
    );
    drop(busy);
}

#[test]
fn timeouts_of_duration_max_mean_never_and_the_server_serves() {
    // `Duration::MAX` is how a Rust program turns a timeout off; the deadlines computed from
    // it must not overflow `Instant` (a panic in the server's loop).
    let (server, _log) = ws_server_with(HttpServerConfiguration {
        keep_alive_timeout: Duration::MAX,
        header_timeout: Duration::MAX,
        send_timeout: Duration::MAX,
        web_socket_idle_timeout: Duration::MAX,
        web_socket_message_timeout: Duration::MAX,
        ..HttpServerConfiguration::default()
    });
    let mut http = BufReader::new(server.connect());
    http.get_mut()
        .write_all(b"GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut http, false).status, 404);
    let mut client = open(&server, "/ws");
    client.send(Message::text("still here")).unwrap();
    assert_eq!(client.read().unwrap(), Message::text("still here"));
    server.assert_serves_fresh_client();
}
