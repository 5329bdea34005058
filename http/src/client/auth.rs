//! A job's side of HTTP authentication: what to send with each attempt, and what to do
//! on a 401 (server) or 407 (forward proxy) response, in Qt's order: the credentials in
//! the URL (or on the proxy) first, then the manager's credential cache, then the
//! application through `authentication_required` / `proxy_authentication_required`.
//!
//! The decisions are here; emitting the signal is left to the job (see [`Step::Ask`]) so
//! that no borrow is held while the application's slot runs.

use url::Url;

use crate::auth::{
    basic_authorization, AuthMethod, AuthSession, AuthTarget, Authenticator, CredentialCache,
};

/// What to do after a challenge.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send the request again with the credentials now held.
    Resend,
    /// Deliver the 401/407 response as the final one.
    GiveUp,
    /// Ask the application: emit the signal with this authenticator (realm filled in), then
    /// call [`SpaceAuth::answered`].
    Ask(Authenticator),
}

/// The authentication state of one job towards one protection space owner (the server, or
/// a forward proxy).
#[derive(Debug, Default)]
pub(crate) struct SpaceAuth {
    session: AuthSession,
    /// The credentials answering the current challenge, sent with every attempt.
    credentials: Option<Authenticator>,
    target: Option<AuthTarget>,
    /// The credentials given in the URL (or on the proxy) were tried.
    own_tried: bool,
    /// Credentials went out with the current attempt: its response judges them.
    sent: bool,
    /// Those were cached Basic credentials sent before any challenge.
    preemptive: bool,
    /// Credentials the last challenge rejected: never offered again by this job.
    rejected: Option<Authenticator>,
}

fn same_credentials(a: &Authenticator, b: &Authenticator) -> bool {
    a.user() == b.user() && a.password() == b.password()
}

impl SpaceAuth {
    /// The header value to send with the next attempt of `method uri` (`uri` as on the
    /// request line), for a request to `path` at `target`: answers to a challenge, else
    /// cached Basic credentials proven for the path (when `reuse` allows it).
    pub(crate) fn authorization(
        &mut self,
        method: &str,
        uri: &str,
        path: &str,
        target: impl FnOnce() -> Option<AuthTarget>,
        cache: &CredentialCache,
        reuse: bool,
    ) -> Option<String> {
        self.sent = false;
        if let Some(credentials) = &self.credentials {
            if self.preemptive {
                let value = basic_authorization(credentials.user(), credentials.password()).ok();
                self.sent = value.is_some();
                return value;
            }
            let value = self.session.authorization(method, uri, credentials).ok()?;
            self.sent = true;
            return Some(value);
        }
        if !reuse || cache.is_empty() {
            return None;
        }
        let target = target()?;
        let cached = cache.lookup_for_path(&target, path)?;
        if cached.method() != Some(AuthMethod::Basic) {
            return None;
        }
        let auth = cached.authenticator().clone();
        let value = basic_authorization(auth.user(), auth.password()).ok()?;
        self.credentials = Some(auth);
        self.target = Some(target);
        self.preemptive = true;
        self.sent = true;
        Some(value)
    }

    /// A response that is not a challenge arrived: credentials sent with the attempt
    /// worked, so the cache learns them (for the realm, and the path's directory for later
    /// preemptive use).
    pub(crate) fn succeeded(&mut self, cache: &mut CredentialCache, path: &str) {
        if !std::mem::take(&mut self.sent) {
            return;
        }
        self.session.succeeded();
        let (Some(credentials), Some(target)) = (&self.credentials, &self.target) else {
            return;
        };
        let realm = match self.session.challenge() {
            Some(_) => self.session.realm().to_owned(),
            None => credentials.realm().to_owned(),
        };
        let method = match self.session.method() {
            Some(m) => m,
            None if self.preemptive => AuthMethod::Basic,
            None => return,
        };
        cache.insert(target, &realm, credentials);
        cache.record_success(target, &realm, path, method);
    }

    /// A 401/407 with these challenge header values arrived for `target`. `own` are the
    /// credentials in the URL (or on the proxy), tried once; the cache is consulted when
    /// `reuse` allows it.
    pub(crate) fn challenged(
        &mut self,
        values: &[&str],
        target: AuthTarget,
        own: Option<Authenticator>,
        cache: &mut CredentialCache,
        reuse: bool,
    ) -> Step {
        let challenges = crate::auth::AuthChallenge::parse_headers(values);
        let action = match self.session.handle_challenges(&challenges) {
            Ok(action) => action,
            Err(_) => return Step::GiveUp,
        };
        let sent = std::mem::take(&mut self.sent);
        let preemptive = std::mem::take(&mut self.preemptive);
        self.target = Some(target.clone());
        if action == crate::auth::AuthAction::Retry && self.credentials.is_some() && !preemptive {
            // Digest `stale=true`: same credentials, new nonce, no question asked.
            return Step::Resend;
        }
        if sent {
            if let Some(rejected) = self.credentials.take() {
                cache.remove(&target, rejected.realm());
                cache.remove(&target, self.session.realm());
                self.rejected = Some(rejected);
            }
        }
        let realm = self.session.realm().to_owned();
        let rejected = self.rejected.clone();
        let fresh = |a: &Authenticator| !rejected.as_ref().is_some_and(|r| same_credentials(r, a));
        if !self.own_tried {
            self.own_tried = true;
            if let Some(mut own) = own.filter(|a| fresh(a)) {
                own.set_realm(realm);
                self.credentials = Some(own);
                return Step::Resend;
            }
        }
        if reuse {
            if let Some(cached) = cache.lookup(&target, &realm).filter(|a| fresh(a)) {
                self.credentials = Some(cached);
                return Step::Resend;
            }
        }
        let mut ask = Authenticator::new();
        ask.set_realm(realm);
        Step::Ask(ask)
    }

