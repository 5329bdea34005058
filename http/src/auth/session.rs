//! [`AuthSession`]: the authentication state of one server or proxy protection space
//! (what Qt keeps inside `QAuthenticatorPrivate`): the chosen challenge, the nonce count,
//! and whether a new challenge means "ask the user" or just "retry".

use super::authenticator::Authenticator;
use super::challenge::{AuthChallenge, AuthMethod};
use super::error::AuthError;
use super::hash::new_cnonce;
use super::response::authorization_header_with_cnonce;

/// What to do after a 401/407 response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthAction {
    /// Credentials are needed: from the credential cache if it has some for this realm and
    /// they were not just rejected, otherwise from the user (`authentication_required`).
    AskCredentials,
    /// The server accepted the credentials but found the nonce stale (`stale=true`): send
    /// the request again with the same credentials and the new nonce, without asking.
    Retry,
}

/// The authentication state for one protection space.
///
/// ```
/// use slotnet_http::auth::{AuthAction, AuthChallenge, AuthSession, Authenticator};
/// let mut session = AuthSession::new();
/// let first = AuthChallenge::parse(r#"Digest realm="r", nonce="n1", qop="auth""#).unwrap();
/// assert_eq!(session.handle_challenges(&first).unwrap(), AuthAction::AskCredentials);
/// let user = Authenticator::with_credentials("u", "p");
/// let header = session.authorization("GET", "/", &user).unwrap();
/// assert!(header.contains("nc=00000001"));
/// // The nonce expired: retry silently with the new one.
/// let stale = AuthChallenge::parse(r#"Digest realm="r", nonce="n2", qop="auth", stale=true"#)
///     .unwrap();
/// assert_eq!(session.handle_challenges(&stale).unwrap(), AuthAction::Retry);
/// ```
#[derive(Clone, Debug, Default)]
pub struct AuthSession {
    challenge: Option<AuthChallenge>,
    /// Requests sent with the current nonce.
    nonce_count: u32,
    /// One client nonce per server nonce (what `-sess` session keys are built from).
    cnonce: Option<String>,
    /// Whether credentials were sent since the last challenge.
    sent: bool,
    /// Whether the last challenge already led to a stale retry: a second stale answer in a
    /// row means the credentials are not working after all (and prevents an endless loop
    /// with a broken server).
    stale_retried: bool,
}

impl AuthSession {
    /// A session that has seen no challenge.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the challenges of a 401/407 response (all its `WWW-Authenticate` or
    /// `Proxy-Authenticate` values, see [`AuthChallenge::parse_headers`]), keeps the
    /// strongest supported one and says what to do next.
    pub fn handle_challenges(
        &mut self,
        challenges: &[AuthChallenge],
    ) -> Result<AuthAction, AuthError> {
        let chosen = AuthChallenge::select(challenges)
            .ok_or(AuthError::NoSupportedChallenge)?
            .clone();
        let previous = self.challenge.as_ref();
        let same_space =
            previous.is_some_and(|p| p.scheme() == chosen.scheme() && p.realm() == chosen.realm());
        let is_digest = matches!(chosen.method(), Some(AuthMethod::Digest(_)));
        let retry =
            self.sent && same_space && is_digest && chosen.is_stale() && !self.stale_retried;
        if previous.and_then(|p| p.param("nonce")) != chosen.param("nonce") {
            self.nonce_count = 0;
            self.cnonce = None;
        }
        self.challenge = Some(chosen);
        self.sent = false;
        self.stale_retried = retry;
        Ok(if retry {
            AuthAction::Retry
        } else {
            AuthAction::AskCredentials
        })
    }

    /// Records that a response was not a 401/407: the credentials worked, so a later stale
    /// nonce may be retried silently again.
    pub fn succeeded(&mut self) {
        self.stale_retried = false;
    }

    /// The `Authorization` (or `Proxy-Authorization`) value for the next request
    /// `method uri`, counting it against the current nonce. Once a challenge has been
    /// answered successfully this can be called for later requests too: Digest then
    /// continues with the next nonce count, Basic simply repeats.
    pub fn authorization(
        &mut self,
        method: &str,
        uri: &str,
        authenticator: &Authenticator,
    ) -> Result<String, AuthError> {
        let challenge = self
            .challenge
            .as_ref()
            .ok_or(AuthError::NoSupportedChallenge)?;
        let cnonce = match (&self.cnonce, challenge.method()) {
            (Some(c), _) => c.clone(),
            (None, Some(AuthMethod::Digest(_))) => new_cnonce()?,
            (None, _) => String::new(),
        };
        let count = self.nonce_count.saturating_add(1);
        let header = authorization_header_with_cnonce(
            method,
            uri,
            challenge,
            authenticator,
            count,
            &cnonce,
        )?;
        self.nonce_count = count;
        self.cnonce = Some(cnonce);
        self.sent = true;
        Ok(header)
    }

