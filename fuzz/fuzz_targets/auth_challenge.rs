//! WWW-Authenticate challenges: parsing, choosing one, and answering it (Basic and every
//! Digest variant), as the client does on a 401.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotnet_http::auth::{authorization_header_with_cnonce, AuthChallenge, AuthSession};
use slotnet_http::net::proxy::Authenticator;

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let challenges = AuthChallenge::parse_headers(text.split('\n'));
    let authenticator = Authenticator::with_credentials("user", "pässword");
    for challenge in &challenges {
        let _ = challenge.realm();
        let _ = challenge.method();
        let _ = authorization_header_with_cnonce(
            "GET",
            "/x?y",
            challenge,
            &authenticator,
            1,
            "0a4f113b",
        );
    }
    let mut session = AuthSession::new();
    if session.handle_challenges(&challenges).is_ok() {
        let _ = session.authorization("GET", "/", &authenticator);
        let _ = session.authorization("GET", "/", &authenticator);
    }
});
