//! qt-threaded-fortune-server: Qt's Threaded Fortune Server example
//! (examples/network/threadedfortuneserver) ported to slotnet.
//!
//! The server's thread only accepts: each connection is handed, as a `SocketDescriptor`
//! (Qt's `incomingConnection(qintptr)`), to a worker thread, where the socket is built on
//! that thread's loop (Qt's `setSocketDescriptor`), writes one fortune in the `QDataStream`
//! format and closes. Qt starts a `QThread` per connection; here a few worker threads with
//! their own loops take the connections in turn, through a cross-thread connection whose
//! slot is built on, and stays on, its worker (`connect_cross_thread_local`).
//!
//! Prints the example's text: `The server is running on`, the IP and port, and `Run the
//! Fortune Client example now.` Options: `--port N` (default: any free port), `--threads N`
//! (default 2).

#[path = "fortune_wire.rs"]
mod fortune_wire;

use std::cell::Cell;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::rc::Rc;

use slotnet_core::{EventLoop, Object, Signal, Thread};
use slotnet_net::{SocketDescriptor, TcpServer, TcpSocket};

/// The fortunes of Qt's example.
const FORTUNES: &[&str] = &[
    "You've been leading a dog's life. Stay off the furniture.",
    "You've got to think about tomorrow.",
    "You will be surprised by a loud noise.",
    "You will feel hungry again in another hour.",
    "You might have mail.",
    "You cannot kill time without injuring eternity.",
    "Computers are not intelligent. They only think they are.",
];

/// Built on a worker thread: serves the connections handed to that worker (Qt's
/// `FortuneThread::run`). Its state and the sockets it makes never leave the worker.
fn fortune_slot(seed: usize) -> impl Fn(SocketDescriptor) {
    let next = Rc::new(Cell::new(seed));
    move |descriptor| {
        let socket = match TcpSocket::from_descriptor(&descriptor) {
            Ok(socket) => socket,
            Err(e) => return eprintln!("{e}"),
        };
        // Qt's example picks at random; a rotating pick keeps consecutive fortunes apart.
        let fortune = FORTUNES[next.get() % FORTUNES.len()];
        next.set(next.get() + 3);
        socket.write(&fortune_wire::encode(fortune));
        socket
            .disconnected()
            .connect(move |_| socket.delete_later());
        socket.disconnect_from_host();
    }
}

fn main() -> ExitCode {
    let mut port = 0u16;
    let mut threads = 2usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|v| v.parse::<usize>().ok());
        match (arg.as_str(), value) {
            ("--port", Some(v)) if v <= u16::MAX as usize => port = v as u16,
            ("--threads", Some(v)) if v > 0 => threads = v,
            _ => {
                eprintln!("usage: qt-threaded-fortune-server [--port N] [--threads N]");
                return ExitCode::from(2);
            }
        }
    }
    let workers: Vec<Thread> = (0..threads)
        .filter_map(|i| Thread::start_named(&format!("fortune-{i}")).ok())
        .collect();
    let owner = Object::new();
    let hand_offs: Vec<Signal<SocketDescriptor>> = workers
        .iter()
        .enumerate()
        .map(|(i, worker)| {
            let hand_off: Signal<SocketDescriptor> = owner.new_signal();
            hand_off.connect_cross_thread_local(worker.handle(), move || fortune_slot(i));
            hand_off
        })
        .collect();
    let server = TcpServer::new();
    if !server.listen(Ipv4Addr::LOCALHOST, port) {
        eprintln!(
            "Threaded Fortune Server: Unable to start the server: {}.",
            server.error_string()
        );
        return ExitCode::FAILURE;
    }
    // incomingConnection(qintptr): the next worker takes it.
    let next = Cell::new(0usize);
    server.set_incoming_connection_handler(move |descriptor| {
        let i = next.get();
        next.set(i + 1);
        hand_offs[i % hand_offs.len()].emit(descriptor);
    });
    println!(
        "The server is running on\n\nIP: 127.0.0.1\nport: {}\n\nRun the Fortune Client example now.",
        server.server_port()
    );
    let _ = std::io::stdout().flush();
    EventLoop::current().exec();
    for worker in workers {
        worker.quit_and_join();
    }
    ExitCode::SUCCESS
}
