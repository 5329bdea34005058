//! HTTP authentication: [`Authenticator`] (Qt's `QAuthenticator`), challenge parsing
//! ([`AuthChallenge`]), Basic (RFC 7617) and Digest (RFC 7616: MD5, SHA-256 and their
//! `-sess` variants, `qop=auth` or none) credentials, the per-space state machine
//! ([`AuthSession`]) and the [`CredentialCache`].
//!
//! The network access manager's flow on a 401 (407 for a proxy):
//!
//! 1. parse every `WWW-Authenticate` value with [`AuthChallenge::parse_headers`] and give
//!    them to the [`AuthSession`] of the protection space;
//! 2. on [`AuthAction::Retry`] (stale nonce) resend at once; on
//!    [`AuthAction::AskCredentials`] use the [`CredentialCache`] entry for the realm unless
//!    it was just rejected, else emit `authentication_required` with an [`Authenticator`];
//! 3. resend with [`AuthSession::authorization`]; on success store the credentials with
//!    [`CredentialCache::insert`] and [`CredentialCache::record_success`], so later requests
//!    below the same directory send Basic credentials preemptively
//!    ([`CredentialCache::preemptive_authorization`]).

mod authenticator;
mod cache;
mod challenge;
mod error;
mod hash;
mod response;
mod session;

pub use authenticator::Authenticator;
pub use cache::{AuthTarget, CachedCredential, CredentialCache, MAX_CREDENTIALS};
pub use challenge::{AuthChallenge, AuthMethod, DigestAlgorithm};
pub use error::AuthError;
pub use response::{authorization_header, authorization_header_with_cnonce, basic_authorization};
pub use session::{AuthAction, AuthSession};
