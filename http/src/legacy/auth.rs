//! Answering 401 and 407 responses: credentials given in advance (`set_user`, `set_proxy`)
//! are tried first, then the user is asked through `authentication_required` /
//! `proxy_authentication_required`, as in Qt.

use std::cell::RefCell;
use std::rc::Rc;

use crate::auth::{AuthAction, AuthChallenge, Authenticator};

use super::engine::Inner;
use super::exchange::MAX_AUTH_ATTEMPTS;
use super::header::HttpResponseHeader;
use super::types::HttpError;

/// What to do with a 401/407 response.
pub(super) enum Challenge {
    /// No supported challenge: an ordinary response.
    NotHandled,
    /// Send the request again with the credentials now known.
    Resend,
    /// Give up with this error.
    Fail(HttpError, &'static str),
    /// A slot ended the request (or destroyed the object) meanwhile.
    Stopped,
}

/// Whether two authenticators carry the same credentials.
fn same_credentials(a: &Authenticator, b: &Authenticator) -> bool {
    a.user() == b.user() && a.password() == b.password()
}

enum Next {
    Resend,
    Ask {
        prefill: Authenticator,
        sent: Option<Authenticator>,
    },
}

impl Inner {
    /// Decides how to answer the challenges of a 401 (`proxy` false) or 407 response.
    pub(super) fn challenge(&self, proxy: bool, header: &HttpResponseHeader) -> Challenge {
        let failure = if proxy {
            Challenge::Fail(
                HttpError::ProxyAuthenticationRequiredError,
                "Proxy authentication required",
            )
        } else {
            Challenge::Fail(
                HttpError::AuthenticationRequiredError,
                "Authentication required",
            )
        };
        let field = if proxy {
            "proxy-authenticate"
        } else {
            "www-authenticate"
        };
        let challenges = AuthChallenge::parse_headers(header.all_values(field));
        let next = {
            let mut st = self.st.borrow_mut();
            let st = &mut *st;
            let Some(ex) = st.ex.as_mut() else {
                return Challenge::Stopped;
            };
            let auth = if proxy {
                &mut st.proxy_auth
            } else {
                &mut st.server_auth
            };
            let Ok(action) = auth.session.handle_challenges(&challenges) else {
                return Challenge::NotHandled;
            };
            // A body read from a device cannot be sent twice.
            if ex.has_source || ex.attempts >= MAX_AUTH_ATTEMPTS {
                return failure;
            }
            let (sent, tried) = if proxy {
                (ex.sent_proxy_creds.clone(), &mut ex.tried_configured_proxy)
            } else {
                (
                    ex.sent_server_creds.clone(),
                    &mut ex.tried_configured_server,
                )
            };
            match (action, &auth.creds, &auth.configured) {
                (AuthAction::Retry, Some(_), _) => Next::Resend,
                (_, _, Some(configured)) if !*tried => {
                    *tried = true;
                    auth.creds = Some(configured.clone());
                    Next::Resend
                }
                _ => {
                    let mut prefill = auth
                        .creds
                        .clone()
                        .or_else(|| auth.configured.clone())
                        .unwrap_or_default();
                    prefill.set_realm(auth.session.realm());
                    Next::Ask { prefill, sent }
                }
            }
        };
        let (prefill, sent) = match next {
            Next::Resend => return Challenge::Resend,
            Next::Ask { prefill, sent } => (prefill, sent),
        };
        let (host, port) = {
            let st = self.st.borrow();
            match (&st.proxy, proxy) {
                (Some(p), true) => (p.host.clone(), p.port),
                _ => (st.host.clone(), st.port),
            }
        };
        let authenticator = Rc::new(RefCell::new(prefill));
        let signal = if proxy {
            &self.sig.proxy_authentication_required
        } else {
            &self.sig.authentication_required
        };
        let gen = self.gen.get();
        signal.emit((host, port, authenticator.clone()));
        if !self.same(gen) {
            return Challenge::Stopped;
        }
        let answer = authenticator.borrow().clone();
        let rejected = sent.is_some_and(|s| same_credentials(&s, &answer));
        if answer.user().is_empty() || rejected {
            return failure;
        }
        let mut st = self.st.borrow_mut();
        let auth = if proxy {
            &mut st.proxy_auth
        } else {
            &mut st.server_auth
        };
        auth.creds = Some(answer);
        Challenge::Resend
    }
}
