//! qt-fortune-client: Qt's Fortune Client example (examples/network/fortuneclient) ported
//! to slotnet, without its dialog: `qt-fortune-client HOST PORT [--count N]`.
//!
//! Each fortune is read with a `QDataStream` read transaction's logic (wait until the whole
//! `QString` is there), printed on its own line, and, as in Qt's client, a fortune equal to
//! the previous one is not shown: a new one is requested at once. `--count N` asks for N
//! fortunes (Qt's "Get Fortune" button pressed N times). Errors print the example's messages.

#[path = "fortune_wire.rs"]
mod fortune_wire;

use std::cell::{Cell, RefCell};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use slotnet_core::{EventLoop, Timer};
use slotnet_net::{SocketError, TcpSocket};

struct Client {
    host: String,
    port: u16,
    wanted: usize,
    shown: Cell<usize>,
    current: RefCell<String>,
    buffer: RefCell<Vec<u8>>,
    failed: Cell<bool>,
}

impl Client {
    /// Qt's `requestNewFortune`: a new connection, whose server writes one fortune.
    fn request_new_fortune(self: &Rc<Self>) {
        self.buffer.borrow_mut().clear();
        let socket = TcpSocket::new();
        let me = self.clone();
        socket
            .ready_read()
            .connect(move |_| me.read_fortune(socket));
        let me = self.clone();
        socket
            .error_occurred()
            .connect(move |error| me.display_error(socket, *error));
        socket
            .disconnected()
            .connect(move |_| socket.delete_later());
        socket.connect_to_host(&self.host, self.port);
    }

    /// Qt's `readFortune`: a transaction that completes once the whole string arrived.
    fn read_fortune(self: &Rc<Self>, socket: TcpSocket) {
        self.buffer.borrow_mut().extend(socket.read_all());
        let Some((fortune, _)) = fortune_wire::decode(&self.buffer.borrow()) else {
            return; // not all there yet: the transaction is rolled back
        };
        socket.abort();
        socket.delete_later();
        let me = self.clone();
        if fortune == *self.current.borrow() {
            Timer::single_shot(Duration::ZERO, move || me.request_new_fortune());
            return;
        }
        println!("{fortune}");
        *self.current.borrow_mut() = fortune;
        self.shown.set(self.shown.get() + 1);
        if self.shown.get() == self.wanted {
            EventLoop::current().quit();
        } else {
            Timer::single_shot(Duration::ZERO, move || me.request_new_fortune());
        }
    }

    /// Qt's `displayError`.
    fn display_error(&self, socket: TcpSocket, error: SocketError) {
        let message = match error {
            // The server closes after the fortune: not an error.
            SocketError::RemoteHostClosedError => return,
            SocketError::HostNotFoundError => {
                "The host was not found. Please check the host name and port settings.".to_owned()
            }
            SocketError::ConnectionRefusedError => "The connection was refused by the peer. \
                 Make sure the fortune server is running, and check that the host name and \
                 port settings are correct."
                .to_owned(),
            _ => format!("The following error occurred: {}.", socket.error_string()),
        };
        println!("Fortune Client: {message}");
        self.failed.set(true);
        EventLoop::current().quit();
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port) = match (args.first(), args.get(1).and_then(|p| p.parse().ok())) {
        (Some(host), Some(port)) => (host.clone(), port),
        _ => {
            eprintln!("usage: qt-fortune-client HOST PORT [--count N]");
            return ExitCode::from(2);
        }
    };
    let wanted = match (args.get(2).map(String::as_str), args.get(3)) {
        (Some("--count"), Some(n)) => n.parse().unwrap_or(1).max(1),
        _ => 1,
    };
    let client = Rc::new(Client {
        host,
        port,
        wanted,
        shown: Cell::new(0),
        current: RefCell::new(String::new()),
        buffer: RefCell::new(Vec::new()),
        failed: Cell::new(false),
    });
    let c = client.clone();
    Timer::single_shot(Duration::ZERO, move || c.request_new_fortune());
    EventLoop::current().exec();
    if client.failed.get() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
