//! What several benchmark programs share. Only the programs in `src/bin/` use it.

use std::net::Ipv4Addr;

use slotnet_http::h2::server::serve_connection;
use slotnet_http::h2::Http2Configuration;
use slotnet_net::{Bytes, TcpServer};

/// Starts an HTTP/2 (h2c, prior knowledge) server on the current thread's loop that answers
/// `hello` to every request as soon as it arrives, so that a client benchmark measures the
/// client. Returns its loopback port, or why it could not listen.
pub fn start_h2_hello_server() -> Result<u16, String> {
    let server = TcpServer::new();
    if !server.listen(Ipv4Addr::LOCALHOST, 0) {
        return Err(format!(
            "cannot listen on 127.0.0.1: {}",
            server.error_string()
        ));
    }
    let config = Http2Configuration::default();
    server.new_connection().connect(move |_| {
        while let Some(socket) = server.next_pending_connection() {
            serve_connection(socket, &config, |_request, mut respond| {
                let head = http::Response::builder()
                    .header("content-length", 5)
                    .body(())
                    .unwrap_or_default();
                if let Ok(mut body) = respond.send_response(head, false) {
                    // Five bytes always fit the initial window.
                    let _ = body.send_data(Bytes::from_static(b"hello"), true);
                }
            });
        }
    });
    Ok(server.server_port())
}
