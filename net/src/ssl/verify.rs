//! The per-connection `sslErrors` decision: [`VerifyContext`].
//!
//! rustls configs are shared (`Arc`, `Send + Sync`) between connections, but the socket
//! that owns a connection wants its own `sslErrors` slot, which is `!Send` and lives on the
//! loop's thread. rustls calls the certificate verifier synchronously inside
//! `process_new_packets`, on the caller's thread, so [`TlsSession`](super::TlsSession)
//! pushes its context on a thread-local stack around that call and the verifier asks the
//! context on top. A stack (not a single slot) keeps it correct if a slot drives another
//! session from inside the hook.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use super::error::SslError;

/// The hook the verifier calls with the full error list; it returns whether to continue.
pub type SslErrorsHook = Box<dyn FnMut(&[SslError]) -> bool>;

#[derive(Default)]
struct Inner {
    hook: RefCell<Option<SslErrorsHook>>,
    ignore_all: Cell<bool>,
    ignore_list: RefCell<Vec<SslError>>,
    handshake_errors: RefCell<Vec<SslError>>,
    /// A client answered a required certificate request; `Some(false)` until a certificate
    /// is seen in that answer.
    client_certificate: Cell<Option<bool>>,
}

/// One connection's answer to certificate errors: the `sslErrors` hook, the errors to
/// ignore, and the errors the last verification found. Cloning shares it.
///
/// When verification finds errors, the hook (if any) is called once with all of them, the
/// way Qt emits `sslErrors`; the handshake then continues if the hook returned `true`, or
/// [`ignore_ssl_errors`](Self::ignore_ssl_errors) was called (before the handshake or from
/// inside the hook), or every error is in the [expected list](Self::set_ignore_ssl_errors_list).
/// Otherwise the handshake fails before any application data is exchanged.
#[derive(Clone, Default)]
pub struct VerifyContext {
    inner: Rc<Inner>,
}

impl VerifyContext {
    /// A context without hook, ignoring nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs the hook called with the errors of a verification that found any. It runs
    /// synchronously inside the handshake; it may call methods of this context (e.g.
    /// `ignore_ssl_errors`) and may replace the hook.
    pub fn set_ssl_errors_hook(&self, hook: impl FnMut(&[SslError]) -> bool + 'static) {
        *self.inner.hook.borrow_mut() = Some(Box::new(hook));
    }

    /// Removes the hook.
    pub fn clear_ssl_errors_hook(&self) {
        self.inner.hook.borrow_mut().take();
    }

    /// Ignores every error (Qt's `ignoreSslErrors()`), whether called before the handshake
    /// or from inside the hook.
    pub fn ignore_ssl_errors(&self) {
        self.inner.ignore_all.set(true);
    }

    /// Ignores exactly these errors (Qt's `ignoreSslErrors(const QList<QSslError> &)`): the
    /// handshake continues if every error found equals (kind and certificate) an entry.
    pub fn set_ignore_ssl_errors_list(&self, errors: Vec<SslError>) {
        *self.inner.ignore_list.borrow_mut() = errors;
    }

    /// The list set by [`set_ignore_ssl_errors_list`](Self::set_ignore_ssl_errors_list).
    pub fn ignore_ssl_errors_list(&self) -> Vec<SslError> {
        self.inner.ignore_list.borrow().clone()
    }

    /// Whether [`ignore_ssl_errors`](Self::ignore_ssl_errors) is in effect.
    pub fn ignores_all_ssl_errors(&self) -> bool {
        self.inner.ignore_all.get()
    }

    /// The errors the last verification found, ignored or not (Qt's `sslHandshakeErrors`).
    pub fn ssl_handshake_errors(&self) -> Vec<SslError> {
        self.inner.handshake_errors.borrow().clone()
    }

    /// Forgets the ignore settings and the recorded errors (for reusing a socket); the hook
    /// stays.
    pub fn reset(&self) {
        self.inner.ignore_all.set(false);
        self.inner.ignore_list.borrow_mut().clear();
        self.inner.handshake_errors.borrow_mut().clear();
    }

    /// Records `errors` and decides whether the handshake may continue.
    pub(crate) fn decide(&self, errors: &[SslError]) -> bool {
        *self.inner.handshake_errors.borrow_mut() = errors.to_vec();
        if errors.is_empty() {
            return true;
        }
        // Take the hook out while it runs: it may replace itself or re-enter this context.
        let hook = self.inner.hook.borrow_mut().take();
        let mut accepted = false;
        if let Some(mut hook) = hook {
            accepted = hook(errors);
            let mut slot = self.inner.hook.borrow_mut();
            if slot.is_none() {
                *slot = Some(hook);
            }
        }
        accepted || self.inner.ignore_all.get() || {
            let list = self.inner.ignore_list.borrow();
            !list.is_empty() && errors.iter().all(|e| list.contains(e))
        }
    }

    /// Whether a client answered a required certificate request without a certificate
    /// (reported once).
    pub(crate) fn take_missing_client_certificate(&self) -> bool {
        match self.inner.client_certificate.get() {
            Some(false) => {
                self.inner.client_certificate.set(Some(true));
                true
            }
            _ => false,
        }
    }

