//! [`Authenticator`]: the credentials for one authentication request (Qt's
//! `QAuthenticator`).

use std::collections::BTreeMap;
use std::fmt;

/// The credentials the user supplies when a server or proxy asks for them (Qt's
/// `QAuthenticator`). The network access manager hands one to the
/// `authentication_required` slot with [`realm`](Self::realm) filled in from the server's
/// challenge; the slot sets [`user`](Self::set_user) and [`password`](Self::set_password).
///
/// `Debug` output never shows the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Authenticator {
    user: String,
    password: String,
    realm: String,
    options: BTreeMap<String, String>,
}

impl Authenticator {
    /// An empty (null) authenticator.
    pub fn new() -> Self {
        Self::default()
    }

    /// An authenticator holding this user and password.
    pub fn with_credentials(user: impl Into<String>, password: impl Into<String>) -> Self {
        Authenticator {
            user: user.into(),
            password: password.into(),
            ..Self::default()
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Sets the user name.
    pub fn set_user(&mut self, user: impl Into<String>) {
        self.user = user.into();
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Sets the password.
    pub fn set_password(&mut self, password: impl Into<String>) {
        self.password = password.into();
    }

    /// The realm the server named in its challenge (empty if none).
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Sets the realm. Normally done by the manager from the server's challenge, which
    /// also records it as the `realm` option, as Qt does.
    pub fn set_realm(&mut self, realm: impl Into<String>) {
        self.realm = realm.into();
        self.options.insert("realm".to_owned(), self.realm.clone());
    }

    /// The value of option `name` (Qt's `option()`), such as `realm`.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// All options.
    pub fn options(&self) -> &BTreeMap<String, String> {
        &self.options
    }

    /// Sets option `name` to `value`.
    pub fn set_option(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.options.insert(name.into(), value.into());
    }

    /// Whether nothing has been set: no user, password, realm or option (Qt's `isNull`).
    pub fn is_null(&self) -> bool {
        self.user.is_empty()
            && self.password.is_empty()
            && self.realm.is_empty()
            && self.options.is_empty()
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("realm", &self.realm)
            .field("options", &self.options)
            .finish()
    }
}

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