    /// The application's answer to [`Step::Ask`]: empty credentials, or the ones just
    /// rejected, end the attempts (Qt gives up the same way).
    pub(crate) fn answered(&mut self, answer: &Authenticator) -> Step {
        let empty = answer.user().is_empty() && answer.password().is_empty();
        let rejected = self
            .rejected
            .as_ref()
            .is_some_and(|r| same_credentials(r, answer));
        if empty || rejected {
            return Step::GiveUp;
        }
        let mut credentials = Authenticator::with_credentials(answer.user(), answer.password());
        credentials.set_realm(self.session.realm());
        self.credentials = Some(credentials);
        Step::Resend
    }

    /// Forgets everything (a redirect to another server).
    pub(crate) fn reset(&mut self) {
        *self = SpaceAuth::default();
    }
}

/// The user and password in `url`'s user info, percent-decoded; `None` without a user.
pub(crate) fn url_credentials(url: &Url) -> Option<Authenticator> {
    if url.username().is_empty() {
        return None;
    }
    Some(Authenticator::with_credentials(
        percent_decode(url.username()),
        percent_decode(url.password().unwrap_or("")),
    ))
}

/// Decodes `%XX` escapes (invalid ones are kept as they are); non-UTF-8 results are
/// replaced lossily.
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> AuthTarget {
        AuthTarget::server(&Url::parse("http://h/").unwrap()).unwrap()
    }

    #[test]
    fn qt_order_url_then_cache_then_the_application() {
        let mut cache = CredentialCache::new();
        let mut space = SpaceAuth::default();
        let basic = [r#"Basic realm="r""#];
        let own = Some(Authenticator::with_credentials("url", "pw"));
        assert!(matches!(
            space.challenged(&basic, target(), own.clone(), &mut cache, true),
            Step::Resend
        ));
        let header = space.authorization("GET", "/a", "/a", || None, &cache, true);
        assert_eq!(header, basic_authorization("url", "pw").ok());
        // Rejected: the URL's credentials are not tried again, nothing is cached: ask.
        let Step::Ask(ask) = space.challenged(&basic, target(), own, &mut cache, true) else {
            panic!("expected a question");
        };
        assert_eq!(ask.realm(), "r");
        assert!(ask.user().is_empty());
        // The same wrong answer gives up; a new one is sent and cached once it works.
        assert!(matches!(
            space.answered(&Authenticator::with_credentials("url", "pw")),
            Step::GiveUp
        ));
        assert!(matches!(
            space.answered(&Authenticator::with_credentials("u", "p")),
            Step::Resend
        ));
        space.authorization("GET", "/a", "/a", || None, &cache, true);
        space.succeeded(&mut cache, "/dir/a");
        assert_eq!(cache.lookup(&target(), "r").unwrap().user(), "u");
        // A later job sends them preemptively below /dir/.
        let mut later = SpaceAuth::default();
        let value = later.authorization("GET", "/dir/b", "/dir/b", || Some(target()), &cache, true);
        assert_eq!(value, basic_authorization("u", "p").ok());
        assert_eq!(
            later.authorization("GET", "/x", "/x", || None, &CredentialCache::new(), false),
            value,
            "the job keeps answering with what it sent"
        );
        let mut manual = SpaceAuth::default();
        assert_eq!(
            manual.authorization("GET", "/dir/b", "/dir/b", || Some(target()), &cache, false),
            None
        );
    }

    #[test]
    fn empty_answers_and_unsupported_challenges_give_up() {
        let mut cache = CredentialCache::new();
        let mut space = SpaceAuth::default();
        assert!(matches!(
            space.challenged(&["Negotiate"], target(), None, &mut cache, true),
            Step::GiveUp
        ));
        assert!(matches!(
            space.challenged(&[r#"Basic realm="r""#], target(), None, &mut cache, true),
            Step::Ask(_)
        ));
        assert!(matches!(
            space.answered(&Authenticator::new()),
            Step::GiveUp
        ));
    }

    #[test]
    fn user_info_is_percent_decoded() {
        let url = Url::parse("http://us%40er:p%3Ass%zz@h/").unwrap();
        let auth = url_credentials(&url).unwrap();
        assert_eq!((auth.user(), auth.password()), ("us@er", "p:ss%zz"));
        assert!(url_credentials(&Url::parse("http://h/").unwrap()).is_none());
    }
}
