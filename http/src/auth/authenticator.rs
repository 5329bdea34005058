//! [`Authenticator`]: the credentials for one authentication request (Qt's
//! `QAuthenticator`).

/// Qt's `QAuthenticator`: one type for servers and proxies, defined next to the proxy code
/// in slotnet-net (which cannot depend on this crate). The network access manager hands one
/// to the `authentication_required` slot with the realm filled in from the server's
/// challenge; the slot sets the user and password. `Debug` output never shows the password.
pub use slotnet_net::proxy::Authenticator;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_options_and_redaction() {
        let mut auth = Authenticator::new();
        assert!(auth.is_null());
        auth.set_realm("r");
        assert!(!auth.is_null());
        assert_eq!(auth.option("realm"), Some("r"));
        auth.set_option("custom", "1");
        assert_eq!(auth.option("custom"), Some("1"));
        assert_eq!(auth.option("missing"), None);

        let auth = Authenticator::with_credentials("alice", "s3cret");
        assert!(!auth.is_null());
        let debug = format!("{auth:?}");
        assert!(
            debug.contains("alice") && !debug.contains("s3cret"),
            "{debug}"
        );
    }
}