    /// Makes this the context the verifier consults until the guard is dropped.
    pub(crate) fn enter(&self) -> ActiveGuard {
        ACTIVE.with(|stack| stack.borrow_mut().push(self.clone()));
        ActiveGuard {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl fmt::Debug for VerifyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyContext")
            .field("has_hook", &self.inner.hook.borrow().is_some())
            .field("ignore_all", &self.inner.ignore_all.get())
            .field("ignore_list", &self.inner.ignore_list.borrow())
            .field("handshake_errors", &self.inner.handshake_errors.borrow())
            .finish()
    }
}

thread_local! {
    static ACTIVE: RefCell<Vec<VerifyContext>> = const { RefCell::new(Vec::new()) };
}

/// Pops the context pushed by [`VerifyContext::enter`] (also when a hook panics).
pub(crate) struct ActiveGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        ACTIVE.with(|stack| {
            stack.borrow_mut().pop();
        });
    }
}

/// The decision for `errors` by the active context. Without one (a rustls config used
/// outside a [`TlsSession`](super::TlsSession)) any error fails the handshake.
pub(crate) fn decide(errors: &[SslError]) -> bool {
    // Clone the top out of the stack so no borrow is held while the hook runs.
    let active = ACTIVE.with(|stack| stack.borrow().last().cloned());
    match active {
        Some(ctx) => ctx.decide(errors),
        None => errors.is_empty(),
    }
}

/// Records on the active context that a client answered a required certificate request,
/// with (`presented`) or without a certificate.
pub(crate) fn note_client_certificate_answer(presented: bool) {
    ACTIVE.with(|stack| {
        if let Some(ctx) = stack.borrow().last() {
            ctx.inner.client_certificate.set(Some(presented));
        }
    });
}

/// Whether the active connection verified without certificate errors (true without an
/// active context: rustls then only gets this far when verification passed).
pub(crate) fn active_is_clean() -> bool {
    ACTIVE.with(|stack| {
        stack
            .borrow()
            .last()
            .is_none_or(|ctx| ctx.inner.handshake_errors.borrow().is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssl::error::SslErrorKind;

    fn err(kind: SslErrorKind) -> SslError {
        SslError::from(kind)
    }

    #[test]
    fn no_errors_always_continue_and_are_recorded() {
        let ctx = VerifyContext::new();
        let _g = ctx.enter();
        assert!(decide(&[]));
        assert!(ctx.ssl_handshake_errors().is_empty());
    }

    #[test]
    fn without_context_errors_fail() {
        assert!(!decide(&[err(SslErrorKind::SelfSignedCertificate)]));
        assert!(decide(&[]));
    }

    #[test]
    fn hook_sees_all_errors_and_decides() {
        let ctx = VerifyContext::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        ctx.set_ssl_errors_hook(move |errors| {
            s.borrow_mut().push(SslError::join_names(errors));
            errors.len() == 1
        });
        let _g = ctx.enter();
        assert!(decide(&[err(SslErrorKind::SelfSignedCertificate)]));
        assert!(!decide(&[
            err(SslErrorKind::HostNameMismatch),
            err(SslErrorKind::SelfSignedCertificate)
        ]));
        assert_eq!(
            *seen.borrow(),
            [
                "SelfSignedCertificate",
                "HostNameMismatch,SelfSignedCertificate"
            ]
        );
        assert_eq!(ctx.ssl_handshake_errors().len(), 2);
    }

    #[test]
    fn ignore_from_inside_the_hook_continues() {
        let ctx = VerifyContext::new();
        let c = ctx.clone();
        ctx.set_ssl_errors_hook(move |_| {
            c.ignore_ssl_errors();
            false
        });
        let _g = ctx.enter();
        assert!(decide(&[err(SslErrorKind::CertificateExpired)]));
        assert!(ctx.ignores_all_ssl_errors());
        ctx.reset();
        assert!(!ctx.ignores_all_ssl_errors());
    }

    #[test]
    fn hook_may_replace_itself() {
        let ctx = VerifyContext::new();
        let c = ctx.clone();
        ctx.set_ssl_errors_hook(move |_| {
            c.set_ssl_errors_hook(|_| true);
            false
        });
        let _g = ctx.enter();
        assert!(!decide(&[err(SslErrorKind::CertificateExpired)]));
        assert!(decide(&[err(SslErrorKind::CertificateExpired)]));
    }

    #[test]
    fn expected_list_must_cover_every_error() {
        let ctx = VerifyContext::new();
        ctx.set_ignore_ssl_errors_list(vec![err(SslErrorKind::SelfSignedCertificate)]);
        let _g = ctx.enter();
        assert!(decide(&[err(SslErrorKind::SelfSignedCertificate)]));
        assert!(!decide(&[
            err(SslErrorKind::SelfSignedCertificate),
            err(SslErrorKind::HostNameMismatch)
        ]));
    }

    #[test]
    fn innermost_context_wins_and_guard_pops() {
        let outer = VerifyContext::new();
        outer.ignore_ssl_errors();
        let inner = VerifyContext::new();
        let _g = outer.enter();
        {
            let _h = inner.enter();
            assert!(!decide(&[err(SslErrorKind::CertificateExpired)]));
        }
        assert!(decide(&[err(SslErrorKind::CertificateExpired)]));
    }
}