    /// The challenge being answered, if any.
    pub fn challenge(&self) -> Option<&AuthChallenge> {
        self.challenge.as_ref()
    }

    /// The method being used, if a supported challenge was seen.
    pub fn method(&self) -> Option<AuthMethod> {
        self.challenge.as_ref().and_then(AuthChallenge::method)
    }

    /// The realm of the current challenge (empty if none).
    pub fn realm(&self) -> &str {
        self.challenge
            .as_ref()
            .and_then(AuthChallenge::realm)
            .unwrap_or("")
    }

    /// How many requests have used the current nonce.
    pub fn nonce_count(&self) -> u32 {
        self.nonce_count
    }

    /// Forgets everything, as after the user cancelled.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenges(value: &str) -> Vec<AuthChallenge> {
        AuthChallenge::parse(value).unwrap()
    }

    fn field<'a>(header: &'a str, name: &str) -> &'a str {
        let start = header.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let rest = &header[start..];
        rest.split(", ").next().unwrap().trim_matches('"')
    }

    #[test]
    fn nonce_count_grows_per_nonce_and_resets_with_a_new_one() {
        let user = Authenticator::with_credentials("u", "p");
        let mut session = AuthSession::new();
        let first = challenges(r#"Digest realm="r", nonce="n1", qop="auth""#);
        assert_eq!(
            session.handle_challenges(&first).unwrap(),
            AuthAction::AskCredentials
        );
        let a = session.authorization("GET", "/a", &user).unwrap();
        let b = session.authorization("GET", "/b", &user).unwrap();
        assert_eq!(field(&a, "nc"), "00000001");
        assert_eq!(field(&b, "nc"), "00000002");
        assert_eq!(
            field(&a, "cnonce"),
            field(&b, "cnonce"),
            "one cnonce per nonce"
        );
        assert_eq!(session.nonce_count(), 2);
        session.succeeded();

        // Stale: retry without asking, counting from 1 again with the new nonce.
        let stale = challenges(r#"Digest realm="r", nonce="n2", qop="auth", stale=true"#);
        assert_eq!(
            session.handle_challenges(&stale).unwrap(),
            AuthAction::Retry
        );
        let c = session.authorization("GET", "/c", &user).unwrap();
        assert_eq!(field(&c, "nonce"), "n2");
        assert_eq!(field(&c, "nc"), "00000001");
        assert_ne!(field(&c, "cnonce"), field(&a, "cnonce"));

        // Stale again straight away: the credentials are not working, ask.
        let stale3 = challenges(r#"Digest realm="r", nonce="n3", qop="auth", stale=true"#);
        session.authorization("GET", "/d", &user).unwrap();
        assert_eq!(
            session.handle_challenges(&stale3).unwrap(),
            AuthAction::AskCredentials
        );
    }

    #[test]
    fn rejection_without_stale_asks_again() {
        let user = Authenticator::with_credentials("u", "wrong");
        let mut session = AuthSession::new();
        let challenge = challenges(r#"Digest realm="r", nonce="n1""#);
        session.handle_challenges(&challenge).unwrap();
        session.authorization("GET", "/", &user).unwrap();
        let again = challenges(r#"Digest realm="r", nonce="n2""#);
        assert_eq!(
            session.handle_challenges(&again).unwrap(),
            AuthAction::AskCredentials
        );
    }

    #[test]
    fn stale_before_anything_was_sent_or_for_basic_asks() {
        let mut session = AuthSession::new();
        let stale = challenges(r#"Digest realm="r", nonce="n", stale=true"#);
        assert_eq!(
            session.handle_challenges(&stale).unwrap(),
            AuthAction::AskCredentials
        );

        let mut session = AuthSession::new();
        let basic = challenges(r#"Basic realm="r""#);
        session.handle_challenges(&basic).unwrap();
        session
            .authorization("GET", "/", &Authenticator::with_credentials("u", "p"))
            .unwrap();
        let basic_stale = challenges(r#"Basic realm="r", stale=true"#);
        assert_eq!(
            session.handle_challenges(&basic_stale).unwrap(),
            AuthAction::AskCredentials
        );
    }

    #[test]
    fn unsupported_and_reset() {
        let mut session = AuthSession::new();
        assert_eq!(
            session.handle_challenges(&challenges("Negotiate, NTLM")),
            Err(AuthError::NoSupportedChallenge)
        );
        assert_eq!(
            session.authorization("GET", "/", &Authenticator::new()),
            Err(AuthError::NoSupportedChallenge)
        );
        session
            .handle_challenges(&challenges(r#"Basic realm="home""#))
            .unwrap();
        assert_eq!(session.realm(), "home");
        assert_eq!(session.method(), Some(AuthMethod::Basic));
        session.reset();
        assert!(session.challenge().is_none());
    }
}
